"""The fits compared: ADVI as the suite fits it, and NumPyro's SVI on the same model.

ADVI is ``METHODS["advi"]`` run for a fixed number of steps (``stop_on_convergence=False``:
the rule is recorded, not obeyed), once per backend. NumPyro's SVI fits PyMC's JAX log
density of the same ``build_bnn`` model (the route of the suite's ``nuts_numpyro``, so
the network is written once) as a ``numpyro.factor`` over flat sites, with an
``AutoNormal`` guide started where ``pm.ADVI`` starts and ADVI's Adam.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from bnn_models.inference import METHODS
from bnn_models.model import build_bnn
from studies.svi_compare.traces import rule_step, summarise_run

__all__ = [
    "ADVI_BACKENDS",
    "CHUNK",
    "FUSED",
    "backend_spec",
    "fit_advi",
    "fit_numpyro",
    "jax_info",
    "numpyro_svi",
    "rule_settings",
    "run_fits",
]

#: ADVI's backends: ``default`` is PyTensor's default mode (the suite's ``backend=None``);
#: ``+fused`` after a backend: the model with the opt-in fused likelihood (``fused=True``).
ADVI_BACKENDS = ("default", "c", "numba_positional", "numba_positional+fused")
FUSED = "+fused"
#: NumPyro steps per compiled chunk (the steps must be a multiple of it, or below it).
CHUNK = 1000
#: Draws from ADVI's fitted approximation (the suite's fit draws after the optimisation;
#: not timed, not used here: few, to keep the run short).
DRAWS = 100


def backend_spec(backend: str) -> tuple[str | None, bool]:
    """``(pm.fit's backend, fused likelihood)`` of an entry of :data:`ADVI_BACKENDS`.

    Examples
    --------
    >>> backend_spec("numba_positional+fused")
    ('numba_positional', True)
    >>> backend_spec("default")
    (None, False)
    """
    fused = backend.endswith(FUSED)
    base = backend.removesuffix(FUSED)
    return (None if base == "default" else base), fused


def rule_settings() -> tuple[int, float]:
    """ADVI's convergence rule: ``(window, tol)`` of its default settings."""
    s = METHODS["advi"].settings()
    return s.window, s.tol


def fit_advi(dataset: Any, seed: int, steps: int, backend: str) -> dict:
    """ADVI as the suite fits it, ``steps`` steps without stopping (``backend``: an entry
    of :data:`ADVI_BACKENDS`); the rule's step is the one the fit's own rule recorded."""
    base, fused = backend_spec(backend)
    fit = METHODS["advi"](
        dataset=dataset,
        seed=seed,
        progressbar=False,
        max_iter=steps,
        stop_on_convergence=False,
        draws=DRAWS,
        backend=base,
        fused=fused,
    )
    loss = np.asarray(fit.loss, dtype=float)
    window, _ = rule_settings()
    fired = fit.convergence["fired_at"]
    # Fitting seconds (from the end of the first step: compilation apart) over steps.
    s_per_step = fit.timings["fit_s"] / loss.size
    return {
        "method": f"advi ({fit.backend}{', fused likelihood' if fused else ''})",
        "engine": "pymc",
        "backend": fit.backend,
        "seed": seed,
        "compile_s": fit.timings["compile_s"],
        "fit_s": fit.timings["fit_s"],
        "suite_rule_step": fired,
        "status": fit.status,
        **summarise_run(loss, s_per_step, window=window, rule=fired),
    }


def numpyro_svi(model: Any, seed: int) -> tuple[Any, Any]:
    """``(svi, state)``: NumPyro's SVI of ``model`` (PyMC's JAX log density), started
    where ``pm.ADVI`` starts, with ADVI's optimizer and one draw per step."""
    import jax
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value
    from pymc.sampling.jax import get_jaxified_logp

    s = METHODS["advi"].settings()
    if s.optimizer != "adam" or s.grad_norm_clip is not None:
        raise ValueError(f"ADVI's optimizer is {s.optimizer} (clip {s.grad_norm_clip}): not Adam")
    # negative_logp=True (PyMC's default) returns log p itself, as a factor wants it.
    log_density = get_jaxified_logp(model)
    names = [v.name for v in model.value_vars]
    start = model.initial_point(seed)  # pm.ADVI's means: no jitter, no transform here
    shapes = {name: np.shape(start[name]) for name in names}

    def numpyro_model() -> None:
        values = [
            numpyro.sample(n, dist.ImproperUniform(dist.constraints.real, (), shapes[n]))
            for n in names
        ]
        numpyro.factor("log_density", log_density(values))

    guide = AutoNormal(
        numpyro_model,
        init_loc_fn=init_to_value(values={n: np.asarray(start[n]) for n in names}),
        init_scale=math.log(2.0),  # softplus(0): pm.ADVI's rho = 0
    )
    optimizer = numpyro.optim.Adam(s.learning_rate, b1=0.9, b2=0.999, eps=1e-8)
    svi = SVI(numpyro_model, guide, optimizer, Trace_ELBO(num_particles=s.obj_n_mc))
    return svi, svi.init(jax.random.PRNGKey(seed))


def fit_numpyro(dataset: Any, seed: int, steps: int) -> dict:
    """NumPyro's SVI for ``steps`` steps, compilation timed apart: the steps as
    ``SVI.run(progress_bar=False)`` takes them (a ``lax.scan`` of ``SVI.update``), in
    jitted chunks of :data:`CHUNK` steps compiled ahead of time."""
    import jax

    from bnn_models.provenance import library_versions

    chunk = min(CHUNK, steps)
    t0 = time.perf_counter()
    svi, state = numpyro_svi(build_bnn(dataset.X_train, dataset.y_train), seed)

    def run_chunk(state: Any) -> Any:
        return jax.lax.scan(lambda st, _: svi.update(st), state, None, length=chunk)

    compiled = jax.jit(run_chunk).lower(state).compile()
    t1 = time.perf_counter()
    losses = []
    for _ in range(steps // chunk):
        state, loss = compiled(state)
        losses.append(loss)
    jax.block_until_ready((state, losses))
    t2 = time.perf_counter()
    loss = np.concatenate([np.asarray(x) for x in losses]).astype(float)
    window, tol = rule_settings()
    return {
        "method": "numpyro svi (jax)",
        "engine": "numpyro",
        "backend": f"jax {library_versions(('jax',))['jax']}",
        "seed": seed,
        "compile_s": t1 - t0,
        "fit_s": t2 - t1,
        "suite_rule_step": None,
        "status": "ok" if np.all(np.isfinite(loss)) else "failed",
        **summarise_run(
            loss,
            (t2 - t1) / loss.size,
            window=window,
            rule=rule_step(loss, window=window, tol=tol),
        ),
    }


def jax_info() -> dict:
    """What JAX ran with: precision, devices, and XLA's flags (its CPU threading)."""
    import jax

    return {
        "x64": bool(jax.config.jax_enable_x64),
        "devices": f"{jax.device_count()} x {jax.default_backend()}",
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def run_fits(
    dataset: Any, seeds: list[int], steps: int, backends: list[str], log=print
) -> list[dict]:
    """Every fit, seed by seed (ADVI per backend, then NumPyro), one after the other."""
    runs = []
    for seed in seeds:
        for backend in backends:
            runs.append(fit_advi(dataset, seed, steps, backend))
            log(_progress(runs[-1]))
        runs.append(fit_numpyro(dataset, seed, steps))
        log(_progress(runs[-1]))
    return runs


def _progress(run: dict) -> str:
    return (
        f"{run['method']} seed {run['seed']}: {run['us_per_step']:.0f} us/step, "
        f"final {run['final_loss']:.1f}, 1% at step {run['to_1pct_step']}"
    )
