"""PyMC's JAX route shared by the NumPyro and BlackJAX engines: the model's log density
as a JAX function, PyMC's jittered initial points, and the chains' map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.inference._mcmc import initial_points

__all__ = ["chain_map", "jax_log_density", "nuts_stats", "unflatten_draws"]


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
    points = initial_points(model, chains, seed)
    names = [v.name for v in model.value_vars]
    init = [np.stack([p[n] for p in points]) for n in names]
    return log_density, names, init


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
