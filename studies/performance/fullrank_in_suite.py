"""Full-rank ADVI's step inside the suite's own fit, against ADVI's: plain and packed.

The svi_compare study times one step of each method from one warm approximation (the best
of several 3,000-step fits). This script checks its ratios where `make bench` sees them:
the suite's own ``fit_advi`` and ``fit_fullrank_advi`` (seed 0, every stage as the suite
runs it: ADVI to its rule; full-rank's mean-field warm stage, then its full-rank stage to
the rule), for each configuration, ``--rounds`` rounds of the three fits in turn, so that
a change of the machine's speed reaches every fit of a round alike. Per round and fit:
microseconds per step of ADVI, of full-rank's full-rank stage (its warm stage apart) and
their ratio.

    python -m studies.performance.fullrank_in_suite [--out DIR] [--rounds 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["main", "measure", "render"]

#: Where the committed results live.
RESULTS = STUDIES / "performance" / "results"

#: The configurations (settings given to both methods), in the order they run.
CONFIGS: dict[str, dict] = {
    "default": {},
    "numba_positional": {"backend": "numba_positional"},
    "numba_positional+fused": {"backend": "numba_positional", "fused": True},
}
#: The three fits of a round, in turn: (row label, method, its own settings).
FITS = (
    ("ADVI", "advi", {}),
    ("full-rank ADVI", "fullrank_advi", {}),
    ("full-rank ADVI, packed factor", "fullrank_advi", {"packed_factor": True}),
)


def _us_per_step(fit) -> tuple[float, int]:
    """The report's ``us_per_iter`` (:func:`bnn_models.metrics.runtime`: the method's own
    steps, full-rank's warm stage left out) and those steps."""
    from bnn_models.metrics import runtime

    warm = fit.convergence.get("warm_start") or {}
    return float(runtime(fit)["us_per_iter"]), int(fit.loss.size - warm.get("iterations", 0))


def measure(
    rounds: int,
    configs: dict[str, dict] | None = None,
    overrides: dict[str, dict] | None = None,
) -> dict:
    """``rounds`` rounds of :data:`FITS` per configuration (default :data:`CONFIGS`), on
    the rupture data; ``overrides``: settings per method beyond the configuration's (a
    smoke test's short fits)."""
    from bnn_models.data import load_rupture
    from bnn_models.inference import METHODS

    dataset = load_rupture()
    rows = []
    for config, settings in (configs or CONFIGS).items():
        for r in range(rounds):
            for label, method, own in FITS:
                extra = (overrides or {}).get(method, {})
                s = METHODS[method].settings(**{**settings, **own, **extra})
                fit = METHODS[method](dataset=dataset, settings=s, seed=0, progressbar=False)
                us, steps = _us_per_step(fit)
                rows.append(
                    {"config": config, "round": r, "fit": label, "us_per_step": us, "steps": steps}
                )
                print(f"{config} round {r} {label}: {us:.1f} us per step ({steps})", flush=True)
    return {**provenance(dataset), "settings": {"rounds": rounds, "seed": 0}, "rows": rows}


def render(doc: dict) -> str:
    import pandas as pd

    frame = pd.DataFrame(doc["rows"])
    wide = frame.pivot_table(index=["config", "round"], columns="fit", values="us_per_step")
    advi = wide["ADVI"]
    ratios = pd.DataFrame(
        {label: wide[label] / advi for label, _, _ in FITS[1:]}, index=wide.index
    ).round(2)
    per_round = wide[[label for label, _, _ in FITS]].round(1).join(ratios.add_suffix(" / ADVI"))
    summary = ratios.groupby(level="config", sort=False).agg(["median", "min", "max"])
    summary.columns = [f"{fit}: {stat}" for fit, stat in summary.columns]
    order = [c for c in CONFIGS if c in summary.index]
    return render_template(
        "performance/fullrank_in_suite.md.j2",
        doc=doc,
        summary=summary.loc[order].reset_index().to_markdown(index=False, floatfmt=".2f"),
        per_round=per_round.reset_index().to_markdown(index=False),
        steps=frame.groupby("fit", sort=False)["steps"].agg(["min", "max"]).to_dict("index"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder for fullrank_in_suite.*")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the three fits")
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    measured = None if args.render else lambda: measure(args.rounds)
    print(write_report(Path(args.out), "fullrank_in_suite", render, measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
