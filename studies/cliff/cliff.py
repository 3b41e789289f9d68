"""Where the scaling cliff of one gradient and one ADVI step comes from, and what removes it.

Issue 13: one log density + gradient of the BNN took 11 times as long at 4 times the
rows (6,400 -> 25,600 x 12 hidden) and 6 times as long at twice the width (6,400 x 24 ->
48), though the arithmetic grows linearly; the ADVI step showed the same. The cause is
glibc's malloc: PyTensor's compiled function (numba, and the C backend alike) allocates
its (rows, hidden) temporaries afresh on every call and frees them at its end. Once they
are megabytes, the freed heap top exceeds malloc's trim threshold (twice the largest
chunk so far, under glibc's dynamic threshold) and is handed back to the kernel, so
every call page-faults it in again (zero-filled pages: ~1,160 minor faults per call).
Whether a cell crosses that line depends on how its arrays happen to sit on the heap,
hence the irregular cliff. Fixed thresholds (``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_``, or ``mallopt`` from inside the process) keep the memory.
What is left of the gradient's growth over the rows is OpenBLAS's: its dgemm leaves a
fast small-matrix path once M x N x K passes 1e6 (the W0 gradient ``X.T @ G`` is
8 x 12 x rows), which ``OPENBLAS_CORETYPE=Haswell`` avoids, at a cost below it.

This script measures, over the grid, microseconds per call and minor page faults per
call of ``model.logp_dlogp_function(ravel_inputs=True)`` and of the ADVI step
(``bnn_models.inference.steps.vi_step_function``, the one asv times), one BLAS thread, for each variant of
:data:`VARIANTS`, each in its own process (the environment variables are read when a
process starts). The variants alternate over ``--rounds`` rounds and the best time of
each cell is kept, so that a busy spell on a shared machine hits them alike. It also
runs two minimal reproductions with plain NumPy, of the faults (:data:`REPRO`) and of
OpenBLAS's threshold (:data:`REPRO_GEMM`). About 3 minutes on 2 cores; run it with
nothing else on the machine:

    python -m studies.cliff.cliff --out studies/cliff/results

Writes ``cliff.json`` (every number, with commit, machine, versions) and ``cliff.md``
(``cliff.md.j2``); ``--render`` rewrites ``cliff.md`` from an existing ``cliff.json``
without measuring; ``--quick`` measures a corner of the grid, one round; ``--cells``
measures the cells it names instead of the grid.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import timeit
import warnings
from pathlib import Path

import pandas as pd

from studies._common import ROOT, STUDIES, provenance, render_template

__all__ = ["gemm_reproduction", "growth", "main", "measure", "render", "reproduction", "worker"]

#: Where the committed results live.
RESULTS = STUDIES / "cliff" / "results"

#: (rows, hidden) cells: the rows at 12 hidden, then the widths at 6,400 rows.
GRID = ((1600, 12), (6400, 12), (25600, 12), (6400, 24), (6400, 48))
#: The corner ``--quick`` measures (the cliff cells left out).
QUICK_GRID = ((1600, 12), (6400, 12), (6400, 24))
#: Growth steps checked against issue 13's goal: (label, from cell, to cell, goal).
STEPS = (
    ("4x rows", (1600, 12), (6400, 12), 4.5),
    ("4x rows", (6400, 12), (25600, 12), 4.5),
    ("2x width", (6400, 12), (6400, 24), 2.3),
    ("2x width", (6400, 24), (6400, 48), 2.3),
)
#: What is timed: the label of each call.
WHATS = {"grad": "log density + gradient", "advi": "ADVI step"}
#: Fixed malloc thresholds: 32 MiB (glibc's own ceiling for the dynamic mmap threshold)
#: and 128 MiB. Setting either turns glibc's dynamic thresholds off, so both are set.
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 * 2**20, 128 * 2**20
#: glibc's mallopt parameter numbers (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: The variants compared: environment of the process, and whether it calls mallopt.
VARIANTS = {
    "default": {"env": {}, "mallopt": False, "how": "glibc malloc as it comes"},
    "env": {
        "env": {
            "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
            "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
        },
        "mallopt": False,
        "how": f"MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD} MALLOC_TRIM_THRESHOLD_={TRIM_THRESHOLD}"
        " in the environment of the process",
    },
    "mallopt": {
        "env": {},
        "mallopt": True,
        "how": "the same thresholds set from Python at the start of the process, "
        "ctypes.CDLL('libc.so.6').mallopt(M_MMAP_THRESHOLD, ...) and (M_TRIM_THRESHOLD, ...)",
    },
    "env+coretype": {
        "env": {
            "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
            "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
            "OPENBLAS_CORETYPE": "Haswell",
        },
        "mallopt": False,
        "how": "the `env` thresholds and OPENBLAS_CORETYPE=Haswell: OpenBLAS's AVX2 kernels, "
        "which have no small-matrix path (see the second reproduction)",
    },
}
#: Seconds one timing aims at, timings per cell and round (the best is kept), and
#: passes over the grid inside one process (interleaving the cells).
TARGET_S, REPEAT, PASSES = 0.05, 5, 2
#: Minimal reproduction without PyMC or PyTensor: what a compiled function does per call
#: (fresh (rows, 12) outputs, freed at the end), timed with the same page-fault count.
REPRO = """\
import json, resource, timeit
import numpy as np

