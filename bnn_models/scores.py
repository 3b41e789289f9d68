"""Scores of predicted probabilities against 0/1 labels: ECE, Brier, log loss, accuracy, F1, AUC.

Plain functions of arrays (no fit, no model): the metrics of a fit
(:mod:`bnn_models.metrics`) and of its shifted rows (:mod:`bnn_models.uncertainty`) both
score with them, so they sit below both.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from bnn_models.errors import BadInput

__all__ = ["N_ECE_BINS", "calibration", "ece"]

#: Equal-mass bins of the expected calibration error.
N_ECE_BINS = 10


def ece(p: np.ndarray, y: np.ndarray, n_bins: int = N_ECE_BINS) -> float:
    """Expected calibration error with equal-mass bins.

    Rows are sorted by predicted probability and cut into ``n_bins`` groups of
    (nearly) equal size; ECE is the size-weighted mean of
    ``|mean(y) - mean(p)|`` over the groups.

    Parameters
    ----------
    p : numpy.ndarray
        Predicted probability of label 1 per row.
    y : numpy.ndarray
        0/1 labels.
    n_bins : int
        Number of equal-mass bins.

    Returns
    -------
    float

    Examples
    --------
    >>> ece(np.array([0.2, 0.2, 0.8, 0.8]), np.array([0, 0, 1, 1]), n_bins=2)
    0.2
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.shape != y.shape or p.ndim != 1:
        raise BadInput(f"ece: p and y must be 1-D of equal length, got {p.shape} and {y.shape}")
    if not 1 <= n_bins <= p.size:
        raise BadInput(f"ece: n_bins must lie in [1, {p.size}], got {n_bins}")
    order = np.argsort(p, kind="stable")
    total = 0.0
    for idx in np.array_split(order, n_bins):
        total += idx.size * abs(y[idx].mean() - p[idx].mean())
    return float(round(total / p.size, 15))


def calibration(p: np.ndarray, y: np.ndarray, n_bins: int = N_ECE_BINS) -> dict:
    """Calibration and classification quality of mean predicted probabilities.

    Returns ECE (equal-mass bins), Brier score, log loss (nats per row), accuracy,
    error rate, weighted F1 (the published study's F1), 1 - weighted F1 and ROC AUC,
    all at the 0.5 threshold where a threshold applies.

    A test split too small or with one class cannot support every metric: ECE then uses
    as many bins as there are rows (``ece_bins`` says how many), ROC AUC is None, and
    ``not_available`` maps each metric left out or reduced to the reason; the others
    are computed.

    Examples
    --------
    >>> out = calibration(np.array([0.2, 0.9]), np.array([1, 1]))
    >>> out["roc_auc"] is None, out["ece_bins"], out["accuracy"]
    (True, 2, 0.5)
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    pred = (p >= 0.5).astype(int)
    acc = float(skm.accuracy_score(y, pred))
    f1w = float(skm.f1_score(y, pred, average="weighted", labels=[0, 1], zero_division=0.0))
    reasons: dict[str, str] = {}
    bins = min(n_bins, p.size)
    if bins < n_bins:
        reasons["ece"] = f"{p.size} test rows: {bins} equal-mass bins instead of {n_bins}"
    auc = None
    if np.unique(y).size == 2:
        auc = float(skm.roc_auc_score(y, p))
    else:
        reasons["roc_auc"] = f"the test labels hold one class only (all {int(y[0])})"
    return {
        "ece": ece(p, y, bins),
        "ece_bins": bins,
        "brier": float(skm.brier_score_loss(y, p, labels=[0, 1])),
        "log_loss": float(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": acc,
        "error_rate": 1.0 - acc,
        "f1_weighted": f1w,
        "one_minus_f1_weighted": 1.0 - f1w,
        "roc_auc": auc,
        "not_available": reasons,
    }
