"""Full-rank ADVI: a Gaussian approximation with a dense covariance, through PyMC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pymc as pm

from bnn_models.data import Dataset
from bnn_models.inference._gaussian_vi import GaussianVISettings, fit_gaussian_vi
from bnn_models.inference._method import Method, require
from bnn_models.inference._result import FitResult
from bnn_models.inference.advi import ADVISettings
from bnn_models.inference.context import FitContext

__all__ = ["METHOD", "FullRankADVISettings", "fit_fullrank_advi"]


@dataclass(frozen=True)
class FullRankADVISettings(GaussianVISettings):
    """Full-rank ADVI's defaults: start from mean-field ADVI, then Adam at 1e-4.

    From PyMC's own start (zero mean, identity factor) no Adam rate made the
    convergence rule fire in every seed in reasonable time (``studies/vi_optimizer_sweep``).
    Started from a mean-field ADVI fit (same model and seed: its mean and sds, no
    correlation) it converges in every seed, at a better ELBO than the cold start
    (``studies/fullrank_schedule``, whose README quotes the numbers from its results).
    Fields: :class:`GaussianVISettings`, the warm start's and ``packed_factor`` below.
    """

    #: PyMC's inference class of this approximation.
    inference_class: ClassVar[type] = pm.FullRankADVI
    max_iter: int = 20_000
    learning_rate: float = 1e-4
    window: int = 2000
    #: Start from a mean-field ADVI fit (same model and seed) instead of PyMC's start
    #: (zero mean, identity factor); its stage runs ADVI's optimizer and learning rate
    #: for up to ``warm_max_iter`` steps under the same rule with ``warm_window``.
    warm_start: bool = True
    #: Most steps of the warm start's mean-field stage.
    warm_max_iter: int = 10_000
    #: The convergence rule's window in the warm start's mean-field stage.
    warm_window: int = 2000
    #: Opt-in, never the default: the draw ``z = mu + L eps`` and ``log det L`` as one
    #: custom Op on the packed factor, no dense 121 x 121 factor built by advanced
    #: indexing (:mod:`bnn_models.accel.packed_factor`): the same steps (to ~1e-11),
    #: fewer microseconds per step. No JAX implementation.
    packed_factor: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("warm_max_iter", "warm_window"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(
            not (self.packed_factor and self.backend == "jax"),
            "packed_factor",
            self.packed_factor,
            "false with backend 'jax' (the packed factor's Ops have no JAX implementation)",
        )

    def vi_class(self) -> type:
        """PyMC's ``pm.FullRankADVI``; with ``packed_factor``, its subclass whose group
        draws through the packed factor's Op (:class:`PackedFullRankADVI`)."""
        if not self.packed_factor:
            return self.inference_class
        from bnn_models.accel.packed_factor import PackedFullRankADVI  # only when asked

        return PackedFullRankADVI

    def warm_settings(self) -> ADVISettings | None:
        """The mean-field stage's settings (None without a warm start)."""
        if not self.warm_start:
            return None
        return ADVISettings(
            max_iter=self.warm_max_iter,
            window=self.warm_window,
            tol=self.tol,
            backend=self.backend,
            n_hidden=self.n_hidden,
            prior_sigma=self.prior_sigma,
            fused=self.fused,
        )


def fit_fullrank_advi(
    *,
    dataset: Dataset,
    settings: FullRankADVISettings = FullRankADVISettings(),  # noqa: B008 - frozen
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Fit a full-rank Gaussian approximation (dense covariance) by maximising the ELBO.

    Parameters and returns as :func:`bnn_models.inference.advi.fit_advi`.
    """
    return fit_gaussian_vi(
        settings.vi_class(),
        dataset=dataset,
        settings=settings,
        seed=seed,
        context=context,
        warm=settings.warm_settings(),
    )


METHOD = Method(
    name="fullrank_advi",
    label="full-rank ADVI",
    family="vi",
    fit=fit_fullrank_advi,
    settings=FullRankADVISettings,
    quick={
        "max_iter": 2000,
        "draws": 200,
        "window": 500,
        "warm_max_iter": 3000,
        "warm_window": 500,
    },
    engine="pymc",
    accelerations=("fused", "numba_positional", "packed_factor"),
    description="Gaussian approximation with a dense covariance (pm.FullRankADVI)",
)
