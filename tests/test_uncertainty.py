"""Shift and coverage metrics against answers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.posterior import truth_comparison
from bnn_models.uncertainty import mutual_information, shift_metrics


def test_mutual_information_by_hand():
    # row 0: both draws 0.5, no disagreement; row 1: draws 0.9 and 0.1, mean 0.5:
    # H(0.5) - H(0.9) = ln 2 - (-(0.1 ln 0.1 + 0.9 ln 0.9)) = 0.693147 - 0.325083
    p = np.array([[0.5, 0.9], [0.5, 0.1]])
    assert mutual_information(p) == pytest.approx([0.0, 0.3680642071], abs=1e-9)


def test_shift_metrics_by_hand():
    p = np.array([[0.9, 0.2, 0.9, 0.4], [0.9, 0.2, 0.5, 0.8]])
    y = np.array([1, 0, 0, 1])
    shifted = np.array([False, False, True, True])
    out = shift_metrics(p, y, shifted)
    # means 0.9, 0.2, 0.7, 0.6 -> predictions 1, 0, 1, 1: right, right, wrong, right
    assert out["in_accuracy"] == 1.0 and out["shifted_accuracy"] == 0.5
    # sds 0, 0, 0.2, 0.2
    assert out["in_pred_sd_mean"] == 0.0
    assert out["shifted_pred_sd_mean"] == pytest.approx(0.2)
    assert out["in_n"] == out["shifted_n"] == 2
    # every shifted row is more uncertain than every in-distribution row
    assert out["auroc_sd"] == out["auroc_mutual_info"] == out["auroc_entropy"] == 1.0
    # entropies of the means: 0.325, 0.500, 0.611, 0.673 -> rows kept in order 0, 1, 2, 3;
    # kept rows ceil(c * 4): 4, 4, 4, 3, 3, 2 -> accuracy 3/4, 3/4, 3/4, 2/3, 2/3, 1
    assert out["coverage"] == [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    assert out["accuracy_at_coverage"] == pytest.approx([0.75, 0.75, 0.75, 2 / 3, 2 / 3, 1.0])
    assert out["accuracy_at_80"] == 0.75


def test_uncertainty_that_ignores_the_shift_scores_chance():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(50, 2000))
    shifted = rng.uniform(size=2000) < 0.5
    out = shift_metrics(p, (rng.uniform(size=2000) < 0.5).astype(int), shifted)
    assert out["auroc_sd"] == pytest.approx(0.5, abs=0.04)


def test_truth_coverage_by_hand():
    # every row's draws are 0, 0.01, ..., 1: the central 50% interval is [0.25, 0.75],
    # the 90% one [0.05, 0.95]
    p = np.tile(np.linspace(0, 1, 101)[:, None], (1, 3))
    out = truth_comparison(p, np.array([0.5, 0.8, 0.97]))
    assert out["coverage_50"] == pytest.approx(1 / 3)
    assert out["coverage_90"] == pytest.approx(2 / 3)
    assert out["width_50"] == pytest.approx(0.5)
    assert out["width_90"] == pytest.approx(0.9)


def test_draws_from_the_truths_own_posterior_cover_at_the_nominal_rate():
    # p_true drawn from the same Beta as the draws: the truth is one more draw, so the
    # central intervals cover it at their level (up to sampling error over 4,000 rows)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(1, 5, size=4000), rng.uniform(1, 5, size=4000)
    draws = rng.beta(a, b, size=(400, 4000))
    out = truth_comparison(draws, rng.beta(a, b))
    assert out["coverage_50"] == pytest.approx(0.5, abs=0.03)
    assert out["coverage_90"] == pytest.approx(0.9, abs=0.02)
    mean = draws.mean(axis=0)
    over = truth_comparison(mean + 0.1 * (draws - mean), rng.beta(a, b))  # over-confident
    assert over["coverage_90"] < 0.6
