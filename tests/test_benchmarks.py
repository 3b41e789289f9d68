"""The asv suite's conventions, checked without running asv (``asv check`` runs in CI)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import math
import sys
import timeit
from pathlib import Path

import numpy as np
import pytest

from bnn_models.errors import BadInput
from bnn_models.inference import (
    METHOD_SETS,
    METHODS,
    ADVISettings,
    Method,
    register,
    unregister,
)
from bnn_models.metrics import METRICS
from tests.conftest import rupture_available

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

common = importlib.import_module("benchmarks.common")
MODULES = [
    importlib.import_module(f"benchmarks.{m}")
    for m in ("fits", "ops", "scaling", "memory", "uncertainty")
]
_PREFIXES = ("time_", "track_", "peakmem_", "mem_")
#: Hand-set mean predictive sd of each registered method in the synthetic cache.
_PRED_SD = {"nuts": 0.08, "advi": 0.04, "fullrank_advi": 0.08}


def _classes():
    for module in MODULES:
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_"):
                yield cls


def _benchmarks(prefix: str = ""):
    for cls in _classes():
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith(_PREFIXES) and name.startswith(prefix):
                yield cls, name, fn


def test_no_module_level_function_looks_like_a_benchmark_to_asv():
    """asv takes every module-level function named time_/track_/mem_/peakmem_ in
    benchmarks/ for a benchmark (``asv check`` then fails on a helper's signature)."""
    helpers = [
        f"{module.__name__}.{name}"
        for module in (common, *MODULES)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__ and name.startswith((*_PREFIXES, "timeraw_"))
    ]
    assert not helpers


def test_every_class_sets_timer_and_timeout():
    classes = list(_classes())
    assert len(classes) >= 9
    for cls in classes:
        assert "timeout" in vars(cls), f"{cls.__name__}: no explicit timeout"
        assert vars(cls).get("timer") is timeit.default_timer, f"{cls.__name__}: no explicit timer"


def test_track_functions_have_a_unit_and_a_direction():
    tracks = list(_benchmarks("track_"))
    assert len(tracks) >= 15
    for cls, name, fn in tracks:
        assert isinstance(getattr(fn, "unit", None), str) and fn.unit, f"{cls.__name__}.{name}"
        doc = (fn.__doc__ or "").lower()
        assert (
            "lower is better" in doc
            or "higher is better" in doc
            or "direction: none" in doc
            or "1 is ideal" in doc
        ), f"{cls.__name__}.{name}: docstring states no direction"


def test_fit_benchmarks_share_one_setup_cache_and_run_once():
    from benchmarks import fits, uncertainty

    caches = {cls.setup_cache for cls in _classes() if hasattr(cls, "setup_cache")}
    # the rupture fits, and the uncertainty suite's two (shifted rupture, teacher data)
    own = {uncertainty._ShiftFits.setup_cache, uncertainty._TeacherFits.setup_cache}
    assert caches == {fits._Fits.setup_cache, *own}
    for cache in caches:
        assert cache.timeout == common.FIT_TIMEOUT
    for cls in _classes():
        if hasattr(cls, "setup_cache") or any(n.startswith("peakmem_") for n in vars(cls)):
            assert cls.number == 1 and cls.repeat == 1, cls.__name__
            assert cls.param_names == ["profile", "method"], cls.__name__
            assert cls.params[0] == [common.PROFILE]


def test_method_parameters_follow_the_registry_by_family():
    from benchmarks import fits, memory, ops

    family = {name: m.family for name, m in METHODS.items()}
    assert fits.FitCost.params[1] == list(METHODS)
    assert fits.FitQuality.params[1] == fits.FitFidelity.params[1] == list(METHODS)
    assert memory.PeakMemFit.params[1] == list(METHODS)
    assert fits.MCMCDiagnostics.params[1] == [m for m in METHODS if family[m] == "mcmc"]
    assert fits.VIConvergence.params[1] == [m for m in METHODS if family[m] == "vi"]
    # Today's registry: NUTS is the MCMC reference, both ADVIs get the VI tracks, and the
    # uncertainty suite fits the design card's three methods.
    assert common.MCMC_REFERENCE == "nuts"
    assert (
        common.UNCERTAINTY_METHODS
        == list(METHOD_SETS["design"])
        == [
            "nuts",
            "advi",
            "fullrank_advi",
        ]
    )
    assert {"advi", "fullrank_advi"} <= set(fits.VIConvergence.params[1])
    assert {"advi", "fullrank_advi"} <= set(ops.VIStep.params[0])


def _step(**kwargs):
    raise AssertionError("not fitted in these tests")


def test_a_registered_method_is_benchmarked_by_its_family():
    from benchmarks import fits, ops

    toy = Method(name="toy_vi", label="toy", family="vi", fit=_step, settings=ADVISettings)
    register(toy)
    try:
        for module in (common, *MODULES):
            importlib.reload(module)
        assert "toy_vi" in fits.FitQuality.params[1] and "toy_vi" in fits.VIConvergence.params[1]
        assert "toy_vi" in ops.VIStep.params[0]  # its settings name a PyMC class
        assert "toy_vi" not in fits.MCMCDiagnostics.params[1]
    finally:
        unregister("toy_vi")
        for module in (common, *MODULES):
            importlib.reload(module)
    assert "toy_vi" not in fits.FitQuality.params[1]


def test_the_suite_benchmarks_the_methods_the_environment_chooses(monkeypatch):
    from benchmarks import fits, memory

    mcmc = [m for m, method in METHODS.items() if method.family == "mcmc"]
    # in registry order: advi sits among the MCMC methods registered after it
    chosen = [m for m in METHODS if m in mcmc or m == "advi"]
    monkeypatch.setenv(common.METHODS_ENV, "mcmc,advi")
    try:
        for module in (common, *MODULES):
            importlib.reload(module)
        assert fits.FitQuality.params[1] == memory.PeakMemFit.params[1] == chosen
        assert fits.VIConvergence.params[1] == ["advi"]
        monkeypatch.setenv(common.METHODS_ENV, "ci")  # a set, as --methods takes it
        importlib.reload(common)
        assert common.METHOD_NAMES == [
            m for m in METHODS if m in METHOD_SETS["ci"] and METHODS[m].installed
        ]
        monkeypatch.setenv(common.METHODS_ENV, "nuts,no_such_method")
        with pytest.raises(BadInput, match=r"^\$BNN_BENCH_METHODS='nuts,no_such_method': .*"):
            importlib.reload(common)
    finally:
        monkeypatch.delenv(common.METHODS_ENV)
        for module in (common, *MODULES):
            importlib.reload(module)
    assert fits.FitQuality.params[1] == list(METHODS)


def test_benchmarks_never_name_a_method():
    for path in (ROOT / "benchmarks").glob("*.py"):
        code = path.read_text()
        for name in METHODS:
            assert f'"{name}"' not in code and f"'{name}'" not in code, f"{path.name}: {name}"


def test_every_metric_of_the_table_is_tracked_where_it_says():
    # the metric table names the tracks; the classes generate them (a metric registered
    # later gets its track on the class's next import: tests/test_metric_table.py)
    tracks = {(cls.__name__, name): fn for cls, name, fn in _benchmarks("track_")}
    wanted = {
        (m.track.suite, f"track_{m.track.name}"): m for m in METRICS.values() if m.track is not None
    }
    assert len(wanted) >= 19
    for (suite, name), metric in wanted.items():
        assert (suite, name) in tracks, f"{metric.name}: no {suite}.{name}"
        assert tracks[suite, name].unit == metric.track.unit
    assert [n for _, n in wanted] == common.tracked_names()
    # the tracks that compare two methods' fits, written by hand
    names = {name for _, name in tracks}
    assert {"track_pred_sd_ratio_to_mcmc", "track_abs_log_pred_sd_ratio_to_mcmc"} <= names
    # asv's history is keyed by the track names: today's stay
    assert {"track_fit_seconds", "track_ece", "track_max_rhat", "track_coverage_90_gap"} <= names
    times = {name for _, name, _ in _benchmarks("time_")}
    assert {"time_build_bnn", "time_logp_dlogp", "time_advi_step", "time_predict_test"} <= times
    assert {name for _, name, _ in _benchmarks("peakmem_")} == {"peakmem_fit"}


def test_profile_switch(monkeypatch):
    monkeypatch.setenv(common.PROFILE_ENV, "full")
    assert common.get_profile() == "full"
    monkeypatch.setenv(common.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="BNN_BENCH_PROFILE"):
        common.get_profile()


def _cache() -> dict:
    """A cache as ``fit_all`` returns it, with hand-set numbers, for every registered method."""

    def fit(method: str) -> dict:
        family = METHODS[method].family
        entry = {
            "method": method,
            "family": family,
            "status": "ok",
            "runtime": {"fit_s": 2.0, "compile_s": 1.0, "ess_bulk_per_s": None},
            "calibration": {
                "ece": 0.1,
                "brier": 0.09,
                "log_loss": 0.3,
                "error_rate": 0.12,
                "one_minus_f1_weighted": 0.13,
            },
            "spread": {"pred_sd_mean": _PRED_SD.get(method, 0.06)},
            "elbo": None,
            "diagnostics": None,
            "fidelity": {
                "class_agreement": 0.9,
                "pred_tv_mean": 0.05,
                "share_mean_off_0p3sd": 0.2,
                "pred_sd_ratio_median": 0.5,
                "psis_khat": 1.5 if family == "vi" else None,
                "truth_coverage_50": 0.45,
                "truth_coverage_90": 0.85,
            },
            "shift": {"auroc_sd": 0.7, "shifted_log_loss": 0.5},
        }
        if family == "mcmc":
            entry["diagnostics"] = {"rhat_max_pred": 1.02, "ess_bulk_min_pred": 40.0}
            entry["runtime"]["ess_bulk_per_s"] = 5.0
            entry["runtime"]["ess_bulk_per_grad"] = 2e-4
        else:
            entry["elbo"] = {"neg_final_elbo": 880.0, "iter_to_1pct": 1200}
        return entry

    return {"profile": common.PROFILE, "run": {}, "fits": {m: fit(m) for m in METHODS}}


def test_tracks_read_the_cache():
    from benchmarks import fits

    cache, p = _cache(), common.PROFILE
    vi = fits.VIConvergence()
    assert vi.track_pred_sd_ratio_to_mcmc(cache, p, "advi") == pytest.approx(0.5)
    assert vi.track_abs_log_pred_sd_ratio_to_mcmc(cache, p, "advi") == pytest.approx(math.log(2))
    assert vi.track_abs_log_pred_sd_ratio_to_mcmc(cache, p, "fullrank_advi") == pytest.approx(0.0)
    assert vi.track_neg_final_elbo(cache, p, "advi") == 880.0
    assert vi.track_iterations_to_converge(cache, p, "advi") == 1200.0
    mcmc = fits.MCMCDiagnostics()
    assert mcmc.track_min_ess_bulk(cache, p, "nuts") == 40.0
    assert mcmc.track_max_rhat(cache, p, "nuts") == 1.02
    assert mcmc.track_ess_bulk_per_second(cache, p, "nuts") == 5.0
    assert mcmc.track_ess_bulk_per_1k_gradients(cache, p, "nuts") == pytest.approx(0.2)
    from benchmarks import uncertainty

    shift, cover = uncertainty.ShiftUncertainty(), uncertainty.TruthCoverage()
    assert shift.track_shift_auroc_sd_shortfall(cache, p, "advi") == pytest.approx(0.3)
    assert shift.track_shifted_log_loss(cache, p, "nuts") == 0.5
    assert cover.track_coverage_90_gap(cache, p, "nuts") == pytest.approx(0.05)
    assert cover.track_coverage_50_gap(cache, p, "advi") == pytest.approx(0.05)
    # Every track, for every method it is parametrised over, reads a finite number.
    for cls, name, fn in _benchmarks("track_"):
        for method in cls.params[1]:
            value = fn(cls(), cache, p, method)
            assert isinstance(value, float), f"{cls.__name__}.{name}({method})"
            if name == "track_psis_khat" and METHODS[method].family != "vi":
                assert math.isnan(value)  # no density q to weigh draws by
            else:
                assert math.isfinite(value), f"{cls.__name__}.{name}({method})"


def test_pred_sd_ratio_is_to_the_first_mcmc_method(monkeypatch):
    from benchmarks import fits

    cache, p = _cache(), common.PROFILE
    cache["fits"]["other_mcmc"] = cache["fits"]["nuts"] | {
        "method": "other_mcmc",
        "spread": {"pred_sd_mean": 0.02},
    }
    assert fits.VIConvergence().track_pred_sd_ratio_to_mcmc(cache, p, "advi") == 0.5
    monkeypatch.setattr(fits, "MCMC_REFERENCE", "other_mcmc")
    assert fits.VIConvergence().track_pred_sd_ratio_to_mcmc(cache, p, "advi") == 2.0
    monkeypatch.setattr(fits, "MCMC_REFERENCE", None)  # no MCMC method registered: n/a
    assert math.isnan(fits.VIConvergence().track_pred_sd_ratio_to_mcmc(cache, p, "advi"))


def test_fidelity_tracks_are_na_without_a_reference():
    from benchmarks import fits

    cache, p = _cache(), common.PROFILE
    fid = fits.FitFidelity()
    assert fid.track_class_disagreement(cache, p, "advi") == pytest.approx(0.1)
    assert fid.track_abs_log_sd_ratio(cache, p, "advi") == pytest.approx(math.log(2))
    assert math.isnan(fid.track_psis_khat(cache, p, "nuts"))  # MCMC has no k-hat
    cache["fits"]["advi"]["fidelity"]["pred_tv_mean"] = None  # no reference
    assert math.isnan(fid.track_pred_tv_mean(cache, p, "advi"))


def test_a_failed_fit_fails_its_benchmarks():
    from benchmarks import fits

    cache = _cache()
    cache["fits"]["advi"] = {"method": "advi", "status": "failed", "error": "non-finite ELBO"}
    with pytest.raises(RuntimeError, match="non-finite ELBO"):
        fits.FitQuality().track_ece(cache, common.PROFILE, "advi")
    with pytest.raises(RuntimeError, match="non-finite ELBO"):  # the ratio's numerator
        fits.VIConvergence().track_pred_sd_ratio_to_mcmc(cache, common.PROFILE, "advi")
    with pytest.raises(RuntimeError, match="profile"):
        fits.FitQuality().track_ece(cache | {"profile": "other"}, common.PROFILE, "nuts")


def test_vi_step_is_built_from_each_methods_default_settings(teacher_small, monkeypatch):
    from bnn_models.inference import OPTIMIZERS
    from bnn_models.model import build_bnn

    model = build_bnn(teacher_small.X_train, teacher_small.y_train, n_hidden=3)
    built: list[tuple[str, dict]] = []
    for method in common.VI_STEP_METHODS:
        settings = METHODS[method].settings()
        built.clear()

        class Spy(settings.inference_class):  # records what the step is built from
            def __init__(self, *args, **kwargs):
                built.append(("class", kwargs))
                super().__init__(*args, **kwargs)

        def optimizer(learning_rate, _real=OPTIMIZERS[settings.optimizer]):
            built.append(("optimizer", {"learning_rate": learning_rate}))
            return _real(learning_rate=learning_rate)

        monkeypatch.setattr(METHODS[method].settings, "inference_class", Spy)
        monkeypatch.setitem(OPTIMIZERS, settings.optimizer, optimizer)
        step = common.vi_step_function(model, method)
        assert built == [
            ("optimizer", {"learning_rate": settings.learning_rate}),
            ("class", {"random_seed": common.FIT_SEED}),
        ], method
        losses = [float(np.asarray(step()).item()) for _ in range(3)]
        assert all(math.isfinite(v) for v in losses), (method, losses)
        monkeypatch.undo()


@pytest.mark.skipif(not rupture_available(), reason="rupture files not available offline")
def test_peak_memory_fits_use_the_profiles_settings():
    from benchmarks import memory

    bench = memory.PeakMemFit()
    for method in memory.PeakMemFit.params[1]:
        bench.setup(common.PROFILE, method)
        expected = METHODS[method].quick if common.PROFILE == "quick" else {}
        for key, value in expected.items():
            assert getattr(bench.settings, key) == value, (method, key)
        assert isinstance(bench.settings, METHODS[method].settings)


def test_short_timings_run_on_one_blas_thread():
    from threadpoolctl import threadpool_info

    from benchmarks import scaling

    bench = scaling.LogpGradScaling()
    bench.setup(400, 12)
    try:
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}
        bench.time_logp_dlogp(400, 12)
    finally:
        bench.blas.restore_original_limits()


