"""Minibatch ADVI at several batch sizes beside full-batch ADVI: fidelity, calibration, work.

The evidence for ``advi_minibatch``'s default ``batch_size``: for full-batch ADVI (the
anchor, ``advi``) and each batch size, one fit per seed through the suite's own runner
(:func:`bnn_models.compare`) against the committed reference posterior, every fit under
its method's default schedule (Adam at 0.01, at most 30,000 steps, the ELBO rule with a
5,000-step window). Per fit: steps, where the rule fired, gradients as full-data
equivalents and as raw minibatch gradients, the final ELBO, fidelity to the reference
(function space, PSIS k-hat) and calibration on the test rows.

    python -m studies.minibatch_batch_size.batch_size_sweep            # ~10 min on 1 core
    python -m studies.minibatch_batch_size.batch_size_sweep --render   # markdown from JSON

Writes ``sweep.json`` (every fit, commit, machine, versions, data hash, reference) and
``sweep.md`` (``batch_size_sweep.md.j2``) into ``--out`` (default
``studies/minibatch_batch_size/results``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["BATCH_SIZES", "COLUMNS", "SEEDS", "main", "measure", "render", "summary"]

#: Where the results go.
RESULTS = STUDIES / "minibatch_batch_size" / "results"
#: Batch sizes compared (rows per step), beside full-batch ADVI.
BATCH_SIZES = (32, 64, 128, 256, 512)
#: Seeds of every configuration.
SEEDS = (0, 1)
#: One row per fit, in order (the JSON keeps its keys sorted).
COLUMNS = (
    "batch_size",
    "seed",
    "status",
    "steps",
    "rule_fired_at",
    "converged",
    "grad_evals",
    "grad_evals_minibatch",
    "final_elbo",
    "pred_tv_mean",
    "share_mean_off_0p3sd",
    "pred_sd_ratio_gmean",
    "class_agreement",
    "psis_khat",
    "log_loss",
    "ece",
    "brier",
    "fit_s",
)
#: Columns averaged over seeds in the summary.
MEANS = (
    "steps",
    "grad_evals",
    "final_elbo",
    "pred_tv_mean",
    "share_mean_off_0p3sd",
    "pred_sd_ratio_gmean",
    "psis_khat",
    "log_loss",
    "ece",
    "brier",
    "fit_s",
)


def _row(entry: dict, batch_size: int | None) -> dict:
    """The sweep's numbers of one fit's metrics entry (``batch_size`` None: full batch)."""
    conv = entry.get("convergence") or {}
    elbo, fid = entry.get("elbo") or {}, entry.get("fidelity") or {}
    cal, run = entry.get("calibration") or {}, entry.get("runtime") or {}
    minibatch = conv.get("minibatch") or {}
    steps = elbo.get("iterations")
    return {
        "batch_size": minibatch.get("batch_size", batch_size) or "full",
        "seed": entry["seed"],
        "status": entry["status"],
        "steps": steps,
        "rule_fired_at": conv.get("fired_at"),
        "converged": conv.get("converged"),
        "grad_evals": run.get("grad_evals"),
        # full batch: a step's gradient is one of the full data
        "grad_evals_minibatch": minibatch.get("grad_evals_minibatch", run.get("grad_evals")),
        "final_elbo": elbo.get("final_elbo"),
        **{
            k: fid.get(k)
            for k in (
                "pred_tv_mean",
                "share_mean_off_0p3sd",
                "pred_sd_ratio_gmean",
                "class_agreement",
                "psis_khat",
            )
        },
        **{k: cal.get(k) for k in ("log_loss", "ece", "brier")},
        "fit_s": run.get("fit_s"),
    }


def measure(dataset, seeds=SEEDS, batch_sizes=BATCH_SIZES, reference=None, overrides=None) -> dict:
    """Full-batch ADVI and minibatch ADVI at each batch size, ``seeds`` each, scored
    against ``reference`` (None: the committed one, :func:`bnn_models.reference.find_reference`).
    ``overrides``: settings of both methods beyond their defaults (tests: tiny ones)."""
    from bnn_models import compare
    from bnn_models.reference import find_reference

    ref = reference if reference is not None else find_reference(dataset)
    extra = dict(overrides or {})
    rows = []
    runs = [("advi", None)] + [("advi_minibatch", b) for b in batch_sizes]
    for method, batch in runs:
        settings = {**extra, **({} if batch is None else {"batch_size": batch})}
        with tempfile.TemporaryDirectory(prefix="bnn-bench-batch-sweep-") as tmp:
            runs_doc = compare(
                dataset,
                methods=[method],
                seeds=list(seeds),
                overrides={method: settings},
                out=tmp,
                reference=ref,
            ).doc
        for entry in runs_doc["fits"]:
            rows.append(_row(entry, batch))
            print(rows[-1], flush=True)
    return {
        **provenance(dataset),
        "seeds": list(seeds),
        "batch_sizes": list(batch_sizes),
        "overrides": extra,
        "reference": None if ref is None else {"key": ref.key, "path": ref.describe()["path"]},
        "rows": rows,
    }


def summary(doc: dict) -> pd.DataFrame:
    """Per batch size (full batch first): the mean over seeds of :data:`MEANS`, the
    seeds whose rule fired before the cap, and the fits that were not ok."""
    df = pd.DataFrame(doc["rows"])
    df["key"] = df["batch_size"].map(lambda b: -1 if b == "full" else int(b))
    out = df.groupby("key", sort=True).agg(
        batch_size=("batch_size", "first"),
        **{c: (c, "mean") for c in MEANS},
        converged=("converged", lambda s: f"{int(s.fillna(False).sum())} of {len(s)}"),
        not_ok=("status", lambda s: int((s != "ok").sum())),
    )
    return out.reset_index(drop=True)


def render(doc: dict) -> str:
    """``sweep.md`` from ``sweep.json``."""
    fits = pd.DataFrame(doc["rows"])[list(COLUMNS)].to_markdown(index=False, floatfmt=".4g")
    means = summary(doc).to_markdown(index=False, floatfmt=".4g")
    # sorted: the JSON keeps its keys sorted, so a redraw reads them in that order
    overrides = ", ".join(f"{k}={v}" for k, v in sorted(doc["overrides"].items()))
    return render_template(
        "minibatch_batch_size/batch_size_sweep.md.j2",
        doc=doc,
        fits=fits,
        means=means,
        overrides=overrides,
    )


def main(argv: list[str] | None = None, dataset=None) -> int:
    """Fit and write ``sweep.json`` and ``sweep.md`` (``dataset``: another data set than
    the rupture data, for a smoke run)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of both methods beyond their defaults (e.g. max_iter=2000)",
    )
    parser.add_argument("--render", action="store_true", help="only redraw from sweep.json")
    args = parser.parse_args(argv)
    if any(b < 1 for b in args.batch_sizes):
        parser.error(f"--batch-sizes must be >= 1, got {args.batch_sizes}")
    if any("=" not in s for s in args.set):
        parser.error(f"--set takes KEY=VALUE, got {args.set}")
    overrides = dict(s.split("=", 1) for s in args.set)

    def run() -> dict:
        from bnn_models.data import load_rupture

        ds = dataset if dataset is not None else load_rupture()
        return measure(ds, tuple(args.seeds), tuple(args.batch_sizes), overrides=overrides)

    print(write_report(Path(args.out), "sweep", render, None if args.render else run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
