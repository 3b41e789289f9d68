"""nutpie NUTS with a low-rank modified mass matrix (``adaptation="low_rank"``)."""

from __future__ import annotations

from dataclasses import dataclass

from bnn_models.inference._method import Method
from bnn_models.inference.nuts import NUTSSettings, fit_nuts

__all__ = ["METHOD", "LowRankNUTSSettings"]


@dataclass(frozen=True)
class LowRankNUTSSettings(NUTSSettings):
    """:class:`NUTSSettings` with nutpie's low-rank mass-matrix adaptation.

    The eigenvalue cutoff comes from a measured sweep on the rupture data
    (the study ``studies/lowrank_cutoff``).
    """

    adaptation: str = "low_rank"
    eigval_cutoff: float = 2.0


METHOD = Method(
    name="nuts_lowrank",
    label="NUTS low-rank (nutpie)",
    family="mcmc",
    fit=fit_nuts,
    settings=LowRankNUTSSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="nutpie",
    accelerations=("fused",),
    description="nutpie NUTS, mass matrix diagonal plus low-rank correction from the "
    "draws' and gradients' covariance",
)