# A pip-installed PyTensor's C backend finds no BLAS and says so: that is what is timed.
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_the_backend_benchmarks_time_every_backend_or_skip_with_the_reason():
    """One gradient per backend and one VI step per backend: every backend compiles the
    gradient to the same numbers; a backend that cannot compile a step is skipped (asv's
    NotImplementedError in setup), never a crash."""
    from benchmarks import ops

    assert ops.LogpGradBackend.params == (["numba", "c", "jax", "numba_positional"],)
    values = {}
    for backend in ops.LogpGradBackend.params[0]:
        bench = ops.LogpGradBackend()
        bench.setup(backend)
        bench.time_logp_dlogp(backend)
        logp, grad = bench.fn(bench.x)
        values[backend] = (float(logp), np.asarray(grad))
    for backend, (logp, grad) in values.items():
        assert logp == pytest.approx(values["numba"][0], rel=1e-9), backend
        np.testing.assert_allclose(grad, values["numba"][1], rtol=1e-7, atol=1e-9)
    bench = ops.VIStepBackend()
    bench.setup("advi", "numba")
    assert np.isfinite(bench.step())


def test_the_fused_benchmark_times_the_same_function_both_ways():
    """asv's plain-against-fused gradient: the same log density and gradient (1e-10)."""
    from benchmarks import ops

    values = {}
    for likelihood in ops.LogpGradFused.params[0]:
        bench = ops.LogpGradFused()
        bench.setup(likelihood)
        bench.time_logp_dlogp(likelihood)
        logp, grad = bench.fn(bench.x)
        values[likelihood] = (float(logp), np.asarray(grad))
    assert values["fused"][0] == pytest.approx(values["plain"][0], rel=1e-10)
    np.testing.assert_allclose(values["fused"][1], values["plain"][1], rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not rupture_available(), reason="rupture files not available offline")
