"""SG-MCMC step sizes on the rupture data: fidelity to the reference and calibration.

The evidence for the default ``step_size`` of ``sgld``, ``sghmc`` and ``sgld_cyclical``:
for each method, a log-spaced grid of step sizes (:data:`GRID`), 2 seeds each, every
other setting the method's default (so every fit spends the same budget in full-data
gradients, and the batch size is the default's). Every fit goes through the suite's own
runner (:func:`bnn_models.api.compare`, reference ``auto``), so its numbers are what
``bnn-bench run`` records: fidelity to the reference posterior in function space,
calibration, R-hat and ESS; a fit whose weights became non-finite is a failed fit with
its reason. The choice (:func:`choose`) is by fidelity, never by seconds.

    python -m studies.sgmcmc_step_size.sgmcmc_step_size              # ~20 CPU minutes
    python -m studies.sgmcmc_step_size.sgmcmc_step_size --render     # markdown from JSON

The methods may run apart, in parallel (``--methods sgld --out DIR1`` ...), and be
combined: ``--combine DIR1 DIR2 ...`` writes one ``sweep.json`` of their rows (runs of
one commit only).

Writes ``sweep.json`` (every fit, the grid, commit, machine, versions, data hash,
reference) and ``sweep.md`` (``sgmcmc_step_size.md.j2``) into ``--out`` (default
``studies/sgmcmc_step_size/results``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["GRID", "choose", "combine", "main", "measure", "render"]

#: Where the committed results live.
RESULTS = STUDIES / "sgmcmc_step_size" / "results"
#: Step sizes per method (per row: see bnn_models.inference._sgmcmc), log-spaced around
#: what a short pilot run found stable, up to where it diverged.
GRID: dict[str, tuple[float, ...]] = {
    "sgld": (0.1, 0.3, 1.0, 3.0),
    "sghmc": (0.1, 0.2, 0.4, 0.8),
    "sgld_cyclical": (0.3, 1.0, 3.0, 10.0),
}
#: The summary's columns per fit.
COLUMNS = (
    "method",
    "step_size",
    "seed",
    "status",
    "pred_tv_mean",
    "pred_sd_ratio_gmean",
    "share_mean_off_0p3sd",
    "class_agreement",
    "ece",
    "log_loss",
    "rhat_max_pred",
    "ess_bulk_min_pred",
    "grad_evals",
    "fit_s",
)


def _row(method: str, step_size: float, fit: dict) -> dict:
    """What the summary needs of one fit entry of the metrics document."""
    ok = fit["status"] == "ok"
    get = lambda section, key: (fit.get(section) or {}).get(key) if ok else None  # noqa: E731
    return {
        "method": method,
        "step_size": step_size,
        "seed": fit["seed"],
        "status": fit["status"],
        "error": fit.get("error"),
        **{
            k: get("fidelity", k)
            for k in ("pred_tv_mean", "pred_sd_ratio_gmean", "share_mean_off_0p3sd")
        },
        "class_agreement": get("fidelity", "class_agreement"),
        "ece": get("calibration", "ece"),
        "log_loss": get("calibration", "log_loss"),
        "rhat_max_pred": get("diagnostics", "rhat_max_pred"),
        "ess_bulk_min_pred": get("diagnostics", "ess_bulk_min_pred"),
        "grad_evals": get("runtime", "grad_evals"),
        "minibatch_grads": (fit.get("convergence") or {}).get("minibatch_grads"),
        "batch_size": (fit.get("convergence") or {}).get("batch_size"),
        "fit_s": get("runtime", "fit_s"),
    }


def measure(dataset, seeds: list[int], grid: dict, overrides: dict | None = None) -> dict:
    """Every (method, step size) for ``seeds``, through :func:`bnn_models.api.compare`
    against the reference of ``dataset`` (``overrides``: settings on top for every
    method, e.g. a tiny budget for a smoke run)."""
    from bnn_models.api import compare
    from bnn_models.inference import METHODS
    from bnn_models.reference import find_reference

    prov = provenance(dataset)  # the checkout as the run starts
    reference = find_reference(dataset)
    rows = []
    for method, sizes in grid.items():
        for step_size in sizes:
            settings = {**(overrides or {}), "step_size": step_size}
            with tempfile.TemporaryDirectory(prefix="sgmcmc-step-") as tmp:
                doc = compare(
                    dataset,
                    methods=[method],
                    seeds=seeds,
                    overrides={method: settings},
                    reference=reference,
                    out=tmp,
                ).doc
            for fit in doc["fits"]:
                rows.append(_row(method, step_size, fit))
                r = rows[-1]
                print(
                    f"{method} {step_size:g} seed {r['seed']}: {r['status']} "
                    f"tv {r['pred_tv_mean']} ece {r['ece']} rhat {r['rhat_max_pred']}",
                    flush=True,
                )
    defaults = {m: METHODS[m].configure(overrides=overrides).as_config() for m in grid}
    return {
        **prov,
        "reference": None if reference is None else reference.key,
        "seeds": seeds,
        "grid": {m: list(v) for m, v in grid.items()},
        "settings": defaults,
        "rows": rows,
    }


def choose(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method and step size: the seeds' means, and the chosen step size.

    The choice: among step sizes whose every seed is ok, the smallest mean total
    variation to the reference's predictive distributions (``pred_tv_mean``); calibration
    (ECE, log loss) and the spread ratio are shown beside it.
    """
    by = rows.groupby(["method", "step_size"], sort=False)
    out = by.agg(
        seeds=("seed", "size"),
        ok=("status", lambda s: int((s == "ok").sum())),
        pred_tv_mean=("pred_tv_mean", "mean"),
        pred_sd_ratio_gmean=("pred_sd_ratio_gmean", "mean"),
        share_mean_off_0p3sd=("share_mean_off_0p3sd", "mean"),
        ece=("ece", "mean"),
        log_loss=("log_loss", "mean"),
        rhat_max_pred=("rhat_max_pred", "max"),
        ess_bulk_min_pred=("ess_bulk_min_pred", "min"),
    ).reset_index()
    eligible = out["ok"] == out["seeds"]
    score = out["pred_tv_mean"].where(eligible, np.inf)
    best = score.groupby(out["method"], sort=False).transform("min")
    out["chosen"] = eligible & (score == best)
    return out


