"""The anatomy of one ADVI step: what each part of a step of ``pm.fit`` costs, per backend.

One log density + gradient (``model.logp_dlogp_function``), the compiled step alone (the
package's ``vi_step_function`` (the one asv times), through ``pytensor.Function`` and its compiled graph
without the wrapper), ``pm.fit``'s loop per step without callbacks and with the suite's
(the ELBO rule and a time-limit check), full-rank ADVI's step the same way (as PyMC
builds it and with the opt-in packed factor), PyTensor's profile of the step compiled
with the C backend (the one whose profile names every Op), and NumPyro's jitted
``SVI.update`` beside them. Every step starts from one warm approximation.
"""

from __future__ import annotations

import inspect
import time
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

from bnn_models.inference import METHODS, OPTIMIZERS, ELBOConvergence, start_at_mean_field
from bnn_models.inference.steps import backend_mode, initial_vector, vi_step_function
from bnn_models.model import build_bnn
from studies.svi_compare.fits import backend_spec, numpyro_svi

__all__ = [
    "FIT_STEP",
    "FULLRANK_STEP",
    "GRAD",
    "PACKED_STEP",
    "PARTS",
    "TimeLimitCheck",
    "breakdown",
    "loop_costs",
    "step_costs",
    "step_profile",
    "warm_start",
]

#: Calls per timing and timings per measurement (the best is kept).
NUMBER, REPEAT = 200, 5
#: Steps of each ``pm.fit`` loop timed (the best of LOOP_REPEAT fits is kept, each
#: compiled anew: one fit to the next moved 75-100 us on the 2-core machine); calls of
#: the profiled step.
LOOP_STEPS, LOOP_REPEAT, PROFILE_CALLS = 3000, 7, 2000
#: Steps of the ADVI fit whose solution every timed step starts from (:func:`warm_start`).
WARM_STEPS = 15_000
#: Ops of the profile listed.
TOP_OPS = 12

#: One log density + gradient at draws of the warm approximation (what the steps see),
#: and at the model's initial point (every weight 0: no branch of the ReLU mispredicted).
GRAD = "log density + gradient"
GRAD_AT_INITIAL = "log density + gradient at the initial point (all 0)"
#: The step as ``pm.fit`` runs it, with the suite's callbacks (ADVI; full-rank ADVI).
FIT_STEP = "pm.fit per step, suite callbacks"
FULLRANK_STEP = "full-rank ADVI: pm.fit per step, suite callbacks"
#: Full-rank ADVI with its opt-in packed factor (``packed_factor=True``).
PACKED_STEP = "full-rank ADVI, packed factor: pm.fit per step, suite callbacks"
#: The ``pm.fit`` rows: row -> (suite callbacks, method, its settings).
FIT_LOOPS: dict[str, tuple[bool, str, dict[str, Any]]] = {
    "pm.fit per step, no callbacks": (False, "advi", {}),
    FIT_STEP: (True, "advi", {}),
    FULLRANK_STEP: (True, "fullrank_advi", {}),
    PACKED_STEP: (True, "fullrank_advi", {"packed_factor": True}),
}
#: The parts of one step in ``pm.fit``: (part, row measured with it, row without it).
#: The loop and the callbacks are timed alone (:func:`loop_costs`); what the parts leave
#: of the step as ``pm.fit`` runs it is shown as the rest.
PARTS = (
    (GRAD, GRAD, None),
    (
        "rest of the compiled graph (draw, log q, Adam update)",
        "step: compiled graph alone (Function.vm)",
        GRAD,
    ),
    (
        "pytensor.Function's call (inputs, outputs, shared updates)",
        "step: pytensor.Function call",
        "step: compiled graph alone (Function.vm)",
    ),
    ("pm.fit's loop (progress bookkeeping, NaN check, history)", "pm.fit's loop alone", None),
    ("the suite's callbacks (ELBOConvergence, a time-limit check)", "suite callbacks alone", None),
)


