"""The reference posterior: built by the CLI, cached by key, reused, found, and used by a run."""

from __future__ import annotations

import json

import pytest

from bnn_models import reference as reference_mod
from bnn_models.bench import run_benchmark
from bnn_models.cli import main
from bnn_models.data import make_teacher
from bnn_models.reference import (
    QUICK_REFERENCE,
    build_reference,
    find_reference,
    load_reference,
    resolve_reference,
)

TEACHER = ["--dataset", "teacher", "--n-train", "200", "--n-test", "100", "--data-seed", "0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``bnn-bench reference --quick`` on a small teacher set, into a fresh cache."""
    cache = tmp_path_factory.mktemp("cache")
    code = main(["reference", *TEACHER, "--cache", str(cache), "--quick", "--seed", "3"])
    return code, cache, make_teacher(200, 100, seed=0)


def test_cli_writes_draws_and_summary(built, capsys):
    code, cache, _ = built
    nc, js = sorted(cache.glob("*.nc")), sorted(cache.glob("*.json"))
    assert len(nc) == len(js) == 1 and nc[0].stem == js[0].stem
    summary = json.loads(js[0].read_text())
    assert code == (0 if summary["acceptance"]["passed"] else 1)
    assert summary["schema"] == "bnn-bench/reference" and summary["key"] in nc[0].name
    assert summary["config"]["chains"] == QUICK_REFERENCE["chains"]
    assert summary["config"]["seed"] == 3
    fs = summary["diagnostics"]["function_space"]
    assert len(fs["rhat"]) == len(summary["pred_sd"]) == 100
    assert fs["rhat_max"] == max(fs["rhat"])
    for name in ("raw", "sort_w1", "match"):
        assert set(summary["diagnostics"]["weight_space"][name]["by_var"]) == {
            "W0",
            "b0",
            "W1",
            "b1",
        }
    assert summary["truth"]["coverage_90"] >= 0  # teacher: compared with the truth
    assert summary["model"]["n_hidden"] == 12 and len(summary["data_hash"]) == 64


def test_same_settings_reuse_the_cache(built, monkeypatch):
    _, cache, ds = built
    first = find_reference(ds, cache)

    def no_fit(**kwargs):
        raise AssertionError("a cached reference was refitted")

    monkeypatch.setattr(reference_mod, "fit_nuts", no_fit)
    again = build_reference(ds, cache_dir=cache, seed=3, progressbar=False, **QUICK_REFERENCE)
    assert again.key == first.key
    with pytest.raises(AssertionError, match="refitted"):
        build_reference(ds, cache_dir=cache, seed=4, progressbar=False, **QUICK_REFERENCE)


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
    with pytest.raises(ValueError, match="other data"):
        resolve_reference(str(path), make_teacher(200, 100, seed=1))
    with pytest.raises(ValueError, match="no reference of this data"):
        resolve_reference(str(tmp_path), ds)
    with pytest.raises(ValueError, match="neither auto, none nor an existing path"):
        resolve_reference(str(tmp_path / "nope.nc"), ds)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    (tmp_path / "bad.nc").write_text("")
    with pytest.raises(ValueError, match="not a bnn-bench reference summary"):
        load_reference(bad)


def test_run_records_fidelity_against_the_reference(built, tmp_path):
    _, cache, ds = built
    ref = find_reference(ds, cache)
    tiny = {"max_iter": 800, "window": 200, "draws": 100}
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
    assert 0 <= fid["class_agreement"] <= 1 and 0 <= fid["share_mean_off_0p3sd"] <= 1


def test_cache_root_from_the_environment(built, monkeypatch, tmp_path):
    _, cache, ds = built
    monkeypatch.setenv("BNN_BENCH_CACHE", str(tmp_path))
    assert resolve_reference("auto", ds) is None  # $BNN_BENCH_CACHE/reference is empty
    (tmp_path / "reference").mkdir()
    for f in cache.iterdir():
        (tmp_path / "reference" / f.name).write_bytes(f.read_bytes())
    assert resolve_reference("auto", ds).path.parent == tmp_path / "reference"
