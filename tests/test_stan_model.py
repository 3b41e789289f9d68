"""The Stan program is PyMC's network: the same log density up to Stan's dropped
constants, the same gradient, and Stan's draws under PyMC's names and dims.

Stan's ``~`` drops each Normal prior's ``-log(prior_sigma) - log(2 pi) / 2``; PyMC keeps
it, so Stan's log density minus PyMC's is ``P (log(prior_sigma) + log(2 pi) / 2)`` at every
point, P the number of weights (:func:`bnn_models.inference.nuts_stan.dropped_constant`).
Skipped where PyStan or a C++ compiler is missing (the first build compiles the program,
about a minute; later ones find it in httpstan's cache).
"""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.data import load_dataset
from bnn_models.inference import METHODS, MCMCSettings
from bnn_models.model import PARAMS, build_bnn
from tests.conftest import rupture_available, tiny

_STAN = METHODS["nuts_stan"]
pytestmark = pytest.mark.skipif(not _STAN.installed, reason=str(_STAN.unavailable()))


@pytest.mark.parametrize(("n_hidden", "prior_sigma"), [(12, 1.0), (5, 0.5)])
def test_stan_log_density_and_gradient_are_pymcs(n_hidden, prior_sigma, teacher_small, rng):
    from bnn_models.inference.nuts_stan import build_stan_model, dropped_constant, stan_vector

    dataset = load_dataset("rupture", seed=0) if rupture_available() else teacher_small
    X, y = dataset.X_train, dataset.y_train
    model = build_bnn(X, y, n_hidden=n_hidden, prior_sigma=prior_sigma)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    stan_model = build_stan_model(dataset, MCMCSettings(n_hidden=n_hidden, prior_sigma=prior_sigma))
    n_params = X.shape[1] * n_hidden + 2 * n_hidden + 1
    assert sum(int(np.prod(d)) for d in stan_model.dims) == n_params
    expected = -dropped_constant(n_params, prior_sigma)
    assert expected == pytest.approx(n_params * (np.log(prior_sigma) + 0.5 * np.log(2 * np.pi)))
    shapes = {name: value.shape for name, value in model.initial_point().items()}
    names = [v.name for v in model.value_vars]
    for _ in range(6):
        # wider than the prior: many hidden units on either side of the ReLU's kink
        point = {name: 2 * prior_sigma * rng.standard_normal(shapes[name]) for name in names}
        x = stan_vector(point).tolist()
        lp_pymc = float(logp(point))
        assert stan_model.log_prob(x, adjust_transform=True) - lp_pymc == pytest.approx(
            expected, abs=1e-8 * abs(lp_pymc)
        )
        # Stan's gradient, column-major per parameter, back to PyMC's (row-major) order
        grad = np.asarray(stan_model.grad_log_prob(x))
        by_name, start = {}, 0
        for name in PARAMS:
            size = int(np.prod(shapes[name]))
            by_name[name] = grad[start : start + size].reshape(shapes[name], order="F")
            start += size
        ours = np.concatenate([np.ravel(by_name[name]) for name in names])
        theirs = np.asarray(dlogp(point))
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-8 * np.abs(theirs).max())


def test_stan_draws_land_in_pymcs_dims_and_its_lp_is_pymcs(tiny_fits, teacher_small):
    fit = tiny_fits["nuts_stan"]
    settings = tiny("nuts_stan")
    post = fit.idata["posterior"]
    n_features = teacher_small.X_train.shape[1]
    shape = (settings["chains"], settings["draws"])
    assert post["W0"].dims == ("chain", "draw", "feature", "hidden")
    assert post["W0"].shape == (*shape, n_features, settings["n_hidden"])
    assert post["b1"].shape == shape
    # Stan's lp__ with its constants put back, at each draw, is PyMC's log density there:
    # every draw is where Stan put it (matrix order, chain and draw order)
    model = build_bnn(teacher_small.X_train, teacher_small.y_train, n_hidden=settings["n_hidden"])
    logp = model.compile_logp()
    stats = fit.idata["sample_stats"]
    for chain, draw in ((0, 0), (0, 17), (1, settings["draws"] - 1)):
        point = {v: post[v].values[chain, draw] for v in PARAMS}
        assert float(stats["lp"].values[chain, draw]) == pytest.approx(float(logp(point)), rel=1e-8)
    # the NUTS engine table's counts: gradients by phase, one per leapfrog step
    assert fit.counts["grad_evals_sampling"] == int(stats["n_steps"].sum())
    assert fit.counts["grad_evals_warmup"] > 0
    assert fit.n_grad_evals == sum(fit.counts.values())
    assert set(fit.timings) >= {"compile_s", "warmup_s", "sampling_s", "fit_s"}
    assert (stats["tree_depth"] >= 1).all() and stats["diverging"].dtype == bool


def test_stan_predicts_as_nutpie_does(tiny_fits):
    # the same posterior in function space (tests/test_methods.py: within Monte Carlo noise)
    ref, fit = tiny_fits["nuts"].p_test.mean(axis=0), tiny_fits["nuts_stan"].p_test.mean(axis=0)
    assert np.corrcoef(ref, fit)[0, 1] > 0.98
