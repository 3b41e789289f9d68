"""nutpie's low-rank mass matrix at several eigenvalue cutoffs, beside the diagonal one.

The evidence for ``nuts_lowrank``'s default cutoff (and the diagonal ``nuts`` beside
it): for each cutoff, one fit of the same seed, with leapfrog steps per kept draw,
gradients in all, the smallest bulk ESS of the test-set probabilities, and that ESS
per second of sampling and per 1,000 gradients. Fits are timed: run it alone.

    python -m studies.lowrank_cutoff.lowrank_cutoff_sweep             # results/pipeline.json: its time
    python -m studies.lowrank_cutoff.lowrank_cutoff_sweep --render    # markdown from JSON

Writes ``sweep.json`` (every row, commit, machine, versions, data hash) and
``sweep.md`` (``lowrank_cutoff_sweep.md.j2``) into ``--out`` (default
``studies/lowrank_cutoff/results``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["CUTOFFS", "main", "measure", "render"]

#: Where the results go (the pipeline's study-lowrank-cutoff step commits them).
RESULTS = STUDIES / "lowrank_cutoff" / "results"
#: Eigenvalue cutoffs compared.
CUTOFFS = (2.0, 3.0, 10.0, 100.0)
#: The summary's columns, in order (the JSON keeps its keys sorted).
COLUMNS = (
    "adaptation",
    "eigval_cutoff",
    "warmup_s",
    "sampling_s",
    "leapfrog_per_draw",
    "grad_evals",
    "ess_bulk_min_pred",
    "rhat_max_pred",
    "ess_per_s",
    "ess_per_1k_grad",
)


def measure(dataset, seed: int, budget: dict, cutoffs=CUTOFFS, diagonal: bool = True) -> dict:
    """The diagonal fit (when ``diagonal``) and one low-rank fit per cutoff."""
    from bnn_models.inference import METHODS
    from bnn_models.metrics import diagnostics

    rows = []
    runs = ([("nuts", None)] if diagonal else []) + [("nuts_lowrank", c) for c in cutoffs]
    for name, cutoff in runs:
        extra = {} if cutoff is None else {"eigval_cutoff": cutoff}
        r = METHODS[name](dataset=dataset, seed=seed, progressbar=False, **budget, **extra)
        d = diagnostics(r) or {}
        kept = r.idata["posterior"].sizes["chain"] * r.idata["posterior"].sizes["draw"]
        rows.append(
            {
                "adaptation": "diag" if cutoff is None else "low_rank",
                "eigval_cutoff": cutoff,
                "warmup_s": r.timings["warmup_s"],
                "sampling_s": r.timings["sampling_s"],
                "leapfrog_per_draw": r.counts["grad_evals_sampling"] / kept,
                "grad_evals": r.n_grad_evals,
                "ess_bulk_min_pred": d["ess_bulk_min_pred"],
                "rhat_max_pred": d["rhat_max_pred"],
                "ess_per_s": d["ess_bulk_min_pred"] / r.timings["sampling_s"],
                "ess_per_1k_grad": 1000 * d["ess_bulk_min_pred"] / r.n_grad_evals,
            }
        )
        print(rows[-1], flush=True)
    return {**provenance(dataset), "seed": seed, "budget": budget, "rows": rows}


def render(doc: dict) -> str:
    """``sweep.md`` from ``sweep.json``."""
    table = pd.DataFrame(doc["rows"])[list(COLUMNS)].to_markdown(index=False, floatfmt=".3g")
    return render_template("lowrank_cutoff/lowrank_cutoff_sweep.md.j2", doc=doc, table=table)


def main(argv: list[str] | None = None, dataset=None) -> int:
    """Fit and write ``sweep.json`` and ``sweep.md`` (``dataset``: another data set than
    the rupture data, for a smoke run)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=list(CUTOFFS))
    parser.add_argument("--no-diagonal", action="store_true", help="skip the diagonal fit")
    parser.add_argument("--render", action="store_true", help="only redraw from sweep.json")
    args = parser.parse_args(argv)
    for name in ("tune", "draws", "chains"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if any(c <= 1 for c in args.cutoffs):
        parser.error(f"--cutoffs must be > 1, got {args.cutoffs}")

    def run() -> dict:
        from bnn_models.data import load_rupture

        ds = dataset if dataset is not None else load_rupture()
        budget = {"tune": args.tune, "draws": args.draws, "chains": args.chains}
        return measure(ds, args.seed, budget, tuple(args.cutoffs), not args.no_diagonal)

    print(write_report(Path(args.out), "sweep", render, None if args.render else run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
