"""Where the time goes, per backend: one gradient, one VI step, and inside the fits.

The measurements behind issue 13's table (``results/perf/``), in one process, one after
the other, so that they are comparable within the run (run it with nothing else on the
machine):

    python scripts/perf.py --out results/perf

1. One log density + gradient of the BNN on the rupture data (1,600 rows), compiled by
   ``model.logp_dlogp_function(mode=...)`` to each backend a PyMC user can choose
   (numba: PyTensor's default mode; c; jax), with BLAS held to one thread: microseconds
   per call, the best of several repeats (as ``timeit`` advises).
2. One optimisation step of ADVI and full-rank ADVI, compiled as ``pm.fit(backend=...)``
   compiles it: microseconds per step, the same way. A backend that cannot compile the
   step is recorded with PyTensor's error.
3. Inside the fits: NUTS (nutpie, 2 chains x (500 warm-up + 500 draws), numba and jax
   backends) through the suite's own ``nuts`` method: microseconds per gradient per
   chain (sampling seconds x chains / sampling gradients; the chains run in parallel on
   2 cores), gradients per draw, ESS per second; ADVI and full-rank ADVI for a fixed
   5,000 steps (the convergence rule recorded, not stopping): microseconds per step.
4. Time to converge: ADVI and full-rank ADVI with their default settings, and full-rank
   ADVI started from a mean-field fit (:data:`CONVERGE`), until the rule fires.

Writes ``perf.json`` (every number, with commit, machine, versions, data hash) and
``backends.md`` (``scripts/templates/perf.md.j2``); ``--render`` rewrites ``backends.md``
from an existing ``perf.json`` without measuring.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the asv suite's helpers (benchmarks/) build the VI step
from studies._common import provenance, render_template  # noqa: E402

from benchmarks.common import BACKENDS, initial_vector, vi_step_function  # noqa: E402
from bnn_models.data import load_rupture  # noqa: E402
from bnn_models.inference import METHODS  # noqa: E402
from bnn_models.metrics import compute_metrics  # noqa: E402
from bnn_models.model import build_bnn  # noqa: E402

#: Calls per timing and timings per measurement (the best is kept).
NUMBER, REPEAT = 200, 7
#: Columns of the summary's tables, in order (perf.json keeps its keys sorted).
NUTS_COLUMNS = ("what", "backend", "us_per_grad_per_chain", "grad_per_draw", "sampling_s")
NUTS_COLUMNS += ("fit_s", "compile_s", "ess_bulk_per_s")
VI_COLUMNS = ("what", "backend", "us_per_step", "steps", "fit_s", "compile_s")
CONVERGE_COLUMNS = ("what", "fit_s", "steps", "converged", "final_loss", "warm_start_steps")
#: A backend is called faster than numba (the default) only by this factor or more:
#: repeated timings of one call on this machine differ by a few percent.
TIE = 1.05
#: Settings of the fits inside which the cost is measured.
NUTS_RUN = {"draws": 500, "tune": 500, "chains": 2}
VI_RUN = {"max_iter": 5000, "stop_on_convergence": False}
VI_METHODS = ("advi", "fullrank_advi")
#: Fits timed to convergence (seed 1): (label, method, overrides). Full-rank ADVI with
#: its defaults (a warm start from mean-field ADVI) and from PyMC's own start under the
#: schedule that was its default before (Adam at 5e-4 for up to 80,000 steps).
CONVERGE = (
    ("advi", "advi", {}),
    ("fullrank_advi", "fullrank_advi", {}),
    (
        "fullrank_advi cold start",
        "fullrank_advi",
        {"warm_start": False, "learning_rate": 5e-4, "window": 5000, "max_iter": 80_000},
    ),
)


def _best_us(call, number: int = NUMBER) -> float:
    return 1e6 * min(timeit.repeat(call, number=number, repeat=REPEAT)) / number


def gradient_costs(dataset) -> list[dict]:
    """Microseconds per log density + gradient call, per backend (one BLAS thread)."""
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for backend, mode in BACKENDS.items():
            model = build_bnn(dataset.X_train, dataset.y_train)
            fn = model.logp_dlogp_function(ravel_inputs=True, mode=mode)
            x = initial_vector(model)
            fn(x)
            us = _best_us(lambda fn=fn, x=x: np.asarray(fn(x)[1]))
            rows.append({"what": "log density + gradient", "backend": backend, "us": us})
            for method in VI_METHODS:
                try:
                    step = vi_step_function(
                        build_bnn(dataset.X_train, dataset.y_train), method, backend
                    )
                    step()
                    us, error = _best_us(step), None
                except Exception as err:  # recorded, not raised: the table says why
                    us, error = float("nan"), f"{type(err).__name__}: {str(err).splitlines()[0]}"
                rows.append(
                    {"what": f"{method} step", "backend": backend, "us": us, "error": error}
                )
    return rows


def fit_costs(dataset) -> list[dict]:
    """The same costs inside the suite's fits, per backend."""
    rows = []
    for backend in ("numba", "jax"):
        fit = METHODS["nuts"](
            dataset=dataset, seed=1, progressbar=False, backend=backend, **NUTS_RUN
        )
        m = compute_metrics(fit, dataset.y_test, seed=1)["runtime"]
        chains = NUTS_RUN["chains"]
        rows.append(
            {
                "what": "nuts (nutpie)",
                "backend": fit.backend,
                "us_per_grad_per_chain": m["us_per_grad"] * chains,
                "grad_per_draw": m["grad_per_draw"],
                "sampling_s": fit.timings["sampling_s"],
                "fit_s": fit.timings["fit_s"],
                "compile_s": fit.timings["compile_s"],
                "ess_bulk_per_s": m["ess_bulk_per_s"],
            }
        )
    for method in VI_METHODS:
        for backend in ("numba", "c"):
            fit = METHODS[method](
                dataset=dataset, seed=1, progressbar=False, backend=backend, **VI_RUN
            )
            rows.append(
                {
                    "what": method,
                    "backend": fit.backend,
                    "us_per_step": 1e6 * fit.timings["fit_s"] / len(fit.loss),
                    "fit_s": fit.timings["fit_s"],
                    "compile_s": fit.timings["compile_s"],
                    "steps": len(fit.loss),
                }
            )
    return rows


