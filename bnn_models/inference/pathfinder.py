"""Multi-path Pathfinder (Zhang et al. 2022) from pymc-extras.

Each path runs L-BFGS from a jittered start and fits a Gaussian (low-rank plus
diagonal, from the optimiser's inverse-Hessian estimate) at the point of its path with
the highest ELBO; the paths' draws are pooled and resampled by Pareto-smoothed
importance weights, whose Pareto k (pymc-extras' own) is the method's k-hat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._mcmc import posterior_dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "PathfinderSettings", "fit_pathfinder"]


@dataclass(frozen=True)
class PathfinderSettings(Settings):
    """Settings of multi-path Pathfinder (pymc-extras' defaults but ``parallel``).

    Attributes
    ----------
    paths : int
        Independent L-BFGS paths.
    draws : int
        Draws kept after importance resampling.
    draws_per_path : int
        Draws from each path's Gaussian before resampling.
    jitter : float
        Half-width of the uniform jitter of each path's start.
    parallel : bool
        One process per path (pymc-extras' default); off by default here: on two cores
        starting the processes cost more than the paths.
    """

    paths: int = 4
    draws: int = 1000
    draws_per_path: int = 1000
    jitter: float = 2.0
    parallel: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("paths", "draws", "draws_per_path"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(self.jitter > 0, "jitter", self.jitter, "> 0")


def fit_pathfinder(
    *,
    dataset: Dataset,
    settings: PathfinderSettings = PathfinderSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Fit multi-path Pathfinder; its PSIS Pareto k is stored as ``engine_psis``."""
    context = context or FitContext()
    from pymc_extras.inference import fit_pathfinder as pmx_fit_pathfinder

    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    t1 = time.perf_counter()
    fitted = pmx_fit_pathfinder(
        model=model,
        num_paths=s.paths,
        num_draws=s.draws,
        num_draws_per_path=s.draws_per_path,
        jitter=s.jitter,
        random_seed=seed,
        progressbar=context.progressbar,
        parallel=s.parallel,
        importance_sampling="psis",
    )
    t2 = time.perf_counter()
    info = fitted["pathfinder"].to_dataset()
    post = fitted["posterior"].to_dataset()
    idata = xr.DataTree()
    idata["posterior"] = posterior_dataset(model, {n: post[n].values for n in PARAMS})
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t3 = time.perf_counter()
    khat = float(info["pareto_k"].values) if "pareto_k" in info else float("nan")
    idata["engine_psis"] = xr.Dataset(
        {"khat": khat},
        attrs={"source": "pymc-extras' Pareto k of the paths' pooled importance weights"},
    )
    compile_s = float(info["compile_time"].values)
    lbfgs = fitted["lbfgs"].to_dataset() if "lbfgs" in fitted.children else None
    n_iter = int(lbfgs["niter"].sum()) if lbfgs is not None else None
    status, error = "ok", None
    if bool(info["all_paths_failed"].values):
        status, error = "failed", "every Pathfinder path failed"
    return FitResult(
        method="",
        family="vi",
        idata=idata,
        loss=None,
        timings={
            "compile_s": (t1 - t0) + compile_s,
            "fit_s": (t2 - t1) - compile_s,
            "draw_s": 0.0,
            "predict_s": t3 - t2,
            "total_s": t3 - t0,
        },
        n_grad_evals=n_iter,
        convergence={
            "paths_ok": int(info["num_successful_paths"].values),
            "paths": s.paths,
            "lbfgs_iterations": n_iter,
        },
        config={"seed": seed, **s.as_config()},
        sampler=f"pymc_extras.fit_pathfinder {library_versions()['pymc-extras']}",
        backend=pytensor_backend(),
        status=status,
        error=error,
        counts={"pareto_k": khat},
    )


METHOD = Method(
    name="pathfinder",
    label="Pathfinder",
    family="vi",
    fit=fit_pathfinder,
    settings=PathfinderSettings,
    quick={"draws": 200, "draws_per_path": 200},
    engine="pymc_extras",
    accelerations=("fused",),
    description="multi-path Pathfinder: L-BFGS paths, Gaussian fits, PSIS resampling (pymc-extras)",
)
