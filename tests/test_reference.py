"""The reference posterior: built by the CLI, cached by key, reused, found, and used by a run."""

from __future__ import annotations

import dataclasses
import json
import shutil

import arviz as az
import numpy as np
import pytest

from bnn_models import reference as reference_mod
from bnn_models.cli import main
from bnn_models.data import make_teacher
from bnn_models.errors import BadInput
from bnn_models.inference import METHODS, load_fit
from bnn_models.reference import (
    ACCEPT_ESS_BULK,
    QUICK_REFERENCE,
    build_reference,
    find_reference,
    load_reference,
    resolve_reference,
)
from bnn_models.runner import run_benchmark
from tests.conftest import TINY

TEACHER = ["--dataset", "teacher", "--n-train", "200", "--n-test", "100", "--data-seed", "0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``bnn-bench reference --quick`` on a small teacher set, into a fresh cache."""
    cache = tmp_path_factory.mktemp("cache")
    code = main(["reference", *TEACHER, "--cache", str(cache), "--quick", "--seed", "3"])
    return code, cache, make_teacher(200, 100, seed=0)


def test_cli_writes_draws_and_summary(built, capsys):
    code, cache, ds = built
    nc, js = sorted(cache.glob("*.nc")), sorted(cache.glob("*.json"))
    assert len(nc) == len(js) == 1 and nc[0].stem == js[0].stem
    summary = json.loads(js[0].read_text())
    # 2 chains x 150 draws cannot reach a bulk ESS of 400 at every test point: the quick
    # reference is a smoke test, it fails the acceptance and the command exits 1
    assert QUICK_REFERENCE.chains * QUICK_REFERENCE.draws < ACCEPT_ESS_BULK
    assert not summary["acceptance"]["ess_bulk_min_pred"]["ok"]
    assert summary["acceptance"]["passed"] is False and code == 1
    assert summary["schema"] == "bnn-bench/reference" and summary["key"] in nc[0].name
    assert summary["config"]["chains"] == QUICK_REFERENCE.chains
    assert summary["config"]["draws"] == QUICK_REFERENCE.draws
    assert summary["config"]["seed"] == 3  # --seed is kept with --quick
    fs = summary["diagnostics"]["function_space"]
    assert len(fs["rhat"]) == len(summary["pred_sd"]) == 100
    assert fs["rhat_max"] == max(fs["rhat"])
    ref = load_reference(nc[0])
    # R-hat of every test probability, recomputed with ArviZ from the cached draws
    rhat = az.rhat(ref.idata, group="predictions")["p"].values
    np.testing.assert_allclose(fs["rhat"], rhat)
    for name in ("raw", "sort_w1", "match"):
        assert set(summary["diagnostics"]["weight_space"][name]["by_var"]) == {
            "W0",
            "b0",
            "W1",
            "b1",
        }
    # teacher data: compared with the true probabilities, recomputed here from the draws
    truth = ds.p_test_true
    lo, hi = np.quantile(ref.p_test, [0.05, 0.95], axis=0)
    assert summary["truth"]["coverage_90"] == pytest.approx(np.mean((truth >= lo) & (truth <= hi)))
    mean_err = np.abs(ref.p_test.mean(axis=0) - truth).mean()
    assert summary["truth"]["tv_mean"] == pytest.approx(mean_err)
    assert summary["model"]["n_hidden"] == 12 and len(summary["data_hash"]) == 64


def test_same_settings_reuse_the_cache(built, monkeypatch):
    _, cache, ds = built
    first = find_reference(ds, cache)

    def no_fit(**kwargs):
        raise AssertionError("a cached reference was refitted")

    monkeypatch.setattr(reference_mod, "fit_nuts", no_fit)
    quiet = {"cache_dir": cache, "progressbar": False, "log": lambda line: None}
    same = dataclasses.replace(QUICK_REFERENCE, seed=3)
    again = build_reference(ds, same, **quiet)
    assert again.key == first.key
    assert build_reference(ds, same, cores=1, **quiet).key == first.key  # cores: not in the key
    with pytest.raises(AssertionError, match="refitted"):
        build_reference(ds, dataclasses.replace(same, seed=4), **quiet)
    with pytest.raises(AssertionError, match="refitted"):
        build_reference(ds, same, n_hidden=4, **quiet)


def test_auto_finds_only_a_matching_reference(built, tmp_path):
    _, cache, ds = built
    ref = resolve_reference("auto", ds, cache_dir=cache)
    assert ref is not None and ref.p_test.shape == (300, 100)
    assert resolve_reference("auto", ds, cache_dir=cache, n_hidden=4) is None
    assert resolve_reference("auto", make_teacher(200, 100, seed=1), cache_dir=cache) is None
    assert resolve_reference("auto", ds, cache_dir=tmp_path / "empty") is None
    assert resolve_reference("none", ds, cache_dir=cache) is None
    assert resolve_reference(str(cache), ds).key == ref.key
    assert load_reference(ref.path.with_suffix(".json")).key == ref.key


def test_a_named_reference_must_match(built, tmp_path):
    _, cache, ds = built
    path = next(cache.glob("*.nc"))
    with pytest.raises(BadInput, match="other data"):
        resolve_reference(str(path), make_teacher(200, 100, seed=1))
    with pytest.raises(BadInput, match="has n_hidden=12, the fit 4"):
        resolve_reference(str(path), ds, n_hidden=4)
    with pytest.raises(BadInput, match="no reference of this data"):
        resolve_reference(str(tmp_path), ds)
    with pytest.raises(BadInput, match="neither auto, none nor an existing path"):
        resolve_reference(str(tmp_path / "nope.nc"), ds)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    (tmp_path / "bad.nc").write_text("")
    with pytest.raises(BadInput, match="not a bnn-bench reference summary"):
        load_reference(bad)
    with pytest.raises(ValueError, match="reference: chains must be >= 2 for R-hat, got 1"):
        dataclasses.replace(QUICK_REFERENCE, chains=1)


def test_run_records_fidelity_against_the_reference(built, tmp_path):
    _, cache, ds = built
    ref = find_reference(ds, cache)
    # the reference's width: TINY's 4 hidden units would be another model (skipped)
    tiny = {**TINY["advi"], "n_hidden": ref.summary["model"]["n_hidden"]}
    doc = run_benchmark(
        ds,
        tmp_path,
        methods=["advi"],
        overrides={"advi": tiny},
        progressbar=False,
        log=lambda s: None,
        reference=ref,
    )
    assert doc["run"]["reference"]["key"] == ref.key
    assert len(doc["run"]["reference"]["pred_sd"]) == 100
    fid = doc["fits"][0]["fidelity"]
    assert fid["reference"] == ref.key and fid["reference_skipped"] is None
    for key in (
        "class_agreement",
        "pred_tv_mean",
        "pred_sd_ratio_median",
        "pred_wasserstein_mean",
        "share_mean_off_0p3sd",
        "weight_sd_ratio_median",
        "psis_khat",
        "truth_tv_mean",
        "truth_tv_mean_ref",
    ):
        assert isinstance(fid[key], float), key
    # recomputed here from the saved fit and the reference's summary
    fit = load_fit(tmp_path / doc["fits"][0]["fit_file"])
    mean, sd = fit.p_test.mean(axis=0), fit.p_test.std(axis=0)
    ref_mean, ref_sd = np.array(ref.summary["pred_mean"]), np.array(ref.summary["pred_sd"])
    assert fid["class_agreement"] == pytest.approx(np.mean((mean >= 0.5) == (ref_mean >= 0.5)))
    assert fid["pred_tv_mean"] == pytest.approx(np.abs(mean - ref_mean).mean())
    assert fid["pred_sd_ratio_median"] == pytest.approx(np.median(sd / ref_sd))
    off = np.abs(mean - ref_mean) > 0.3 * ref_sd
    assert fid["share_mean_off_0p3sd"] == pytest.approx(off.mean())
    truth = ds.p_test_true
    assert fid["truth_tv_mean"] == pytest.approx(np.abs(mean - truth).mean())
    assert fid["truth_tv_mean_ref"] == pytest.approx(np.abs(ref.p_test.mean(axis=0) - truth).mean())


def test_cache_root_from_the_environment(built, monkeypatch, tmp_path):
    _, cache, ds = built
    monkeypatch.setenv("BNN_BENCH_CACHE", str(tmp_path))
    assert resolve_reference("auto", ds) is None  # $BNN_BENCH_CACHE/reference is empty
    (tmp_path / "reference").mkdir()
    for f in cache.iterdir():
        (tmp_path / "reference" / f.name).write_bytes(f.read_bytes())
    assert resolve_reference("auto", ds).path.parent == tmp_path / "reference"


def _close(got: object, want: object) -> bool:
    """Equal, floats to rounding (pytest.approx), through nested dicts."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(_close(got[k], want[k]) for k in want)
        )
    return got == (pytest.approx(want) if isinstance(want, float) else want)


def test_the_compact_summary_alone_gives_the_same_fidelity(built, tmp_path):
    """The committed summary without its draws: every metric but those that need draws."""
    from bnn_models.fidelity import compute_fidelity
    from bnn_models.refsummary import NEEDS_DRAWS

    _, cache, ds = built
    full = find_reference(ds, cache)
    js = full.path.with_suffix(".json")
    shutil.copyfile(js, tmp_path / js.name)  # the summary alone, as a fresh clone has it
    compact = load_reference(tmp_path / js.name)
    assert compact.idata is None and not compact.has_draws and full.has_draws
    np.testing.assert_allclose(compact.template, full.template)
    for name in ("within_chain_sd", "pooled_sd"):
        for var in getattr(full, name).data_vars:
            np.testing.assert_allclose(
                getattr(compact, name)[var].values, getattr(full, name)[var].values, rtol=1e-12
            )
    quantiles = compact.summary["compact"]["pred_quantiles"]
    np.testing.assert_allclose(quantiles["0.5"], np.quantile(full.p_test, 0.5, axis=0))
    # a 12-unit advi fit of this data, against both
    fit = METHODS["advi"](dataset=ds, seed=1, progressbar=False, **{**TINY["advi"], "n_hidden": 12})
    a, b = compute_fidelity(fit, ds, full), compute_fidelity(fit, ds, compact)
    assert b["reference_draws"] is False and a["reference_draws"] is True
    for key, value in a.items():
        if key in NEEDS_DRAWS:
            assert b[key] is None and value is not None, key
        elif key != "reference_draws":
            assert _close(b[key], value), key
    with pytest.raises(BadInput, match="no draws"):
        _ = compact.p_test


def test_out_and_floor_seed_write_both_summaries_and_the_floor(built, tmp_path):
    """`--floor-seed` builds a second reference beside the first (the cached one is reused)
    and records their distance in the first's summary; `--out` writes both summaries."""
    cache = tmp_path / "cache"
    shutil.copytree(built[1], cache)  # the first is reused; the module's cache stays as it was
    out = tmp_path / "committed" / "teacher.json"
    args = ["reference", *TEACHER, "--cache", str(cache), "--quick", "--seed", "3"]
    assert main([*args, "--floor-seed", "4", "--out", str(out)]) in (0, 1)  # quick: may fail
    first = json.loads(out.read_text())
    second = json.loads((out.parent / "floor" / "teacher-seed4.json").read_text())
    assert first["config"]["seed"] == 3 and second["config"]["seed"] == 4
    floor = first["noise_floor"]
    assert [r["seed"] for r in floor["runs"]] == [3, 4]
    assert 0 < floor["pred_tv_mean"] < 1
    # the cached first summary holds the floor too: runs that find it report "x the floor"
    cached = [json.loads(p.read_text()) for p in cache.glob("teacher-*.json")]
    assert [c.get("noise_floor") for c in cached if c["config"]["seed"] == 3] == [floor]
    # the second run lies apart from the first: runs that look for a reference find the first
    assert [p.name for p in (cache / "floor").glob("teacher-*.json")]
    found = find_reference(make_teacher(200, 100, seed=0), cache)
    assert found is not None and found.summary["config"]["seed"] == 3
    assert found.summary["noise_floor"] == floor
    assert main([*args, "--floor-seed", "3"]) == 2  # the same seed twice: no floor
