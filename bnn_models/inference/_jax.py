"""PyMC's JAX route shared by the NumPyro and BlackJAX engines: the model's log density
as a JAX function (whole, or split into prior and per-row likelihood for minibatches),
PyMC's jittered initial points, and the chains' map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.inference._mcmc import initial_points

__all__ = [
    "chain_map",
    "chain_starts",
    "jax_log_density",
    "jax_minibatch_density",
    "nuts_stats",
    "unflatten_draws",
]


def jax_log_density(
    model: pm.Model, chains: int, seed: int
) -> tuple[Callable[[Any], Any], list[str], list[np.ndarray]]:
    """``(log_density, names, init)``: PyMC's JAX log density of ``model``, the names
    of its value variables in the order it takes them, and one jittered initial point
    per chain (stacked on a leading chain axis), as ``pm.sample`` makes them.

    Importing :mod:`pymc.sampling.jax` first lets XLA see one host device per chain
    (PyMC sets ``--xla_force_host_platform_device_count``), so chains run in parallel.
    """
    from pymc.sampling.jax import get_jaxified_logp

    # PyMC's flag names the function's use: negative_logp=True (the default) returns
    # log p itself, for samplers that take a log density; False returns -log p.
    log_density = get_jaxified_logp(model)
    names, init = chain_starts(model, chains, seed)
    return log_density, names, init


def chain_starts(model: pm.Model, chains: int, seed: int) -> tuple[list[str], list[np.ndarray]]:
    """``(names, init)``: the value variables' names and one jittered initial point per
    chain (:func:`~bnn_models.inference._mcmc.initial_points`), stacked on a leading chain
    axis, as the JAX engines take them."""
    points = initial_points(model, chains, seed)
    names = [v.name for v in model.value_vars]
    return names, [np.stack([p[n] for p in points]) for n in names]


def jax_minibatch_density(
    model: pm.Model, data: tuple[str, str] = ("X", "y")
) -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any], list[str]]:
    """``(log_prior, log_lik_row, names)``: PyMC's log density of ``model`` split for
    minibatches, as :func:`blackjax.sgmcmc.gradients.grad_estimator` takes it.

    ``log_prior(position)`` is the log density of the free variables (their priors, with
    the Jacobians of any transforms); ``log_lik_row(position, (x, y))`` the observed
    terms at one data row, ``x`` a row of the model's data ``data[0]`` and ``y`` the
    matching entry of ``data[1]``. ``position`` is a list of the value variables'
    values in the order of ``names``. Both are PyMC's own graph
    (``model.logp(vars=...)``) with the data swapped for inputs and compiled by
    :func:`pymc.sampling.jax.get_jaxified_graph`: the model is written once, in
    :func:`bnn_models.model.build_bnn`. At a full batch,
    ``log_prior(p) + sum_i log_lik_row(p, (X[i], y[i]))`` is ``model.logp()`` (tested).
    """
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.graph.replace import graph_replace

    shared = [model[name] for name in data]
    batch = [pt.tensor(f"{v.name}_batch", dtype=v.dtype, shape=(None,) * v.ndim) for v in shared]
    value_vars = list(model.value_vars)
    prior_fn = get_jaxified_graph(inputs=value_vars, outputs=[model.logp(vars=model.free_RVs)])
    # the observed terms with the data (shared variables, which get_jaxified_graph would
    # freeze as constants) replaced by inputs
    lik = graph_replace(model.logp(vars=model.observed_RVs), dict(zip(shared, batch, strict=True)))
    lik_fn = get_jaxified_graph(inputs=[*value_vars, *batch], outputs=[lik])

    def log_prior(position: Any) -> Any:
        return prior_fn(*position)[0]

    def log_lik_row(position: Any, row: Any) -> Any:
        # one row as a batch of one: blackjax maps this over the minibatch's rows
        return lik_fn(*position, *(v[None] for v in row))[0]

    return log_prior, log_lik_row, [v.name for v in value_vars]


def chain_map(chains: int) -> Callable:
    """``jax.pmap`` (one device per chain, in parallel) when there are enough host
    devices, else ``jax.vmap`` (chains in lockstep)."""
    import jax

    return jax.pmap if jax.local_device_count() >= chains else jax.vmap


def unflatten_draws(names: list[str], draws: list) -> dict[str, np.ndarray]:
    """Map the engine's per-variable draws (in ``names`` order) to a name -> array dict."""
    return {n: np.asarray(d) for n, d in zip(names, draws, strict=True)}


def nuts_stats(**stats: Any) -> xr.Dataset:
    """Per-draw NUTS stats, each (chain, draw), named as PyMC names them (``n_steps``,
    ``diverging``, ...), with ``tree_depth`` from the leapfrog steps."""
    out = xr.Dataset({name: (("chain", "draw"), np.asarray(v)) for name, v in stats.items()})
    out["tree_depth"] = np.log2(out["n_steps"].clip(min=1)).astype(int) + 1
    return out
