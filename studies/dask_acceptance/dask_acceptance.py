"""Measure what a sweep on dask promises, through the CLI as a user runs it.

Three checks on one grid (2 VI methods x 8 seeds, quick settings, rupture data):

1. ``local``: the grid on a 2-worker ``LocalCluster`` (``--scheduler auto``), then serially
   right after it: wall-clock times and their ratio, and every task's metrics compared
   (all but the timings) between the two.
2. ``cluster``: a ``dask scheduler`` and two ``dask worker`` processes started by hand;
   one worker is killed (SIGKILL) once a few fits have finished; the sweep must finish
   with every task once in ``metrics.json``.
3. ``resume``: a serial sweep interrupted (SIGINT) after a few fits, then rerun with
   ``--resume``: how many fits the rerun ran, against how many were finished before.

Run it alone (the timings of check 1 are compared; ~10 minutes on 2 cores)::

    python -m studies.dask_acceptance.dask_acceptance
    python -m studies.dask_acceptance.dask_acceptance --render   # markdown from the JSON

Writes ``summary.json`` and ``summary.md`` (``dask_acceptance.md.j2``) into ``--out``
(default ``studies/dask_acceptance/results``); the sweeps' folders go to a temporary
folder unless ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bnn_models.schema import flatten_metrics, load_metrics
from studies._common import ROOT, STUDIES, render_template, write_report

__all__ = ["check_cluster", "check_local", "check_resume", "main", "render"]

#: This checkout: the sweeps run its ``bnn_models`` (``python -m`` from it).
REPO = ROOT
#: Where the committed results live.
RESULTS = STUDIES / "dask_acceptance" / "results"

GRID = """
methods = ["advi", "fullrank_advi"]
seeds = 8
quick = true
reference = "none"
[[datasets]]
name = "rupture"
"""
CELL = "rupture-h12"
#: The checks, in the order they run.
CHECKS = ("local", "cluster", "resume")
N_TASKS = 16
BNN = [sys.executable, "-m", "bnn_models.cli"]
DASK = str(Path(sys.executable).parent / "dask")  # the dask CLI of this environment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sweep(grid: Path, out: Path, *extra: str, log: Path) -> subprocess.Popen:
    cmd = [*BNN, "sweep", str(grid), "--out", str(out), "--no-progress", "--no-report", *extra]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO)


def _finished(out: Path) -> int:
    """Fits written so far into the cell's ``metrics.json`` (0 before the first)."""
    try:
        return len(load_metrics(out / CELL)["fits"])
    except Exception:  # not written yet, or being replaced: count again later
        return 0


def _wait_for(out: Path, n: int, proc: subprocess.Popen, limit_s: float = 1800) -> None:
    start = time.monotonic()
    while _finished(out) < n:
        if proc.poll() is not None:
            raise RuntimeError(f"the sweep into {out} ended (rc {proc.returncode}) early")
        if time.monotonic() - start > limit_s:
            raise RuntimeError(f"the sweep into {out} did not reach {n} fits in {limit_s} s")
        time.sleep(0.5)


def _timed(grid: Path, out: Path, *extra: str, log: Path) -> float:
    start = time.perf_counter()
    proc = _sweep(grid, out, *extra, log=log)
    if proc.wait() != 0:
        raise RuntimeError(f"sweep into {out} failed (rc {proc.returncode}); see {log}")
    return time.perf_counter() - start


def _entries(out: Path) -> dict[str, dict]:
    fits = load_metrics(out / CELL)["fits"]
    return {f"{f['method']}-{f['seed']}": f for f in fits}


def _largest_difference(a: dict[str, dict], b: dict[str, dict]) -> float:
    """Largest relative difference of any metric but the timings, over every task."""
    worst = 0.0
    for key in a:
        fa, fb = flatten_metrics(a[key]), flatten_metrics(b[key])
        for name, va in fa.items():
            if name.startswith("runtime.") and not name.endswith("grad_evals"):
                continue
            vb = fb[name]
            if np.isnan(va) and np.isnan(vb):
                continue
            worst = max(worst, abs(va - vb) / max(abs(va), abs(vb), 1e-300))
    return worst


def check_local(grid: Path, work: Path) -> dict:
    parallel = _timed(
        grid, work / "local", "--scheduler", "auto", "--workers", "2", log=work / "local.log"
    )
    serial = _timed(grid, work / "serial", "--scheduler", "serial", log=work / "serial.log")
    a, b = _entries(work / "local"), _entries(work / "serial")

    def runtime(entries: dict[str, dict], key: str) -> pd.Series:
        return pd.Series([f["runtime"][key] for f in entries.values()])

    return {
        "tasks": len(a),
        "same_tasks": sorted(a) == sorted(b),
        "all_ok": all(f["status"] == "ok" for f in (*a.values(), *b.values())),
        "wall_local_cluster_s": parallel,
        "wall_serial_s": serial,
        "speedup": serial / parallel,
        # where the time goes: one fit's optimisation (two at once on the cluster), and
        # compilation (each worker process compiles and imports for itself)
        "median_fit_s_local_cluster": float(runtime(a, "fit_s").median()),
        "median_fit_s_serial": float(runtime(b, "fit_s").median()),
        "compile_s_local_cluster": float(runtime(a, "compile_s").sum()),
        "compile_s_serial": float(runtime(b, "compile_s").sum()),
        "largest_relative_difference": _largest_difference(a, b),
    }


