"""Known answers for the methods beyond NUTS and ADVI: what each computes, checked
against an independent computation, on the tiny fits (``tiny_fits``)."""

from __future__ import annotations

import numpy as np
import pytest
from pymc.blocking import DictToArrayBijection

from bnn_models.inference._mcmc import ChainClock
from bnn_models.inference.laplace import _order
from bnn_models.model import PARAMS, build_bnn


def test_chain_clock_splits_wall_time_in_the_chains_ratio():
    clock = ChainClock()
    # two chains: 3 s tuning + 1 s sampling, and 1 s tuning + 3 s sampling
    for chain, tune_s, total_s in ((0, 3.0, 4.0), (1, 1.0, 4.0)):
        clock.set(chain, True, tune_s)
        clock.set(chain, False, total_s)
    assert clock.split(10.0) == pytest.approx((5.0, 5.0))
    marks = ChainClock()
    for t, tuning in ((0.0, True), (2.0, True), (3.0, False)):
        marks.mark(0, tuning, now=t)
    assert marks.split(6.0) == pytest.approx((4.0, 2.0))
    assert ChainClock().split(2.0) == (0.0, 2.0)


def test_laplace_rows_map_to_slices_in_order():
    rows = ["b1", "W1[0]", "W1[1]", "b0[0]", "b0[1]", "W0[x0,0]", "W0[x0,1]"]
    assert _order(rows) == [
        ("b1", slice(0, 1)),
        ("W1", slice(1, 3)),
        ("b0", slice(3, 5)),
        ("W0", slice(5, 7)),
    ]


def _model(teacher_small):
    return build_bnn(teacher_small.X_train, teacher_small.y_train, n_hidden=4)


def _flat(post, draw_axis=True):
    return np.concatenate(
        [post[v].values.reshape(post.sizes["chain"] * post.sizes["draw"], -1) for v in PARAMS],
        axis=1,
    )


def test_every_ensemble_member_is_a_local_mode(tiny_fits, teacher_small, rng):
    # ReLU modes sit on kinks (a unit switching on or off at a training row), where the
    # gradient jumps and never vanishes: a mode is checked by perturbation instead.
    fit = tiny_fits["ensemble"]
    post = fit.idata["posterior"].to_dataset()
    model = _model(teacher_small)
    logp = model.compile_logp()
    for k in range(post.sizes["draw"]):
        point = {v: post[v].values[0, k] for v in PARAMS}
        best = float(logp(point))
        for _ in range(20):
            moved = {v: x + 1e-3 * rng.standard_normal(np.shape(x)) for v, x in point.items()}
            assert float(logp(moved)) <= best + 1e-6
    # independent starts reach different modes
    assert len({round(float(v), 4) for v in post["b1"].values.ravel()}) == post.sizes["draw"]


def test_laplace_draws_have_the_inverse_hessian_as_covariance(tiny_fits, teacher_small):
    fit = tiny_fits["laplace"]
    assert fit.counts["hessian_min_eig"] > 0 and fit.counts["hessian_nonpositive"] == 0
    post = fit.idata["posterior"].to_dataset()
    model = _model(teacher_small)
    # the mode is where the draws are centred; the exact Hessian there, from PyMC
    mean = {v: post[v].mean(dim=("chain", "draw")).values for v in PARAMS}
    hess = model.compile_d2logp(vars=[model[v] for v in PARAMS])(mean)
    theta = _flat(post)
    cov = np.cov(theta, rowvar=False)
    # Monte Carlo error of a variance from n draws: sqrt(2/n) relative
    n = theta.shape[0]
    expected = np.diag(np.linalg.inv(hess))
    assert np.median(np.abs(np.diag(cov) / expected - 1)) < 4 * np.sqrt(2 / n)


def test_laplace_importance_terms_are_the_gaussian_and_the_model(tiny_fits, teacher_small):
    fit = tiny_fits["laplace"]
    terms = fit.idata["vi_importance"].to_dataset()
    model = _model(teacher_small)
    post = fit.idata["posterior"].to_dataset()
    logp = model.compile_logp()
    point = {v: post[v].values[0, 3] for v in PARAMS}
    assert float(terms["log_p"].values[0, 3]) == pytest.approx(float(logp(point)))
    assert np.all(np.isfinite(terms["log_q"].values))


def test_the_jax_log_density_is_pymcs(teacher_small):
    pytest.importorskip("jax")
    from bnn_models.inference._jax import jax_log_density

    model = _model(teacher_small)
    log_density, names, init = jax_log_density(model, chains=2, seed=0)
    point = {n: a[1] for n, a in zip(names, init, strict=True)}
    expected = float(model.compile_logp()(point))
    assert float(log_density([point[n] for n in names])) == pytest.approx(expected, rel=1e-6)
    # two chains start at two different jittered points
    assert not np.allclose(init[0][0], init[0][1])
    assert DictToArrayBijection.map(point).data.size == sum(a[0].size for a in init)


@pytest.mark.parametrize(
    "engine", ["nuts_pymc", "nuts_numpyro", "nuts_blackjax", "nuts_lowrank", "nuts_stan"]
)
def test_every_nuts_engine_agrees_with_nutpie_in_function_space(engine, tiny_fits):
    ref, fit = tiny_fits["nuts"].p_test, tiny_fits[engine].p_test
    # the same posterior: predictive means within a few Monte Carlo sds of nutpie's
    diff = np.abs(fit.mean(axis=0) - ref.mean(axis=0))
    assert np.median(diff) < 0.02, engine
    assert np.mean((fit.mean(axis=0) >= 0.5) == (ref.mean(axis=0) >= 0.5)) >= 0.95


def test_svgd_draws_are_its_particles_and_pathfinder_reports_its_k(tiny_fits):
    from bnn_models.fidelity import psis_diagnostics
    from tests.conftest import tiny

    svgd = tiny_fits["svgd"]
    assert svgd.idata["posterior"].sizes["draw"] == tiny("svgd")["particles"]
    assert svgd.n_grad_evals == tiny("svgd")["particles"] * tiny("svgd")["max_iter"]
    assert psis_diagnostics(svgd) is None  # no density q
    pf = tiny_fits["pathfinder"]
    k = float(pf.idata["engine_psis"]["khat"].values)
    assert psis_diagnostics(pf)["khat"] == k and np.isfinite(k)


def test_smc_is_gradient_free_and_tempers_to_the_posterior(tiny_fits):
    smc = tiny_fits["smc"]
    assert smc.n_grad_evals is None and "warmup_s" not in smc.timings
    stats = smc.idata["sample_stats"]
    assert np.allclose(stats["final_beta"].values, 1.0)
    assert (stats["stages"].values >= 2).all()


def test_smc_stages_per_chain_from_every_layout_pymc_stores():
    from bnn_models.inference.smc import _per_chain

    equal = np.empty((2, 2), dtype=object)
    equal[:] = [[0.1, 1.0], [0.3, 1.0]]
    assert [list(a) for a in _per_chain(equal, 2)] == [[0.1, 1.0], [0.3, 1.0]]
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([0.1, 1.0]), np.array([0.2, 0.5, 1.0])
    assert [a.size for a in _per_chain(ragged, 2)] == [2, 3]
    assert list(_per_chain(np.array([0.1, 0.5, 1.0]), 1)[0]) == [0.1, 0.5, 1.0]
