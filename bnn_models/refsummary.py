"""The compact reference: what fidelity needs from a reference posterior, without its draws.

A reference's draws (tens of MB) stay in a local cache; its JSON summary is small enough
to commit. With the fields of :func:`compact_fields` in it, a fresh clone computes every
fidelity metric except those that compare whole distributions of draws
(:data:`NEEDS_DRAWS`): per test point the predictive mean, sd and quantiles; per weight
the within-chain sd after relabelling to the reference's hidden-unit template, the
template itself, and the pooled sd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import xarray as xr

from bnn_models.inference._method import require
from bnn_models.posterior import align_hidden

__all__ = [
    "NEEDS_DRAWS",
    "QUANTILES",
    "QUICK_REFERENCE",
    "ReferenceSettings",
    "compact_fields",
    "weights_from_summary",
]

#: Quantiles of each test point's predictive probability kept in the summary.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Fidelity metrics that need the reference's draws, not its summary.
NEEDS_DRAWS = (
    "pred_wasserstein_mean",
    "truth_tv_mean_ref",
    "truth_tv_max_ref",
    "truth_rmse_ref",
    "truth_coverage_50_ref",
    "truth_coverage_90_ref",
    "truth_width_50_ref",
    "truth_width_90_ref",
)


class _Model(msgspec.Struct):
    n_hidden: int
    prior_sigma: float
    source_sha256: str


class _Summary(msgspec.Struct):
    """The fields of a reference summary that loading relies on."""

    key: str
    data_hash: str
    model: _Model
    config: dict[str, Any]
    pred_mean: list[float]
    pred_sd: list[float]
    diagnostics: dict[str, Any]


def _nested(ds: xr.Dataset) -> dict[str, Any]:
    return {str(name): np.asarray(ds[name].values).tolist() for name in ds.data_vars}


def compact_fields(posterior: xr.Dataset, p: np.ndarray, template: np.ndarray) -> dict:
    """The summary's ``compact`` section from the reference's draws.

    Parameters
    ----------
    posterior : xarray.Dataset
        The reference's weights over (chain, draw).
    p : numpy.ndarray, shape (draws, test rows)
        Its test-set probabilities.
    template : numpy.ndarray
        Its hidden-unit template (:func:`bnn_models.posterior.hidden_template`).
    """
    aligned = align_hidden(posterior, method="match", template=template)
    within = aligned.var(dim="draw", ddof=1).mean(dim="chain") ** 0.5
    pooled = posterior.std(dim=("chain", "draw"))
    return {
        "pred_quantiles": {f"{q:g}": np.quantile(p, q, axis=0).tolist() for q in QUANTILES},
        "template": np.asarray(template).tolist(),
        "within_chain_sd": _nested(within),
        "pooled_sd": _nested(pooled),
        "dims": {name: list(posterior[name].dims[2:]) for name in posterior.data_vars},
    }


def weights_from_summary(compact: dict) -> tuple[np.ndarray, xr.Dataset, xr.Dataset]:
    """``(template, within_chain_sd, pooled_sd)`` back from a ``compact`` section."""

    def dataset(values: dict) -> xr.Dataset:
        return xr.Dataset(
            {
                name: (tuple(compact["dims"][name]), np.asarray(v, dtype=float))
                for name, v in values.items()
            }
        )

    return (
        np.asarray(compact["template"], dtype=float),
        dataset(compact["within_chain_sd"]),
        dataset(compact["pooled_sd"]),
    )


@dataclass(frozen=True)
class ReferenceSettings:
    """The reference's NUTS run: many chains, nutpie, a seed of its own.

    The defaults, 8 chains x 1,000 draws, met the acceptance on the rupture and teacher
    data (every test probability R-hat <= 1.01 and bulk ESS >= 400).

    Attributes
    ----------
    chains, draws, tune : int
        Chains (at least 2, for R-hat), kept draws and tuning steps per chain.
    seed : int
        Seed of the sampler.
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    """

    chains: int = 8
    draws: int = 1000
    tune: int = 1000
    seed: int = 12345
    target_accept: float = 0.8

    def __post_init__(self) -> None:
        require(self.chains >= 2, "reference: chains", self.chains, ">= 2 for R-hat")
        require(self.draws >= 1, "reference: draws", self.draws, ">= 1")
        require(self.tune >= 0, "reference: tune", self.tune, ">= 0")


#: Settings of ``bnn-bench reference --quick`` (a smoke test, not a usable reference).
QUICK_REFERENCE = ReferenceSettings(chains=2, draws=150, tune=150)
