"""PyMC's own NUTS (``pm.sample(nuts_sampler="pymc")``): the sampler without nutpie."""

from __future__ import annotations

from dataclasses import dataclass

from bnn_models.inference._method import Method
from bnn_models.inference.nuts import NUTSSettings, fit_nuts

__all__ = ["METHOD", "PyMCNUTSSettings"]


@dataclass(frozen=True)
class PyMCNUTSSettings(NUTSSettings):
    """:class:`NUTSSettings` with PyMC's sampler: Stan-style windowed diagonal
    adaptation from the draws' variance, chains in worker processes."""

    sampler: str | None = "pymc"


METHOD = Method(
    name="nuts_pymc",
    label="NUTS (PyMC)",
    family="mcmc",
    fit=fit_nuts,
    settings=PyMCNUTSSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="pymc",
    accelerations=("fused",),
    description="PyMC's own No-U-Turn sampler (pytensor C backend), chains in processes",
)
