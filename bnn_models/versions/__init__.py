"""The suite across library versions: is a release of PyMC, PyTensor, nutpie or ArviZ
slower or worse on this network than the set it would replace?

``bnn-bench versions FILE --out DIR`` reads a version-set file (:mod:`~.spec`), builds one
environment per set (:mod:`~.envs`: once, reused, never the user's own), runs the same
quick suite in each (:mod:`~.suite`: the gate's methods on its seeds, and the asv
benchmarks), and judges every other set against the first (:mod:`~.compare`: the gate's
tolerance rule for quality, asv's rule for timings). A set that cannot be installed or
imported is reported with the installer's message; the others go on. ``DIR`` receives
``versions.json`` (everything measured, with provenance), ``report.md`` and, per set,
its run folder and asv results.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bnn_models.io import write_json, write_text
from bnn_models.provenance import git_commit, machine_info
from bnn_models.versions.compare import (
    asv_timings,
    fit_timings,
    judge_quality,
    judge_timings,
)
from bnn_models.versions.envs import Env, EnvUnavailable, build_env
from bnn_models.versions.spec import VersionSet, VersionsSpec, load_spec, parse_spec
from bnn_models.versions.suite import ASV_MACHINE, SuiteFailed, SuiteRun, run_suite

__all__ = [
    "SetOutcome",
    "VersionsResult",
    "VersionsSpec",
    "load_spec",
    "parse_spec",
    "run_versions",
]

#: The project's checkout: its requirements.txt, asv.conf.json and benchmarks.
PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class SetOutcome:
    """What happened to one set: ``ok``, ``unavailable`` (not installable or importable) or
    ``suite_failed`` (installed, but the suite could not run), with the tool's message."""

    vset: VersionSet
    status: str
    stage: str = ""
    message: str = ""
    env: Env | None = None
    suite: SuiteRun | None = None

    def as_dict(self) -> dict:
        """The outcome as ``versions.json`` records it."""
        env, suite = self.env, self.suite
        return {
            "name": self.vset.name,
            "description": self.vset.description,
            "changes": self.vset.changes(),
            "pins": dict(self.vset.pins),
            "no_deps": dict(self.vset.no_deps),
            "status": self.status,
            "stage": self.stage,
            "message": self.message,
            "versions": env.versions if env else None,
            "pip_check": env.pip_check if env else None,
            "build_s": env.build_s if env else None,
            "env_reused": env.reused if env else None,
            "fits_s": suite.fits_s if suite else None,
            "asv_s": suite.asv_s if suite else None,
            "load_1m": list(suite.load) if suite else None,
        }


@dataclass
class VersionsResult:
    """Every set's outcome and every candidate's comparison with the baseline set."""

    spec: VersionsSpec
    outcomes: list[SetOutcome]
    comparisons: dict[str, dict] = field(default_factory=dict)
    doc: dict = field(default_factory=dict)

    @property
    def regressed(self) -> list[str]:
        """Candidates with a gated metric past its tolerance."""
        return [name for name, c in self.comparisons.items() if not c["passed"]]

    @property
    def unavailable(self) -> list[str]:
        """Sets that could not be installed, imported or run."""
        return [o.vset.name for o in self.outcomes if o.status != "ok"]


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _compare(base: SetOutcome, cand: SetOutcome, factor: float) -> dict:
    assert base.suite and cand.suite  # only sets whose suite ran are compared
    quality, notes, baseline = judge_quality(base.suite.run_dir, cand.suite.run_dir)
    timings = judge_timings(
        fit_timings(base.suite.run_dir), fit_timings(cand.suite.run_dir), factor
    )
    if base.suite.asv_results and cand.suite.asv_results:
        asv = judge_timings(
            asv_timings(base.suite.asv_results, ASV_MACHINE),
            asv_timings(cand.suite.asv_results, ASV_MACHINE),
            factor,
        )
        timings = pd.concat([asv, timings], ignore_index=True)
    regressed = quality[quality["verdict"] == "REGRESSED"]
    return {
        "baseline": base.vset.name,
        "passed": regressed.empty,
        "n_gated": int(len(quality)),
        "n_regressed": int(len(regressed)),
        "baseline_seeds": baseline["seeds"],
        "quality": _records(quality),
        "notes": notes,
        "timings": _records(timings),
    }


def run_versions(
    spec: VersionsSpec,
    out: str | Path,
    *,
    envs_root: str | Path = ".bnn_cache/envs",
    python: str = sys.executable,
    project: Path = PROJECT,
    resume: bool = False,
    command: str = "",
    log: Callable[[str], None] = lambda line: None,
) -> VersionsResult:
    """Build each set's environment, run the suite in it, judge the candidates; write ``out``.

    A set that cannot be installed or run is recorded with its stage and message and
    the others go on; a candidate is compared only when it and the baseline set ran.
    ``out/versions.json`` and ``out/report.md`` are written atomically at the end.
    ``resume`` keeps the fits and asv results a previous call finished.
    """
    from bnn_models.versions.report import render_markdown

    out = Path(out)
    t_start = time.perf_counter()
    requirements = (project / "requirements.txt").read_text()
    commit = git_commit(project) or "unknown"
    outcomes: list[SetOutcome] = []
    for vset in spec.sets:
        outcome = SetOutcome(vset, "ok")
        try:
            outcome.env = build_env(vset, requirements, Path(envs_root), python=python, log=log)
            outcome.suite = run_suite(
                outcome.env,
                spec.suite,
                out / "sets" / vset.name,
                project,
                commit,
                resume=resume,
                log=log,
            )
        except EnvUnavailable as err:  # SuiteFailed too: installed, but the suite did not run
            status = "suite_failed" if isinstance(err, SuiteFailed) else "unavailable"
            outcome.status, outcome.stage, outcome.message = status, err.stage, err.message
        if outcome.status != "ok":
            log(f"[{vset.name}] {outcome.status} at {outcome.stage}:\n{outcome.message}")
        outcomes.append(outcome)
    result = VersionsResult(spec, outcomes)
    base = outcomes[0]
    for cand in outcomes[1:]:
        if base.status == "ok" and cand.status == "ok":
            result.comparisons[cand.vset.name] = _compare(base, cand, spec.suite.timing_factor)
    result.doc = {
        "schema": "bnn-bench/versions",
        "schema_version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or "bnn-bench versions",
        "commit": commit,
        "machine": machine_info(),
        "python": platform.python_version(),
        "spec": spec.source,
        "suite": {
            "methods": spec.suite.methods,
            "seeds": list(spec.suite.seeds),
            "asv_bench": spec.suite.asv_bench,
            "timing_factor": spec.suite.timing_factor,
            "profile": "quick",
        },
        "sets": [o.as_dict() for o in outcomes],
        "comparisons": result.comparisons,
        "wall_s": time.perf_counter() - t_start,
    }
    write_json(out / "versions.json", result.doc)
    write_text(out / "report.md", render_markdown(result.doc))
    return result
