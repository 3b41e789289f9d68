"""The asv suite's conventions, checked without running asv (``asv check`` runs in CI)."""

from __future__ import annotations

import importlib
import inspect
import math
import sys
import timeit
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

common = importlib.import_module("benchmarks.common")
MODULES = [importlib.import_module(f"benchmarks.{m}") for m in ("fits", "ops", "scaling", "memory")]
_PREFIXES = ("time_", "track_", "peakmem_", "mem_")


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
    from benchmarks import fits

    caches = {cls.setup_cache for cls in _classes() if hasattr(cls, "setup_cache")}
    assert caches == {fits._Fits.setup_cache}
    assert fits._Fits.setup_cache.timeout == common.FIT_TIMEOUT
    for cls in _classes():
        if hasattr(cls, "setup_cache") or any(n.startswith("peakmem_") for n in vars(cls)):
            assert cls.number == 1 and cls.repeat == 1, cls.__name__
            assert cls.param_names[0] == "profile" and cls.params[0] == [common.PROFILE]


def test_listed_metrics_are_all_tracked():
    names = {name for _, name, _ in _benchmarks("track_")}
    for metric in (
        "fit_seconds",
        "compile_seconds",
        "neg_final_elbo",
        "iterations_to_converge",
        "ece",
        "brier",
        "log_loss",
        "error_rate",
        "one_minus_f1_weighted",
        "pred_sd_mean",
        "pred_sd_ratio",
        "max_rhat",
        "min_ess_bulk",
        "ess_bulk_per_second",
    ):
        assert f"track_{metric}" in names
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
    """A cache as ``fit_all`` returns it, with hand-set numbers."""

    def fit(method: str, sd: float) -> dict:
        entry = {
            "method": method,
            "status": "ok",
            "runtime": {"fit_s": 2.0, "compile_s": 1.0, "ess_bulk_per_s": 5.0},
            "calibration": {
                "ece": 0.1,
                "brier": 0.09,
                "log_loss": 0.3,
                "error_rate": 0.12,
                "one_minus_f1_weighted": 0.13,
            },
            "spread": {"pred_sd_mean": sd},
            "elbo": None,
            "diagnostics": None,
            "fidelity": {
                "class_agreement": 0.9,
                "pred_tv_mean": 0.05,
                "share_mean_off_0p3sd": 0.2,
                "pred_sd_ratio_median": 0.5,
                "psis_khat": None if method == "nuts" else 1.5,
            },
        }
        if method == "nuts":
            entry["diagnostics"] = {"rhat_max_pred": 1.02, "ess_bulk_min_pred": 40.0}
        else:
            entry["elbo"] = {"neg_final_elbo": 880.0, "iter_to_1pct": 1200}
        return entry

    fits_ = {
        "nuts": fit("nuts", 0.08),
        "advi": fit("advi", 0.04),
        "fullrank_advi": fit("fullrank_advi", 0.08),
    }
    return {"profile": common.PROFILE, "run": {}, "fits": fits_}


def test_tracks_read_the_cache():
    from benchmarks import fits

    cache, p = _cache(), common.PROFILE
    vi = fits.VIConvergence()
    assert vi.track_pred_sd_ratio(cache, p, "advi") == pytest.approx(0.5)
    assert vi.track_abs_log_pred_sd_ratio(cache, p, "advi") == pytest.approx(math.log(2))
    assert vi.track_abs_log_pred_sd_ratio(cache, p, "fullrank_advi") == pytest.approx(0.0)
    assert vi.track_neg_final_elbo(cache, p, "advi") == 880.0
    assert fits.NUTSDiagnostics().track_min_ess_bulk(cache, p) == 40.0
    for cls, name, fn in _benchmarks("track_"):
        args = [p] if cls.param_names == ["profile"] else [p, cls.params[1][-1]]
        value = fn(cls(), cache, *args)
        assert isinstance(value, float) and math.isfinite(value), f"{cls.__name__}.{name}"


def test_fidelity_tracks_are_na_without_a_reference():
    from benchmarks import fits

    cache, p = _cache(), common.PROFILE
    fid = fits.FitFidelity()
    assert fid.track_class_disagreement(cache, p, "advi") == pytest.approx(0.1)
    assert fid.track_abs_log_sd_ratio(cache, p, "advi") == pytest.approx(math.log(2))
    assert math.isnan(fid.track_psis_khat(cache, p, "nuts"))  # NUTS has no k-hat
    cache["fits"]["advi"]["fidelity"]["pred_tv_mean"] = None  # no reference
    assert math.isnan(fid.track_pred_tv_mean(cache, p, "advi"))


def test_a_failed_fit_fails_its_benchmarks():
    from benchmarks import fits

    cache = _cache()
    cache["fits"]["advi"] = {"method": "advi", "status": "failed", "error": "non-finite ELBO"}
    with pytest.raises(RuntimeError, match="non-finite ELBO"):
        fits.FitQuality().track_ece(cache, common.PROFILE, "advi")
    with pytest.raises(RuntimeError, match="profile"):
        fits.FitQuality().track_ece(cache | {"profile": "other"}, common.PROFILE, "nuts")


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
