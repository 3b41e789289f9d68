"""Before and after, in one run: ``make bench``'s fits at two commits, side by side.

Issue 13's acceptance table. For each side (a commit, and optionally settings a user
adds), in a git worktree of that commit, the command ``make bench`` runs (``bnn-bench
run --methods nuts,advi,fullrank_advi``, default settings, seed 0) with this
interpreter, timed from start to exit; its ``metrics.json`` gives the rest. Then, from
the after side's worktree, ``python -m studies.svi_compare.svi_compare`` fits ADVI and
NumPyro's SVI on the same model for the same steps (time to 1% of the final loss, the
package's definition for both). Everything runs one after the other in this one process
tree: run it with nothing else on the machine.

    python -m studies.performance.before_after --before <commit>
    python -m studies.performance.before_after --render

Writes ``before_after.json`` (every number, each side's commit, the machine, versions),
``summary.md`` (``before_after.md.j2``) and ``opt_in.md`` (:mod:`studies.performance.opt_in`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bnn_models.metrics import us_per_gradient_per_core
from studies._common import ROOT, STUDIES, provenance, render_template
from studies.performance import opt_in

__all__ = ["bench", "main", "render", "svi_pair", "table"]

#: Where the committed results live.
RESULTS = STUDIES / "performance" / "results"

#: What ``make bench`` fits (the Makefile's BENCH_METHODS).
BENCH_METHODS = "nuts,advi,fullrank_advi"
#: Sides after the first two: (label, settings added to ``bnn-bench run``, environment),
#: run at the after commit: opt-in choices a user can make, never the defaults.
VARIANTS = {
    "fused": ("after, nuts.fused=true (opt-in)", ["--set", "nuts.fused=true"], {}),
    "float32": ("after, floatX=float32", [], {"PYTENSOR_FLAGS": "floatX=float32"}),
    "vi_positional": (
        "after, VI backend=numba_positional (opt-in)",
        [
            "--set",
            "advi.backend=numba_positional",
            "--set",
            "fullrank_advi.backend=numba_positional",
        ],
        {},
    ),
    # Every opt-in together: the fused likelihood in every method's model, VI steps on
    # the positional numba entry point (issue 13's step goal for ADVI, measured in a fit),
    # full-rank ADVI's packed factor.
    "all_opt_in": (
        "after, fused everywhere + VI numba_positional + packed factor (opt-in)",
        [
            *("--set", "nuts.fused=true", "--set", "advi.fused=true"),
            *("--set", "fullrank_advi.fused=true", "--set", "advi.backend=numba_positional"),
            *("--set", "fullrank_advi.backend=numba_positional"),
            *("--set", "fullrank_advi.packed_factor=true"),
        ],
        {},
    ),
}
#: ADVI against NumPyro SVI: seed and steps (ADVI's default ``max_iter``).
SVI_SEED, SVI_STEPS = 0, 30_000
#: What "to 1%" means in the SVI pair (the svi_compare study's definition).
SVI_TO_1PCT = (
    "the first step from which the loss, smoothed by a trailing mean over the ELBO rule's "
    "window, stays within 1% of its final smoothed value (`bnn_models.metrics."
    "iterations_to_within`)"
)
#: ``--quick`` (a smoke test): SVI steps.
QUICK_SVI_STEPS = 2000


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def bench(commit: str, extra: list[str], env: dict, work: Path) -> dict:
    """``make bench``'s command at ``commit`` (plus ``extra`` and ``env``), timed; its
    metrics."""
    tree = work / f"tree-{commit[:12]}"
    if not tree.exists():
        _git("worktree", "add", "--detach", str(tree), commit)
    out = work / f"run-{commit[:12]}-{len(list(work.glob('run-*')))}"
    cmd = [sys.executable, "-m", "bnn_models.cli", "run", "--methods", BENCH_METHODS]
    cmd += ["--out", str(out), "--no-progress", *extra]
    # As in a fresh clone: no cached reference posterior (the committed compact summary
    # serves), whatever this machine's cache holds; PyTensor's compile cache stays.
    cache = work / f"cache-{out.name}"
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env={**os.environ, **env, "BNN_BENCH_CACHE": str(cache)})
    wall = time.perf_counter() - t0
    side = {"commit": _git("rev-parse", commit), "extra": extra, "env": env, "wall_s": wall}
    if done.returncode:  # recorded, and the other sides still run
        return {**side, "error": f"exit status {done.returncode}", "fits": {}}
    doc = json.loads((out / "metrics.json").read_text())
    keep = ("method", "status", "backend", "sampler", "config", "runtime", "elbo")
    keep += ("calibration", "diagnostics", "fidelity")
    fits = {f["method"]: {k: f.get(k) for k in keep} for f in doc["fits"]}
    return {**side, "fits": fits}


def svi_pair(commit: str, work: Path, steps: int) -> list[dict]:
    """ADVI and NumPyro SVI, ``steps`` steps each, from ``commit``'s svi_compare study (run
    in that commit's worktree, no anatomy)."""
    out = work / f"svi-{commit[:12]}"
    cmd = [sys.executable, "-m", "studies.svi_compare.svi_compare", "--out", str(out)]
    cmd += ["--seeds", str(SVI_SEED), "--steps", str(steps), "--advi-backends", "default"]
    subprocess.run([*cmd, "--no-anatomy"], cwd=work / f"tree-{commit[:12]}", check=True)
    runs = json.loads((out / "svi_compare.json").read_text())["runs"]
    return [{k: v for k, v in run.items() if k != "smooth_trace"} for run in runs]