def convergence_costs(dataset) -> list[dict]:
    """Seconds to the convergence rule (or to the last step) under default settings."""
    rows = []
    for label, method, overrides in CONVERGE:
        fit = METHODS[method](dataset=dataset, seed=1, progressbar=False, **overrides)
        c, loss = fit.convergence, np.asarray(fit.loss)
        rows.append(
            {
                "what": label,
                "fit_s": fit.timings["fit_s"],
                "steps": int(loss.size),
                "converged": c["converged"],
                "final_loss": float(np.mean(loss[-c["window"] :])),
                "warm_start_steps": (c.get("warm_start") or {}).get("iterations"),
            }
        )
    return rows


def _nan_last(value: float) -> float:
    return value if np.isfinite(value) else float("inf")


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g")


def _fastest(row: dict) -> str:
    """Which backend was fastest for one call, and by how much over PyTensor's default."""
    times = {b: row[b] for b in BACKENDS if np.isfinite(row[b])}
    best = min(times, key=times.__getitem__)
    ratio = row["numba"] / times[best]
    if ratio < TIE:
        return (
            f"{row['what']}: no backend beats numba by {TIE:.2f}x or more ({row['numba']:.1f} us)"
        )
    return f"{row['what']}: fastest on {best}, {times[best]:.1f} us, {ratio:.2f}x faster than numba"


def render(doc: dict) -> str:
    """``backends.md`` from the measurements (``perf.json``): pandas tables in the template."""
    calls = pd.DataFrame(doc["calls"]).pivot(index="what", columns="backend", values="us")
    calls = calls[list(BACKENDS)].reset_index()
    errors = [
        f"{r['what']} on {r['backend']}: {r['error']}" for r in doc["calls"] if r.get("error")
    ]
    fits = pd.DataFrame(doc["fits"])
    return render_template(
        "perf.md.j2",
        doc=doc,
        fastest=[_fastest(r) for r in calls.to_dict("records")],
        calls=_md(calls),
        errors=errors,
        nuts=_md(fits.loc[fits["what"].str.startswith("nuts"), list(NUTS_COLUMNS)]),
        vi=_md(fits.loc[~fits["what"].str.startswith("nuts"), list(VI_COLUMNS)]),
        converge=_md(pd.DataFrame(doc["converge"])[list(CONVERGE_COLUMNS)]),
    )


def main(argv: list[str] | None = None) -> int:
    from bnn_models.io import write_json, write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="results/perf", help="folder for perf.json and backends.md"
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite backends.md from OUT/perf.json"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.render:
        doc = json.loads((out / "perf.json").read_text())
    else:
        dataset = load_rupture()
        doc = {
            **provenance(dataset),
            "settings": {"number": NUMBER, "repeat": REPEAT, "nuts": NUTS_RUN, "vi": VI_RUN},
            "calls": gradient_costs(dataset),
            "fits": fit_costs(dataset),
            "converge": convergence_costs(dataset),
        }
        write_json(out / "perf.json", doc)
    text = render(doc)
    write_text(out / "backends.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
