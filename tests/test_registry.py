"""The registry grows by one module and one line: a MAP point estimate, added inside the
test, goes through run -> metrics.json -> report -> gate with no other file edited."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys

import pytest

from bnn_models.cli import main
from bnn_models.errors import BadInput
from bnn_models.inference import (
    FAMILIES,
    METHODS,
    Method,
    Settings,
    get_method,
    register,
    resolve_methods,
    unregister,
)
from bnn_models.schema import load_metrics
from tests.conftest import tiny, tiny_set

#: The new method's module, as a user would write it: settings, fit function, record.
MAP_MODULE = '''"""MAP: the posterior mode found by L-BFGS (pm.find_MAP), a point estimate."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pymc as pm
import xarray as xr

from bnn_models.inference import FitResult, Method, Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.model import PARAMS, build_bnn


@dataclass(frozen=True)
class MAPSettings(Settings):
    """max_iter: most L-BFGS iterations."""

    max_iter: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.max_iter >= 1, "max_iter", self.max_iter, ">= 1")


def fit_map(*, dataset, settings=MAPSettings(), seed=0, context=None):
    t0 = time.perf_counter()
    model = build_bnn(
        dataset.X_train,
        dataset.y_train,
        n_hidden=settings.n_hidden,
        prior_sigma=settings.prior_sigma,
        feature_names=dataset.feature_names,
    )
    t1 = time.perf_counter()
    # the zero start is a saddle of the ReLU network: start from a prior draw
    start = dict(zip(PARAMS, pm.draw([model[v] for v in PARAMS], random_seed=seed)))
    found = pm.find_MAP(
        start=start,
        model=model,
        progressbar=context is None or context.progressbar,
        maxeval=settings.max_iter,
    )
    t2 = time.perf_counter()
    idata = xr.DataTree()
    idata["posterior"] = xr.Dataset(
        {
            v: (("chain", "draw", *model.named_vars_to_dims.get(v, ())), found[v][None, None])
            for v in PARAMS
        },
        coords={d: list(c) for d, c in model.coords.items() if d != "obs"},
    )
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t3 = time.perf_counter()
    return FitResult(
        method="map",
        idata=idata,
        loss=None,
        timings={
            "compile_s": t1 - t0,
            "fit_s": t2 - t1,
            "draw_s": 0.0,
            "predict_s": t3 - t2,
            "total_s": t3 - t0,
        },
        n_grad_evals=None,
        convergence={},
        config={"seed": seed, **settings.as_config()},
        sampler=f"pymc.find_MAP {pm.__version__}",
    )


