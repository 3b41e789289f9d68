"""SG-MCMC (sgld, sghmc, sgld_cyclical): the minibatch log density against PyMC's, the
schedules, the gradient count, and draws close to NUTS' on the small teacher data."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.model import PARAMS, build_bnn

pytest.importorskip("blackjax")

SG_METHODS = ("sgld", "sghmc", "sgld_cyclical")


def _model(dataset, rows=slice(None)):
    return build_bnn(dataset.X_train[rows], dataset.y_train[rows], n_hidden=4)


def _points(model, rng, n=3):
    """``n`` random points of the weights, at prior scale."""
    shapes = {v: model.initial_point()[v].shape for v in PARAMS}
    return [{v: rng.standard_normal(shapes[v]) for v in PARAMS} for _ in range(n)]


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


def test_prior_plus_likelihood_at_a_full_batch_is_pymcs_log_density(teacher_small, rng):
    import jax

    from bnn_models.inference._jax import jax_minibatch_density

    model = _model(teacher_small)
    log_prior, log_lik_row, names = jax_minibatch_density(model)
    data = (teacher_small.X_train, teacher_small.y_train.astype(model["y"].dtype))
    logp = model.compile_logp()
    for point in _points(model, rng):
        position = [point[n] for n in names]
        total = log_prior(position) + jax.vmap(log_lik_row, in_axes=(None, 0))(position, data).sum()
        assert float(total) == pytest.approx(float(logp(point)), rel=1e-10)


def test_the_gradient_estimator_is_pymcs_gradient_at_a_full_batch_and_scaled_on_a_minibatch(
    teacher_small, rng
):
    """At a full batch, BlackJAX's estimator is PyMC's dlogp; on 20 of the 200 rows, it is
    the prior's gradient plus 10 times the likelihood's on those rows (PyMC's model of the
    20 rows gives prior + likelihood there)."""
    import pytensor
    from blackjax.sgmcmc.gradients import grad_estimator

    from bnn_models.inference._jax import jax_minibatch_density

    model = _model(teacher_small)
    log_prior, log_lik_row, names = jax_minibatch_density(model)
    rows = len(teacher_small.y_train)
    grad = grad_estimator(log_prior, log_lik_row, rows)
    y = teacher_small.y_train.astype(model["y"].dtype)
    picked = rng.choice(rows, 20, replace=False)
    batch_model = _model(teacher_small, picked)
    dlogp = model.compile_dlogp(vars=[model[n] for n in names])
    dlogp_batch = batch_model.compile_dlogp(vars=[batch_model[n] for n in names])
    value_vars = [model.rvs_to_values[model[n]] for n in names]
    dprior = pytensor.function(
        value_vars, pytensor.grad(model.logp(vars=model.free_RVs), value_vars)
    )
    for point in _points(model, rng, 2):
        position = [point[n] for n in names]
        full = _flat(grad(position, (teacher_small.X_train, y)))
        np.testing.assert_allclose(full, dlogp(point), rtol=1e-9, atol=1e-9)
        mini = _flat(grad(position, (teacher_small.X_train[picked], y[picked])))
        prior = _flat(dprior(*position))
        expected = prior + rows / 20 * (dlogp_batch(point) - prior)
        np.testing.assert_allclose(mini, expected, rtol=1e-9, atol=1e-9)


def test_sgld_step_size_decays_over_the_burn_in_then_holds():
    from bnn_models.inference.sgld import SGLDSettings

    s = SGLDSettings(step_size=1e-3, burn_in=1000, decay_steps=100, step_decay=0.5)
    at = np.asarray(s.step_size_at(np.array([0, 300, 1000, 5000])))
    np.testing.assert_allclose(at, 1e-3 * np.array([1, 4**-0.5, 11**-0.5, 11**-0.5]))
    assert [st.steps for st in s.plan()] == [1000, s.draws * s.thin]


def test_cyclical_schedule_is_a_cosine_per_cycle_with_exploration_first():
    from bnn_models.inference.sgld_cyclical import CyclicalSGLDSettings

    s = CyclicalSGLDSettings(step_size=1e-3, draws=40, thin=5, cycles=2, exploration=0.75)
    # 20 draws x 5 steps sampling per cycle, 3 times as many exploring: cycles of 400
    assert (s.sampling_steps, s.exploration_steps, s.cycle_length) == (100, 300, 400)
    at = np.asarray(s.step_size_at(np.array([0, 200, 400, 600, 799])))
    np.testing.assert_allclose(at[:4], [1e-3, 5e-4, 1e-3, 5e-4])
    assert 0 < at[4] < 1e-7
    plan = s.plan()
    assert [(st.steps, st.temperature, st.keep) for st in plan] == [
        (300, 0.0, False),
        (100, 1.0, True),
    ] * 2


@pytest.mark.parametrize("name", SG_METHODS)
def test_gradients_are_counted_in_full_data_equivalents(name, tiny_fits, teacher_small):
    """n_grad_evals = chains x steps x gradients per step x batch / rows; the raw count of
    minibatch gradients, the batch size and the rows are recorded."""
    from tests.conftest import tiny

    fit = tiny_fits[name]
    s = tiny(name)
    c = fit.convergence
    rows = len(teacher_small.y_train)
    per_step = s.get("num_integration_steps", 1)
    steps = c["steps_per_chain"]
    assert c["rows"] == rows and c["batch_size"] == s["batch_size"]
    assert c["minibatch_grads"] == s["chains"] * steps * per_step
    assert fit.n_grad_evals == round(c["minibatch_grads"] * s["batch_size"] / rows)
    assert fit.n_grad_evals == fit.counts["grad_evals_warmup"] + fit.counts["grad_evals_sampling"]
    post = fit.idata["posterior"]
    assert (post.sizes["chain"], post.sizes["draw"]) == (s["chains"], s["draws"])
    assert fit.family == "mcmc" and set(fit.timings) >= {"compile_s", "warmup_s", "sampling_s"}


def test_sg_fits_have_r_hat_and_ess_but_no_tree_depth(tiny_fits):
    """The NUTS engine table lists fits with a tree depth: these have none."""
    from bnn_models.metrics import diagnostics

    for name in SG_METHODS:
        d = diagnostics(tiny_fits[name])
        assert np.isfinite(d["rhat_max_pred"]) and d["ess_bulk_min_pred"] > 0
        assert "tree_depth_mean" not in d and "divergences" not in d


def test_cyclical_keeps_draws_only_from_the_sampling_stages(tiny_fits):
    from bnn_models.inference import METHODS
    from tests.conftest import tiny

    s = METHODS["sgld_cyclical"].configure(overrides=tiny("sgld_cyclical"))
    kept = tiny_fits["sgld_cyclical"].idata["sample_stats"]["step_size"].values
    # the sampling stage is the second half of each cycle: at most half the step size
    # (per row: the step taken is that over the 200 rows)
    assert kept.max() <= s.step_size / 2 / 200 * (1 + 1e-12)
    assert kept.shape == (s.chains, s.draws)


def test_sgld_at_a_small_step_recovers_nuts_predictive_means(teacher_small, tiny_fits):
    """Full-batch SGLD (a batch above the rows is clamped, and says so) at a small
    constant step: predictive means within Monte Carlo error of NUTS' on the same data."""
    from bnn_models.inference import METHODS

    fit = METHODS["sgld"](
        dataset=teacher_small,
        seed=1,
        progressbar=False,
        n_hidden=4,
        step_size=0.2,  # per row: 1e-3 on the 200 rows
        step_decay=0.0,
        burn_in=2000,
        draws=200,
        thin=20,
        chains=2,
        batch_size=1000,
    )
    assert fit.convergence["batch_size"] == len(teacher_small.y_train)
    assert any("clamped" in w for w in fit.warnings)
    diff = np.abs(fit.p_test.mean(axis=0) - tiny_fits["nuts"].p_test.mean(axis=0))
    assert np.median(diff) < 0.03
    agree = (fit.p_test.mean(axis=0) >= 0.5) == (tiny_fits["nuts"].p_test.mean(axis=0) >= 0.5)
    assert agree.mean() >= 0.95


def test_a_diverging_fit_is_a_failed_fit_with_its_reason(teacher_small, tmp_path):
    from bnn_models.api import compare
    from tests.conftest import tiny

    runs = compare(
        teacher_small,
        methods=["sgld"],
        seeds=[0],
        overrides={"sgld": {**tiny("sgld"), "step_size": 1e4}},
        out=tmp_path,
    )
    (fit,) = runs.doc["fits"]
    assert fit["status"] == "failed"
    assert "non-finite weights" in fit["error"] and "step_size=10000 per row" in fit["error"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("batch_size", 0), ("step_size", 0.0), ("thin", 0), ("burn_in", -1)],
)
def test_bad_settings_are_refused(setting, value):
    from bnn_models.errors import BadInput
    from bnn_models.inference import METHODS

    with pytest.raises(BadInput, match=setting):
        METHODS["sgld"].configure(overrides={setting: value})


def test_cyclical_draws_must_split_into_the_cycles():
    from bnn_models.errors import BadInput
    from bnn_models.inference import METHODS

    with pytest.raises(BadInput, match="multiple of cycles"):
        METHODS["sgld_cyclical"].configure(overrides={"draws": 10, "cycles": 3})
