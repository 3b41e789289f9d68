"""The reference's summary: its diagnostics and acceptance, and the compact reference.

:func:`summarise_reference` writes what a reference run found (provenance, function- and
weight-space diagnostics, the acceptance), :func:`read_summary` reads it back, checked.
The compact reference is what fidelity needs from a reference posterior, without its
draws. A reference's draws (tens of MB) stay in a local cache; its JSON summary is small enough
to commit. With the fields of :func:`compact_fields` in it, a fresh clone computes every
fidelity metric except those that compare whole distributions of draws
(:data:`NEEDS_DRAWS`): per test point the predictive mean, sd and quantiles; per weight
the within-chain sd after relabelling to the reference's hidden-unit template, the
template itself, and the pooled sd.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import arviz as az
import msgspec
import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput, check_seed
from bnn_models.inference import FitResult
from bnn_models.inference._method import require
from bnn_models.posterior import (
    ALIGNMENTS,
    align_hidden,
    hidden_template,
    truth_comparison,
    weight_diagnostics,
)
from bnn_models.provenance import git_commit, library_versions, machine_info
from bnn_models.schema import check_struct

__all__ = [
    "ACCEPT_ESS_BULK",
    "ACCEPT_RHAT",
    "NEEDS_DRAWS",
    "QUANTILES",
    "QUICK_REFERENCE",
    "REFERENCE_SCHEMA",
    "REFERENCE_SCHEMA_VERSION",
    "ReferenceSettings",
    "compact_fields",
    "function_space_diagnostics",
    "read_summary",
    "summarise_reference",
    "weights_from_summary",
]

REFERENCE_SCHEMA = "bnn-bench/reference"
REFERENCE_SCHEMA_VERSION = 1

#: Acceptance: every test-set probability has R-hat at most this ...
ACCEPT_RHAT = 1.01
#: ... and bulk ESS at least this.
ACCEPT_ESS_BULK = 400

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
        check_seed("reference: seed", self.seed)
        require(
            0 < self.target_accept < 1, "reference: target_accept", self.target_accept, "in (0, 1)"
        )


#: Settings of ``bnn-bench reference --quick`` (a smoke test, not a usable reference).
QUICK_REFERENCE = ReferenceSettings(chains=2, draws=150, tune=150)


def function_space_diagnostics(idata: xr.DataTree) -> dict:
    """R-hat and ESS of every test-set probability (the acceptance's quantities)."""
    rhat = az.rhat(idata, group="predictions")["p"].values
    bulk = az.ess(idata, group="predictions", method="bulk")["p"].values
    tail = az.ess(idata, group="predictions", method="tail")["p"].values
    p = idata["predictions"]["p"]
    chain_dev = np.abs(p.mean("draw") - p.mean(("chain", "draw")))
    return {
        "n_points": int(rhat.size),
        "rhat_max": float(rhat.max()),
        "rhat_median": float(np.median(rhat)),
        "n_rhat_above_1_01": int(np.sum(rhat > ACCEPT_RHAT)),
        "ess_bulk_min": float(bulk.min()),
        "ess_bulk_median": float(np.median(bulk)),
        "ess_tail_min": float(tail.min()),
        "chain_mean_abs_dev_max": float(chain_dev.max()),
        "rhat": rhat.tolist(),
        "ess_bulk": bulk.tolist(),
    }


def summarise_reference(
    result: FitResult,
    dataset: Dataset,
    *,
    key: str,
    model: dict,
    config: dict,
    command: str | None,
    file_name: str,
) -> dict:
    """The summary of a finished reference run: provenance, diagnostics in function and
    weight space, acceptance, predictive mean and sd, the ``compact`` section."""
    idata = result.idata
    post = idata["posterior"].to_dataset()
    fs = function_space_diagnostics(idata)
    template = hidden_template(post)
    ws = weight_diagnostics(post, template)
    stats = idata["sample_stats"]
    p = result.p_test
    acceptance: dict[str, Any] = {
        "rhat_max_pred": {
            "value": fs["rhat_max"],
            "limit": ACCEPT_RHAT,
            "ok": fs["rhat_max"] <= ACCEPT_RHAT,
        },
        "ess_bulk_min_pred": {
            "value": fs["ess_bulk_min"],
            "limit": ACCEPT_ESS_BULK,
            "ok": fs["ess_bulk_min"] >= ACCEPT_ESS_BULK,
        },
    }
    acceptance["passed"] = all(a["ok"] for a in acceptance.values())
    truth = None
    if dataset.p_test_true is not None:
        truth = truth_comparison(p, dataset.p_test_true)
    return {
        "schema": REFERENCE_SCHEMA,
        "schema_version": REFERENCE_SCHEMA_VERSION,
        "key": key,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": command,
        "machine": machine_info(),
        "versions": library_versions(),
        "sampler": result.sampler,
        "backend": result.backend,
        "dataset": dataset.describe(),
        "data_hash": dataset.array_hash(),
        "model": model,
        "config": config,
        "timings": result.timings,
        "n_grad_evals": result.n_grad_evals,
        "diagnostics": {
            "function_space": fs,
            "weight_space": ws,
            "divergences": int(stats["diverging"].sum()),
            "n_draws": int(stats["diverging"].size),
            "tree_depth_mean": float(stats["depth"].mean()) if "depth" in stats else None,
            "step_size_mean": float(stats["step_size"].mean()) if "step_size" in stats else None,
        },
        "acceptance": acceptance,
        "alignment": dict(ALIGNMENTS),
        "pred_mean": p.mean(axis=0).tolist(),
        "pred_sd": p.std(axis=0).tolist(),
        "truth": truth,
        "compact": compact_fields(post, p, template),
        "files": {"draws": file_name},
    }


def read_summary(js: Path) -> dict:
    """A reference summary file, checked.

    Raises
    ------
    BadInput
        Unreadable, not a reference summary, another schema version, missing fields.
    """
    try:
        summary = json.loads(js.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BadInput(f"{js}: corrupted reference summary ({err})") from err
    if not isinstance(summary, dict) or summary.get("schema") != REFERENCE_SCHEMA:
        raise BadInput(f"{js}: not a bnn-bench reference summary (schema {REFERENCE_SCHEMA!r})")
    if summary.get("schema_version") != REFERENCE_SCHEMA_VERSION:
        raise BadInput(
            f"{js}: reference schema_version {summary.get('schema_version')!r}, this bnn-bench "
            f"reads {REFERENCE_SCHEMA_VERSION}"
        )
    check_struct(summary, _Summary, str(js))
    return summary
