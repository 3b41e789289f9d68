"""The gate's verdict: a run's fits compared with a baseline, metric by metric, and the check.

Methods skipped in a run (engine not installed) are noted, not gated; a seed that failed
in the baseline too is noted, not gated; any other failed or missing fit regresses.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bnn_models.data import load_dataset
from bnn_models.errors import BadInput
from bnn_models.gate._runs import by_method, pool, same_data, settings_of, value
from bnn_models.gate.baseline import load_baseline
from bnn_models.gate.rule import stat_tolerance
from bnn_models.inference import METHODS
from bnn_models.runner import run_benchmark

__all__ = ["SHOWN", "CheckResult", "check", "compare"]

#: Columns of :func:`compare`'s table, in order.
_COLUMNS = "method metric better baseline sd k now n tolerance limit excess verdict detail".split()
#: The columns ``bnn-bench check`` shows.
SHOWN = [c for c in _COLUMNS if c not in ("k", "n")]


def _defaults(method: str) -> dict:
    """The registered method's default settings (empty for an unknown method)."""
    return METHODS[method].settings().as_config() if method in METHODS else {}


def compare(baseline: dict, fits: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    """Compare fits (one or several seeds per method) with a baseline.

    Returns
    -------
    table : pandas.DataFrame
        One row per method and gated metric: ``better``, ``baseline`` (mean), ``sd``,
        ``k``, ``now`` (mean over the run's seeds), ``n``, ``tolerance``, ``limit``,
        ``excess`` (worse-direction move in tolerances) and ``verdict`` (``ok``,
        ``REGRESSED``, ``better``); a failed or missing fit is one ``status`` row,
        unless the baseline's fit of that seed failed too (then a note, not gated).
    notes : list of str
        Config differences; seeds that failed as in the baseline; methods of the run
        that the baseline does not gate.
    """
    rows: list[dict] = []
    notes: list[str] = []
    fits_of = by_method(fits)
    for method, gated in baseline["metrics"].items():
        entries = fits_of.get(method, [])
        if entries and all(f["status"] == "skipped" for f in entries):
            notes.append(f"{method}: skipped ({entries[0].get('error')}), not gated")
            continue
        expected = baseline.get("failures", {}).get(method, {})
        failed = [f for f in entries if f["status"] != "ok"]
        if as_before := [f for f in failed if str(f["seed"]) in expected]:
            seeds = ", ".join(str(f["seed"]) for f in as_before)
            notes.append(f"{method}: seed(s) {seeds} failed, as in the baseline; not gated")
        failed = [f for f in failed if str(f["seed"]) not in expected]
        entries = [f for f in entries if f["status"] == "ok"]
        if failed or not (entries or as_before):
            why = "; ".join(f"seed {f['seed']}: {f.get('error')}" for f in failed)
            rows.append({"method": method, "metric": "status", "better": "ok"})
            rows[-1] |= {"verdict": "REGRESSED", "detail": why or "no fit in the run"}
            continue
        if not entries:
            continue
        base_cfg, now_cfg = baseline["configs"].get(method, {}), settings_of(entries[0])
        # A setting added after the baseline was made, left at its default, is no change.
        defaults = _defaults(method)
        if diff := [
            f"{k} {base_cfg.get(k)!r} -> {now_cfg.get(k)!r}"
            for k in sorted(set(base_cfg) | set(now_cfg))
            if base_cfg.get(k) != now_cfg.get(k)
            and not (k not in base_cfg and k in defaults and now_cfg[k] == defaults[k])
        ]:
            notes.append(f"{method}: settings differ from the baseline's: {', '.join(diff)}")
        for name, st in gated.items():
            row = {"method": method, "metric": name, "better": st["direction"]}
            row |= {"baseline": st["mean"], "sd": st["sd"], "k": int(st["k"])}
            got = [value(f, name) for f in entries]
            values = [v for v in got if v is not None]
            if len(values) < len(got):
                rows.append(
                    row | {"verdict": "REGRESSED", "detail": "missing or non-finite in the run"}
                )
                continue
            now, n = float(np.mean(values)), len(values)
            tol = stat_tolerance(st, n, baseline["alpha"], baseline["rel_floor"])
            delta = now - st["mean"]
            worse = {"lower": delta, "higher": -delta, "none": abs(delta)}[st["direction"]]
            sign = {"lower": 1.0, "higher": -1.0, "none": math.nan}[st["direction"]]
            limit = st["mean"] + sign * tol  # none: no one-sided limit
            verdict = "REGRESSED" if worse > tol else ("better" if -worse > tol else "ok")
            # A metric constant over the baseline's seeds (a point estimate's zero spread) has
            # tolerance 0: any worsening is then infinitely far past it.
            excess = worse / tol if tol > 0 else (0.0 if worse <= 0 else math.inf)
            row |= {"now": now, "n": n, "tolerance": tol, "limit": limit, "excess": excess}
            rows.append(row | {"verdict": verdict, "detail": ""})
    extra = sorted(set(fits_of) - set(baseline["metrics"]))
    if extra:
        notes.append(f"not in the baseline, not gated: {', '.join(extra)}")
    return pd.DataFrame(rows, columns=_COLUMNS), notes


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The verdict of :func:`check`.

    :func:`compare`'s ``table`` and ``notes``; the baseline's file and document; the
    checked run folders (a deleted temporary one for a fresh run), seeds and commits.
    """

    table: pd.DataFrame
    notes: list[str]
    baseline_path: Path
    baseline: dict
    runs: list[str]
    seeds: list[int]
    commits: list[str]

    @property
    def regressed(self) -> pd.DataFrame:
        """Rows whose verdict is ``REGRESSED``."""
        return self.table[self.table["verdict"] == "REGRESSED"]

    @property
    def better(self) -> pd.DataFrame:
        """Rows better than the baseline by more than their tolerance."""
        return self.table[self.table["verdict"] == "better"]

    @property
    def passed(self) -> bool:
        """True when no gated metric regressed."""
        return self.regressed.empty


def _fresh_run(baseline: dict, seeds: list[int], out: Path, log: Callable[[str], None]) -> None:
    data = baseline["dataset"]
    try:
        dataset = load_dataset(
            data["name"], n_train=data["n_train"], n_test=data["n_test"], shift=data.get("shift")
        )
    except BadInput as err:  # e.g. a user's data file: a fresh run cannot rebuild it
        raise BadInput(f"{err}; run 'bnn-bench run' yourself and pass --run DIR") from None
    methods = [m for m in METHODS if m in baseline["metrics"]]  # in registry order
    methods += sorted(set(baseline["metrics"]) - set(methods))
    log(
        f"bnn-bench check: fresh {baseline['profile']} run of {', '.join(methods)} "
        f"on {data['name']}, seeds {seeds} -> {out}"
    )
    run_benchmark(
        dataset,
        out,
        methods=methods,
        seeds=seeds,
        quick=baseline["profile"] == "quick",
        progressbar=False,
        log=log,
        command=f"bnn-bench check (fresh run, seeds {seeds})",
    )


def check(
    baseline_path: str | Path,
    run_dirs: str | Path | Sequence[str | Path] | None = None,
    seeds: int | None = None,
    *,
    methods: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> CheckResult:
    """Gate runs on a baseline.

    Parameters
    ----------
    baseline_path : path
        Baseline file (:func:`make_baseline`).
    run_dirs : path or list of path, optional
        Results folder(s) of ``bnn-bench run`` to check. Default: run the baseline's
        profile and methods now, on its first ``seeds`` seeds (default 1), in a
        temporary folder, sending progress lines to ``log`` (default: nowhere).
    methods : list of str, optional
        Gate only these of the baseline's methods (CI gates the cheap ones); the
        others are named in the notes as not gated by this check.

    Returns
    -------
    CheckResult
        ``passed`` is true when every gated metric is within tolerance.

    Raises
    ------
    ResultsError
        Bad baseline or run (naming file and field), or a run of another profile or
        dataset; :class:`BadInput`: ``seeds`` out of range.
    """
    base = load_baseline(baseline_path)
    left_out: list[str] = []
    if methods is not None:
        unknown = sorted(set(methods) - set(base["metrics"]))
        if unknown:
            raise BadInput(
                f"--methods: {', '.join(unknown)} not in the baseline {baseline_path} "
                f"(it gates {', '.join(base['metrics'])})"
            )
        left_out = [m for m in base["metrics"] if m not in methods]
        base = {**base, "metrics": {m: v for m, v in base["metrics"].items() if m in methods}}
    with tempfile.TemporaryDirectory(prefix="bnn-bench-check-") as tmp:
        if run_dirs is None:
            n = 1 if seeds is None else seeds
            if not 1 <= n <= len(base["seeds"]):
                raise BadInput(
                    f"--seeds: {n} is not between 1 and the baseline's {len(base['seeds'])} seeds"
                )
            out = Path(tmp) / "run"
            _fresh_run(base, base["seeds"][:n], out, log or (lambda line: None))
            paths: list[str | Path] = [out]
        else:
            paths = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
        if not paths:
            raise BadInput("--run: empty list of runs to check")
        fits, runs = pool([Path(p) for p in paths])
    like = {"path": f"the baseline {baseline_path}", **base}
    same_data([like, *runs], "a check compares like with like")
    table, notes = compare(base, fits)
    if left_out:
        notes.append(f"not gated by this check (--methods): {', '.join(left_out)}")
    return CheckResult(
        table=table,
        notes=notes,
        baseline_path=Path(baseline_path),
        baseline=base,
        runs=[r["path"] for r in runs],
        seeds=sorted({f["seed"] for f in fits}),
        commits=sorted({str(r.get("commit")) for r in runs}),
    )
