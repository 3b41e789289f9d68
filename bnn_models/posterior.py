"""Tools on posterior draws of the BNN that no method owns: symmetry, R-hat/ESS, truth.

The weights' posterior is multimodal: relabelling the hidden units leaves the
network's function unchanged. :func:`align_hidden` relabels every draw to a common
template so weights can be compared within a mode; :func:`rhat_ess` is the one place
R-hat and ESS are summarised (ArviZ's ``rhat``/``ess``); :func:`truth_comparison`
compares predictive draws with known true probabilities (teacher data).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from bnn_models.errors import BadInput

__all__ = [
    "ALIGNMENTS",
    "align_hidden",
    "hidden_template",
    "rhat_ess",
    "truth_comparison",
    "weight_diagnostics",
]

#: Ways to relabel the hidden units of every draw (see :func:`align_hidden`).
ALIGNMENTS = {
    "sort_w1": "hidden units sorted by their output weight W1, per draw",
    "match": "hidden units matched, per draw, to a template by the Hungarian algorithm on "
    "the squared distance between units' (incoming W0 column, b0, outgoing W1) vectors; the "
    "template is the mean of the aligned reference draws (iterated from a W1 sort)",
}


def _unit_vectors(posterior: xr.Dataset) -> np.ndarray:
    """Every hidden unit's (W0 column, b0, W1) vector: shape (chain, draw, hidden, features + 2)."""
    w0 = posterior["W0"].transpose("chain", "draw", "hidden", ...).values
    b0 = posterior["b0"].transpose("chain", "draw", "hidden").values[..., None]
    w1 = posterior["W1"].transpose("chain", "draw", "hidden").values[..., None]
    return np.concatenate([w0, b0, w1], axis=-1)