def combine(docs: list[dict]) -> dict:
    """One document of several runs' rows (the first run's provenance).

    Raises
    ------
    ValueError
        The runs are of different commits, data or seeds.
    """
    first = docs[0]
    for doc in docs[1:]:
        for key in ("commit", "data", "seeds", "reference"):
            if doc[key] != first[key]:
                raise ValueError(f"--combine: runs differ in {key}: {first[key]} != {doc[key]}")
    return {
        **first,
        "grid": {m: g for d in docs for m, g in d["grid"].items()},
        "settings": {m: v for d in docs for m, v in d["settings"].items()},
        "rows": [r for d in docs for r in d["rows"]],
    }


def render(doc: dict) -> str:
    """``sweep.md`` from ``sweep.json``."""
    rows = pd.DataFrame(doc["rows"])
    summary = choose(rows)
    failures = rows[rows["status"] != "ok"][["method", "step_size", "seed", "error"]]
    settings = pd.DataFrame(doc["settings"]).T.drop(columns="step_size")
    # sorted: the same columns whether drawn as measured or from the JSON (keys sorted)
    settings = settings[sorted(settings.columns)].rename_axis("method").reset_index()
    return render_template(
        "sgmcmc_step_size/sgmcmc_step_size.md.j2",
        doc=doc,
        chosen=summary[summary["chosen"]].to_dict("records"),
        summary=summary.to_markdown(index=False, floatfmt=".4g"),
        per_fit=rows[list(COLUMNS)].to_markdown(index=False, floatfmt=".4g"),
        failures=failures.to_dict("records"),
        settings=settings.to_markdown(index=False),
    )


def main(argv: list[str] | None = None, dataset=None, **overrides) -> int:
    """Fit and write ``sweep.json`` and ``sweep.md`` (``dataset``, ``overrides``: another
    data set and settings on top of every method's, for a smoke run)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=list(GRID), choices=list(GRID))
    parser.add_argument("--render", action="store_true", help="only redraw from sweep.json")
    parser.add_argument("--combine", nargs="+", metavar="DIR", help="join these runs' rows")
    args = parser.parse_args(argv)
    if args.combine:
        import json

        docs = [json.loads((Path(d) / "sweep.json").read_text()) for d in args.combine]
        print(write_report(Path(args.out), "sweep", render, lambda: combine(docs)))
        return 0

    def run() -> dict:
        from bnn_models.data import load_rupture

        ds = dataset if dataset is not None else load_rupture()
        return measure(ds, args.seeds, {m: GRID[m] for m in args.methods}, overrides)

    print(write_report(Path(args.out), "sweep", render, None if args.render else run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
