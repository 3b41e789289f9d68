"""ADVI against NumPyro's SVI on the same BNN: time to 1% of the final loss, and one ADVI step's anatomy.

Issue 13, goal 2: "ADVI time-to-1%-of-final <= NumPyro SVI's on the same model and
data, measured side by side in one script". Run it with nothing else on the machine:

    python -m studies.svi_compare.svi_compare --out studies/svi_compare/results

1. The fits (:mod:`studies.svi_compare.fits`), one after the other, for each seed
   (default 1-5), ``--steps`` steps each (default 30,000), none stopping early: ADVI as
   the suite fits it, once per ``--advi-backends`` entry (``default``: PyTensor's default
   mode; ``c``; ``numba_positional``: the suite's opt-in numba entry point; a backend with
   ``+fused``: the same with the model's opt-in fused likelihood), and NumPyro's SVI on
   the same model, from the same start with the same Adam. Both losses are the negative
   ELBO in nats over the whole training set, one draw per step. Per run
   (:mod:`studies.svi_compare.traces`): seconds per step (compilation apart), the final
   loss, the step from which the loss stays within 1% of its final value (the package's
   :func:`bnn_models.metrics.iterations_to_within` over the rule's window) and that step
   in seconds, and the step at which the suite's rule (:class:`ELBOConvergence`) fires.
2. The anatomy of one ADVI step per backend (:mod:`studies.svi_compare.anatomy`).

Writes ``svi_compare.json`` (every number, commit, machine, versions, data hash),
``svi_compare.md`` (``svi_compare.md.j2``) and ``loss_traces.png``; ``--render``
rewrites the markdown and the figure from an existing ``svi_compare.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studies._common import STUDIES, provenance
from studies.svi_compare import anatomy
from studies.svi_compare.fits import (
    ADVI_BACKENDS,
    CHUNK,
    DRAWS,
    FUSED,
    jax_info,
    rule_settings,
    run_fits,
)
from studies.svi_compare.report import figure, render
from studies.svi_compare.traces import FINAL, SMOOTH, THIN, WITHIN

__all__ = ["main"]

#: Seeds and steps of the default run.
SEEDS = (1, 2, 3, 4, 5)
STEPS = 30_000
#: Where the committed results live.
RESULTS = STUDIES / "svi_compare" / "results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from bnn_models.inference.steps import VI_BACKENDS as BACKENDS

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder for the outputs")
    parser.add_argument(
        "--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds (default 1-5)"
    )
    parser.add_argument("--steps", type=int, default=STEPS, help="steps of every fit")
    parser.add_argument(
        "--advi-backends",
        default=",".join(ADVI_BACKENDS),
        help="ADVI's backends: default (PyTensor's default mode) or any of "
        + ", ".join(BACKENDS)
        + f", each with {FUSED} for the opt-in fused likelihood (comma-separated)",
    )
    parser.add_argument("--no-anatomy", action="store_true", help="skip the step's anatomy")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the md and figure from the json"
    )
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.advi_backends = [b.strip() for b in args.advi_backends.split(",") if b.strip()]
    for b in args.advi_backends:
        base = b.removesuffix(FUSED)
        if base != "default" and base not in BACKENDS:
            parser.error(
                f"--advi-backends: {b!r} is none of default, {', '.join(BACKENDS)} "
                f"(with or without {FUSED})"
            )
    if args.steps < 1 or (args.steps > CHUNK and args.steps % CHUNK):
        parser.error(f"--steps must be >= 1 and, above {CHUNK}, a multiple of it")
    if not args.seeds:
        parser.error("--seeds: no seed given")
    return args


def measure(args: argparse.Namespace) -> dict:
    """Every number of one run: the fits, then (unless ``--no-anatomy``) the anatomy."""
    from bnn_models.data import load_rupture

    dataset = load_rupture()
    window, tol = rule_settings()
    doc = {
        **provenance(dataset, ("numpyro", "jax", "jaxlib")),
        "settings": {
            "seeds": args.seeds,
            "steps": args.steps,
            "advi_backends": args.advi_backends,
            "smooth": SMOOTH,
            "final": FINAL,
            "within": WITHIN,
            # "to 1%": bnn_models.metrics.iterations_to_within over the rule's window
            "to_1pct_window": window,
            "thin": THIN,
            "chunk": min(CHUNK, args.steps),
            "rule": {"window": window, "tol": tol},
            "advi_draws": DRAWS,
            "anatomy": {
                "number": anatomy.NUMBER,
                "repeat": anatomy.REPEAT,
                "loop_steps": anatomy.LOOP_STEPS,
                "loop_repeat": anatomy.LOOP_REPEAT,
                "loop_interleaved": True,
                "warm_steps": anatomy.WARM_STEPS,
            },
            "profile_calls": anatomy.PROFILE_CALLS,
        },
        "runs": run_fits(dataset, args.seeds, args.steps, args.advi_backends),
        "jax": jax_info(),
    }
    if not args.no_anatomy:
        doc["anatomy"] = {
            "costs": anatomy.step_costs(dataset, args.advi_backends),
            "profile": anatomy.step_profile(dataset),
        }
    return doc


def main(argv: list[str] | None = None) -> int:
    """Measure (or with ``--render`` read back) and write the JSON, markdown and figure."""
    from bnn_models.io import write_json, write_text

    args = _parse(argv)
    out = Path(args.out)
    if args.render:
        doc = json.loads((out / "svi_compare.json").read_text())
    else:
        doc = measure(args)
        write_json(out / "svi_compare.json", doc)
    figure(doc, out / "loss_traces.png")
    text = render(doc)
    write_text(out / "svi_compare.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