class TimeLimitCheck:
    """A ``pm.fit`` callback that ends the fit past a deadline: what the suite's time
    limit does per step (it reads a clock), with a deadline that never comes."""

    def __init__(self, seconds: float = 1e9) -> None:
        self.deadline = time.monotonic() + seconds

    def __call__(self, approx: object, losses: np.ndarray, i: int) -> None:
        if time.monotonic() > self.deadline:
            raise StopIteration("time limit")


def _suite_callbacks(window: int, tol: float) -> list[Callable]:
    return [ELBOConvergence(window=window, tol=tol, stop=False), TimeLimitCheck()]


def _best_us(call: Callable[[], object], number: int = NUMBER, repeat: int = REPEAT) -> float:
    return 1e6 * min(timeit.repeat(call, number=number, repeat=repeat)) / number


def _mode(backend: str) -> str | None:
    base, _ = backend_spec(backend)
    return None if base is None else backend_mode(base)


def breakdown(costs: list[dict], backend: str) -> list[dict]:
    """Where one step of ``pm.fit`` goes on ``backend``: :data:`PARTS` in microseconds and
    as shares of the step with the suite's callbacks, and the rest of that step (the
    difference of timings taken apart: it carries their noise, and can be negative).
    Rows measured once for all backends (``backend`` ``any``) count for each."""
    us = {r["what"]: r["us"] for r in costs if r["backend"] in (backend, "any")}
    total = us[FIT_STEP]
    rows = []
    for part, with_it, without in PARTS:
        value = us[with_it] - (us[without] if without else 0.0)
        rows.append({"part": part, "us": value, "share": value / total})
    rest = total - sum(r["us"] for r in rows)
    rows.append(
        {"part": "rest (timing noise, effects of the loop)", "us": rest, "share": rest / total}
    )
    rows.append({"part": "one step of pm.fit, all told", "us": total, "share": 1.0})
    return rows


def warm_start(dataset: Any, steps: int = WARM_STEPS) -> dict[str, np.ndarray]:
    """The mean-field solution every timed step starts from: ADVI's default settings,
    seed 1, ``steps`` steps (its rule fires at 15,000 in most seeds), on the fastest
    backend (every backend takes the same steps). One gradient's cost depends on the
    point (the ReLU's and the labels' branches), so ADVI's and full-rank ADVI's steps are
    timed from the same approximation, where the suite's full-rank ADVI starts."""
    s = METHODS["advi"].settings()
    with build_bnn(dataset.X_train, dataset.y_train, fused=True):
        advi = s.vi_class()(random_seed=1)
        advi.fit(
            steps,
            obj_optimizer=OPTIMIZERS[s.optimizer](learning_rate=s.learning_rate),
            progressbar=False,
            obj_n_mc=s.obj_n_mc,
            backend="numba_positional",
        )
    params = advi.approx.groups[0].params_dict
    return {"mu": params["mu"].get_value(), "rho": params["rho"].get_value()}


def warm_draws(start: dict[str, np.ndarray], n: int = 50) -> list[np.ndarray]:
    """``n`` draws of the approximation at ``start`` (seeded): the points its steps see."""
    rng = np.random.default_rng(1)
    sd = np.logaddexp(0.0, start["rho"])
    return [start["mu"] + sd * rng.standard_normal(sd.size) for _ in range(n)]


def fit_loop_us(
    dataset: Any,
    backend: str,
    start: dict[str, np.ndarray],
    steps: int = LOOP_STEPS,
    repeat: int = LOOP_REPEAT,
) -> dict[str, float]:
    """Microseconds per step of ``pm.fit``'s loop for each row of :data:`FIT_LOOPS`, from
    the end of the first step (compilation excluded) to the end of the fit: the best of
    ``repeat`` fits, the rows' fits taken in turn, so that a change of the machine's speed
    reaches every row alike. Without the suite's callbacks the only callback is the
    clock's (one Python call a step)."""
    best = dict.fromkeys(FIT_LOOPS, float("inf"))
    for _ in range(repeat):
        for row, (suite_callbacks, method, overrides) in FIT_LOOPS.items():
            us = _fit_loop_us(dataset, backend, suite_callbacks, steps, method, overrides, start)
            best[row] = min(best[row], us)
    return best


