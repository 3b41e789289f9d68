"""log p and log q at the draws of a Gaussian approximation: what PSIS needs."""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr
from scipy.linalg import solve_triangular
from scipy.stats import multivariate_normal

__all__ = ["gaussian_importance"]


def gaussian_importance(
    model: pm.Model,
    posterior: xr.Dataset,
    *,
    mean: np.ndarray,
    order: list[tuple[str, slice]],
    cov: np.ndarray | None = None,
    chol: np.ndarray | None = None,
) -> xr.Dataset:
    """``log_p`` = log p(theta, y) and ``log_q`` = log q(theta) at every draw theta of q.

    ``log_p - log_q`` is the log importance ratio that PSIS smooths (Yao et al. 2018).
    Every parameter of the BNN is an untransformed Normal, so theta is the flat vector
    of the draws in the approximation's own ``order`` (variable name, slice of theta)
    and no Jacobian enters; log q is the Gaussian density N(``mean``, ``cov``)
    (:data:`scipy.stats.multivariate_normal`, which accepts a singular ``cov`` only
    with ``allow_singular``: a covariance that is not positive definite raises).

    Give the approximation as it is held: ``chol``, a lower-triangular factor L with
    cov = L L^T (full-rank ADVI's own parameters; a diagonal for mean-field), or ``cov``
    (Laplace's inverse Hessian). From L, log q is computed by a triangular solve: forming
    L L^T first can lose positive definiteness in rounding when some of L's diagonal is
    tiny (full-rank ADVI at 961 parameters did), though q itself is a proper Gaussian.
    """
    if (cov is None) == (chol is None):
        raise ValueError("gaussian_importance: give exactly one of cov and chol")
    sizes = (posterior.sizes["chain"], posterior.sizes["draw"])
    theta = np.empty((sizes[0] * sizes[1], len(mean)))
    for name, slc in order:
        if name not in posterior:
            raise ValueError(
                f"vi_importance: {name!r} is a transformed parameter; expected draws of it"
            )
        theta[:, slc] = posterior[name].values.reshape(theta.shape[0], -1)
    if chol is not None:
        z = solve_triangular(chol, (theta - mean).T, lower=True)
        log_det = np.sum(np.log(np.abs(np.diag(chol))))
        log_q = -0.5 * np.sum(z**2, axis=0) - log_det - 0.5 * len(mean) * np.log(2 * np.pi)
    else:
        log_q = multivariate_normal(mean=mean, cov=cov).logpdf(theta)
    logp_fn = model.compile_logp()
    shapes = {name: posterior[name].shape[2:] for name, _ in order}
    log_p = np.array([logp_fn({n: row[s].reshape(shapes[n]) for n, s in order}) for row in theta])
    dims = ("chain", "draw")
    coords = {d: posterior[d].values for d in dims}
    return xr.Dataset(
        {"log_p": (dims, log_p.reshape(sizes)), "log_q": (dims, log_q.reshape(sizes))},
        coords=coords,
        attrs={"description": "log p(theta, y) (model.compile_logp) and log q(theta) per draw"},
    )
