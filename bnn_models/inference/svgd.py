"""Stein variational gradient descent (Liu & Wang 2016) through ``pm.fit(method="svgd")``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._gaussian_vi import OPTIMIZERS
from bnn_models.inference._mcmc import posterior_dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "SVGDSettings", "fit_svgd"]


@dataclass(frozen=True)
class SVGDSettings(Settings):
    """Settings of SVGD.

    Attributes
    ----------
    particles : int
        Particles; each is one draw. 100 is what the particle count must beat: the
        report's function-space sd needs ~100 draws for a 10% Monte Carlo error of an
        sd (1/sqrt(2(n-1))), and the kernel's cost grows as particles^2 (100^2 x 121
        weights is still small next to 100 gradients over 1,600 rows per step).
    max_iter : int
        Steps of the particles.
    optimizer, learning_rate : str, float
        A name from :data:`~bnn_models.inference.OPTIMIZERS` and its rate.
    jitter : float
        Sd of the particles' random start around zero.
    temperature : float
        Weight of the kernel's repulsion (1: SVGD).
    """

    particles: int = 100
    max_iter: int = 3000
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    jitter: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.particles >= 2, "particles", self.particles, ">= 2")
        require(self.max_iter >= 1, "max_iter", self.max_iter, ">= 1")
        require(
            self.optimizer in OPTIMIZERS,
            "optimizer",
            self.optimizer,
            f"one of {sorted(OPTIMIZERS)}",
        )
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        require(self.jitter > 0, "jitter", self.jitter, "> 0")
        require(self.temperature > 0, "temperature", self.temperature, "> 0")


class _FirstStep:
    """A ``pm.fit`` callback that notes when the first step finished (compile time)."""

    at: float | None = None

    def __call__(self, approx: object, losses: object, i: int) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def fit_svgd(
    *,
    dataset: Dataset,
    settings: SVGDSettings = SVGDSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Move ``particles`` particles with SVGD; the particles are the draws."""
    context = context or FitContext()
    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    first = _FirstStep()
    # PyMC's Empirical jitters the particles' start with NumPy's global generator,
    # whatever random_seed says: seed it for the construction, and restore it after.
    state = np.random.get_state()  # noqa: NPY002 - the generator PyMC uses
    np.random.seed(seed)  # noqa: NPY002
    try:
        with model:
            inference = pm.SVGD(
                n_particles=s.particles,
                jitter=s.jitter,
                temperature=s.temperature,
                random_seed=seed,
            )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    with model:
        approx = inference.fit(
            s.max_iter,
            obj_optimizer=OPTIMIZERS[s.optimizer](learning_rate=s.learning_rate),
            callbacks=[first, context.check],
            progressbar=context.progressbar,
        )
    t2 = time.perf_counter()
    t1 = first.at or t2
    group = approx.groups[0]
    particles = np.asarray(group.histogram.get_value())
    draws = {
        name: particles[:, slc].reshape(1, s.particles, *shape)
        for name, slc, shape, _ in group.ordering.values()
    }
    idata = xr.DataTree()
    idata["posterior"] = posterior_dataset(model, {n: draws[n] for n in PARAMS})
    t3 = time.perf_counter()
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t4 = time.perf_counter()
    status, error = "ok", None
    if not np.all(np.isfinite(particles)):
        status, error = "failed", "non-finite particles"
    return FitResult(
        method="",
        family="particles",
        idata=idata,
        loss=None,
        timings={
            "compile_s": t1 - t0,
            "fit_s": t2 - t1,
            "draw_s": t3 - t2,
            "predict_s": t4 - t3,
            "total_s": t4 - t0,
        },
        n_grad_evals=s.max_iter * s.particles,
        convergence={"iterations": s.max_iter},
        config={"seed": seed, **s.as_config()},
        sampler=f"pymc.SVGD {library_versions()['pymc']}",
        backend=pytensor_backend(),
        status=status,
        error=error,
    )


METHOD = Method(
    name="svgd",
    label="SVGD",
    family="particles",
    fit=fit_svgd,
    settings=SVGDSettings,
    quick={"particles": 20, "max_iter": 300},
    engine="pymc",
    accelerations=("fused",),
    description="Stein variational gradient descent: 100 particles, RBF kernel (pm.SVGD)",
)
