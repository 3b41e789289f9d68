"""Uncertainty where it matters: under dataset shift, and as coverage of the true probabilities.

Every function takes the posterior predictive draws of the test-set probabilities,
``p`` of shape (draws, rows), as :attr:`bnn_models.inference.FitResult.p_test` holds them.

- :func:`mutual_information`: the epistemic part of the predictive entropy,
  ``H(mean_s p_s) - mean_s H(p_s)`` (nats) per row: zero when every draw agrees.
- :func:`shift_metrics`: accuracy, log loss, ECE, predictive sd and mutual information on
  the in-distribution and the shifted test rows apart; how well predictive sd and mutual
  information tell shifted rows from the others (ROC AUC, scikit-learn); accuracy when
  abstaining on the most uncertain rows.

Coverage of the true probabilities (teacher data) is
:func:`bnn_models.posterior.truth_comparison`, part of every fit's fidelity section.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from bnn_models.scores import calibration

__all__ = [
    "COVERAGE_LEVELS",
    "binary_entropy",
    "mutual_information",
    "shift_metrics",
]

#: Shares of test rows kept when abstaining on the most uncertain (accuracy-coverage curve).
COVERAGE_LEVELS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)

_EPS = 1e-12


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy (nats) of Bernoulli(p), elementwise; 0 at p = 0 and p = 1.

    Examples
    --------
    >>> float(binary_entropy(np.array(0.5))) == float(np.log(2))
    True
    """
    q = np.clip(p, _EPS, 1 - _EPS)
    return -(q * np.log(q) + (1 - q) * np.log1p(-q))


def mutual_information(p: np.ndarray) -> np.ndarray:
    """Mutual information between the label and the parameters, per row (nats).

    Parameters
    ----------
    p : numpy.ndarray, shape (draws, rows)

    Returns
    -------
    numpy.ndarray, shape (rows,)
        ``H(mean p) - mean H(p)``, >= 0 (clipped at 0 against rounding).
    """
    return np.maximum(binary_entropy(p.mean(axis=0)) - binary_entropy(p).mean(axis=0), 0.0)


def _auroc(shifted: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(shifted.astype(int), score))


def shift_metrics(p: np.ndarray, y: np.ndarray, shifted: np.ndarray) -> dict:
    """Per-part quality and how well uncertainty flags the shifted rows.

    Parameters
    ----------
    p : numpy.ndarray, shape (draws, rows)
    y : numpy.ndarray, shape (rows,)
        0/1 labels.
    shifted : numpy.ndarray of bool, shape (rows,)
        The rows outside the training range (``Dataset.test_shifted``).

    Returns
    -------
    dict
        Flat, so that every number is a metric of its own: per part (prefix ``in_`` and
        ``shifted_``) ``n``, ``accuracy``, ``log_loss``, ``ece``, ``pred_sd_mean``,
        ``mutual_info_mean``; ``auroc_sd``, ``auroc_mutual_info``, ``auroc_entropy``
        (shifted is the positive class; 0.5 is chance); ``coverage``
        (:data:`COVERAGE_LEVELS`) with ``accuracy_at_coverage``: accuracy on the rows kept
        when abstaining on the most uncertain by predictive entropy, over all test rows,
        and ``accuracy_at_80``, its value at 80% coverage.
    """
    shifted = np.asarray(shifted, dtype=bool)
    mean = p.mean(axis=0)
    sd = p.std(axis=0)
    mi = mutual_information(p)
    entropy = binary_entropy(mean)
    out: dict = {}
    for part, rows in (("in", ~shifted), ("shifted", shifted)):
        cal = calibration(mean[rows], y[rows])
        out[f"{part}_n"] = int(rows.sum())
        for key in ("accuracy", "log_loss", "ece"):
            out[f"{part}_{key}"] = cal[key]
        out[f"{part}_pred_sd_mean"] = float(sd[rows].mean())
        out[f"{part}_mutual_info_mean"] = float(mi[rows].mean())
    out["auroc_sd"] = _auroc(shifted, sd)
    out["auroc_mutual_info"] = _auroc(shifted, mi)
    out["auroc_entropy"] = _auroc(shifted, entropy)
    # Most certain first; ties keep the test-set order (a stable sort).
    order = np.argsort(entropy, kind="stable")
    correct = ((mean >= 0.5).astype(int) == y)[order]
    out["coverage"] = list(COVERAGE_LEVELS)
    out["accuracy_at_coverage"] = [
        float(correct[: max(1, int(np.ceil(c * y.size - 1e-9)))].mean()) for c in COVERAGE_LEVELS
    ]
    out["accuracy_at_80"] = out["accuracy_at_coverage"][COVERAGE_LEVELS.index(0.8)]
    return out