def _match(units: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Per draw, the permutation ``perm`` with new unit j = old unit ``perm[j]``."""
    flat = units.reshape(-1, *units.shape[-2:])
    # cost[s, j, k]: squared distance of template unit j to unit k of draw s
    cost = (
        (template**2).sum(axis=-1)[None, :, None]
        + (flat**2).sum(axis=-1)[:, None, :]
        - 2 * np.einsum("jf,skf->sjk", template, flat)
    )
    perms = np.empty(flat.shape[:2], dtype=np.int64)
    for i, c in enumerate(cost):
        _, perms[i] = linear_sum_assignment(c)
    return perms.reshape(units.shape[:-1])


def _permute(posterior: xr.Dataset, perms: np.ndarray) -> xr.Dataset:
    out = posterior.copy()
    for name in ("W0", "b0", "W1"):
        da = posterior[name].transpose("chain", "draw", "hidden", ...)
        idx = perms.reshape(perms.shape + (1,) * (da.ndim - 3))
        out[name] = da.copy(data=np.take_along_axis(da.values, idx, axis=2)).transpose(
            *posterior[name].dims
        )
    return out


def hidden_template(posterior: xr.Dataset, *, n_iter: int = 5) -> np.ndarray:
    """A template of the hidden units for :func:`align_hidden` with ``method="match"``.

    Starts from the mean of the draws sorted by W1, then alternates matching every draw
    to the template and averaging the matched draws (a pivot relabelling in the manner
    of Stephens 2000), ``n_iter`` times.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of ``W0`` (feature, hidden), ``b0``, ``W1`` (hidden) over (chain, draw).
    n_iter : int
        Matching rounds.

    Returns
    -------
    numpy.ndarray, shape (hidden, features + 2)
    """
    units = _unit_vectors(posterior)
    order = np.argsort(units[..., -1], axis=-1)
    template = np.take_along_axis(units, order[..., None], axis=2).mean(axis=(0, 1))
    for _ in range(n_iter):
        perms = _match(units, template)
        new = np.take_along_axis(units, perms[..., None], axis=2).mean(axis=(0, 1))
        if np.allclose(new, template):
            break
        template = new
    return template


def align_hidden(
    posterior: xr.Dataset, *, method: str = "match", template: np.ndarray | None = None
) -> xr.Dataset:
    """Relabel the hidden units of every draw so that unit j means the same in all draws.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of ``W0`` (feature, hidden), ``b0``, ``W1`` (hidden), ``b1`` over
        (chain, draw).
    method : {"match", "sort_w1"}
        See :data:`ALIGNMENTS`.
    template : numpy.ndarray, optional
        For ``match``: shape (hidden, features + 2), e.g. a reference's
        :func:`hidden_template`; default: the template of ``posterior`` itself.

    Returns
    -------
    xarray.Dataset
        The same draws with the hidden units permuted per draw; the network's function
        at every draw is unchanged.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> w1 = np.array([[[2.0, -1.0], [-1.0, 2.0]]])  # 1 chain, 2 draws, 2 units
    >>> post = xr.Dataset({
    ...     "W0": (("chain", "draw", "feature", "hidden"), np.zeros((1, 2, 1, 2))),
    ...     "b0": (("chain", "draw", "hidden"), np.zeros((1, 2, 2))),
    ...     "W1": (("chain", "draw", "hidden"), w1),
    ...     "b1": (("chain", "draw"), np.zeros((1, 2)))})
    >>> align_hidden(post, method="sort_w1")["W1"].values.tolist()
    [[[-1.0, 2.0], [-1.0, 2.0]]]
    """
    if method not in ALIGNMENTS:
        raise BadInput(
            f"align_hidden: unknown method {method!r}; expected one of {list(ALIGNMENTS)}"
        )
    units = _unit_vectors(posterior)
    if method == "sort_w1":
        perms = np.argsort(units[..., -1], axis=-1, kind="stable")
    else:
        if template is None:
            template = hidden_template(posterior)
        if template.shape != units.shape[-2:]:
            raise BadInput(
                f"align_hidden: template of shape {template.shape} does not fit units of "
                f"shape {units.shape[-2:]} (hidden, features + 2)"
            )
        perms = _match(units, template)
    return _permute(posterior, perms)


def rhat_ess(data: xr.Dataset | xr.DataTree, **kw: object) -> dict:
    """Largest R-hat and smallest bulk and tail ESS over variables, overall and per variable.

    Parameters
    ----------
    data : xarray.Dataset or DataTree
        Draws over (chain, draw).
    **kw
        Passed to ``arviz.rhat`` and ``arviz.ess`` (``var_names``, ``group``).

    Returns
    -------
    dict
        ``rhat_max``, ``ess_bulk_min``, ``ess_tail_min``, and ``by_var`` with the same
        three per variable.
    """
    rhat = az.rhat(data, **kw)
    bulk = az.ess(data, method="bulk", **kw)
    tail = az.ess(data, method="tail", **kw)
    by_var = {
        v: {
            "rhat_max": float(rhat[v].max()),
            "ess_bulk_min": float(bulk[v].min()),
            "ess_tail_min": float(tail[v].min()),
        }
        for v in rhat.data_vars
    }
    return {
        "rhat_max": max(d["rhat_max"] for d in by_var.values()),
        "ess_bulk_min": min(d["ess_bulk_min"] for d in by_var.values()),
        "ess_tail_min": min(d["ess_tail_min"] for d in by_var.values()),
        "by_var": by_var,
    }


def weight_diagnostics(posterior: xr.Dataset, template: np.ndarray | None = None) -> dict:
    """R-hat and ESS of the weights, raw and after each alignment of :data:`ALIGNMENTS`.

    Raw weights mix the permutation modes that different chains fall into, so their
    R-hat is high and ESS low even when every chain mixes well within its mode; the
    aligned weights remove the permutation part of that (not the other symmetries).

    Returns
    -------
    dict
        ``{"raw" | "sort_w1" | "match": {"rhat_max", "ess_bulk_min", "ess_tail_min",
        "by_var"}}``.
    """
    out = {"raw": rhat_ess(posterior)}
    out["sort_w1"] = rhat_ess(align_hidden(posterior, method="sort_w1"))
    out["match"] = rhat_ess(align_hidden(posterior, method="match", template=template))
    return out


def truth_comparison(
    p: np.ndarray, truth: np.ndarray, *, probs: tuple[float, ...] = (0.5, 0.9)
) -> dict:
    """Predictive probabilities against the true ones (teacher data).

    Parameters
    ----------
    p : numpy.ndarray, shape (samples, test rows)
        Draws of the probability of label 1.
    truth : numpy.ndarray, shape (test rows,)
        The data-generating network's probabilities.
    probs : tuple of float
        Masses of the central intervals whose coverage is reported.

    Returns
    -------
    dict
        ``tv_mean`` (mean ``|E p - truth|``), ``tv_max``, ``rmse``; per mass (``50``, ``90``)
        ``coverage_50`` (share of points whose true probability lies in the central
        interval, ends included: a method right about its uncertainty covers as often as
        the mass says) and ``width_50`` (the intervals' mean width).
    """
    mean = p.mean(axis=0)
    diff = np.abs(mean - truth)
    out = {
        "tv_mean": float(diff.mean()),
        "tv_max": float(diff.max()),
        "rmse": float(np.sqrt(np.mean((mean - truth) ** 2))),
    }
    for prob in probs:
        lo, hi = np.quantile(p, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        out[f"coverage_{round(prob * 100)}"] = float(np.mean((truth >= lo) & (truth <= hi)))
        out[f"width_{round(prob * 100)}"] = float(np.mean(hi - lo))
    return out
