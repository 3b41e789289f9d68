"""The quick suite, run inside one version set's environment: the gate's fits and asv's timings.

Both run as child processes of the set's own Python, on this checkout's code
(``PYTHONPATH``), each set with its own PyTensor and numba caches (code compiled by one
PyTensor must not be loaded by another):

- ``bnn-bench run --quick --reference none`` of the suite's methods on its seeds, as
  ``make baseline`` runs the gate's baselines, after a warm-up run of one seed (thrown
  away) that fills the set's compile caches;
- ``asv run --python=same`` of the suite's asv benchmarks, results kept per set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bnn_models.io import write_json
from bnn_models.versions.envs import Env, EnvUnavailable, installer_message
from bnn_models.versions.spec import SuiteSpec

__all__ = ["ASV_MACHINE", "SuiteFailed", "SuiteRun", "asv_config", "run_suite"]

#: Child processes' output as one stream, in the order written (messages keep their context).
_OUTPUT: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}

#: The asv machine name the timings are filed under (one machine: this one).
ASV_MACHINE = "bnn-bench-versions"


class SuiteFailed(EnvUnavailable):
    """The suite could not run in a set's environment: ``stage`` and the tool's message."""


@dataclass(frozen=True)
class SuiteRun:
    """Where one set's suite wrote: its run folder, its asv results, and the seconds."""

    run_dir: Path
    asv_results: Path | None
    fits_s: float
    asv_s: float
    #: The machine's 1-minute load average before the fits and after the timings: other
    #: work on the machine while a set was timed shows here.
    load: tuple[float, float] = (0.0, 0.0)


def _env_vars(env: Env, project: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(project), *filter(None, [out.get("PYTHONPATH")])])
    out["ASV_PYTHONPATH"] = out["PYTHONPATH"]  # asv drops PYTHONPATH, reads this instead
    out["PYTENSOR_FLAGS"] = f"base_compiledir={env.path / 'pytensor'}"
    out["NUMBA_CACHE_DIR"] = str(env.path / "numba")
    out["BNN_BENCH_PROFILE"] = "quick"
    out.pop("VIRTUAL_ENV", None)
    return out


def asv_config(project: Path, out: Path) -> Path:
    """An asv configuration for one set: the project's, with its results kept under ``out``.

    The benchmarks and the repository stay the project's; results, environments and
    the dashboard go under ``out`` so two sets' timings never mix.
    """
    from asv.util import load_json  # asv reads its configuration with // comments

    conf = load_json(str(project / "asv.conf.json"), js_comments=True)
    conf |= {
        "repo": str(project),
        "benchmark_dir": str(project / conf.get("benchmark_dir", "benchmarks")),
        "results_dir": str(out / "results"),
        "html_dir": str(out / "html"),
        "env_dir": str(out / "env"),
    }
    path = out / "asv.conf.json"
    write_json(path, conf)
    return path


def _check(proc: subprocess.CompletedProcess, stage: str, ok: tuple[int, ...] = (0,)) -> None:
    if proc.returncode not in ok:
        raise SuiteFailed(stage, installer_message(proc.stdout))


def run_suite(
    env: Env,
    suite: SuiteSpec,
    out: Path,
    project: Path,
    commit: str,
    *,
    resume: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> SuiteRun:
    """Run the quick suite of ``suite`` in ``env``, writing under ``out``.

    The fits' run folder is ``out/run`` (``metrics.json``; a fit that fails, e.g. Laplace
    at an indefinite Hessian, is recorded there and judged by the gate); asv's results
    are under ``out/asv/results/<ASV_MACHINE>`` for ``commit`` (skipped when
    ``suite.asv_bench`` is empty).

    Raises
    ------
    SuiteFailed
        The run or asv could not start or crashed (not: a fit failed), with its message.
    """
    out = out.resolve()  # asv reads relative paths from its configuration's folder
    vars_ = _env_vars(env, project)
    py = str(env.python)
    load_before = os.getloadavg()[0]

    def fits(seeds: str, folder: Path, resume: bool) -> list[str]:
        cmd = [py, "-m", "bnn_models.cli", "run", "--quick", "--methods", suite.methods]
        cmd += ["--seeds", seeds, "--reference", "none", "--no-report", "--no-progress"]
        return cmd + ["--out", str(folder)] + (["--resume"] if resume else [])

    cmd = fits(",".join(str(s) for s in suite.seeds), out / "run", resume)
    if not (resume and (out / "run" / "metrics.json").is_file()):
        # One seed first, thrown away: a new environment's PyTensor and numba caches are
        # cold, and its first fits would be timed compiling what the other sets load.
        warm = fits(f"{suite.seeds[0]},", out / "warmup", False)
        log(f"  warm-up: {' '.join(warm[1:])}")
        proc = subprocess.run(warm, env=vars_, cwd=project, **_OUTPUT)
        _check(proc, "bnn-bench run (warm-up)", ok=(0, 1))
        shutil.rmtree(out / "warmup", ignore_errors=True)
    log(f"  fits: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=vars_, cwd=project, **_OUTPUT)
    fits_s = time.perf_counter() - t0
    _check(proc, "bnn-bench run", ok=(0, 1))  # 1: a fit failed; the gate judges that
    if not (out / "run" / "metrics.json").is_file():
        raise SuiteFailed("bnn-bench run", installer_message(proc.stdout))
    asv_dir = None
    t0 = time.perf_counter()
    if suite.asv_bench:
        asv_dir = out / "asv"
        conf = str(asv_config(project, asv_dir))
        asv = [py, "-m", "asv"]
        machine = [*asv, "machine", "--yes", "--machine", ASV_MACHINE, "--config", conf]
        _check(
            subprocess.run(machine, env=vars_, cwd=project, **_OUTPUT),
            "asv machine",
        )
        bench = [*asv, "run", "--config", conf, "--python=same", "--machine", ASV_MACHINE]
        bench += ["--set-commit-hash", commit.removesuffix("-dirty"), "-b", suite.asv_bench]
        bench += ["--show-stderr"] + (["--skip-existing"] if resume else [])
        log(f"  timings: asv run --python=same -b '{suite.asv_bench}'")
        proc = subprocess.run(bench, env=vars_, cwd=project, **_OUTPUT)
        # asv exits 2 when a benchmark failed: that benchmark is recorded as failed (the
        # report shows it), the others were measured. No results at all is a failure.
        _check(proc, "asv run", ok=(0, 2))
        if not any((asv_dir / "results" / ASV_MACHINE).glob("*-*.json")):
            raise SuiteFailed("asv run", installer_message(proc.stdout))
    asv_s = time.perf_counter() - t0
    load = (load_before, os.getloadavg()[0])
    return SuiteRun(out / "run", asv_dir and asv_dir / "results", fits_s, asv_s, load)
