"""BlackJAX's NUTS on PyMC's JAX log density.

``pm.sample(nuts_sampler="blackjax")`` fails with the pinned versions (PyMC 6.3.2,
BlackJAX 1.7.1): PyMC passes ``progress_bar`` to BlackJAX's NUTS kernel, which no
longer takes it (``TypeError: build_kernel.<locals>.kernel() got an unexpected keyword
argument 'progress_bar'``). This module calls BlackJAX itself on the same log density
(``pymc.sampling.jax.get_jaxified_logp``): Stan's window adaptation, then NUTS steps
in a ``lax.scan``, each compiled ahead of time so that compilation, warm-up and
sampling are timed apart.
"""

from __future__ import annotations

import time

import numpy as np

from bnn_models.data import Dataset
from bnn_models.inference._jax import chain_map, jax_log_density, nuts_stats, unflatten_draws
from bnn_models.inference._mcmc import MCMCSettings, mcmc_result, posterior_dataset
from bnn_models.inference._method import Method
from bnn_models.inference._result import FitResult
from bnn_models.inference.context import FitContext
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "fit_nuts_blackjax"]


def fit_nuts_blackjax(
    *,
    dataset: Dataset,
    settings: MCMCSettings = MCMCSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN's posterior with BlackJAX's NUTS after its window adaptation."""
    context = context or FitContext()
    import blackjax
    import jax

    s = settings
    config = {"seed": seed, **s.as_config()}
    t0 = time.perf_counter()
    model = s.build(dataset)
    log_density, names, init = jax_log_density(model, s.chains, seed)
    mapper = chain_map(s.chains)

    def warmup(key, position):
        adapt = blackjax.window_adaptation(
            blackjax.nuts, log_density, target_acceptance_rate=s.target_accept
        )
        (state, params), info = adapt.run(key, position, num_steps=s.tune)
        return state, params, info.info.num_integration_steps.sum()

    def sample(key, state, params):
        step = blackjax.nuts(log_density, **params).step

        def one(st, k):
            st, info = step(k, st)
            return st, (
                st.position,
                info.num_integration_steps,
                info.is_divergent,
                info.acceptance_rate,
                info.energy,
            )

        _, out = jax.lax.scan(one, state, jax.random.split(key, s.draws))
        return out

    keys = jax.random.split(jax.random.PRNGKey(seed), 2 * s.chains)
    warm_keys, draw_keys = keys[: s.chains], keys[s.chains :]
    position = [jax.numpy.asarray(a) for a in init]
    wrap = (lambda f: f) if mapper is jax.pmap else jax.jit
    warm_fn = wrap(mapper(warmup)).lower(warm_keys, position).compile()
    t1 = time.perf_counter()
    state, params, warm_steps = warm_fn(warm_keys, position)
    jax.block_until_ready(state)
    t2 = time.perf_counter()
    sample_fn = wrap(mapper(sample)).lower(draw_keys, state, params).compile()
    t3 = time.perf_counter()
    positions, n_steps, divergent, accept, energy = sample_fn(draw_keys, state, params)
    jax.block_until_ready(positions)
    t4 = time.perf_counter()
    stats = nuts_stats(n_steps=n_steps, diverging=divergent, acceptance_rate=accept, energy=energy)
    posterior = posterior_dataset(model, unflatten_draws(names, positions))
    method = "parallel" if mapper is jax.pmap else "vectorized"
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=posterior,
        sample_stats=stats.assign_coords(posterior[["chain", "draw"]].coords),
        seed=seed,
        t0=t0,
        compile_s=(t1 - t0) + (t3 - t2),
        warmup_s=t2 - t1,
        sampling_s=t4 - t3,
        grad_evals=(int(np.asarray(warm_steps).sum()), int(stats["n_steps"].sum())),
        config={**config, "chain_method": method},
        sampler=f"blackjax {library_versions()['blackjax']} ({method} chains)",
        backend="jax",
    )


METHOD = Method(
    name="nuts_blackjax",
    label="NUTS (BlackJAX)",
    family="mcmc",
    fit=fit_nuts_blackjax,
    settings=MCMCSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="blackjax",
    description="BlackJAX's NUTS with Stan's window adaptation on PyMC's JAX log density",
    recorded_facts=("chain_method",),
)
