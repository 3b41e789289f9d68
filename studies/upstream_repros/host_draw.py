"""What making a VI step's normal draw in NumPy saves: numba_positional with and without it.

The opt-in VI backend ``numba_positional`` (:mod:`bnn_models.accel.numba_positional`)
calls PyTensor's numba code with positional arguments and makes the step's normal draw
in NumPy before the call, so that numba never unboxes the ``numpy.random.Generator``.
This script measures the second part alone: the ADVI and full-rank ADVI steps of the
suite (``bnn_models.inference.steps.vi_step_function``, the step asv times; the rupture model, each method's default
settings) compiled three ways, PyTensor's default mode (numba), ``numba_positional``
with the draw in numba (the linker with ``host_draw = False``) and ``numba_positional``
as shipped, in one process:

1. the same loss trace from the same start on all three (``--check-steps`` steps);
2. microseconds per step, the compiled steps called in turn (``--rounds`` rounds of
   ``--number`` calls each, best round kept), one BLAS thread.

    python -m studies.upstream_repros.host_draw            # host_draw.md and .json
    python -m studies.upstream_repros.host_draw --render   # markdown from the JSON

Outputs go to ``studies/upstream_repros/results`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# the asv suite's helpers build the VI step the suite's benchmarks time
from threadpoolctl import threadpool_limits

from bnn_models.data import load_rupture
from bnn_models.inference.steps import vi_step_function
from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["CASES", "main", "measure", "render"]

#: Where the committed results live.
RESULTS = STUDIES / "upstream_repros" / "results"

#: The three compilations, in the order they are timed within each round.
CASES = ("numba (default)", "numba_positional, draw in numba", "numba_positional")
METHODS = ("advi", "fullrank_advi")


def _draw_in_numba_mode() -> str:
    """``numba_positional`` with ``host_draw = False``, registered as a PyTensor mode."""
    from pytensor.compile.mode import Mode, get_mode, predefined_modes, register_mode

    from bnn_models.accel.numba_positional import PositionalNumbaLinker

    class DrawInNumba(PositionalNumbaLinker):
        host_draw = False

    name = "NUMBA_POSITIONAL_DRAW_IN_NUMBA"
    if name not in predefined_modes:
        register_mode(name, Mode(DrawInNumba(), get_mode("NUMBA").provided_optimizer))
    return name


def measure(check_steps: int, rounds: int, number: int) -> dict:
    import time

    import numpy as np

    from bnn_models.model import build_bnn

    dataset = load_rupture()
    backends = dict(zip(CASES, (None, _draw_in_numba_mode(), "numba_positional"), strict=True))
    steps = {
        (method, case): vi_step_function(build_bnn(dataset.X_train, dataset.y_train), method, b)
        for method in METHODS
        for case, b in backends.items()
    }
    same = {}
    for method in METHODS:
        traces = {c: [float(steps[method, c]()) for _ in range(check_steps)] for c in CASES}
        same[method] = all(traces[c] == traces[CASES[0]] for c in CASES)
    best = dict.fromkeys(steps, np.inf)
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread, as asv times it
        for _ in range(rounds):
            for key, step in steps.items():
                t = time.perf_counter()
                for _ in range(number):
                    step()
                best[key] = min(best[key], (time.perf_counter() - t) / number * 1e6)
    rows = [
        {
            "method": method,
            "case": case,
            "us_per_step": round(best[method, case], 1),
            # after the calls: the argument types numba compiled the step's entry for
            "generator_in_numba": any("Generator" in str(t) for t in step.vm.jit_fn.signatures[0]),
        }
        for (method, case), step in steps.items()
    ]
    settings = {"check_steps": check_steps, "rounds": rounds, "number": number}
    return {
        **provenance(dataset),
        "settings": settings,
        "same_trace": same,
        "rows": rows,
    }


def render(doc: dict) -> str:
    import pandas as pd

    frame = pd.DataFrame(doc["rows"]).pivot(index="case", columns="method", values="us_per_step")
    frame = frame.loc[list(CASES), list(METHODS)].reset_index()
    us = {(r["method"], r["case"]): r["us_per_step"] for r in doc["rows"]}
    saved = {m: us[m, CASES[1]] - us[m, CASES[2]] for m in METHODS}
    generator = pd.DataFrame(doc["rows"]).pivot(
        index="case", columns="method", values="generator_in_numba"
    )
    generator = generator.loc[list(CASES), list(METHODS)].reset_index()
    return render_template(
        "upstream_repros/host_draw.md.j2",
        doc=doc,
        table=frame.to_markdown(index=False, floatfmt=".1f"),
        generator=generator.to_markdown(index=False),
        saved=saved,
        us=us,
        cases=CASES,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder for host_draw.*")
    parser.add_argument("--check-steps", type=int, default=300, help="steps of the trace check")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of timed calls")
    parser.add_argument("--number", type=int, default=300, help="calls per round and step")
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    args = parser.parse_args(argv)
    for name in ("check_steps", "rounds", "number"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    settings = (args.check_steps, args.rounds, args.number)
    measured = None if args.render else lambda: measure(*settings)
    print(write_report(Path(args.out), "host_draw", render, measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
