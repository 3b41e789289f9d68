"""Metrics against known answers: hand-made probabilities and a known-truth teacher."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.data import make_teacher
from bnn_models.inference import ELBOConvergence
from bnn_models.metrics import calibration, ece, elbo


def test_ece_hand_made():
    # two bins: [0.2, 0.2] with labels [0, 1] -> |0.5-0.2| ; [0.9, 0.9] with [1, 1] -> 0.1
    p = np.array([0.2, 0.2, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    assert ece(p, y, n_bins=2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.1)
    assert ece(np.array([0.0, 1.0]), np.array([0, 1]), n_bins=1) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="n_bins"):
        ece(p, y, n_bins=5)


def test_calibration_hand_made():
    p = np.array([0.9, 0.8, 0.3, 0.6])
    y = np.array([1, 1, 0, 0])
    out = calibration(p, y, n_bins=2)
    assert out["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert out["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.7, 0.4])))
    assert out["accuracy"] == pytest.approx(0.75) and out["error_rate"] == pytest.approx(0.25)
    # weighted F1: class 1 precision 2/3 recall 1 -> 0.8; class 0 precision 1 recall 0.5 -> 2/3
    assert out["f1_weighted"] == pytest.approx(0.5 * 0.8 + 0.5 * 2 / 3)
    assert out["roc_auc"] == pytest.approx(1.0)


def test_true_probabilities_are_calibrated_and_biased_ones_are_not():
    ds = make_teacher(10, 20000, seed=11)
    true = calibration(ds.p_test_true, ds.y_test)
    assert true["ece"] < 0.015
    shrunk = calibration(0.5 + 0.5 * (ds.p_test_true - 0.5), ds.y_test)
    assert shrunk["ece"] > 0.05 and shrunk["log_loss"] > true["log_loss"]


def test_convergence_rule_fires_on_a_flat_tail():
    rule = ELBOConvergence(window=100, tol=1e-3)
    loss = np.concatenate([np.linspace(2000, 1000, 500), np.full(1000, 1000.0)])
    fired = None
    for i in range(1, loss.size + 1):
        try:
            rule(None, loss[:i], i)
        except StopIteration:
            fired = i
            break
    # windows (500,600] vs (600,700] are both flat: fires at 700, not earlier
    assert fired == rule.fired_at == 700


class _Fake:
    def __init__(self, loss, window):
        self.loss = loss
        self.convergence = {"window": window, "fired_at": None, "converged": False}


def test_elbo_iterations_to_one_percent():
    loss = np.concatenate([np.full(1000, 5000.0), np.full(3000, 1000.0)])
    out = elbo(_Fake(loss, 100))
    # the 100-step rolling mean is within 1% of 1000 once at most 1 of 100 values is 5000
    assert out["iter_to_1pct"] == 1100
    assert out["final_elbo"] == pytest.approx(-1000.0) and out["final_elbo_sd"] == 0.0