def _cell(value: object) -> object:
    """Four significant digits for a number; other values as they are (mixed columns)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value


def table(sides: list[dict]) -> pd.DataFrame:
    """One row per measure, one column per side."""

    def fit(side: dict, method: str) -> dict:
        return side["fits"][method]

    def nuts(side: dict, key: str) -> float | None:
        return fit(side, "nuts")["runtime"].get(key)

    def vi(side: dict, method: str) -> dict:
        f = fit(side, method)
        return {
            "fit_s": f["runtime"]["fit_s"],
            "us_step": 1e6 * f["runtime"]["fit_s"] / f["elbo"]["iterations"],
            "converged": f["elbo"]["converged"],
            "to_1pct_s": f["elbo"]["iter_to_1pct"]
            * f["runtime"]["fit_s"]
            / f["elbo"]["iterations"],
            "neg_elbo": f["elbo"]["neg_final_elbo"],
        }

    def quality(side: dict, method: str, key: str) -> float | None:
        return (fit(side, method).get("diagnostics") or {}).get(key)

    def fidelity(side: dict, method: str, key: str = "pred_sd_ratio_gmean") -> float | None:
        return (fit(side, method).get("fidelity") or {}).get(key)

    def per_core(side: dict) -> float | None:
        """Wall us per gradient per core over warm-up and sampling (``metrics.runtime``'s
        column is over sampling alone)."""
        f = fit(side, "nuts")
        grads, fit_s = f["runtime"].get("grad_evals"), f["runtime"].get("fit_s")
        if not grads or fit_s is None:
            return None
        config = f["config"]
        return us_per_gradient_per_core(
            fit_s, grads, chains=int(config["chains"]), cores=int(config["cores"])
        )

    sides = [side for side in sides if not side.get("error")]
    rows: dict[str, list] = {}
    for side in sides:
        a, fr = vi(side, "advi"), vi(side, "fullrank_advi")
        values = {
            "make bench wall time (s)": side["wall_s"],
            "NUTS: wall us per gradient per core": per_core(side),
            "NUTS: gradients per draw": nuts(side, "grad_per_draw"),
            "NUTS: fit seconds (warm-up + sampling)": nuts(side, "fit_s"),
            "NUTS: bulk ESS per second (test probabilities)": nuts(side, "ess_bulk_per_s"),
            "NUTS: backend": fit(side, "nuts").get("backend"),
            "NUTS: R-hat max (test probabilities)": quality(side, "nuts", "rhat_max_pred"),
            "NUTS: bulk ESS min (test probabilities)": quality(side, "nuts", "ess_bulk_min_pred"),
            "NUTS: fidelity, predictive sd ratio (geometric mean)": fidelity(side, "nuts"),
            "NUTS: fidelity, predictive TV max": fidelity(side, "nuts", "pred_tv_max"),
            "ADVI: us per step": a["us_step"],
            "ADVI: fit seconds (to the rule)": a["fit_s"],
            "ADVI: converged": a["converged"],
            "ADVI: seconds to 1% of final": a["to_1pct_s"],
            "ADVI: fidelity, predictive sd ratio (geometric mean)": fidelity(side, "advi"),
            "full-rank ADVI: fit seconds (to the rule)": fr["fit_s"],
            "full-rank ADVI: converged": fr["converged"],
            "full-rank ADVI: final loss (nats)": fr["neg_elbo"],
            "full-rank ADVI: us per step": fr["us_step"],
            "full-rank ADVI: fidelity, predictive sd ratio (geometric mean)": fidelity(
                side, "fullrank_advi"
            ),
        }
        for key, value in values.items():
            rows.setdefault(key, []).append(_cell(value))
    return pd.DataFrame(rows, index=[s["label"] for s in sides]).T.rename_axis("measure")


def render(doc: dict) -> str:
    svi = pd.DataFrame(doc["svi"])[
        ["method", "seed", "us_per_step", "final_loss", "to_1pct_step", "to_1pct_s", "compile_s"]
    ]
    return render_template(
        "performance/before_after.md.j2",
        doc=doc,
        table=table(doc["sides"]).reset_index().to_markdown(index=False),
        svi=svi.to_markdown(index=False, floatfmt=".4g"),
    )


def main(argv: list[str] | None = None) -> int:
    from bnn_models.io import write_json, write_text

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", help="the commit before (e.g. the issue's start)")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", default=str(RESULTS), help="folder for the outputs")
    parser.add_argument("--render", action="store_true", help="only redraw from the json")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: quick settings, 2,000 SVI steps"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.render:
        doc = json.loads((out / "before_after.json").read_text())
    else:
        if not args.before:
            parser.error("--before is needed to measure")
        after = _git("rev-parse", args.after)
        steps = QUICK_SVI_STEPS if args.quick else SVI_STEPS
        # This checkout's state when the run starts (edits made while it runs are not
        # what ran: the sides run in worktrees of their commits).
        prov = provenance()
        with tempfile.TemporaryDirectory(prefix="before-after-") as tmp:
            work = Path(tmp)
            try:
                quick = ["--quick"] if args.quick else []
                plan = [("before", args.before, quick, {}), ("after", after, quick, {})]
                for v in args.variants:
                    label, extra, env = VARIANTS[v]
                    plan.append((label, after, quick + extra, env))
                sides = []
                for label, commit, extra, env in plan:
                    print(f"{label}: make bench at {commit[:12]} {extra} {env}", flush=True)
                    sides.append({"label": label, **bench(commit, extra, env, work)})
                    print(f"  {sides[-1]['wall_s']:.1f} s", flush=True)
                svi = svi_pair(after, work, steps)
            finally:
                for tree in work.glob("tree-*"):
                    _git("worktree", "remove", "--force", str(tree))
        doc = {
            **prov,
            "bench_methods": BENCH_METHODS,
            "svi_seed": SVI_SEED,
            "svi_steps": steps,
            "quick": args.quick,
            "sides": sides,
            "svi": svi,
            "svi_to_1pct": SVI_TO_1PCT,
        }
        write_json(out / "before_after.json", doc)
    text = render(doc)
    write_text(out / "summary.md", text)
    write_text(out / "opt_in.md", opt_in.render(doc))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