def test_the_packed_factor_benchmark_times_the_same_step_both_ways():
    """asv's full-rank step with and without the packed factor: the same losses; JAX
    (no implementation of the packed Ops) skipped with the reason."""
    from benchmarks import ops

    assert ops.VIStepPackedFactor.params[0] == common.PACKED_FACTOR_METHODS != []
    losses = {}
    for packed in (False, True):
        bench = ops.VIStepPackedFactor()
        bench.setup(common.PACKED_FACTOR_METHODS[0], packed, "numba_positional")
        losses[packed] = [float(bench.step()) for _ in range(5)]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-10)
    with pytest.raises(NotImplementedError, match="on jax: BadInput"):
        ops.VIStepPackedFactor().setup(common.PACKED_FACTOR_METHODS[0], True, "jax")


# Over history asv builds each commit's wheel but imports this checkout's suite: what the
# suite uses of bnn_models that a commit lacks must skip (NotImplementedError in setup).


def test_what_a_commit_lacks_is_none_and_a_skip_that_names_it(monkeypatch):
    assert common.installed("bnn_models.inference:METHODS") is METHODS
    assert common.installed("bnn_models.inference:no_such_name") is None
    assert common.installed("bnn_models.no_such_module:anything") is None
    with pytest.raises(NotImplementedError, match=r"bnn_models\.no_such_module:anything"):
        common.required("bnn_models.no_such_module:anything")

    # a module that exists but cannot import is a broken commit, not an older one
    def broken(name):
        raise ModuleNotFoundError("No module named 'scipy'", name="scipy")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="scipy"):
        common.installed("bnn_models.inference.steps:vi_step_function")