def call(n):  # three fresh (n, 12) float64 arrays per call, freed on return
    a = np.empty((n, 12)); a.fill(1.0)
    b = np.empty((n, 12)); b.fill(1.0)
    return (a + b).sum()

out = {}
for n in (1600, 6400, 25600):
    call(n)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = min(timeit.repeat(lambda: call(n), number=50, repeat=5)) / 50
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 250
    out[n] = {"us": 1e6 * t, "faults_per_call": faults}
print(json.dumps(out))
"""
#: Variants the reproduction runs under.
REPRO_VARIANTS = ("default", "env")
#: The second reproduction: OpenBLAS's dgemm over the rows (the W0 gradient is X.T @ G,
#: the forward pass X @ W0) against an elementwise pass over the same bytes.
REPRO_GEMM = """\
import json, timeit
import numpy as np
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1, user_api="blas")
rng = np.random.default_rng(0)
out = {}
for n in (1600, 6400, 9000, 11000, 25600):  # M*N*K = 8*12*n passes 1e6 at n = 10,417
    X, G = rng.normal(size=(n, 8)), rng.normal(size=(n, 12))
    calls = {"X.T @ G": lambda: X.T @ G, "G * 2.0": lambda: G * 2.0}
    out[n] = {k: 1e6 * min(timeit.repeat(c, number=100, repeat=5)) / 100
              for k, c in calls.items()}
