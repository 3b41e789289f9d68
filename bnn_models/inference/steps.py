"""One compiled step of a method's optimisation, built as its fit builds it.

For what times a single step apart from a whole fit (the asv ``ops`` benchmarks, the
studies): the step comes from the method's own settings, so a change of default is
measured where it matters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
from pymc.pytensorf import resolve_backend_compile_kwargs

from bnn_models.inference import METHODS, OPTIMIZERS
from bnn_models.inference._gaussian_vi import VI_BACKENDS, start_at_mean_field
from bnn_models.inference.accelerations import ACCELERATIONS, load

__all__ = ["VI_BACKENDS", "backend_mode", "initial_vector", "vi_step_function"]


def backend_mode(backend: str) -> str:
    """The PyTensor mode of a VI backend (a key of :data:`VI_BACKENDS`), for compiling
    a function outside a fit; a backend that is an opt-in acceleration
    (``numba_positional``) is loaded first, as a fit's settings load it."""
    for acceleration in ACCELERATIONS.values():
        if acceleration.setting == "backend" and acceleration.value == backend:
            load(acceleration)
    return VI_BACKENDS[backend]


def initial_vector(model: pm.Model, seed: int = 0) -> np.ndarray:
    """The model's seeded initial point, raveled as ``logp_dlogp_function`` takes it."""
    point = model.initial_point(seed)
    return np.concatenate([np.ravel(point[v.name]) for v in model.continuous_value_vars])


def vi_step_function(
    model: pm.Model,
    method: str,
    backend: str | None = None,
    start: dict[str, np.ndarray] | None = None,
    *,
    seed: int = 0,
    **overrides: Any,
) -> object:
    """One compiled optimisation step of a Gaussian VI method (its settings have an
    ``inference_class``), as the method's fit builds it inside ``pm.fit``.

    Parameters
    ----------
    model : pymc.Model
        The network (:func:`bnn_models.model.build_bnn`).
    method : str
        A registered method whose settings build a PyMC ``pm.fit`` inference.
    backend : str, optional
        What ``pm.fit(backend=...)`` would compile it to (a key of :data:`VI_BACKENDS`);
        None: the method's own setting, else PyTensor's default mode.
    start : dict, optional
        ``{"mu": ..., "rho": ...}``, a mean-field solution the approximation starts from
        (:func:`~bnn_models.inference.start_at_mean_field`); default: its own start.
    seed : int
        The approximation's random seed.
    **overrides
        Settings other than the method's defaults (e.g. ``packed_factor=True``).

    Returns
    -------
    callable
        Updates the approximation in place and returns the loss.
    """
    if backend is not None:  # the settings' own check: a backend the method refuses
        overrides = {**overrides, "backend": backend}
    settings: Any = METHODS[method].settings(**overrides)
    optimizer = OPTIMIZERS[settings.optimizer](learning_rate=settings.learning_rate)
    with model:
        inference = settings.vi_class()(random_seed=seed)
        if start is not None:
            start_at_mean_field(inference.approx.groups[0], **start)
        return inference.objective.step_function(
            obj_n_mc=settings.obj_n_mc,
            obj_optimizer=optimizer,
            total_grad_norm_constraint=settings.grad_norm_clip,
            score=True,
            compile_kwargs=resolve_backend_compile_kwargs(settings.backend, None),
        )
