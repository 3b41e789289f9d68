"""ELBO traces of ADVI and full-rank ADVI under several optimizers and learning rates.

The evidence behind the VI defaults. One ``pm.fit`` per call, so that a sweep runs its
fits one at a time (each is timed), then a summary of all of them:

    python -m studies.vi_optimizer_sweep.vi_optimizer_sweep fit advi adam_1e-2 30000 OUT.json
    python -m studies.vi_optimizer_sweep.vi_optimizer_sweep summarise OUT_DIR/*.json

``summarise`` writes ``summary.md`` (``vi_optimizer_sweep.md.j2``: final smoothed loss,
iterations to 1% of it, the iteration at which the default convergence rule would fire)
and ``elbo_traces.png`` into ``--out`` (default ``studies/vi_optimizer_sweep/results``).
"To 1% of the final loss" is the package's one definition,
:func:`bnn_models.metrics.iterations_to_within`; the rule is the package's
:class:`bnn_models.inference.ELBOConvergence`, both on the thinned trace the fit JSON keeps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from studies._common import STUDIES, render_template

__all__ = ["OPTS", "fit", "main", "render", "summarise", "summary_row"]

#: Where the committed results live.
RESULTS = STUDIES / "vi_optimizer_sweep" / "results"

#: Optimizer settings compared: name -> (bnn_models.inference.OPTIMIZERS key, learning rate).
OPTS = {
    "adam_1e-2": ("adam", 1e-2),
    "adam_3e-3": ("adam", 3e-3),
    "adam_1e-3": ("adam", 1e-3),
    "adam_5e-4": ("adam", 5e-4),
    "adagrad_window_1e-2": ("adagrad_window", 1e-2),
}
SMOOTH = 500  # iterations of the moving average
THIN = 10  # keep every 10th loss value in the JSON
#: The default convergence rule's window (iterations) and relative tolerance.
RULE_WINDOW, RULE_TOL = 5000, 1e-3


def fit(method: str, opt: str, n: int, out: str | Path, seed: int = 1, dataset=None) -> dict:
    """``n`` steps of ``pm.fit(method=...)`` under ``opt`` on the rupture data (or
    ``dataset``); writes and returns the thinned loss trace and the seconds."""
    import pymc as pm

    from bnn_models.data import load_rupture
    from bnn_models.inference import OPTIMIZERS
    from bnn_models.io import write_json
    from bnn_models.model import build_bnn

    ds = dataset if dataset is not None else load_rupture()
    name, lr = OPTS[opt]
    with build_bnn(ds.X_train, ds.y_train):
        t0 = time.perf_counter()
        approx = pm.fit(
            n,
            method=method,
            obj_optimizer=OPTIMIZERS[name](learning_rate=lr),
            random_seed=seed,
            progressbar=False,
        )
        dt = time.perf_counter() - t0
    loss = np.asarray(approx.hist)
    doc = {
        "method": method,
        "opt": opt,
        "n": n,
        "seed": seed,
        "seconds": dt,
        "thin": THIN,
        "loss": loss[::THIN].tolist(),
    }
    write_json(Path(out), doc)
    return doc


def summary_row(d: dict) -> dict:
    """One fit's row: final loss (mean of the last ``SMOOTH`` iterations), iterations to
    within 1% of it (the package's definition), where the default rule fires (None: never)."""
    from bnn_models.inference import ELBOConvergence
    from bnn_models.metrics import iterations_to_within

    thin = d.get("thin", THIN)
    loss = np.asarray(d["loss"], dtype=float)  # thinned
    k = max(1, min(SMOOTH // thin, loss.size))
    rule = ELBOConvergence(window=max(1, RULE_WINDOW // thin), tol=RULE_TOL, stop=False)
    for i in range(1, loss.size + 1):
        rule(None, loss, i)
    return {
        "method": d["method"],
        "opt": d["opt"],
        "n": d["n"],
        "final_loss": float(loss[-k:].mean()),
        "to_1pct": iterations_to_within(loss, window=k, rel=0.01) * thin,
        "rule_fires": rule.fired_at * thin if rule.fired_at else None,
        "seconds": d["seconds"],
    }


def render(rows: list[dict]) -> str:
    """``summary.md`` from the rows of :func:`summary_row`."""
    return render_template(
        "vi_optimizer_sweep/vi_optimizer_sweep.md.j2",
        rows=rows,
        smooth=SMOOTH,
        window=RULE_WINDOW,
        tol=RULE_TOL,
    )


def figure(docs: list[dict], path: Path) -> None:
    """Smoothed loss traces: ADVI on the left, full-rank ADVI on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for d in docs:
        thin = d.get("thin", THIN)
        loss = np.asarray(d["loss"], dtype=float)
        k = max(1, min(SMOOTH // thin, loss.size))
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax = axes[0 if d["method"] == "advi" else 1]
        ax.plot((np.arange(smooth.size) + k) * thin, smooth, label=f"{d['opt']} (n={d['n']})")
    for ax, title in zip(axes, ("ADVI", "full-rank ADVI"), strict=True):
        ax.set(title=title, xlabel="iteration", ylim=(850, 1400))
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0].set_ylabel(f"loss = -ELBO (nats), {SMOOTH}-step moving average")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def summarise(files: list[str | Path], out: str | Path) -> Path:
    """``summary.md`` and ``elbo_traces.png`` in ``out`` from the fits' JSON files."""
    from bnn_models.io import write_text

    docs = [json.loads(Path(f).read_text()) for f in sorted(map(str, files))]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figure(docs, out / "elbo_traces.png")
    return write_text(out / "summary.md", render([summary_row(d) for d in docs]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="one fit into OUT (JSON)")
    f.add_argument("method", choices=["advi", "fullrank_advi"])
    f.add_argument("opt", choices=sorted(OPTS))
    f.add_argument("n", type=int)
    f.add_argument("out")
    f.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("summarise", help="summary.md and the figure from fits' JSON files")
    s.add_argument("files", nargs="+")
    s.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.cmd == "fit":
        if args.n < 1:
            parser.error(f"n must be >= 1, got {args.n}")
        fit(args.method, args.opt, args.n, args.out, seed=args.seed)
    else:
        print(summarise(args.files, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
