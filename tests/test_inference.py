"""The registered methods: one result shape, one signature, saved and reloaded, reproducible,
near the truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bnn_models.errors import BadInput
from bnn_models.inference import (
    FAMILIES,
    METHODS,
    ADVISettings,
    FitContext,
    FitResult,
    FullRankADVISettings,
    NUTSSettings,
    fit_advi,
    fit_fullrank_advi,
    fit_nuts,
    load_fit,
    save_fit,
)
from bnn_models.model import PARAMS
from tests.conftest import TINY, tiny

TIMINGS = {"compile_s", "fit_s", "draw_s", "predict_s", "total_s"}


# Each method's checks are one test of their own, so make test's workers share the fits.
@pytest.mark.parametrize("name", list(METHODS))
def test_same_variables_and_dims_for_every_method(name, tiny_fits, teacher_small):
    result = tiny_fits[name]
    assert isinstance(result, FitResult) and result.ok, result.error
    assert result.method == name and result.family == METHODS[name].family
    assert result.family in FAMILIES
    assert isinstance(result.warnings, tuple)
    post = result.idata["posterior"]
    assert sorted(post.data_vars) == sorted(PARAMS)
    # the same named dims as every other method's (ADVI's stands for them all)
    expected = tiny_fits["advi"].idata["posterior"]
    assert {v: post[v].dims for v in PARAMS} == {v: expected[v].dims for v in PARAMS}
    assert result.p_test.shape[1] == len(teacher_small.y_test)
    assert np.all((result.p_test > 0) & (result.p_test < 1))
    # parts of fit_s where a method has phases: MCMC's warm-up and sampling, the
    # mean-field stage of full-rank ADVI's warm start
    parts = {"warmup_s", "sampling_s", "warm_start_s"}
    assert TIMINGS <= set(result.timings) <= TIMINGS | parts
    assert result.timings["total_s"] >= result.timings["fit_s"] >= 0
    assert result.versions["pymc"] and result.config["seed"] == 1
    assert result.config["method"] == name


@pytest.mark.parametrize("name", list(METHODS))
def test_what_each_family_holds(name, tiny_fits):
    result = tiny_fits[name]
    post = result.idata["posterior"]
    stats = result.idata["sample_stats"] if "sample_stats" in result.idata.children else {}
    if result.family == "mcmc":
        # several chains with sample stats, sampling timed apart from any warm-up
        assert post.sizes["chain"] == tiny(name)["chains"] > 1
        t = result.timings
        assert t["fit_s"] == pytest.approx(t.get("warmup_s", 0.0) + t["sampling_s"])
        assert result.loss is None
    if "n_steps" in stats or "num_steps" in stats:
        # every kept draw counts its leapfrog steps: the counts add up
        steps = stats["n_steps"] if "n_steps" in stats else stats["num_steps"]
        kept = int(steps.astype("int64").sum())
        counts = result.counts
        assert counts["grad_evals_sampling"] >= kept > 0, name
        assert result.n_grad_evals == counts["grad_evals_warmup"] + counts["grad_evals_sampling"]
        assert counts["grad_evals_warmup"] > 0 and result.timings["warmup_s"] >= 0
        assert "diverging" in stats
    if result.loss is not None:
        # a loss trace as long as the iterations, draws from q and its importance terms
        assert result.loss.size == result.convergence["iterations"]
        # gradients as full-data equivalents: a minibatch step counts batch / rows of one
        mb = result.convergence.get("minibatch")
        share = 1.0 if mb is None else mb["batch_size"] / mb["rows"]
        assert result.n_grad_evals == round(result.loss.size * share)
        assert result.convergence["max_iter"] == tiny(name)["max_iter"]
        assert post.sizes["draw"] == tiny(name)["draws"]
        conv = result.convergence
        # converged: the rule fired before the step cap, numbered as fired_at
        assert conv["converged"] == (
            conv["fired_at"] is not None and conv["fired_at"] < conv["cap"]
        )
        if not conv["converged"]:
            said = "did not meet" if conv["fired_at"] is None else "only at the step cap"
            assert f"{said}" in result.warnings[0] and "convergence rule" in result.warnings[0]
    if result.family == "vi":
        # a density q: its log p and log q per draw, or the engine's own Pareto k
        assert {"vi_importance", "engine_psis"} & set(result.idata.children), name
    else:
        assert "vi_importance" not in result.idata.children, name


def test_the_default_nuts_draws_with_nutpie_or_pymc(tiny_fits):
    assert tiny_fits["nuts"].sampler.startswith(("nutpie", "pymc.NUTS"))


@pytest.mark.parametrize("name", list(METHODS))
def test_every_fit_records_a_backend(name, tiny_fits):
    assert tiny_fits[name].backend, name


def test_every_fit_records_its_backend(tiny_fits):
    from bnn_models.inference._result import pytensor_backend

    backends = {name: tiny_fits[name].backend for name in ("nuts", "advi", "fullrank_advi")}
    if tiny_fits["nuts"].sampler.startswith("nutpie"):
        assert backends["nuts"] == "numba (nutpie)"
    # PyMC's own engines run on PyTensor's default mode, read when they ran
    assert backends["advi"] == backends["fullrank_advi"] == pytensor_backend()
    for name in ("nuts_numpyro", "nuts_blackjax"):
        if name in tiny_fits and tiny_fits[name].ok:
            assert tiny_fits[name].backend == "jax"


@pytest.mark.parametrize("method", list(METHODS))
def test_predictions_track_the_true_probabilities(method, tiny_fits, teacher_small):
    mean = tiny_fits[method].p_test.mean(axis=0)
    assert np.corrcoef(mean, teacher_small.p_test_true)[0, 1] > 0.6, method


@pytest.mark.parametrize("method", list(METHODS))
def test_save_and_load_round_trip(method, tiny_fits, tmp_path):
    result = tiny_fits[method]
    path = save_fit(result, tmp_path / f"{method}.nc")
    back = load_fit(path)
    np.testing.assert_array_equal(back.p_test, result.p_test)
    assert back.config == result.config and back.timings == result.timings
    assert back.convergence == result.convergence and back.sampler == result.sampler
    assert back.family == result.family and back.warnings == result.warnings
    assert back.method == result.method and back.status == result.status
    if result.loss is not None:
        np.testing.assert_array_equal(back.loss, result.loss)
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_rejects_a_foreign_file(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(BadInput, match="bad.nc: not a readable bnn-bench fit file"):
        load_fit(bad)


@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_same_draws_other_seed_other_draws(method, teacher_small, tiny_fits):
    again = METHODS[method](dataset=teacher_small, seed=1, progressbar=False, **tiny(method))
    # equal to rounding: multithreaded BLAS may sum in another order (Laplace, SVGD)
    first = tiny_fits[method]  # fitted in whichever process asked first, then saved and loaded
    np.testing.assert_allclose(again.p_test, first.p_test, rtol=1e-9, atol=1e-12)
    # what the file gave back is what the fit returned
    assert (again.config, again.sampler, again.family) == (
        first.config,
        first.sampler,
        first.family,
    )
    assert (again.convergence, again.counts, again.warnings) == (
        first.convergence,
        first.counts,
        first.warnings,
    )
    assert set(again.timings) == set(first.timings)
    # Another seed: the first that fits. Laplace may legitimately fail at an optimum
    # whose Hessian is not positive definite, and which seed lands there depends on the
    # machine's rounding (seed 2 did on one CPU and not on another).
    for seed in (2, 3, 4):
        other = METHODS[method](dataset=teacher_small, seed=seed, progressbar=False, **tiny(method))
        if other.status == "ok":
            break
    assert other.status == "ok", other.error
    assert not np.array_equal(other.p_test, tiny_fits[method].p_test)


def test_the_fit_function_and_the_record_give_the_same_fit(teacher_small, tiny_fits):
    # one signature: fit(*, dataset, settings, seed, context); the record only
    # builds the settings and the context and stamps name and family
    direct = fit_advi(
        dataset=teacher_small,
        settings=ADVISettings(**TINY["advi"]),
        seed=1,
        context=FitContext(progressbar=False),
    )
    np.testing.assert_array_equal(direct.p_test, tiny_fits["advi"].p_test)
    assert direct.config == {k: v for k, v in tiny_fits["advi"].config.items() if k != "method"}


def test_settings_from_strings_defaults_quick_and_overrides():
    advi = METHODS["advi"]
    assert advi.configure() == ADVISettings()
    quick = advi.configure(quick=True)
    assert quick == dataclasses.replace(ADVISettings(), **advi.quick)
    # command-line strings become the fields' types; quick first, then the overrides
    out = advi.configure(
        quick=True,
        overrides={"max_iter": "1_200", "stop_on_convergence": "no", "grad_norm_clip": "none"},
    )
    assert out.max_iter == 1200 and out.stop_on_convergence is False
    assert out.grad_norm_clip is None and out.draws == advi.quick["draws"]
    assert METHODS["nuts"].configure(overrides={"target_accept": "0.9"}).target_accept == 0.9
    # a variant changes defaults, not code; full-rank adds only its warm start (on by
    # default: fewer, slower steps of its own after mean-field ADVI's) and the opt-in
    # packed factor (off by default: PyMC's own FullRankADVI)
    assert FullRankADVISettings().learning_rate < ADVISettings().learning_rate
    assert {f.name for f in dataclasses.fields(FullRankADVISettings)} == {
        f.name for f in dataclasses.fields(ADVISettings)
    } | {"warm_start", "warm_max_iter", "warm_window", "packed_factor"}
    assert FullRankADVISettings().warm_start is True
    assert FullRankADVISettings().packed_factor is False
    assert FullRankADVISettings(warm_start=False).warm_settings() is None
    # the mean-field stage fits the same model as the full-rank stage
    warm = FullRankADVISettings(n_hidden=5, prior_sigma=2.0, fused=True).warm_settings()
    assert warm is not None and (warm.n_hidden, warm.prior_sigma, warm.fused) == (5, 2.0, True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda ds: fit_nuts(dataset=ds, settings=NUTSSettings(draws=0)),
            "draws must be >= 1, got 0",
        ),
        (
            lambda ds: fit_advi(dataset=ds, settings=ADVISettings(optimizer="adamw")),
            "optimizer must be one of",
        ),
        (
            lambda ds: METHODS["advi"](dataset=ds, max_iter=-5),
            "advi: max_iter must be >= 1, got -5",
        ),
        (
            lambda ds: METHODS["nuts"](dataset=ds, target_accept=1.0),
            "nuts: target_accept must be in (0, 1), got 1.0",
        ),
        (
            lambda ds: METHODS["advi"](dataset=ds, max_iter="many"),
            "--set advi.max_iter: expected int, got 'many'",
        ),
        (
            lambda ds: METHODS["advi"](dataset=ds, learnign_rate=0.1),
            "method 'advi' has no setting 'learnign_rate'; settings: ",
        ),
        (
            lambda ds: METHODS["advi"](dataset=ds, settings=ADVISettings(), max_iter=0),
            "advi: max_iter must be >= 1, got 0",
        ),
        (
            lambda ds: fit_fullrank_advi(
                dataset=ds, settings=FullRankADVISettings(learning_rate=0)
            ),
            "learning_rate must be > 0, got 0",
        ),
    ],
)
def test_bad_settings_raise_before_fitting(call, message, teacher_small):
    with pytest.raises(BadInput) as info:
        call(teacher_small)
    assert message in str(info.value)


def test_the_compile_backend_is_a_checked_setting_and_recorded(teacher_small):
    from bnn_models.errors import BadInput
    from bnn_models.inference import METHODS
    from bnn_models.inference._gaussian_vi import GaussianVISettings
    from bnn_models.inference.nuts import NUTSSettings

    with pytest.raises(BadInput, match="backend.*'cuda'"):
        GaussianVISettings(backend="cuda")
    with pytest.raises(BadInput, match="backend.*'jax'"):
        NUTSSettings(sampler="pymc", backend="jax")
    fit = METHODS["advi"](
        dataset=teacher_small, seed=1, progressbar=False, max_iter=200, backend="numba"
    )
    assert fit.ok and fit.backend == "pytensor numba" and fit.config["backend"] == "numba"


def test_a_warm_started_full_rank_fit_starts_at_the_mean_field_solution(teacher_small):
    """The full-rank approximation starts with the mean-field fit's mean and sds and no
    correlation; the fit's record counts both stages."""
    import pymc as pm

    from bnn_models.inference import METHODS
    from bnn_models.inference._gaussian_vi import _start_from_mean_field
    from bnn_models.model import build_bnn

    model = build_bnn(teacher_small.X_train, teacher_small.y_train, n_hidden=3)
    with model:
        mf = pm.ADVI(random_seed=1)
        mf.fit(300, progressbar=False)
        fr = pm.FullRankADVI(random_seed=1)
    _start_from_mean_field(fr.approx.groups[0], mf.approx.groups[0])
    g, m = fr.approx.groups[0], mf.approx.groups[0]
    np.testing.assert_allclose(g.mean.eval(), m.mean.eval())
    np.testing.assert_allclose(g.std.eval(), m.std.eval(), rtol=1e-12)
    cov = g.cov.eval()
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=0)
    fit = METHODS["fullrank_advi"](
        dataset=teacher_small,
        seed=1,
        progressbar=False,
        max_iter=300,
        warm_start=True,
        warm_max_iter=200,
        warm_window=50,
        tol=1e-12,  # neither stage's rule fires: both run their steps
        draws=50,
    )
    warm = fit.convergence["warm_start"]
    assert fit.ok and warm["iterations"] == 200
    # its seconds are a time, kept with the timings (runs compare convergence exactly)
    assert "fit_s" not in warm and 0 < fit.timings["warm_start_s"] < fit.timings["fit_s"]
    assert fit.loss.size == fit.n_grad_evals == fit.convergence["iterations"] == 500