def _fit_loop_us(
    dataset: Any,
    backend: str,
    suite_callbacks: bool,
    steps: int,
    method: str,
    overrides: dict,
    start: dict[str, np.ndarray],
) -> float:
    s = METHODS[method].settings(**overrides)
    first: list[float] = []

    def clock(approx: object, losses: np.ndarray, i: int) -> None:
        if not first:
            first.append(time.perf_counter())

    extra = _suite_callbacks(s.window, s.tol) if suite_callbacks else []
    base, fused = backend_spec(backend)
    with build_bnn(dataset.X_train, dataset.y_train, fused=fused):
        inference = s.vi_class()(random_seed=1)
        start_at_mean_field(inference.approx.groups[0], **start)
        inference.fit(
            steps,
            obj_optimizer=OPTIMIZERS[s.optimizer](learning_rate=s.learning_rate),
            callbacks=[clock, *extra],
            progressbar=False,
            total_grad_norm_constraint=s.grad_norm_clip,
            obj_n_mc=s.obj_n_mc,
            backend=base,
        )
    return 1e6 * (time.perf_counter() - first[0]) / (steps - 1)


def step_costs(
    dataset: Any,
    backends: list[str],
    *,
    warm_steps: int = WARM_STEPS,
    loop_steps: int = LOOP_STEPS,
    loop_repeat: int = LOOP_REPEAT,
    log=print,
) -> list[dict]:
    """Microseconds per call of each part, per backend, and of NumPyro's step; the steps
    and the log density + gradient at the approximation of :func:`warm_start`."""
    rows = []
    start = warm_start(dataset, warm_steps)
    points = warm_draws(start)
    for backend in backends:
        base, fused = backend_spec(backend)
        model = build_bnn(dataset.X_train, dataset.y_train, fused=fused)
        grad = model.logp_dlogp_function(ravel_inputs=True, mode=_mode(backend))
        x = initial_vector(model)
        grad(x)

        def at_draws(grad: Callable = grad) -> None:
            for point in points:
                grad(point)

        step: Any = vi_step_function(
            build_bnn(dataset.X_train, dataset.y_train, fused=fused), "advi", base, start
        )
        step()
        parts = {
            GRAD: _best_us(at_draws, number=max(1, NUMBER // len(points))) / len(points),
            GRAD_AT_INITIAL: _best_us(lambda grad=grad, x=x: grad(x)),
            "step: compiled graph alone (Function.vm)": _best_us(step.vm),
            "step: pytensor.Function call": _best_us(step),
            **fit_loop_us(dataset, backend, start, loop_steps, loop_repeat),
        }
        for what, us in parts.items():
            rows.append({"what": what, "backend": backend, "us": us})
            log(f"anatomy {backend}: {what}: {us:.1f} us")
    rows.extend(loop_costs(20 * loop_steps, loop_repeat))
    rows.extend(numpyro_costs(dataset))
    return rows


def numpyro_costs(dataset: Any) -> list[dict]:
    """NumPyro's side: its log density + gradient at PyMC's jittered initial point (as
    ``pm.sample`` makes it), and one jitted ``SVI.update``."""
    import jax
    from pymc.initial_point import make_initial_point_fn
    from pymc.sampling.jax import get_jaxified_logp

    model = build_bnn(dataset.X_train, dataset.y_train)
    log_density = get_jaxified_logp(model)
    point_fn = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
    )
    start = point_fn(int(np.random.default_rng(1).integers(2**30)))
    point = [jax.numpy.asarray(start[v.name]) for v in model.value_vars]
    grad = jax.jit(jax.value_and_grad(lambda values: log_density(values)))
    svi, state = numpyro_svi(model, 1)
    update = jax.jit(svi.update)
    jax.block_until_ready((grad(point), update(state)))
    return [
        {
            "what": GRAD,
            "backend": "numpyro (jax)",
            "us": _best_us(lambda: jax.block_until_ready(grad(point))),
        },
        {
            "what": "step: SVI.update, jitted, called from Python",
            "backend": "numpyro (jax)",
            "us": _best_us(lambda: jax.block_until_ready(update(state))),
        },
    ]


def loop_costs(steps: int = 20 * LOOP_STEPS, repeat: int = LOOP_REPEAT) -> list[dict]:
    """``pm.fit``'s loop around a step that costs nothing, and the suite's callbacks called
    as ``pm.fit`` calls them: microseconds per step, the best of ``repeat``.

    The loop is PyMC's ``Inference._iterate_with_loss`` (private: what ``pm.fit`` runs
    when it records the loss), on a one-variable model.
    """
    import pymc as pm
    from pymc.variational.inference import Inference

    s = METHODS["advi"].settings()
    theme = inspect.signature(Inference.fit).parameters["progressbar_theme"].default
    with pm.Model():
        pm.Normal("x")
        inference = pm.ADVI(random_seed=1)
    loss = np.array(1.0)
    losses = np.ones(steps)

    def loop() -> None:
        inference._iterate_with_loss(0, steps, lambda: loss, False, theme, [])

    def callbacks() -> None:
        calls = _suite_callbacks(s.window, s.tol)
        for i in range(steps):
            for call in calls:
                call(None, losses[: i + 1], i + 1)

    rows = []
    for what, call in (("pm.fit's loop alone", loop), ("suite callbacks alone", callbacks)):
        us = 1e6 * min(timeit.repeat(call, number=1, repeat=repeat)) / steps
        rows.append({"what": what, "backend": "any", "us": us})
    return rows


def _describe(node: Any) -> str:
    """An Op of the profile, with the scalar Ops inside a fused (Composite) Elemwise."""
    op = node.op
    inner = getattr(getattr(op, "scalar_op", None), "fgraph", None)
    if inner is None:
        return str(op)
    names = sorted({type(n.op).__name__ for n in inner.apply_nodes})
    return f"Elemwise Composite[{', '.join(names)}]"


def _shapes(node: Any) -> str:
    return " ".join(
        "(" + ",".join("?" if d is None else str(d) for d in v.type.shape) + ")"
        for v in node.inputs
        if hasattr(v.type, "shape")
    )


def step_profile(dataset: Any, calls: int = PROFILE_CALLS) -> dict:
    """PyTensor's profile of ADVI's step compiled with the C backend: the top Ops."""
    from pymc.pytensorf import resolve_backend_compile_kwargs

    s = METHODS["advi"].settings()
    with build_bnn(dataset.X_train, dataset.y_train):
        inference = s.vi_class()(random_seed=1)
        step = inference.objective.step_function(
            obj_n_mc=s.obj_n_mc,
            obj_optimizer=OPTIMIZERS[s.optimizer](learning_rate=s.learning_rate),
            total_grad_norm_constraint=s.grad_norm_clip,
            score=True,
            compile_kwargs={**resolve_backend_compile_kwargs("c", None), "profile": True},
        )
    for _ in range(calls):
        step()
    prof = step.profile
    n = prof.fct_callcount
    total = sum(prof.apply_time.values())
    top = sorted(prof.apply_time.items(), key=lambda kv: -kv[1])
    ops = [
        {
            "op": _describe(node),
            "inputs": _shapes(node),
            "us_per_call": 1e6 * t / n,
            "share": t / total,
        }
        for (_, node), t in top[:TOP_OPS]
    ]
    classes = sorted(prof.class_time().items(), key=lambda kv: -kv[1])
    return {
        "calls": n,
        "backend": "c (CVM)",
        "us_per_call": 1e6 * prof.fct_call_time / n,
        "us_in_ops_per_call": 1e6 * total / n,
        "nodes": len(prof.apply_time),
        "top_ops": ops,
        "op_classes": [
            {"class": c.__name__, "us_per_call": 1e6 * t / n, "share": t / total}
            for c, t in classes
        ],
    }
