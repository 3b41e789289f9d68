"""Inference methods behind one registry, each with one keyword-only signature."""

from __future__ import annotations

from collections.abc import Callable

from bnn_models.inference._gaussian_vi import OPTIMIZERS, ELBOConvergence
from bnn_models.inference._result import FitResult, library_versions, load_fit, save_fit
from bnn_models.inference.advi import fit_advi
from bnn_models.inference.fullrank_advi import fit_fullrank_advi
from bnn_models.inference.nuts import default_sampler, fit_nuts

__all__ = [
    "METHODS",
    "OPTIMIZERS",
    "QUICK",
    "ELBOConvergence",
    "FitResult",
    "default_sampler",
    "fit_advi",
    "fit_fullrank_advi",
    "fit_nuts",
    "library_versions",
    "load_fit",
    "save_fit",
]

#: Method name -> fit function; every function takes ``dataset=`` and ``seed=``.
METHODS: dict[str, Callable[..., FitResult]] = {
    "nuts": fit_nuts,
    "advi": fit_advi,
    "fullrank_advi": fit_fullrank_advi,
}

#: Settings of the ``--quick`` profile: seconds per method, for smoke tests and CI.
QUICK: dict[str, dict] = {
    "nuts": {"draws": 150, "tune": 150, "chains": 2},
    "advi": {"max_iter": 3000, "draws": 200, "window": 500},
    "fullrank_advi": {"max_iter": 4000, "draws": 200, "window": 500, "learning_rate": 3e-3},
}
