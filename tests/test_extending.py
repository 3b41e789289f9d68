"""Extending the suite from outside its files: a method and a metric, each registered once,
appear everywhere the suite reports (issue 30's acceptance)."""

from __future__ import annotations

import importlib
import sys

import pytest

from bnn_models import gate
from bnn_models.cli import main
from bnn_models.inference import register, unregister
from bnn_models.metrics import register_metric, unregister_metric
from bnn_models.report import build_report
from bnn_models.report.catalogue import write_pages
from bnn_models.schema import load_metrics
from tests.test_metric_table import MEAN_P, _reload_benchmarks
from tests.test_registry import MAP_MODULE


@pytest.fixture
def map_and_mean_p(tmp_path):
    """The MAP method (a module of its own, registered with one line) and the mean-p
    metric (one register_metric call), removed again afterwards."""
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "map_plugin.py").write_text(MAP_MODULE)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp_path / "plugin"))
        method = register(importlib.import_module("map_plugin").METHOD)
        register_metric(MEAN_P)
        try:
            yield method
        finally:
            unregister_metric(MEAN_P.name)
            unregister(method.name)
            sys.modules.pop("map_plugin", None)
            _reload_benchmarks()


def test_a_registered_method_and_metric_reach_docs_results_report_gate_and_asv(
    map_and_mean_p, tmp_path
):
    method = map_and_mean_p
    # the docs' generated pages
    pages = {p.name: p.read_text() for p in write_pages(tmp_path / "reference")}
    assert f"## {method.label} (`{method.name}`)" in pages["methods.md"]
    assert "| `max_iter` | 5000 | 500 |" in pages["methods.md"]
    assert f"(`{MEAN_P.name}`) | `{MEAN_P.path}` |" in pages["metrics.md"]
    # metrics.json of a real run of the method, holding the metric
    out = tmp_path / "run"
    args = ["run", "--dataset", "teacher", "--n-train", "200", "--n-test", "100"]
    args += ["--methods", method.name, "--set", f"{method.name}.max_iter=200", "--hidden", "4"]
    args += ["--reference", "none", "--no-report", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    (fit,) = load_metrics(out)["fits"]
    assert fit["method"] == method.name and fit["status"] == "ok"
    assert 0.0 < fit["extra"]["mean_p"] < 1.0
    # the report: the method's row and the metric's column
    rep = build_report(out, figures=False)
    assert [row.method for row in rep.rows] == [method.name]
    assert MEAN_P.label in rep.columns
    # the gate's list and asv's tracks and methods
    assert gate.GATED[MEAN_P.path] == MEAN_P.direction
    common, fits = _reload_benchmarks()
    assert f"track_{MEAN_P.name}" in common.tracked_names()
    assert hasattr(fits.FitQuality, f"track_{MEAN_P.name}")
    assert method.name in common.METHOD_NAMES
