"""Minibatch ADVI: the minibatch model against hand computations, and the method's counts."""

from __future__ import annotations

import numpy as np
import pytest
from pytensor.graph.traversal import ancestors
from scipy.special import log_expit
from scipy.stats import norm

from bnn_models.errors import BadInput
from bnn_models.inference import METHODS
from bnn_models.model import PARAMS, build_bnn, minibatch_bnn

ROWS, BATCH = 40, 8


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, 3))
    return X, (X[:, 0] + rng.normal(scale=0.5, size=ROWS) > 0).astype(int)


def _points(model, n, seed=1):
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    return [{k: rng.normal(size=np.shape(v)) for k, v in start.items()} for _ in range(n)]


def _loglik(X, y, point):
    """The network's Bernoulli log likelihood by hand (NumPy)."""
    logit = np.maximum(X @ point["W0"] + point["b0"], 0.0) @ point["W1"] + point["b1"]
    return float(np.sum(np.where(y == 1, log_expit(logit), log_expit(-logit))))


def _log_prior(point):
    return float(sum(norm.logpdf(point[name]).sum() for name in PARAMS))


@pytest.mark.parametrize("batch_size", [ROWS, ROWS + 25])
def test_a_batch_of_every_row_is_build_bnns_model_and_log_density(data, batch_size):
    """batch_size >= rows: the full model, so the log density is build_bnn's at any point."""
    X, y = data
    full, mini = build_bnn(X, y, n_hidden=3), minibatch_bnn(X, y, batch_size, n_hidden=3)
    f_full, f_mini = full.compile_logp(), mini.compile_logp()
    for point in _points(full, 3):
        expected = _log_prior(point) + _loglik(X, y, point)
        assert float(f_mini(point)) == pytest.approx(float(f_full(point)), rel=1e-12)
        assert float(f_mini(point)) == pytest.approx(expected, rel=1e-10)


def test_a_minibatch_scales_the_likelihood_of_the_rows_drawn_by_rows_over_batch(data):
    """logp = log prior + rows / batch x log likelihood of the batch's rows, every call a
    new batch of rows of X with their own labels (checked against the rows drawn)."""
    X, y = data
    model = minibatch_bnn(X, y, BATCH, n_hidden=3)
    logp = model.logp()
    # the graph holds the one pm.Minibatch draw in up to two copies (the observed value's and
    # the likelihood's), the same op on the same inputs: compiled, they are one draw
    nodes = {v.owner for v in ancestors([logp]) if v.owner and "Minibatch" in str(v.owner.op)}
    node = nodes.pop()
    assert all(n.op == node.op and n.inputs == node.inputs for n in nodes)
    X_b, y_b = node.outputs[:2]
    fn = model.compile_fn([logp, X_b, y_b], inputs=model.value_vars, point_fn=False, random_seed=3)
    seen = set()
    for point in _points(model, 4):
        value, xb, yb = fn(*(point[v.name] for v in model.value_vars))
        rows = [int(np.flatnonzero((X == r).all(axis=1))[0]) for r in xb]  # each a row of X
        np.testing.assert_array_equal(yb, y[rows])  # the labels of those rows
        expected = _log_prior(point) + ROWS / BATCH * _loglik(xb, yb, point)
        assert float(value) == pytest.approx(expected, rel=1e-10)
        seen.add(tuple(rows))
    assert len(seen) == 4  # a new batch per evaluation


def test_the_minibatch_log_density_is_unbiased_for_the_full_one(data):
    """Over many batches the mean log density is build_bnn's (within 4 standard errors)."""
    X, y = data
    mini = minibatch_bnn(X, y, BATCH, n_hidden=3)
    (point,) = _points(mini, 1, seed=5)
    f = mini.compile_logp(random_seed=11)
    draws = np.array([float(f(point)) for _ in range(3000)])
    full = float(build_bnn(X, y, n_hidden=3).compile_logp()(point))
    se = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - full) < 4 * se
    assert draws.std() > 0  # the batches do differ


