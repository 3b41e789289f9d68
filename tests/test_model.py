"""The one model definition: structure, log density and prediction against numpy."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from bnn_models.errors import BadInput
from bnn_models.model import (
    N_HIDDEN,
    PARAMS,
    PRIOR_SIGMA,
    bernoulli_logit_logp,
    build_bnn,
    set_inputs,
)


def _forward(X, W0, b0, W1, b1):
    return np.maximum(X @ W0 + b0, 0) @ W1 + b1


def test_structure_and_dims(rng):
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 2, 30)
    model = build_bnn(X, y, n_hidden=7, feature_names=tuple("abcde"))
    assert [v.name for v in model.free_RVs] == list(PARAMS)
    assert model.named_vars_to_dims["W0"] == ("feature", "hidden")
    assert model.named_vars_to_dims["p"] == ("obs",)
    assert list(model.coords["feature"]) == list("abcde") and len(model.coords["hidden"]) == 7


def test_logp_matches_hand_computation(rng):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    model = build_bnn(X, y, n_hidden=4, prior_sigma=1.5)
    point = {
        "W0": rng.normal(size=(3, 4)),
        "b0": rng.normal(size=4),
        "W1": rng.normal(size=4),
        "b1": np.array(0.3),
    }
    logit = _forward(X, **point)
    loglik = np.sum(y * -np.logaddexp(0, -logit) + (1 - y) * -np.logaddexp(0, logit))
    logprior = sum(stats.norm(0, 1.5).logpdf(v).sum() for v in point.values())
    np.testing.assert_allclose(model.compile_logp()(point), loglik + logprior, rtol=1e-7)


def test_the_gradient_is_finite_and_right_at_extreme_logits():
    """Rows whose logit is far on the wrong side (|logit| 40-60) have the gradient
    ``y - sigmoid(logit)`` exactly: pm.Bernoulli(logit_p=) gives NaN for a 0 label at
    logit > ~37 (PyMC 6.3), which broke SVGD on the rupture data."""
    X = np.array([[1.0], [1.0], [-1.0], [-1.0], [0.5]])
    y = np.array([0, 1, 0, 1, 0])
    model = build_bnn(X, y, n_hidden=1, prior_sigma=100.0)
    point = {
        "W0": np.array([[1.0]]),
        "b0": np.array([0.0]),
        "W1": np.array([60.0]),
        "b1": np.array(-20.0),
    }
    logit = _forward(X, **point)  # 40, 40, -20, -20, 10
    hidden = np.maximum(X @ point["W0"] + point["b0"], 0)[:, 0]
    resid = y - 1 / (1 + np.exp(-logit))
    prior = {k: -v / 100.0**2 for k, v in point.items()}
    grad = model.compile_dlogp()(point)  # in free_RVs order: W0, b0, W1, b1
    expected_b1 = resid.sum() + prior["b1"]
    expected_W1 = (resid * hidden).sum() + prior["W1"][0]
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[-1], expected_b1, rtol=1e-12)
    np.testing.assert_allclose(grad[-2], expected_W1, rtol=1e-12)
    with pm.Model():  # what PyMC's own Bernoulli gives there: why the model has its own
        z = pm.Normal("z", 0, 100, shape=2)
        pm.Bernoulli("y", logit_p=z, observed=np.array([0, 1]))
        pymc_grad = pm.modelcontext(None).compile_dlogp()({"z": np.array([60.0, 2.0])})
    assert np.isnan(pymc_grad[0]) and np.isfinite(pymc_grad[1])


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_the_sign_form_is_the_two_branch_switch_to_the_last_bit(mode):
    """One softplus on ``-s logit`` (``s = +1`` for a 1 label, ``-1`` otherwise) gives
    the value and gradient of ``switch(y == 1, -softplus(-logit), -softplus(logit))``
    bit for bit, from logits of 1e-3 to 800 on both sides, on 0 and 1 labels."""
    magnitudes = np.array(
        [0.0, 1e-3, 0.5, 1.0, 5.0, 17.9, 18.1, 33.2, 33.4, 36.9, 37.1, 60.0, 800.0]
    )
    logits = np.concatenate([magnitudes, -magnitudes])
    logit_in = np.repeat(logits, 2)
    labels = np.tile(np.array([0, 1]), logits.size)
    value, logit = pt.lvector("value"), pt.dvector("logit")
    switch = pt.switch(pt.eq(value, 1), -pt.softplus(-logit), -pt.softplus(logit))
    outputs = {}
    for name, lp in {"sign": bernoulli_logit_logp(value, logit), "switch": switch}.items():
        weights = pt.dvector("weights")  # a weighted sum, so each row's gradient shows
        total = (lp * weights).sum()
        fn = pytensor.function([value, logit, weights], [lp, pt.grad(total, logit)], mode=mode)
        outputs[name] = fn(labels, logit_in, np.linspace(0.5, 2.0, labels.size))
    for got, want in zip(outputs["sign"], outputs["switch"], strict=True):
        assert np.array_equal(got, want)
    # and both are the log-probability: log sigmoid(logit) for a 1, log sigmoid(-logit) for a 0
    expected = -np.logaddexp(0.0, np.where(labels == 1, -logit_in, logit_in))
    np.testing.assert_allclose(outputs["sign"][0], expected, rtol=1e-15, atol=0)


def test_set_inputs_predicts_new_rows(rng):
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    model = build_bnn(X, y, n_hidden=3)
    X_new = rng.normal(size=(7, 2))
    point = {
        "W0": rng.normal(size=(2, 3)),
        "b0": rng.normal(size=3),
        "W1": rng.normal(size=3),
        "b1": np.array(-0.2),
    }
    set_inputs(model, X_new)
    p = model.compile_fn(model.replace_rvs_by_values([model["p"]])[0])(point)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-_forward(X_new, **point))), rtol=1e-12)
    assert len(model.coords["obs"]) == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_hidden": 0}, "build_bnn: n_hidden must be >= 1, got 0"),
        ({"prior_sigma": 0}, "build_bnn: prior_sigma must be > 0, got 0"),
        ({"prior_sigma": float("nan")}, "build_bnn: prior_sigma must be > 0, got nan"),
        ({"y": np.array([0, 1])}, "X must be (rows, features) and y (rows,), got (5, 2), (2,)"),
    ],
)
def test_bad_arguments_are_rejected(rng, kwargs, message):
    args = {"X": rng.normal(size=(5, 2)), "y": np.array([0, 1, 0, 1, 0]), **kwargs}
    with pytest.raises(BadInput) as info:
        build_bnn(args.pop("X"), args.pop("y"), **args)
    assert message in str(info.value)


def test_defaults_are_the_published_network(rng):
    X, y = rng.normal(size=(6, 3)), np.array([0, 1, 0, 1, 0, 1])
    model = build_bnn(X, y)
    assert isinstance(model, pm.Model) and len(model.coords["hidden"]) == N_HIDDEN == 12
    assert PRIOR_SIGMA == 1.0
    # prior sd 1 on 3*12 + 12 + 12 + 1 = 61 weights, all zero
    n_weights = 3 * 12 + 12 + 12 + 1
    point = {"W0": np.zeros((3, 12)), "b0": np.zeros(12), "W1": np.zeros(12), "b1": np.array(0.0)}
    # every logit is 0: each row contributes log(1/2)
    expected = n_weights * stats.norm(0, 1.0).logpdf(0) + 6 * np.log(0.5)
    np.testing.assert_allclose(model.compile_logp()(point), expected, rtol=1e-12)
