"""Mean-field ADVI (Kucukelbir et al. 2017) through PyMC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pymc as pm

from bnn_models.data import Dataset
from bnn_models.inference._gaussian_vi import GaussianVISettings, fit_gaussian_vi
from bnn_models.inference._method import Method
from bnn_models.inference._result import FitResult
from bnn_models.inference.context import FitContext

__all__ = ["METHOD", "ADVISettings", "fit_advi"]


@dataclass(frozen=True)
class ADVISettings(GaussianVISettings):
    """Mean-field ADVI's defaults: Adam at 0.01 for up to 30,000 steps.

    On the rupture data Adam at 0.01 reached the lowest final loss of the optimizers
    swept (869 against 882-890 nats; the study ``studies/vi_optimizer_sweep``).
    Fields: :class:`GaussianVISettings`.
    """

    #: PyMC's inference class of this approximation.
    inference_class: ClassVar[type] = pm.ADVI
    max_iter: int = 30_000
    learning_rate: float = 1e-2


def fit_advi(
    *,
    dataset: Dataset,
    settings: ADVISettings = ADVISettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Fit a mean-field Gaussian approximation by maximising the ELBO.

    Parameters
    ----------
    dataset : Dataset
        Training rows to fit, test rows to predict.
    settings : ADVISettings
        The method's settings.
    seed : int
        Seeds the optimisation, the draws and the prediction.
    context : FitContext, optional
        Progress bar and deadline (:mod:`bnn_models.inference.context`; default: a
        progress bar, no limit).

    Returns
    -------
    FitResult
        With the loss trace, and ``vi_importance`` (log p and log q per draw).
    """
    return fit_gaussian_vi(
        settings.vi_class(),
        dataset=dataset,
        settings=settings,
        seed=seed,
        context=context,
    )


METHOD = Method(
    name="advi",
    label="ADVI (mean-field)",
    family="vi",
    fit=fit_advi,
    settings=ADVISettings,
    quick={"max_iter": 3000, "draws": 200, "window": 500},
    engine="pymc",
    accelerations=("fused", "numba_positional"),
    description="mean-field Gaussian approximation, ELBO maximised with Adam (pm.ADVI)",
)