def test_the_minibatch_model_keeps_build_bnns_variables(data):
    X, y = data
    full, mini = build_bnn(X, y, n_hidden=3), minibatch_bnn(X, y, BATCH, n_hidden=3)
    assert [v.name for v in mini.free_RVs] == [v.name for v in full.free_RVs]
    assert (
        tuple(mini.named_vars_to_dims["p"]) == ("obs",) and "y_obs" not in mini.named_vars_to_dims
    )
    np.testing.assert_array_equal(mini["X"].get_value(), X)  # all rows, p of all rows
    (point,) = _points(full, 1)

    def p_at(model):
        [p] = model.replace_rvs_by_values([model["p"]])
        return model.compile_fn(p, inputs=model.value_vars, on_unused_input="ignore")(point)

    np.testing.assert_allclose(p_at(mini), p_at(full), rtol=1e-12)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_a_bad_batch_size_is_refused(data, bad):
    X, y = data
    with pytest.raises(BadInput, match="batch_size"):
        minibatch_bnn(X, y, bad)
    with pytest.raises(BadInput, match="batch_size"):
        METHODS["advi_minibatch"].configure(overrides={"batch_size": bad})


def test_the_tiny_fit_counts_full_data_equivalent_gradients(tiny_fits, teacher_small):
    """n_grad_evals = round(steps x obj_n_mc x batch / rows); the raw count beside it."""
    r = tiny_fits["advi_minibatch"]
    assert r.ok and r.family == "vi"
    mb, rows = r.convergence["minibatch"], len(teacher_small.y_train)
    steps = r.convergence["iterations"]
    assert mb["rows"] == rows and mb["batch_size"] == r.config["batch_size"] < rows
    assert mb["grad_evals_minibatch"] == steps * r.config["obj_n_mc"] == len(r.loss)
    assert r.n_grad_evals == round(steps * r.config["obj_n_mc"] * mb["batch_size"] / rows)
    assert r.p_test.shape[1] == len(teacher_small.y_test)


def test_the_tiny_fits_psis_uses_the_full_data_density(tiny_fits, teacher_small):
    """vi_importance's log p is build_bnn's (all rows) at the draws, not a batch's."""
    r = tiny_fits["advi_minibatch"]
    full = build_bnn(
        teacher_small.X_train, teacher_small.y_train, n_hidden=r.config["n_hidden"]
    ).compile_logp()
    post, log_p = r.idata["posterior"], r.idata["vi_importance"]["log_p"]
    for draw in (0, 7):
        point = {name: post[name].values[0, draw] for name in PARAMS}
        assert float(log_p.values[0, draw]) == pytest.approx(float(full(point)), rel=1e-10)


def test_the_loss_is_in_full_data_nats(tiny_fits):
    """The minibatch loss estimates the full-data loss (PyMC would divide it by rows /
    batch = 4 here): its last window's mean is within 10% of full-batch ADVI's."""
    mini, full = tiny_fits["advi_minibatch"], tiny_fits["advi"]
    window = 250
    ratio = np.mean(mini.loss[-window:]) / np.mean(full.loss[-window:])
    assert 0.9 < ratio < 1.1


def test_a_batch_above_the_rows_is_clamped_to_full_batch_advi(teacher_small):
    """batch_size > rows: every row each step, the same steps as full-batch ADVI."""
    settings = {"max_iter": 300, "draws": 20, "window": 100, "n_hidden": 3}
    mini = METHODS["advi_minibatch"](
        dataset=teacher_small, seed=2, progressbar=False, batch_size=10_000, **settings
    )
    full = METHODS["advi"](dataset=teacher_small, seed=2, progressbar=False, **settings)
    rows = len(teacher_small.y_train)
    assert mini.convergence["minibatch"] == {
        "batch_size": rows,
        "batch_size_asked": 10_000,
        "rows": rows,
        "grad_evals_minibatch": len(mini.loss),
    }
    np.testing.assert_array_equal(mini.loss, full.loss)
    assert mini.n_grad_evals == full.n_grad_evals == len(full.loss)


def test_the_record_says_where_its_default_came_from():
    m = METHODS["advi_minibatch"]
    assert (m.family, m.engine) == ("vi", "pymc")
    assert m.defaults_from.startswith("studies/minibatch_batch_size/")


@pytest.mark.parametrize("extra", [{"backend": "numba_positional"}, {"fused": True}])
def test_its_accelerations_take_the_same_steps(teacher_small, extra):
    """The opt-in accelerations it lists: the same loss trace and draws (to rounding)."""
    settings = {"max_iter": 200, "draws": 20, "window": 100, "n_hidden": 3, "batch_size": 50}
    fit = METHODS["advi_minibatch"]
    base = fit(dataset=teacher_small, seed=4, progressbar=False, **settings)
    other = fit(dataset=teacher_small, seed=4, progressbar=False, **settings, **extra)
    np.testing.assert_allclose(other.loss, base.loss, rtol=1e-12)
    np.testing.assert_allclose(other.p_test, base.p_test, rtol=1e-10, atol=1e-14)