@pytest.mark.skipif(not rupture_available(), reason="rupture files not available offline")
def test_a_commit_before_the_vi_steps_skips_their_benchmarks(monkeypatch):
    """As at a commit before bnn_models.inference.steps: the timings that need it skip with
    the name of what is missing; those that do not still run."""
    from benchmarks import ops
    from bnn_models.inference import steps

    for name in ("vi_step_function", "initial_vector", "backend_mode"):
        monkeypatch.delattr(steps, name)
    cases = [
        (ops.VIStep(), ("advi",), "steps:vi_step_function"),
        (ops.VIStepBackend(), ("advi", "numba"), "steps:vi_step_function"),
        (ops.LogpGrad(), (), "steps:initial_vector"),
        (ops.LogpGradBackend(), ("numba",), "steps:backend_mode"),
    ]
    try:
        for bench, args, missing in cases:
            with pytest.raises(NotImplementedError, match=missing):
                bench.setup(*args)
        build = ops.BuildModel()
        build.setup()
        build.time_build_bnn()
    finally:
        for bench in [b for b, _, _ in cases] + [build]:
            if hasattr(bench, "blas"):
                bench.blas.restore_original_limits()


def test_a_commit_before_the_fused_likelihood_skips_its_benchmark(monkeypatch):
    from benchmarks import ops

    def build_bnn(X, y, *, n_hidden=12, prior_sigma=1.0, feature_names=None):
        raise AssertionError("not reached")

    monkeypatch.setattr(ops, "build_bnn", build_bnn)
    for likelihood in ops.LogpGradFused.params[0]:
        with pytest.raises(NotImplementedError, match=r"fused=\.\.\."):
            ops.LogpGradFused().setup(likelihood)