METHOD = Method(
    name="map",
    label="MAP point estimate",
    family="point",
    fit=fit_map,
    settings=MAPSettings,
    quick={"max_iter": 500},
    description="the posterior mode (L-BFGS through pm.find_MAP): no spread",
)
'''


@pytest.fixture(scope="module")
def map_method(tmp_path_factory):
    """``map_method.py`` written into a fresh folder, imported, and registered (one line)."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "map_method.py").write_text(MAP_MODULE)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        module = importlib.import_module("map_method")
        register(module.METHOD)  # the one registry line
        try:
            yield module.METHOD
        finally:
            unregister("map")
            sys.modules.pop("map_method", None)


@pytest.fixture(scope="module")
def map_run(map_method, teacher_small, tmp_path_factory):
    """Three seeds of the MAP and of tiny ADVI, written to a results folder."""
    from bnn_models.runner import run_benchmark

    out = tmp_path_factory.mktemp("run")
    doc = run_benchmark(
        teacher_small,
        out,
        methods=["map", "advi"],
        seeds=[0, 1, 2],
        overrides={"advi": tiny("advi"), "map": tiny("map")},
        progressbar=False,
        log=lambda s: None,
    )
    return doc, out


def test_a_new_method_runs_through_run_metrics_report_and_gate(map_method, map_run, tmp_path):
    from bnn_models.gate import check, write_baseline
    from bnn_models.report import write_report

    doc, out = map_run
    # run -> metrics.json: three successful MAP fits, family "point", saved draws
    saved = load_metrics(out)
    maps = [f for f in saved["fits"] if f["method"] == "map"]
    assert [f["seed"] for f in maps] == [0, 1, 2]
    for fit in maps:
        assert fit["status"] == "ok", fit["error"]
        assert (fit["family"], fit["label"]) == ("point", "MAP point estimate")
        assert (out / fit["fit_file"]).is_file()
        # the conftest's fallback for a method TINY does not list: its quick settings
        assert fit["config"]["max_iter"] == map_method.quick["max_iter"] == tiny("map")["max_iter"]
        assert fit["config"]["n_hidden"] == 4
    assert saved["seed_summary"]["map"]["n_seeds"] == 3
    # -> report: the MAP is a row of the summary table
    paths = write_report(out)
    md = (out / "report.md").read_text()
    assert out / "report.md" in paths and out / "report.html" in paths
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert any("MAP point estimate" in line for line in rows), md[:2000]
    assert "MAP point estimate" in (out / "report.html").read_text()
    # -> gate: a baseline from the three seeds, and the same run checked against it
    baseline = write_baseline(tmp_path / "baseline.json", [out])
    assert set(baseline["metrics"]) == {"map", "advi"}
    assert "calibration.ece" in baseline["metrics"]["map"]
    assert "elbo.neg_final_elbo" not in baseline["metrics"]["map"]  # a point has no ELBO
    result = check(tmp_path / "baseline.json", [out])
    assert result.passed, result.table.to_string()


def test_a_point_estimate_without_loss_or_convergence_rule_is_measured(map_run):
    doc, _ = map_run
    for fit in (f for f in doc["fits"] if f["method"] == "map"):
        # nothing to converge on, nothing to diagnose: those sections are empty, not errors
        assert fit["convergence"] == {} and fit["elbo"] is None
        assert fit["diagnostics"] is None and "warnings" not in fit
        assert "iter_per_s" not in fit["runtime"] and "draws_per_s" not in fit["runtime"]
        # one draw: no spread in function space
        assert fit["spread"]["pred_sd_mean"] == 0.0
        assert fit["fidelity"]["psis_khat"] is None
        cal = fit["calibration"]
        assert cal["roc_auc"] is not None and cal["not_available"] == {}
        assert len(fit["reliability"]["cep"]) == 100


def test_families_and_names_resolve_to_the_new_method(map_method):
    assert "point" in FAMILIES
    assert resolve_methods("point") == ["map"]
    assert resolve_methods("all")[-1] == "map"  # registry order: added last
    assert resolve_methods("map,advi,map") == ["map", "advi"]
    assert get_method("map") is map_method
    with pytest.raises(ValueError, match="a method named 'map' is already registered"):
        register(map_method)


def test_an_unknown_setting_of_the_new_method_exits_2(map_method, tmp_path, capsys):
    code = main(
        [
            "run",
            "--dataset",
            "teacher",
            "--methods",
            "map",
            "--set",
            "map.window=10",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-report",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "method 'map' has no setting 'window'" in err and "max_iter" in err
    assert not (tmp_path / "o").exists()
    out = ["--out", str(tmp_path / "o"), "--no-progress"]
    code = main(["run", "--methods", "map", "--set", "map.max_iter=0", *out])
    assert code == 2 and "map: max_iter must be >= 1, got 0" in capsys.readouterr().err


def test_the_methods_command_lists_the_new_method(map_method, capsys):
    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (row,) = [line for line in lines if line.split()[0] == "map"]
    assert "MAP point estimate" in row and " point " in row


def test_a_record_is_checked_when_it_is_made():
    with pytest.raises(ValueError, match="method 'x': unknown family 'bayes'"):
        Method(name="x", label="X", family="bayes", fit=lambda **kw: None, settings=Settings)
    with pytest.raises(TypeError, match="settings must be a Settings subclass"):
        Method(name="x", label="X", family="point", fit=lambda **kw: None, settings=dict)
    with pytest.raises(BadInput, match="quick: method 'x' has no setting 'max_iter'"):
        Method(
            name="x",
            label="X",
            family="point",
            fit=lambda **kw: None,
            settings=Settings,
            quick={"max_iter": 10},
        )


def test_register_adds_last_and_unregister_removes_only_that(tiny_settings_method):
    before = list(METHODS)
    register(tiny_settings_method)
    try:
        assert list(METHODS) == [*before, "throwaway"]
        # a family gives its methods in registry order; "ensemble" is a family and
        # the name of the deep ensemble, which the family holds
        assert resolve_methods("ensemble") == ["ensemble", "throwaway"]
    finally:
        unregister("throwaway")
    assert list(METHODS) == before
    unregister("not-there")  # nothing to remove: nothing happens
    assert list(METHODS) == before
    with pytest.raises(BadInput, match="--methods: unknown method 'throwaway'"):
        get_method("throwaway")


@pytest.fixture
def tiny_settings_method():
    return Method(
        name="throwaway", label="T", family="ensemble", fit=lambda **kw: None, settings=Settings
    )


def test_a_method_whose_engine_is_missing_is_skipped_with_the_reason(tmp_path, capsys):
    """Never a crash: the run goes on, the report and the gate say why it did not run."""
    from bnn_models.gate import compare, write_baseline
    from bnn_models.report import write_report

    def never_called(**kwargs):
        raise AssertionError("a method whose engine is missing must not be fitted")

    missing = Method(
        name="ghost",
        label="Ghost sampler",
        family="mcmc",
        fit=never_called,
        settings=Settings,
        engine="bnn_bench_no_such_engine",
    )
    assert not missing.installed and missing.engine_version is None
    register(missing)
    try:
        out = tmp_path / "run"
        args = ["run", "--dataset", "teacher", "--n-train", "200", "--n-test", "100"]
        args += ["--hidden", "4", "--methods", "ghost,advi", "--seeds", "0,1,2"]
        args += [*tiny_set("advi"), "--out", str(out), "--no-progress"]
        assert main(args) == 0  # skipped is not failed
        log = capsys.readouterr().out
        assert "[ghost seed 0] skipped: engine 'bnn_bench_no_such_engine' is not installed" in log
        doc = load_metrics(out)
        ghosts = [f for f in doc["fits"] if f["method"] == "ghost"]
        assert [(f["seed"], f["status"], f["family"]) for f in ghosts] == [
            (0, "skipped", "mcmc"),
            (1, "skipped", "mcmc"),
            (2, "skipped", "mcmc"),
        ]
        reason = "engine 'bnn_bench_no_such_engine' is not installed (pip install bnn_bench_no_such_engine)"
        assert all(f["error"] == reason for f in ghosts)
        write_report(out)
        md = (out / "report.md").read_text()
        assert f"skipped ({reason})" in md
        assert f"Ghost sampler was skipped: {reason}." in md
        # With no successful MCMC fit, the report compares with nothing: no crash either.
        assert "ADVI (mean-field)" in md
        # The gate: a baseline leaves the skipped method out; a check notes it.
        baseline = write_baseline(tmp_path / "b.json", [out])
        assert set(baseline["metrics"]) == {"advi"}
        _, notes = compare({**baseline, "metrics": {**baseline["metrics"], "ghost": {}}}, ghosts)
        assert notes == [f"ghost: skipped ({reason}), not gated"]
    finally:
        unregister("ghost")


def test_a_method_whose_requirement_is_missing_is_skipped_with_the_reason(
    tmp_path, monkeypatch, capsys
):
    """Stan without a C++ compiler: the method says why (Method.requires), the run skips
    it with that reason and exits 0; the engine's version is its distribution's."""
    from bnn_models.inference import METHODS

    stan = METHODS["nuts_stan"]
    assert stan.distribution == "pystan" and stan.requires is not None
    if importlib.util.find_spec("stan") is not None:
        assert stan.engine_version == importlib.metadata.version("pystan")
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no g++, no clang++
    why = stan.unavailable()
    assert not stan.installed
    if importlib.util.find_spec("stan") is None:
        assert why == "engine 'stan' is not installed (pip install pystan)"
        return
    assert why is not None and why.startswith("no C++ compiler (g++/clang++) on PATH: ")
    out = tmp_path / "run"
    args = ["run", "--dataset", "teacher", "--n-train", "200", "--n-test", "100"]
    args += ["--hidden", "4", "--methods", "nuts_stan", "--seed", "0"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0  # skipped is not failed
    assert f"[nuts_stan seed 0] skipped: {why}" in capsys.readouterr().out
    (fit,) = load_metrics(out)["fits"]
    assert (fit["status"], fit["error"]) == ("skipped", why)


def test_a_fit_records_the_backend_it_compiled_to(monkeypatch):
    """The backend is read when the fit runs: PyTensor's default mode, or the engine's."""
    from bnn_models.inference._result import pytensor_backend

    assert pytensor_backend("NUMBA") == "pytensor numba"
    assert pytensor_backend("CVM") == "pytensor c"
    assert pytensor_backend("JAX") == "pytensor jax"
    assert pytensor_backend("FAST_COMPILE") == "pytensor python"
    import pytensor

    monkeypatch.setattr(pytensor.config, "mode", "CVM")
    assert pytensor_backend() == "pytensor c"


def test_a_method_set_resolves_like_a_family():
    from bnn_models.inference import METHOD_SETS

    assert resolve_methods("design") == ["nuts", "advi", "fullrank_advi"]
    assert resolve_methods("design,vi") == [
        "nuts",
        "advi",
        "fullrank_advi",
        *[m for m in resolve_methods("vi") if m not in METHOD_SETS["design"]],
    ]
    assert set(resolve_methods("ci")) < set(METHODS)  # CI leaves the other NUTS engines out
    for name, members in METHOD_SETS.items():
        assert name not in METHODS and set(members) <= set(METHODS), name
    with pytest.raises(
        BadInput, match=r"unknown method 'desgin'.*a set \(design, ci, literature, minibatch\)"
    ):
        resolve_methods("desgin")
