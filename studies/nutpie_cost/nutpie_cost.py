"""What one gradient costs inside nutpie, where it goes, and what a user can change.

Issue 13's first goal is <= 75 us per gradient inside NUTS. The suite's NUTS runs 4
chains on 2 cores, so wall-clock seconds per gradient per chain count every gradient
twice (two chains share a core); nor is a chain's wall time its own when chains of
unequal length share the cores. The cost of a gradient is the CPU time the sampling
process spends per gradient (all threads, :func:`resource.getrusage`), and this script
measures that, each case in its own process, on the rupture data, with the suite's
NUTS settings (nutpie, numba backend, diagonal mass matrix) and seed 1:

1. **Chains and cores**: 1 chain on 1 core, 2 chains on 1 core, 2 on 2, 4 on 2 (the
   suite's default): CPU us per gradient, and wall us per gradient per core (wall x
   cores in use / gradients), whose excess over the CPU time is the time a core waits
   for the longest chain. Beside them, the compiled log density + gradient called
   alone from Python (best of timeit repeats): what the sampler adds.
2. **Means a user has** (1 chain on 1 core): the likelihood written as a switch between
   ``-softplus(-logit)`` and ``-softplus(logit)`` (the model before issue 13) or with
   the label as a sign (now, :func:`bnn_models.model.bernoulli_logit_logp`); the opt-in
   fused likelihood (``nuts.fused=true``); ``floatX=float32``; ``numba__fastmath=False``.
3. **Same seed, same numbers?** The log density + gradient at 50 fixed points and a
   short 1-chain fit, in a fresh PyTensor compile directory (cold: PyTensor compiles
   the graph with numba) and again (warm: it loads its cache), with numba's fastmath on
   (PyTensor's default) and off.

Cases of parts 1 and 2 alternate over ``--rounds`` rounds; each keeps its lowest CPU
time. About 7 minutes on 2 cores; run it with nothing else on the machine:

    python -m studies.nutpie_cost.nutpie_cost --out studies/nutpie_cost/results

Writes ``nutpie_cost.json`` (every number, with commit, machine, versions, data hash)
and ``nutpie_cost.md`` (``nutpie_cost.md.j2``); ``--render`` rewrites
the markdown from an existing JSON without measuring; ``--quick`` runs short fits, one
round (a smoke test of the script, not a measurement).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import timeit
import warnings
from pathlib import Path

import pandas as pd

from studies._common import ROOT, STUDIES, provenance, render_template, write_report

__all__ = ["main", "measure", "render", "worker"]

#: Where the committed results live.
RESULTS = STUDIES / "nutpie_cost" / "results"

#: Part 1: (chains, cores).
LAYOUTS = ((1, 1), (2, 1), (2, 2), (4, 2))
#: Part 2: case -> (how the model is built, PYTENSOR_FLAGS).
MEANS = {
    "likelihood as a switch (before)": ("switch", ""),
    "likelihood with a sign (now)": ("sign", ""),
    "fused likelihood (opt-in)": ("fused", ""),
    "floatX=float32": ("sign", "floatX=float32"),
    "numba__fastmath=False": ("sign", "numba__fastmath=False"),
}
#: Part 3: fastmath setting -> PYTENSOR_FLAGS (base_compiledir is added per run).
REPRO = {"fastmath on (default)": "", "fastmath off": "numba__fastmath=False"}
#: Warm-up and kept draws per chain of the timed fits, and of part 3's short fit.
TUNE_DRAWS, QUICK_TUNE_DRAWS, REPRO_TUNE_DRAWS = 300, 40, 100
#: Points at which part 3 compares the log density + gradient.
N_POINTS = 50
SEED = 1


def _switch_logp(value, logit):
    """The model's likelihood as it was written before issue 13."""
    import pytensor.tensor as pt

    return pt.switch(pt.eq(value, 1), -pt.softplus(-logit), -pt.softplus(logit))


def worker(spec: dict) -> dict:
    """One case, in this process: compile, time the bare call, fit, count."""
    warnings.filterwarnings("ignore")  # PyMC's and PyTensor's notes are no measurement
    import numpy as np
    import nutpie

    import bnn_models.model as model_module
    from bnn_models.data import load_rupture
    from bnn_models.inference.nuts import NUTSSettings

    if spec["model"] == "switch":
        model_module.bernoulli_logit_logp = _switch_logp  # build_bnn looks it up per call
    settings = NUTSSettings(fused=spec["model"] == "fused")
    model = settings.build(load_rupture())
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    compile_s = time.perf_counter() - t0
    points = np.random.default_rng(0).normal(scale=0.5, size=(N_POINTS, compiled.n_dim))
    out: dict = {"compile_s": compile_s}
    values = [compiled.logp_func(x) for x in points]
    out["points_sha256"] = hashlib.sha256(
        b"".join(np.asarray(v[0]).tobytes() + np.asarray(v[1]).tobytes() for v in values)
    ).hexdigest()
    if spec.get("bare", True):
        x = points[0]
        number = 2000
        best = min(timeit.repeat(lambda: compiled.logp_func(x), number=number, repeat=5))
        out["bare_us"] = 1e6 * best / number
    chains, cores, steps = spec["chains"], spec["cores"], spec["tune_draws"]
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    trace = nutpie.sample(
        compiled,
        draws=steps,
        tune=steps,
        chains=chains,
        cores=cores,
        seed=SEED,
        target_accept=settings.target_accept,
        progress_bar=False,
        save_warmup=True,
    )
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    sampling = int(trace["sample_stats"]["n_steps"].sum())
    grads = sampling + int(trace["warmup_sample_stats"]["n_steps"].sum())
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    out.update(
        gradients=grads,
        grad_per_draw=sampling / (chains * steps),
        wall_s=wall,
        cpu_s=cpu,
        cpu_us_per_grad=1e6 * cpu / grads,
        wall_us_per_grad_per_core=1e6 * wall * min(chains, cores) / grads,
    )
    return out


