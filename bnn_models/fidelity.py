"""Fidelity of a fit to a reference posterior: function space, aligned weights, PSIS, truth.

The weights' posterior of the BNN is multimodal: relabelling the hidden units (12!
permutations) leaves the network's function unchanged, and so do other, per-unit
changes (a ReLU unit that is never active keeps its prior; a unit's incoming weights
may be scaled up and its outgoing weight down). Comparisons are therefore made

- in function space, on the test-set probabilities, which every symmetry leaves
  unchanged: class agreement, total variation of the predictive distributions, the
  ratio of predictive sds, Wasserstein-1 distance, and the share of test points whose
  predictive mean lies more than :data:`GATE_SD` reference sds from the reference's
  (the gate of Stan's performance tests, posteriordb);
- in weight space only after aligning the hidden units of every draw to a common
  template (:func:`align_hidden`), and only within a mode: per-weight sds are taken
  within each chain and averaged over chains, never pooled over chains, which may sit
  in different modes;
- for VI, by the Pareto k-hat of the importance ratios p(theta, y) / q(theta) over
  draws from q (PSIS, Yao et al. 2018), with ArviZ's PSIS.

Every function returns plain JSON-ready numbers.
"""

from __future__ import annotations

import arviz as az
import arviz_stats  # noqa: F401 - registers the ``azstats`` accessors used below
import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.inference import FitResult
from bnn_models.posterior import (
    ALIGNMENTS,
    align_hidden,
    hidden_template,
    truth_comparison,
    weight_diagnostics,
)
from bnn_models.reference import Reference

__all__ = [
    "ALIGNMENTS",
    "FUNCTION_SPACE_KEYS",
    "GATE_SD",
    "KHAT_THRESHOLD",
    "TRUTH_KEYS",
    "WEIGHT_SPACE_KEYS",
    "align_hidden",
    "compute_fidelity",
    "function_space",
    "hidden_template",
    "psis_diagnostics",
    "truth_comparison",
    "weight_diagnostics",
    "weight_space",
]

#: A test point fails the gate when its predictive mean differs from the reference's
#: by more than this many reference sds (the 0.3-sd rule of Stan's performance tests).
GATE_SD = 0.3

#: Pareto k-hat above which importance sampling from q is unreliable (Yao et al. 2018).
KHAT_THRESHOLD = 0.7

_SAMPLE = ("chain", "draw")


#: Keys of :func:`function_space` (also, prefixed ``psis_``, of the PSIS-corrected fit).
FUNCTION_SPACE_KEYS = (
    "class_agreement",
    "pred_tv_mean",
    "pred_tv_max",
    "pred_sd_ratio_mean",
    "pred_sd_ratio_median",
    "pred_sd_ratio_gmean",
    "pred_sd_ratio_q05",
    "pred_sd_ratio_q95",
    "share_mean_off_0p3sd",
    "pred_mean_z_median",
)
#: Keys of :func:`weight_space`.
WEIGHT_SPACE_KEYS = (
    "weight_alignment",
    "weight_sd_ratio_median",
    "weight_sd_ratio_gmean",
    "weight_sd_ratio_by_var",
    "pooled_raw_sd_ratio_median",
)
#: Keys of :func:`truth_comparison`.
TRUTH_KEYS = (
    "tv_mean",
    "tv_max",
    "rmse",
    "coverage_50",
    "coverage_90",
    "width_50",
    "width_90",
)


def _within_sd(posterior: xr.Dataset) -> xr.Dataset:
    """Per-weight sd within each chain, root-mean-squared over chains."""
    return posterior.var(dim="draw", ddof=1).mean(dim="chain") ** 0.5


def _idata(result: FitResult) -> xr.DataTree:
    if result.idata is None:
        raise BadInput(f"{result.method}: a failed fit ({result.error}) has no draws to compare")
    return result.idata


def weight_space(result: FitResult, reference: Reference) -> dict:
    """Per-weight posterior sd of a fit against the reference's, within a mode.

    Both the fit's and the reference's draws are aligned to the reference's template
    (``match`` of :data:`ALIGNMENTS`); sds are taken within each chain and
    root-mean-squared over chains (one chain for VI). ``weight_sd_ratio`` is the fit's
    sd over the reference's, per weight; its median and geometric mean summarise it,
    overall and per variable. ``pooled_raw_sd_ratio_median`` is the same ratio from
    unaligned draws pooled over chains, for contrast: it mixes modes.
    """
    fit = _idata(result)["posterior"].to_dataset()
    ref_sd = reference.within_chain_sd
    fit_sd = _within_sd(align_hidden(fit, method="match", template=reference.template))
    ratio = fit_sd / ref_sd
    logs = np.concatenate([np.log(ratio[v].values).ravel() for v in ratio.data_vars])
    pooled = fit.std(dim=_SAMPLE) / reference.pooled_sd
    pooled_all = np.concatenate([pooled[v].values.ravel() for v in pooled.data_vars])
    return {
        "weight_alignment": "match",
        "weight_sd_ratio_median": float(np.exp(np.median(logs))),
        "weight_sd_ratio_gmean": float(np.exp(logs.mean())),
        "weight_sd_ratio_by_var": {
            v: {
                "median": float(np.median(ratio[v].values)),
                "gmean": float(np.exp(np.log(ratio[v].values).mean())),
            }
            for v in ratio.data_vars
        },
        "pooled_raw_sd_ratio_median": float(np.median(pooled_all)),
    }


