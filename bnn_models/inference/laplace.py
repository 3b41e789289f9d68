"""The Laplace approximation: a Gaussian at the MAP with the inverse Hessian as covariance.

pymc-extras' ``fit_laplace`` finds the mode (trust-region Newton-CG, with exact
Hessian-vector products) and builds the Gaussian from the Hessian there. At a mode the
negative Hessian of the log posterior is positive definite (the Normal priors add
1/sigma^2 to every eigenvalue); where the optimiser stopped short of one (a saddle of
the ReLU network, or a flat direction of a dead unit) it is not: pymc-extras then
replaces it with the nearest positive semi-definite matrix (negative eigenvalues set
to 0), whose inverse does not exist. This module computes the Hessian's eigenvalues
itself: it fails the fit, with the numbers, when the smallest is <= 0, and records them
(``counts``) in every fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._importance import gaussian_importance
from bnn_models.inference._mcmc import posterior_dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._point import prior_start
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult
from bnn_models.model import PARAMS, build_bnn
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "LaplaceSettings", "fit_laplace"]


@dataclass(frozen=True)
class LaplaceSettings(Settings):
    """Settings of the Laplace approximation.

    Attributes
    ----------
    draws : int
        Draws from the Gaussian.
    optimizer : str
        scipy's method for the mode (one that uses the Hessian, so the covariance is
        the exact inverse Hessian, not BFGS' running approximation).
    """

    draws: int = 1000
    optimizer: str = "trust-ncg"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.draws >= 1, "draws", self.draws, ">= 1")
        options = ("trust-ncg", "trust-exact", "trust-krylov", "Newton-CG")
        require(self.optimizer in options, "optimizer", self.optimizer, f"one of {options}")


def _order(rows: list[str]) -> list[tuple[str, slice]]:
    """(variable, slice) of pymc-extras' flat vector, from its row labels ``W0[x0,1]``."""
    names = [r.split("[")[0] for r in rows]
    out, start = [], 0
    for name in dict.fromkeys(names):
        size = names.count(name)
        out.append((name, slice(start, start + size)))
        start += size
    return out


def fit_laplace(
    *,
    dataset: Dataset,
    settings: LaplaceSettings = LaplaceSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    progressbar: bool = True,
) -> FitResult:
    """Gaussian at the MAP (from a prior-draw start) with the inverse Hessian."""
    from pymc_extras.inference import fit_laplace as pmx_fit_laplace

    s = settings
    t0 = time.perf_counter()
    model = build_bnn(
        dataset.X_train,
        dataset.y_train,
        n_hidden=s.n_hidden,
        prior_sigma=s.prior_sigma,
        feature_names=dataset.feature_names,
    )
    t1 = time.perf_counter()
    fitted = pmx_fit_laplace(
        s.optimizer,
        model=model,
        initvals=prior_start(model, seed),
        random_seed=seed,
        draws=s.draws,
        progressbar=progressbar,
        include_transformed=False,
    )
    t2 = time.perf_counter()
    fit = fitted["fit"].to_dataset()
    mean = fit["mean_vector"].values
    cov = fit["covariance_matrix"].values
    order = _order([str(r) for r in fit["rows"].values])
    # The exact Hessian of -log p at the mode, from PyMC: its eigenvalues say whether
    # the Gaussian exists.
    mode = {name: mean[slc] for name, slc in order}
    shapes = {v.name: model.initial_point()[v.name].shape for v in model.value_vars}
    hess = model.compile_d2logp()({n: x.reshape(shapes[n]) for n, x in mode.items()})
    eig = np.linalg.eigvalsh(np.asarray(hess))
    counts = {
        "hessian_min_eig": float(eig.min()),
        "hessian_max_eig": float(eig.max()),
        "hessian_nonpositive": int((eig <= 0).sum()),
        "optimizer_iterations": int(fitted["optimizer_result"]["nit"].values),
    }
    status, error = "ok", None
    if eig.min() <= 0:
        status = "failed"
        error = (
            f"the Hessian of -log p at the optimiser's end point is not positive definite "
            f"({counts['hessian_nonpositive']} of {eig.size} eigenvalues <= 0, smallest "
            f"{eig.min():.3g}): no Gaussian there (pymc-extras would use the nearest "
            "positive semi-definite matrix, whose inverse does not exist)"
        )
    post = fitted["posterior"].to_dataset()
    draws = {n: post[n].values for n in PARAMS}
    idata = xr.DataTree()
    idata["posterior"] = posterior_dataset(model, draws)
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t3 = time.perf_counter()
    if status == "ok":
        idata["vi_importance"] = gaussian_importance(
            model, idata["posterior"].to_dataset(), mean=mean, cov=cov, order=order
        )
    return FitResult(
        method="",
        family="vi",
        idata=idata,
        loss=None,
        timings={
            # pymc-extras compiles, optimises and draws in one call: all of it is fit_s.
            "compile_s": t1 - t0,
            "fit_s": t2 - t1,
            "draw_s": 0.0,
            "predict_s": t3 - t2,
            "total_s": t3 - t0,
        },
        n_grad_evals=int(fitted["optimizer_result"]["njev"].values),
        convergence={
            "optimizer": s.optimizer,
            "success": bool(fitted["optimizer_result"]["success"].values),
        },
        config={"seed": seed, **s.as_config()},
        sampler=f"pymc_extras.fit_laplace {library_versions()['pymc-extras']} ({s.optimizer})",
        status=status,
        error=error,
        counts=counts,
    )


METHOD = Method(
    name="laplace",
    label="Laplace",
    family="vi",
    fit=fit_laplace,
    settings=LaplaceSettings,
    quick={"draws": 200},
    engine="pymc_extras",
    description="Gaussian at the MAP with the inverse Hessian as covariance (pymc-extras)",
)