def _asv_layout(tmp_path, recorded):
    (tmp_path / "asv.conf.json").write_text(
        '// JSON with comments, as asv reads it\n{"version": 1, "results_dir": "res"}\n'
    )
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "benchmarks.json").write_text(json.dumps({**recorded, "version": 2}))


def test_discovered_params_are_asvs_recorded_lists(tmp_path, monkeypatch):
    recorded = {
        "ops.VIStepBackend.time_vi_step": {
            "params": [["'advi'", "'fullrank_advi'"], ["'numba'", "'c'"]],
        },
        "ops.VIStepPackedFactor.time_vi_step": {
            "params": [["'fullrank_advi'"], ["False", "True"], ["'numba'"]],
        },
    }
    _asv_layout(tmp_path, recorded)
    monkeypatch.delenv("ASV_CONF_DIR", raising=False)
    assert common.discovered_params("ops.VIStepBackend") is None  # not under asv
    monkeypatch.setenv("ASV_CONF_DIR", str(tmp_path))
    assert common.discovered_params("ops.VIStepBackend") == (
        ["advi", "fullrank_advi"],
        ["numba", "c"],
    )
    assert common.discovered_params("ops.VIStepPackedFactor") == (
        ["fullrank_advi"],
        [False, True],
        ["numba"],
    )
    assert common.discovered_params("ops.VIStep") is None  # a prefix of another name
    # a commit without backends takes the recorded lists; none recorded: no combination
    monkeypatch.setattr(common, "BACKENDS", None)
    assert common.backend_params("ops.VIStepBackend", ["advi"]) == (
        ["advi", "fullrank_advi"],
        ["numba", "c"],
    )
    assert common.backend_params("ops.LogpGradBackend") == ([],)
    monkeypatch.setattr(common, "BACKENDS", {"numba": "NUMBA", "jax": "JAX"})
    assert common.backend_params("ops.VIStepBackend", ["advi"]) == (["advi"], ["numba", "jax"])


def test_backend_params_name_their_own_class():
    """backend_params looks asv's record up by the class's name: each call names its own."""
    calls = 0
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for cls in ast.walk(ast.parse(path.read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "backend_params"
                ):
                    calls += 1
                    assert node.args[0].value == f"{path.stem}.{cls.name}", path.name
    assert calls == 3
