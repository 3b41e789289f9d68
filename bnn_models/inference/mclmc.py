"""nutpie's microcanonical Langevin Monte Carlo (MCLMC), thinned to comparable draws."""

from __future__ import annotations

from dataclasses import dataclass

from bnn_models.inference._method import Method
from bnn_models.inference.nuts import NUTSSettings, fit_nuts

__all__ = ["METHOD", "MCLMCSettings"]


@dataclass(frozen=True)
class MCLMCSettings(NUTSSettings):
    """:class:`NUTSSettings` with nutpie's MCLMC kernel (experimental in nutpie).

    MCLMC's draws are cheaper and more correlated than NUTS': it runs ``thin`` times
    as many transitions and keeps every ``thin``-th, so the kept draws (and the
    report's per-draw numbers) compare with NUTS' 1,000 per chain.
    """

    kernel: str = "mclmc"
    thin: int = 5


METHOD = Method(
    name="mclmc",
    label="MCLMC (nutpie)",
    family="mcmc",
    fit=fit_nuts,
    settings=MCLMCSettings,
    quick={"draws": 150, "tune": 150, "chains": 2, "thin": 2},
    engine="nutpie",
    description="microcanonical Langevin Monte Carlo (nutpie), every 5th transition kept",
)
