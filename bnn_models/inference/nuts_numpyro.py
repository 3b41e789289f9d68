"""NumPyro's NUTS on PyMC's JAX log density (the route of ``nuts_sampler="numpyro"``).

``pm.sample(nuts_sampler="numpyro")`` runs warm-up and sampling in one call and
reports one time; this module drives the same NumPyro sampler on the same log density
(``pymc.sampling.jax.get_jaxified_logp``) with ``MCMC.warmup`` and ``MCMC.run``
apart, so warm-up is timed apart from sampling.
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

__all__ = ["METHOD", "fit_nuts_numpyro"]

_STATS = {
    "num_steps": "n_steps",
    "diverging": "diverging",
    "accept_prob": "acceptance_rate",
    "energy": "energy",
}


def fit_nuts_numpyro(
    *,
    dataset: Dataset,
    settings: MCMCSettings = MCMCSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN's posterior with NumPyro's NUTS (diagonal mass matrix).

    Compilation: JAX compiles the sampler on its first call, so ``warmup_s``
    includes XLA's compilation of the NUTS step (``compile_s`` is PyMC's graph to JAX).
    """
    context = context or FitContext()
    import jax
    from numpyro.infer import MCMC, NUTS

    s = settings
    config = {"seed": seed, **s.as_config()}
    t0 = time.perf_counter()
    model = s.build(dataset)
    log_density, names, init = jax_log_density(model, s.chains, seed)
    method = "parallel" if chain_map(s.chains) is jax.pmap else "vectorized"
    kernel = NUTS(potential_fn=lambda x: -log_density(x), target_accept_prob=s.target_accept)
    mcmc = MCMC(
        kernel,
        num_warmup=s.tune,
        num_samples=s.draws,
        num_chains=s.chains,
        chain_method=method,
        progress_bar=context.progressbar,
    )
    t1 = time.perf_counter()
    mcmc.warmup(
        jax.random.PRNGKey(seed),
        init_params=[jax.numpy.asarray(a) for a in init],
        extra_fields=("num_steps",),
        collect_warmup=True,
    )
    warm_steps = int(np.asarray(mcmc.get_extra_fields()["num_steps"]).sum())
    t2 = time.perf_counter()
    mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=tuple(_STATS))
    draws = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(draws)
    t3 = time.perf_counter()
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = nuts_stats(**{new: extra[old] for old, new in _STATS.items()})
    posterior = posterior_dataset(model, unflatten_draws(names, draws))
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=posterior,
        sample_stats=stats.assign_coords(posterior[["chain", "draw"]].coords),
        seed=seed,
        t0=t0,
        compile_s=t1 - t0,
        warmup_s=t2 - t1,
        sampling_s=t3 - t2,
        grad_evals=(warm_steps, int(stats["n_steps"].sum())),
        config={**config, "chain_method": method},
        sampler=f"numpyro {library_versions()['numpyro']} ({method} chains)",
        backend="jax",
    )


METHOD = Method(
    name="nuts_numpyro",
    label="NUTS (NumPyro)",
    family="mcmc",
    fit=fit_nuts_numpyro,
    settings=MCMCSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="numpyro",
    description="NumPyro's NUTS on PyMC's JAX log density (XLA, CPU)",
    recorded_facts=("chain_method",),
)