def check_cluster(grid: Path, work: Path) -> dict:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = work / "cluster-logs"
    logs.mkdir(parents=True, exist_ok=True)
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=(logs / "scheduler.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    workers = [
        subprocess.Popen(
            [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--name", f"w{i}"]
            + ["--no-dashboard"],
            stdout=(logs / f"worker{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in (1, 2)
    ]
    try:
        time.sleep(5)
        proc = _sweep(grid, work / "cluster", "--scheduler", address, log=logs / "sweep.log")
        _wait_for(work / "cluster", 3, proc)
        killed_at = _finished(work / "cluster")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        rc = proc.wait()
    finally:
        for p in (*workers, scheduler):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    fits = load_metrics(work / "cluster" / CELL)["fits"]
    keys = [f"{f['method']}-{f['seed']}" for f in fits]
    return {
        "address": address,
        "exit_code": rc,
        "fits_when_worker_killed": killed_at,
        "tasks": len(keys),
        "every_task_once": len(keys) == len(set(keys)) == N_TASKS,
        "status": pd.Series([f["status"] for f in fits]).value_counts().to_dict(),
        "failed": {k: f["error"] for k, f in zip(keys, fits, strict=True) if f["status"] != "ok"},
    }


def check_resume(grid: Path, work: Path) -> dict:
    out = work / "resume"
    proc = _sweep(grid, out, "--scheduler", "serial", log=work / "resume-1.log")
    _wait_for(out, 5, proc)
    proc.send_signal(signal.SIGINT)
    rc_killed = proc.wait()
    before = _finished(out)
    proc = _sweep(grid, out, "--scheduler", "serial", "--resume", log=work / "resume-2.log")
    rc = proc.wait()
    index = json.loads((out / "sweep.json").read_text())
    fits = load_metrics(out / CELL)["fits"]
    return {
        "exit_code_killed": rc_killed,
        "finished_before": before,
        "exit_code_resumed": rc,
        "ran_on_resume": index["ran"],
        "tasks_after": len(fits),
        "nothing_recomputed": index["ran"] == N_TASKS - before,
    }


def render(summary: dict) -> str:
    """``summary.md`` from ``summary.json``: one key/value table per check, in the order
    they run (the JSON keeps its keys sorted)."""
    checks = summary["checks"]
    order = [name for name in CHECKS if name in checks] + sorted(set(checks) - set(CHECKS))
    tables = {
        name: pd.Series(checks[name], name="value").rename_axis("key").astype(str).to_frame()
        for name in order
    }
    return render_template(
        "dask_acceptance/dask_acceptance.md.j2",
        doc=summary,
        tables={name: t.to_markdown() for name, t in tables.items()},
    )


def _commits(work: Path, names: list[str]) -> str:
    """The commit the sweeps' fits ran at, as each cell's ``metrics.json`` records it."""
    cells = [work / name / CELL for name in names if (work / name / CELL).is_dir()]
    return ", ".join(sorted({str(load_metrics(c)["run"]["commit"]) for c in cells})) or "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run the checks (``--only``: some of them) and write ``summary.json`` and ``summary.md``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="summary.json and summary.md go here")
    parser.add_argument("--keep", help="keep the sweeps' folders here (default: temporary)")
    parser.add_argument("--only", choices=CHECKS, action="append")
    parser.add_argument("--render", action="store_true", help="only redraw from summary.json")
    args = parser.parse_args(argv)

    def measure() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(args.keep or tmp)
            work.mkdir(parents=True, exist_ok=True)
            grid = work / "grid.toml"
            grid.write_text(GRID)
            checks = dict(zip(CHECKS, (check_local, check_cluster, check_resume), strict=True))
            results = {}
            for name, run in checks.items():
                if args.only and name not in args.only:
                    continue
                print(f"{name} ...", flush=True)
                results[name] = run(grid, work)
                print(json.dumps(results[name], indent=2), flush=True)
            commit = _commits(work, ["local", "serial", "cluster", "resume"])
        return {
            "commit": commit,
            "machine": f"{os.cpu_count()} cores",
            "grid": GRID,
            "checks": results,
        }

    print(write_report(Path(args.out), "summary", render, None if args.render else measure))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