print(json.dumps(out))
"""
#: Variants the second reproduction runs under (no malloc faults in either).
GEMM_VARIANTS = ("env", "env+coretype")


def _cell(cell: tuple[int, int]) -> str:
    return f"{cell[0]} x {cell[1]}"


def _set_thresholds() -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    for param, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if libc.mallopt(param, value) != 1:
            raise RuntimeError(f"mallopt({param}, {value}) refused")


def _measure(call) -> tuple[float, float]:
    """Best microseconds per call of REPEAT timings, and minor page faults per call."""
    t0 = timeit.default_timer()
    call()
    number = max(5, min(500, int(TARGET_S / max(timeit.default_timer() - t0, 1e-7))))
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    best = min(timeit.repeat(call, number=number, repeat=REPEAT)) / number
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return 1e6 * best, faults / (number * REPEAT)


def worker(variant: str, grid: tuple[tuple[int, int], ...]) -> dict:
    """Measure every cell of ``grid`` in this process (run by :func:`_run_worker`)."""
    warnings.filterwarnings("ignore")  # PyMC's and PyTensor's notes are no measurement
    if VARIANTS[variant]["mallopt"]:
        _set_thresholds()
    from threadpoolctl import threadpool_limits

    # the asv suite's helpers: the same data, initial point and VI step its benchmarks time
    from bnn_models.data import make_teacher
    from bnn_models.inference.steps import initial_vector, vi_step_function
    from bnn_models.model import build_bnn

    limiter = threadpool_limits(limits=1, user_api="blas")
    calls = {}
    for rows, hidden in grid:
        data = make_teacher(n_train=rows, n_test=400, seed=0)  # the asv suite's teacher data
        model = build_bnn(data.X_train, data.y_train, n_hidden=hidden)
        fn, x = model.logp_dlogp_function(ravel_inputs=True), initial_vector(model)
        calls[(rows, hidden, "grad")] = lambda fn=fn, x=x: fn(x)
        model = build_bnn(data.X_train, data.y_train, n_hidden=hidden)
        calls[(rows, hidden, "advi")] = vi_step_function(model, "advi")
    for call in calls.values():
        call()
    best: dict = {}
    for _ in range(PASSES):
        for key, call in calls.items():
            us, faults = _measure(call)
            if key not in best or us < best[key][0]:
                best[key] = (us, faults)
    del limiter
    return {
        "rows": [
            {"rows": r, "hidden": h, "what": w, "us": us, "faults_per_call": faults}
            for (r, h, w), (us, faults) in best.items()
        ]
    }


def _env(variant: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    return {**env, **VARIANTS[variant]["env"]}


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_worker(variant: str, grid: tuple[tuple[int, int], ...]) -> dict:
    cells = ",".join(f"{r}x{h}" for r, h in grid)
    cmd = [sys.executable, "-m", "studies.cliff.cliff", "--worker", variant, "--cells", cells]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=_env(variant), capture_output=True, text=True, timeout=600
    )
    return _last_json(proc)


def measure(grid: tuple[tuple[int, int], ...], rounds: int) -> list[dict]:
    """Every variant over ``grid``, alternating over ``rounds``; the best time per cell."""
    best: dict = {}
    for rnd in range(rounds):
        for variant in VARIANTS:
            print(f"round {rnd + 1}/{rounds}: {variant}", file=sys.stderr, flush=True)
            for row in _run_worker(variant, grid)["rows"]:
                key = (variant, row["rows"], row["hidden"], row["what"])
                if key not in best or row["us"] < best[key]["us"]:
                    best[key] = {"variant": variant, **row}
    return list(best.values())


def reproduction(rounds: int) -> list[dict]:
    """The plain-NumPy reproduction under each of :data:`REPRO_VARIANTS`, best of rounds."""
    best: dict = {}
    for _ in range(rounds):
        for variant in REPRO_VARIANTS:
            proc = subprocess.run(
                [sys.executable, "-c", REPRO],
                env=_env(variant),
                capture_output=True,
                text=True,
                timeout=300,
            )
            for rows, value in _last_json(proc).items():
                key = (variant, int(rows))
                if key not in best or value["us"] < best[key]["us"]:
                    best[key] = {"variant": variant, "rows": int(rows), **value}
    return list(best.values())


def gemm_reproduction(rounds: int) -> list[dict]:
    """:data:`REPRO_GEMM` under each of :data:`GEMM_VARIANTS`, best of rounds."""
    best: dict = {}
    for _ in range(rounds):
        for variant in GEMM_VARIANTS:
            proc = subprocess.run(
                [sys.executable, "-c", REPRO_GEMM],
                env=_env(variant),
                capture_output=True,
                text=True,
                timeout=300,
            )
            for rows, value in _last_json(proc).items():
                for what, us in value.items():
                    key = (variant, int(rows), what)
                    if key not in best or us < best[key]["us"]:
                        best[key] = {"variant": variant, "rows": int(rows), "what": what, "us": us}
    return list(best.values())


def growth(calls: list[dict]) -> list[dict]:
    """Time ratios over :data:`STEPS` per variant and call, against the goal."""
    t = {(c["variant"], c["what"], c["rows"], c["hidden"]): c["us"] for c in calls}
    out = []
    for variant in VARIANTS:
        for what in WHATS:
            for label, a, b, goal in STEPS:
                if (variant, what, *a) in t and (variant, what, *b) in t:
                    ratio = t[(variant, what, *b)] / t[(variant, what, *a)]
                    out.append(
                        {
                            "variant": variant,
                            "what": WHATS[what],
                            "step": f"{_cell(a)} -> {_cell(b)} ({label})",
                            "ratio": ratio,
                            "goal": goal,
                            "met": bool(ratio <= goal),
                        }
                    )
    return out


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g")


def _table(calls: list[dict], what: str) -> str:
    frame = pd.DataFrame([c for c in calls if c["what"] == what])
    frame["cell"] = [_cell((r, h)) for r, h in zip(frame["rows"], frame["hidden"], strict=True)]
    order = {_cell(c): i for i, c in enumerate(GRID)}
    us = frame.pivot(index="cell", columns="variant", values="us")
    faults = frame.pivot(index="cell", columns="variant", values="faults_per_call")
    variants = [v for v in VARIANTS if v in us.columns]
    table = pd.concat(
        [us[variants].add_suffix(" us"), faults[variants].add_suffix(" faults/call")], axis=1
    )
    table = table.sort_index(key=lambda idx: idx.map(order)).reset_index()
    return _md(table)


def _gains(calls: list[dict]) -> list[str]:
    """Per cell whose default faults: how much faster each remedy is than the default."""
    t = {(c["variant"], c["what"], c["rows"], c["hidden"]): c for c in calls}
    lines = []
    for (variant, what, rows, hidden), c in t.items():
        if variant != "default" or c["faults_per_call"] < 10:
            continue
        for other in VARIANTS:
            o = t.get((other, what, rows, hidden))
            if other == "default" or o is None:
                continue
            lines.append(
                f"{WHATS[what]}, {_cell((rows, hidden))}: {c['us']:.0f} us and "
                f"{c['faults_per_call']:.0f} faults per call by default, {o['us']:.0f} us and "
                f"{o['faults_per_call']:.0f} with `{other}`: {c['us'] / o['us']:.2f}x faster"
            )
    return lines


def render(doc: dict) -> str:
    """``cliff.md`` from the measurements (``cliff.json``): pandas tables in the template."""
    ratios = pd.DataFrame(doc["growth"])
    repro = pd.DataFrame(doc["repro"])
    repro = pd.concat(
        [
            repro.pivot(index="rows", columns="variant", values="us").add_suffix(" us"),
            repro.pivot(index="rows", columns="variant", values="faults_per_call").add_suffix(
                " faults/call"
            ),
        ],
        axis=1,
    ).reset_index()
    repro["rows"] = [f"{n} x 12" for n in repro["rows"]]
    gemm = pd.DataFrame(doc["repro_gemm"])
    per_row = {
        r["rows"]: r["us"] / r["rows"]
        for r in doc["repro_gemm"]
        if r["variant"] == "env" and r["what"] == "X.T @ G"
    }
    gemm_rows = (6400, max(per_row))  # below the threshold, the most rows
    max_faults = max(c["faults_per_call"] for c in doc["calls"] if c["variant"] == "default")
    gemm["column"] = gemm["variant"] + ": " + gemm["what"] + " us"
    columns = list(dict.fromkeys(gemm["column"]))
    gemm = gemm.pivot(index="rows", columns="column", values="us")[columns].reset_index()
    gemm.insert(1, "M*N*K", [f"{8 * 12 * n:,}" for n in gemm["rows"]])
    gemm["rows"] = [f"{n:,}" for n in gemm["rows"]]
    gemm.columns.name = None
    verdicts = []
    for variant, steps in ratios.groupby("variant", sort=False) if not ratios.empty else ():
        missed = steps.loc[~steps["met"]]
        verdicts.append(
            f"`{variant}`: all {len(steps)} steps within the goal"
            if missed.empty
            else f"`{variant}`: missed "
            + "; ".join(
                f"{m['what']} {m['step']} {m['ratio']:.2f}x" for m in missed.to_dict("records")
            )
        )
    return render_template(
        "cliff/cliff.md.j2",
        doc=doc,
        variants=VARIANTS,
        grad=_table(doc["calls"], "grad"),
        advi=_table(doc["calls"], "advi"),
        ratios=_md(ratios),
        verdicts=verdicts,
        gains=_gains(doc["calls"]),
        repro_code=REPRO,
        repro=_md(repro),
        gemm_code=REPRO_GEMM,
        gemm_rows=[f"{n:,}" for n in gemm_rows],
        gemm_step=per_row[gemm_rows[1]] / per_row[gemm_rows[0]],
        max_faults=max_faults,
        gemm=_md(gemm),
    )


def _parse_cells(text: str) -> tuple[tuple[int, int], ...]:
    try:
        cells = tuple(tuple(int(v) for v in c.split("x")) for c in text.split(","))
    except ValueError:
        cells = ()
    if not cells or any(len(c) != 2 or min(c) < 1 for c in cells):
        raise ValueError(f"--cells: expected ROWSxHIDDEN[,...], got {text!r}")
    return cells  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder for cliff.json and .md")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite cliff.md from OUT/cliff.json"
    )
    parser.add_argument("--quick", action="store_true", help="a corner of the grid, one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the variants")
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--cells", help="ROWSxHIDDEN[,...]: these cells instead of the grid")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, _parse_cells(args.cells))))
        return 0
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")

    from bnn_models.io import write_json, write_text

    out = Path(args.out)
    if args.render:
        doc = json.loads((out / "cliff.json").read_text())
    else:
        grid, rounds = (QUICK_GRID, 1) if args.quick else (GRID, args.rounds)
        if args.cells:
            grid = _parse_cells(args.cells)
        prov = provenance(extra=("threadpoolctl",))  # the checkout as the run starts
        calls = measure(grid, rounds)
        libc, libc_version = platform.libc_ver()
        doc = {
            **prov,
            "settings": {
                "grid": [list(c) for c in grid],
                "rounds": rounds,
                "repeat": REPEAT,
                "passes": PASSES,
                "target_s": TARGET_S,
                "blas_threads": 1,
                "variants": {k: v["how"] for k, v in VARIANTS.items()},
            },
            "calls": calls,
            "growth": growth(calls),
            "repro": reproduction(rounds),
            "repro_gemm": gemm_reproduction(rounds),
        }
        doc["machine"]["libc"] = f"{libc} {libc_version}"
        write_json(out / "cliff.json", doc)
    text = render(doc)
    write_text(out / "cliff.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