def _summary(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return p.mean(axis=0), p.std(axis=0)


def function_space(
    mean: np.ndarray, sd: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray, *, prefix: str = ""
) -> dict:
    """Symmetry-invariant comparison of predictive probabilities with the reference's.

    Parameters
    ----------
    mean, sd : numpy.ndarray, shape (test rows,)
        The fit's predictive mean and sd of the probability of label 1, per test point.
    ref_mean, ref_sd : numpy.ndarray
        The reference's.
    prefix : str
        Prepended to every key.

    Returns
    -------
    dict
        ``class_agreement``: share of test points with the same predicted class (mean
        probability >= 0.5) as the reference's posterior predictive. ``pred_tv_mean``,
        ``pred_tv_max``: total variation distance between the two Bernoulli posterior
        predictive distributions, ``|mean - ref_mean|``, averaged and largest over points.
        ``pred_sd_ratio_mean``, ``_median``, ``_gmean`` (geometric), ``_q05``,
        ``_q95``: sd / ref_sd per point. ``share_mean_off_0p3sd``: share of points with
        ``|mean - ref_mean| > 0.3 ref_sd`` (:data:`GATE_SD`); ``pred_mean_z_median``: the
        median of ``|mean - ref_mean| / ref_sd``.

    Examples
    --------
    >>> m = np.array([0.2, 0.7]); s = np.array([0.1, 0.1])
    >>> function_space(m, s, m, s)["pred_tv_mean"]
    0.0
    """
    floor = np.finfo(float).tiny
    diff = np.abs(mean - ref_mean)
    ratio = sd / np.maximum(ref_sd, floor)
    z = diff / np.maximum(ref_sd, floor)
    out = {
        "class_agreement": float(np.mean((mean >= 0.5) == (ref_mean >= 0.5))),
        "pred_tv_mean": float(diff.mean()),
        "pred_tv_max": float(diff.max()),
        "pred_sd_ratio_mean": float(ratio.mean()),
        "pred_sd_ratio_median": float(np.median(ratio)),
        "pred_sd_ratio_gmean": float(np.exp(np.mean(np.log(np.maximum(ratio, floor))))),
        "pred_sd_ratio_q05": float(np.quantile(ratio, 0.05)),
        "pred_sd_ratio_q95": float(np.quantile(ratio, 0.95)),
        "share_mean_off_0p3sd": float(np.mean(z > GATE_SD)),
        "pred_mean_z_median": float(np.median(z)),
    }
    return {prefix + k: v for k, v in out.items()}


def _wasserstein_mean(result: FitResult, reference: Reference) -> float:
    """Mean over test points of the Wasserstein-1 distance between predictive draws."""
    fit = _idata(result)["predictions"]
    n = min(fit.sizes["chain"] * fit.sizes["draw"], reference.p_test.shape[0], 2000)
    total = az.wasserstein(
        result.idata,
        reference.idata,
        group="predictions",
        var_names=["p"],
        joint=False,
        num_samples=n,
        round_to="none",
    )
    return float(total) / fit.sizes["obs"]


def psis_diagnostics(result: FitResult) -> dict | None:
    """Pareto k-hat of the importance ratios p(theta, y) / q(theta) of a VI fit.

    Uses the ``vi_importance`` group (log p and log q at every draw of q) and ArviZ's
    PSIS (``psislw``, r_eff = 1 for independent draws); or, where the engine smoothed
    its own weights (``engine_psis``: Pathfinder), the engine's k. None for a method
    without a density q (MCMC, SVGD, the ensemble).

    Returns
    -------
    dict or None
        ``khat``; ``khat_ok`` (``khat < 0.7``, :data:`KHAT_THRESHOLD`); ``ess`` and
        ``ess_share``: effective sample size of the smoothed weights,
        1 / sum(w^2), and its share of the draws; ``log_weights``: the normalised
        smoothed log weights over (chain, draw), for :func:`compute_fidelity`.
    """
    if result.idata is not None and "engine_psis" in result.idata.children:
        # The engine smoothed its own importance weights (Pathfinder): its k only; its
        # draws are already resampled by them, so there is nothing to reweight.
        khat = float(result.idata["engine_psis"].to_dataset()["khat"].item())
        return {
            "khat": khat,
            "khat_ok": bool(khat < KHAT_THRESHOLD),
            "ess": None,
            "ess_share": None,
            "log_weights": None,
        }
    if result.idata is None or "vi_importance" not in result.idata.children:
        return None
    terms = result.idata["vi_importance"].to_dataset()
    log_ratio = terms["log_p"] - terms["log_q"]
    # psislw smooths the weights exp(-x) (it is written for leave-one-out): pass -log ratio.
    log_w, khat = (-log_ratio).azstats.psislw(dim=list(_SAMPLE), r_eff=1.0)
    n = int(log_ratio.size)
    ess = float(1.0 / np.sum(np.exp(2 * log_w.values)))
    return {
        "khat": float(khat),
        "khat_ok": bool(float(khat) < KHAT_THRESHOLD),
        "ess": ess,
        "ess_share": ess / n,
        "log_weights": log_w.transpose(*_SAMPLE),
    }


def compute_fidelity(
    result: FitResult, dataset: Dataset, reference: Reference | None = None
) -> dict:
    """Every fidelity metric of one successful fit, as one flat JSON-ready dict.

    Parameters
    ----------
    result : FitResult
        The fit.
    dataset : Dataset
        Its data (the true probabilities are used where known).
    reference : Reference, optional
        A reference posterior of the same model and data
        (:func:`bnn_models.reference.build_reference`).

    Returns
    -------
    dict
        Always the same keys, None where one does not apply.
        ``reference``: the reference's key, or None; ``reference_skipped``: why a
        given reference was not used (other data or model), or None;
        ``reference_draws``: False when the reference is a compact summary, whose
        metrics of :data:`bnn_models.refsummary.NEEDS_DRAWS` are then None.
        VI only (None for NUTS): ``psis_khat``, ``psis_khat_ok``, ``psis_ess``,
        ``psis_ess_share`` (:func:`psis_diagnostics`).
        With a reference: the keys of :func:`function_space`,
        ``pred_wasserstein_mean``, the keys of :func:`weight_space`, and for VI with
        ``psis_khat_ok`` the :func:`function_space` keys of the PSIS-reweighted
        predictive prefixed ``psis_`` (None when k-hat is too high).
        With true probabilities (teacher): ``truth_tv_mean``, ``truth_tv_max``,
        ``truth_rmse``, ``truth_coverage_90`` of the fit, and the same with ``_ref``
        for the reference. Constants: ``gate_sd`` (0.3), ``khat_threshold`` (0.7).
    """
    out: dict = {
        "reference": None,
        "reference_skipped": None,
        "reference_draws": None,
        "gate_sd": GATE_SD,
        "khat_threshold": KHAT_THRESHOLD,
    }
    # Every key is always present (None where it does not apply): a stable schema.
    out.update(dict.fromkeys(f"psis_{k}" for k in ("khat", "khat_ok", "ess", "ess_share")))
    out.update(dict.fromkeys(FUNCTION_SPACE_KEYS))
    out["pred_wasserstein_mean"] = None
    out.update(dict.fromkeys(WEIGHT_SPACE_KEYS))
    out.update(dict.fromkeys(f"psis_{k}" for k in FUNCTION_SPACE_KEYS))
    out.update(dict.fromkeys(f"truth_{k}{s}" for k in TRUTH_KEYS for s in ("", "_ref")))
    psis = psis_diagnostics(result)
    if psis is not None:
        out.update({f"psis_{k}": psis[k] for k in ("khat", "khat_ok", "ess", "ess_share")})
    p = result.p_test
    if dataset.p_test_true is not None:
        truth = dataset.p_test_true
        out.update({f"truth_{k}": v for k, v in truth_comparison(p, truth).items()})
    if reference is None:
        return out
    reason = reference.mismatch(dataset, result.config)
    if reason is not None:
        out["reference_skipped"] = reason
        return out
    out["reference"] = reference.key
    ref_mean, ref_sd = reference.pred_mean, reference.pred_sd
    out.update(function_space(*_summary(p), ref_mean, ref_sd))
    out["reference_draws"] = reference.has_draws
    if result.idata["posterior"].sizes["draw"] > 1:
        # Spreads need draws: a point estimate (one draw per chain) has none to compare.
        if reference.has_draws:
            out["pred_wasserstein_mean"] = _wasserstein_mean(result, reference)
        out.update(weight_space(result, reference))
    if psis is not None and psis["khat_ok"] and psis["log_weights"] is not None:
        w = np.exp(psis["log_weights"].values.ravel())
        mean = w @ p
        sd = np.sqrt(w @ (p - mean) ** 2)
        out.update(function_space(mean, sd, ref_mean, ref_sd, prefix="psis_"))
    if dataset.p_test_true is not None and reference.has_draws:
        ref_truth = truth_comparison(reference.p_test, dataset.p_test_true)
        out.update({f"truth_{k}_ref": v for k, v in ref_truth.items()})
    return out