def _run(spec: dict, flags: str = "") -> dict:
    env = dict(os.environ)
    env.pop("PYTENSOR_FLAGS", None)
    if flags:
        env["PYTENSOR_FLAGS"] = flags
    cmd = [sys.executable, "-m", "studies.nutpie_cost.nutpie_cost", "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"case {spec} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**spec, "flags": flags, **json.loads(proc.stdout.strip().splitlines()[-1])}


def measure(
    rounds: int,
    steps: int,
    layouts: tuple[tuple[int, int], ...] = LAYOUTS,
    means: dict[str, tuple[str, str]] = MEANS,
    repro: dict[str, str] = REPRO,
) -> dict:
    """Parts 1 and 2, alternating over ``rounds`` (lowest CPU time kept), then part 3."""
    cases = [
        ("layout", f"{c} chain{'s' * (c > 1)} on {k} core{'s' * (k > 1)}", "sign", "", c, k)
        for c, k in layouts
    ]
    cases += [("means", name, built, flags, 1, 1) for name, (built, flags) in means.items()]
    best: dict = {}
    for rnd in range(rounds):
        for part, name, built, flags, chains, cores in cases:
            print(f"round {rnd + 1}/{rounds}: {part}: {name}", file=sys.stderr, flush=True)
            spec = {"model": built, "chains": chains, "cores": cores, "tune_draws": steps}
            row = {"part": part, "case": name, **_run(spec, flags)}
            key = (part, name)
            if key not in best or row["cpu_us_per_grad"] < best[key]["cpu_us_per_grad"]:
                best[key] = row
    repro_rows = []
    for name, flags in repro.items():
        with tempfile.TemporaryDirectory() as cache:
            for state in ("cold", "warm"):
                print(f"same seed: {name}: {state}", file=sys.stderr, flush=True)
                spec = {
                    "model": "sign",
                    "chains": 1,
                    "cores": 1,
                    "tune_draws": min(steps, REPRO_TUNE_DRAWS),
                    "bare": False,
                }
                both = f"{flags},base_compiledir={cache}".lstrip(",")
                repro_rows.append({"fastmath": name, "cache": state, **_run(spec, both)})
    return {"cases": list(best.values()), "repro": repro_rows}


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g")


def render(doc: dict) -> str:
    """``nutpie_cost.md`` from ``nutpie_cost.json``: pandas tables in the template."""
    cases = pd.DataFrame(doc["cases"])
    columns = {
        "case": "case",
        "cpu_us_per_grad": "CPU us per gradient",
        "wall_us_per_grad_per_core": "wall us per gradient per core",
        "bare_us": "bare call us",
        "grad_per_draw": "gradients per draw",
        "gradients": "gradients",
        "wall_s": "wall s",
    }
    tables = {
        part: _md(rows[list(columns)].rename(columns=columns))
        for part, rows in cases.groupby("part", sort=False)
    }
    by_case = {c["case"]: c for c in doc["cases"]}
    before = by_case["likelihood as a switch (before)"]["cpu_us_per_grad"]
    now = by_case["likelihood with a sign (now)"]["cpu_us_per_grad"]
    default = by_case["4 chains on 2 cores"]
    repro = pd.DataFrame(doc["repro"])
    same = {
        name: {
            "points": rows["points_sha256"].nunique() == 1,
            "fit": rows["gradients"].nunique() == 1,
        }
        for name, rows in repro.groupby("fastmath", sort=False)
    }
    repro_table = repro[["fastmath", "cache", "gradients", "compile_s", "points_sha256"]].copy()
    repro_table["points_sha256"] = repro_table["points_sha256"].str[:16]
    return render_template(
        "nutpie_cost/nutpie_cost.md.j2",
        doc=doc,
        layout=tables["layout"],
        means=tables["means"],
        before=before,
        now=now,
        default=default,
        goal_us=75.0,
        repro=_md(repro_table),
        same=same,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder for nutpie_cost.*")
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    parser.add_argument("--quick", action="store_true", help="short fits, one round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the cases")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")

    def measured() -> dict:
        from bnn_models.data import load_rupture

        steps = QUICK_TUNE_DRAWS if args.quick else TUNE_DRAWS
        rounds = 1 if args.quick else args.rounds
        return {
            **provenance(load_rupture(), extra=("nutpie",)),
            "settings": {"rounds": rounds, "tune_draws": steps, "seed": SEED, "n_points": N_POINTS},
            **measure(rounds, steps),
        }

    print(write_report(Path(args.out), "nutpie_cost", render, None if args.render else measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
