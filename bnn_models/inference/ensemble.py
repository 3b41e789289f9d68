"""A deep ensemble: K maximum-a-posteriori fits from independent random starts.

The usual non-Bayesian baseline of Bayesian deep learning (Lakshminarayanan et al.
2017): each member is one "draw", so the spread is that between modes, not within one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._mcmc import posterior_dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._point import PosteriorMode, prior_start
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "EnsembleSettings", "fit_ensemble"]


@dataclass(frozen=True)
class EnsembleSettings(Settings):
    """Settings of the ensemble.

    Attributes
    ----------
    members : int
        K, the number of MAP fits (each one draw).
    maxiter : int
        Most L-BFGS-B iterations per member.
    """

    members: int = 10
    maxiter: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.members >= 2, "members", self.members, ">= 2")
        require(self.maxiter >= 1, "maxiter", self.maxiter, ">= 1")


def _member_stages(p: np.ndarray, done: list[tuple[float, int]]) -> xr.Dataset | None:
    """The first 1, 2, 4, ... members (fewer than all) as states of the fit (the
    ``anytime`` group of :mod:`bnn_models.anytime`); ``p``: (members, obs)."""
    ks = [k for k in (1, 2, 4, 8, 16, 32) if k < p.shape[0]]
    if not ks:
        return None
    return xr.Dataset(
        {
            "p_mean": (("stage", "obs"), np.stack([p[:k].mean(axis=0) for k in ks])),
            "p_sd": (("stage", "obs"), np.stack([p[:k].std(axis=0) for k in ks])),
            "seconds": ("stage", np.array([done[k - 1][0] for k in ks])),
            "grad_evals": ("stage", np.array([done[k - 1][1] for k in ks], dtype=np.int64)),
            "n_draws": ("stage", np.array(ks, dtype=np.int64)),
        },
        coords={"stage_label": ("stage", [f"{k} of {p.shape[0]} members" for k in ks])},
    )


def fit_ensemble(
    *,
    dataset: Dataset,
    settings: EnsembleSettings = EnsembleSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """K MAP fits (L-BFGS-B on PyMC's compiled log posterior) from prior-draw starts."""
    context = context or FitContext()
    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    mode = PosteriorMode(model)
    t1 = time.perf_counter()
    members, n_grad, unconverged = [], 0, 0
    done: list[tuple[float, int]] = []  # seconds and gradients after each member
    for child in np.random.SeedSequence(seed).spawn(s.members):
        context.check()
        point, result = mode.fit(prior_start(model, child), maxiter=s.maxiter)
        members.append(point)
        n_grad += int(result.njev)
        unconverged += not result.success
        done.append((time.perf_counter() - t1, n_grad))
    t2 = time.perf_counter()
    draws = {n: np.stack([m[n] for m in members])[None] for n in PARAMS}
    idata = xr.DataTree()
    idata["posterior"] = posterior_dataset(model, draws)
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t3 = time.perf_counter()
    stages = _member_stages(np.asarray(idata["predictions"]["p"].to_numpy())[0], done)
    if stages is not None:
        idata["anytime"] = stages
    warnings = (
        (f"{unconverged} of {s.members} members stopped before L-BFGS-B converged",)
        if unconverged
        else ()
    )
    return FitResult(
        method="",
        family="ensemble",
        idata=idata,
        loss=None,
        timings={
            "compile_s": t1 - t0,
            "fit_s": t2 - t1,
            "draw_s": 0.0,
            "predict_s": t3 - t2,
            "total_s": t3 - t0,
        },
        n_grad_evals=n_grad,
        convergence={"members": s.members, "unconverged": unconverged},
        config={"seed": seed, **s.as_config()},
        sampler=f"scipy L-BFGS-B {library_versions()['scipy']} x {s.members}",
        backend=pytensor_backend(),
        warnings=warnings,
    )


METHOD = Method(
    name="ensemble",
    label="Ensemble of 10 MAPs",
    family="ensemble",
    fit=fit_ensemble,
    settings=EnsembleSettings,
    quick={"members": 5},
    engine="scipy",
    accelerations=("fused",),
    description="K=10 MAP fits (L-BFGS-B) from independent prior-draw starts, each a draw",
)
