"""Mean-field ADVI (Kucukelbir et al. 2017) through PyMC."""

from __future__ import annotations

from bnn_models.data import Dataset
from bnn_models.inference._gaussian_vi import fit_gaussian_vi
from bnn_models.inference._result import FitResult

__all__ = ["fit_advi"]


def fit_advi(
    *,
    dataset: Dataset,
    seed: int = 0,
    n_hidden: int = 12,
    prior_sigma: float = 1.0,
    max_iter: int = 30_000,
    optimizer: str = "adam",
    learning_rate: float = 1e-2,
    draws: int = 1000,
    window: int = 5000,
    tol: float = 1e-3,
    stop_on_convergence: bool = True,
    grad_norm_clip: float | None = None,
    obj_n_mc: int = 1,
    progressbar: bool = True,
) -> FitResult:
    """Fit a mean-field Gaussian approximation by maximising the ELBO.

    Parameters
    ----------
    dataset : Dataset
        Training rows to fit, test rows to predict.
    seed : int
        Seeds the optimisation, the draws and the prediction.
    n_hidden, prior_sigma : int, float
        Passed to :func:`bnn_models.model.build_bnn`.
    max_iter : int
        Most optimisation steps.
    optimizer, learning_rate : str, float
        A name from :data:`bnn_models.inference._gaussian_vi.OPTIMIZERS` and its rate.
        Default Adam at 0.01: on the rupture data it reached the lowest final loss of
        the optimizers swept (869 vs 882-890 nats; ``scripts/vi_optimizer_sweep.py``,
        README 'Choosing the VI optimizers').
    draws : int
        Draws from the fitted approximation.
    window, tol : int, float
        Convergence rule (:class:`ELBOConvergence`).
    stop_on_convergence : bool
        End the fit when the rule fires (else run ``max_iter`` and only record it).
    grad_norm_clip : float, optional
        Bound on the gradient's total norm.
    obj_n_mc : int
        Monte Carlo samples per gradient of the ELBO.
    progressbar : bool
        Show progress.

    Returns
    -------
    FitResult
    """
    return fit_gaussian_vi(
        "advi",
        dataset=dataset,
        seed=seed,
        n_hidden=n_hidden,
        prior_sigma=prior_sigma,
        max_iter=max_iter,
        optimizer=optimizer,
        learning_rate=learning_rate,
        draws=draws,
        window=window,
        tol=tol,
        stop_on_convergence=stop_on_convergence,
        grad_norm_clip=grad_norm_clip,
        obj_n_mc=obj_n_mc,
        progressbar=progressbar,
    )
