"""The Laplace approximation: a Gaussian at the MAP with the inverse Hessian as covariance.

The mode comes from pymc-extras' ``find_MAP`` with L-BFGS-B from a prior-draw start;
the covariance is the inverse of the exact Hessian of -log p there (PyMC's
``compile_d2logp``), not L-BFGS' running approximation of it; pymc-extras'
``draws_from_laplace_approx`` draws from the Gaussian. (pymc-extras' own
``fit_laplace`` with a Hessian-based optimiser, trust-ncg or trust-exact, stops short
of the mode on this ReLU network: "A bad approximation caused failure to predict
improvement", gradient norm ~2, Hessian indefinite.)

At a mode the negative Hessian is positive definite (the Normal priors add 1/sigma^2
to every eigenvalue). Where the optimiser stopped short of one it may not be: then no
Gaussian exists there, and the fit fails with the number of non-positive eigenvalues
and the smallest (pymc-extras would replace the matrix with its nearest positive
semi-definite one, whose inverse does not exist). The eigenvalues are recorded in
``counts`` of every fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._importance import gaussian_importance
from bnn_models.inference._mcmc import posterior_dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._point import prior_start
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions
from bnn_models.schema import NOT_APPLICABLE

__all__ = ["METHOD", "LaplaceSettings", "fit_laplace"]


@dataclass(frozen=True)
class LaplaceSettings(Settings):
    """Settings of the Laplace approximation.

    Attributes
    ----------
    draws : int
        Draws from the Gaussian.
    maxiter : int
        Most L-BFGS-B iterations for the mode.
    """

    draws: int = 1000
    maxiter: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.draws >= 1, "draws", self.draws, ">= 1")
        require(self.maxiter >= 1, "maxiter", self.maxiter, ">= 1")


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
    context: FitContext | None = None,
) -> FitResult:
    """Gaussian at the MAP (L-BFGS-B from a prior-draw start) with the exact inverse Hessian."""
    context = context or FitContext()
    from pymc.model.transform.optimization import freeze_dims_and_data
    from pymc_extras.inference.laplace_approx.find_map import find_MAP
    from pymc_extras.inference.laplace_approx.laplace import draws_from_laplace_approx

    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    # pymc-extras packs and unpacks the flat vector in the frozen model's order, as its
    # own fit_laplace does (the unfrozen model unpacks in another order).
    frozen = freeze_dims_and_data(model)
    t1 = time.perf_counter()
    found = find_MAP(
        method="L-BFGS-B",
        model=frozen,
        initvals=prior_start(model, seed),
        random_seed=seed,
        progressbar=context.progressbar,
        include_transformed=False,
        maxiter=s.maxiter,
    )
    fit = found["fit"].to_dataset()
    mean = fit["mean_vector"].values
    order = _order([str(r) for r in fit["rows"].values])
    mode = found["posterior"].to_dataset()
    point = {name: mode[name].values[0, 0] for name, _ in order}
    d2logp = model.compile_d2logp(vars=[model[name] for name, _ in order])
    hess = np.asarray(d2logp(point))  # -Hessian of log p, in the flat vector's order
    eig = np.linalg.eigvalsh(hess)
    t2 = time.perf_counter()
    optimizer = found["optimizer_result"].to_dataset()
    counts = {
        "hessian_min_eig": float(eig.min()),
        "hessian_max_eig": float(eig.max()),
        "hessian_nonpositive": int((eig <= 0).sum()),
        "optimizer_iterations": int(optimizer["nit"].values),
    }
    timings = {"compile_s": t1 - t0, "fit_s": t2 - t1}
    common: dict[str, Any] = {
        "method": "",
        "family": "vi",
        "loss": None,
        "n_grad_evals": int(optimizer["njev"].values),
        "convergence": {
            "optimizer": "L-BFGS-B",
            "success": bool(optimizer["success"].values),
            "message": str(optimizer["message"].values),
        },
        "config": {"seed": seed, **s.as_config()},
        "sampler": f"pymc_extras find_MAP + exact Hessian {library_versions()['pymc-extras']}",
        "backend": pytensor_backend(),
        "counts": counts,
    }
    if eig.min() <= 0:
        error = (
            f"the Hessian of -log p at the optimiser's end point is not positive definite "
            f"({counts['hessian_nonpositive']} of {eig.size} eigenvalues <= 0, smallest "
            f"{eig.min():.3g}): no Gaussian there"
        )
        total = time.perf_counter() - t0
        return FitResult(
            idata=xr.DataTree(),
            timings={**timings, "draw_s": 0.0, "predict_s": 0.0, "total_s": total},
            status=NOT_APPLICABLE,  # the method, not the code: no Gaussian exists there
            error=error,
            **common,
        )
    cov = np.linalg.inv(hess)
    cov = (cov + cov.T) / 2
    post, _ = draws_from_laplace_approx(
        mean=mean,
        covariance=cov,
        draws=s.draws,
        model=frozen,
        return_unconstrained=False,
        random_seed=seed,
    )
    t3 = time.perf_counter()
    idata = xr.DataTree()
    idata["posterior"] = posterior_dataset(model, {n: post[n].values for n in PARAMS})
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t4 = time.perf_counter()
    # A diagnostic of the fit, not part of the method: kept out of the timings.
    idata["vi_importance"] = gaussian_importance(
        model, idata["posterior"].to_dataset(), mean=mean, cov=cov, order=order
    )
    timings |= {"draw_s": t3 - t2, "predict_s": t4 - t3, "total_s": t4 - t0}
    return FitResult(idata=idata, timings=timings, **common)


METHOD = Method(
    name="laplace",
    label="Laplace",
    family="vi",
    fit=fit_laplace,
    settings=LaplaceSettings,
    quick={"draws": 200},
    engine="pymc_extras",
    description="Gaussian at the MAP (L-BFGS-B) with the exact inverse Hessian (pymc-extras)",
)
