"""The metric table: one entry per metric, read by metrics.json, the gate, asv and the report."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from bnn_models import gate
from bnn_models.cli import main
from bnn_models.inference import load_fit
from bnn_models.metrics import (
    ASV_SUITES,
    GATES,
    METRICS,
    SECTIONS,
    Metric,
    Track,
    get_metric,
    register_metric,
    unregister_metric,
)
from bnn_models.report import build_report
from bnn_models.report.formats import FORMATS
from bnn_models.schema import load_metrics
from tests.conftest import tiny_set

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _mean_p(result, ctx) -> float:
    """Mean predicted probability over test rows and draws: a number no section holds."""
    return float(np.mean(result.p_test))


MEAN_P = Metric(
    name="mean_p_test",
    path="extra.mean_p",
    label="Mean predicted probability",
    unit="probability",
    direction="none",
    description="Mean over test rows and draws of the predicted probability.",
    compute=_mean_p,
    gate="t",
    asv=Track(suite="FitQuality"),
    column="prob",
    group="Extra",
)


def _reload_benchmarks():
    common = importlib.import_module("benchmarks.common")
    fits = importlib.import_module("benchmarks.fits")
    importlib.reload(common)
    importlib.reload(fits)
    return common, fits


def test_a_registered_metric_is_in_metrics_json_the_report_the_gate_and_asv(tmp_path):
    """The issue's acceptance: one register_metric call and its function, no other file."""
    out = tmp_path / "run"
    register_metric(MEAN_P)
    try:
        rc = main(
            [
                "run",
                "--dataset",
                "teacher",
                "--n-train",
                "200",
                "--n-test",
                "100",
                "--methods",
                "advi",
                "--hidden",
                "4",
                *tiny_set("advi"),
                "--reference",
                "none",
                "--no-report",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        assert rc == 0
        # metrics.json: under its path, the value its function gives on the saved fit
        doc = load_metrics(out)
        (fit,) = doc["fits"]
        want = float(np.mean(load_fit(out / fit["fit_file"]).p_test))
        assert fit["extra"]["mean_p"] == pytest.approx(want, rel=1e-12)
        assert 0.0 < fit["extra"]["mean_p"] < 1.0
        # the report: a column of the summary table, in its format
        rep = build_report(out, figures=False)
        assert "Mean predicted probability" in rep.columns
        cells = dict(zip(rep.columns, rep.rows[0].cells, strict=True))
        assert cells["Mean predicted probability"] == f"{want:.3f}"
        assert ("Extra", 1) in rep.groups
        # the gate's list, with its direction
        assert gate.GATED["extra.mean_p"] == "none"
        # the asv track list: a track_ with its unit, reading the run's number
        common, fits = _reload_benchmarks()
        assert "track_mean_p_test" in common.tracked_names()
        track = fits.FitQuality.track_mean_p_test
        assert track.unit == "probability"
        assert "direction: none" in track.__doc__.lower()
        cache = {"profile": common.PROFILE, "run": doc["run"], "fits": {"advi": fit}}
        value = track(fits.FitQuality(), cache, common.PROFILE, "advi")
        assert value == pytest.approx(want, rel=1e-12)
    finally:
        unregister_metric(MEAN_P.name)
        _, fits = _reload_benchmarks()
    assert "extra.mean_p" not in gate.GATED
    assert not hasattr(fits.FitQuality, "track_mean_p_test")


def test_every_metric_sits_in_a_section_and_names_known_formats_gates_and_suites():
    assert len(METRICS) >= 30
    paths = [m.path for m in METRICS.values()]
    assert len(set(paths)) == len(paths)
    for m in METRICS.values():
        assert m.section in SECTIONS, m.name
        assert m.source is SECTIONS[m.section].compute  # the suite's own: their section's
        assert m.gate is None or m.gate in GATES
        assert m.column_format is None or m.column_format in FORMATS, m.name
        assert m.track is None or m.track.suite in ASV_SUITES
        assert m.description.endswith(".") and "\n" not in m.description, m.name


def test_the_gate_gates_what_the_table_says():
    # today's gated metrics, which the committed baselines key their statistics by
    assert dict(gate.GATED) == {m.path: m.direction for m in METRICS.values() if m.gate is not None}
    assert len(gate.GATED) == 14
    assert gate.GATED["calibration.roc_auc"] == "higher"
    assert gate.GATED["fidelity.truth_coverage_90"] == "none"
    assert gate.rule.per_row("calibration.error_rate") and not gate.rule.per_row("calibration.ece")
    assert "error_rate and one_minus_f1_weighted" in gate.rule.rule_text()


def test_the_tracked_value_is_the_tracks_reading_of_the_metric():
    from benchmarks.common import tracked_value

    entry = {
        "fidelity": {"class_agreement": 0.9, "truth_coverage_90": 0.8},
        "shift": {"auroc_sd": None},
    }
    assert tracked_value(entry, METRICS["class_agreement"]) == pytest.approx(0.1)
    assert tracked_value(entry, METRICS["truth_coverage_90"]) == pytest.approx(0.1)
    assert math.isnan(tracked_value(entry, METRICS["auroc_sd"]))  # not a shifted run: n/a
    assert math.isnan(tracked_value(entry, METRICS["ece"]))  # absent: n/a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "ece"}, "already registered"),
        ({"path": "nodot"}, "not 'section.key'"),
        ({"path": "calibration.ece"}, "is 'ece'"),
        ({"path": "newsection.x", "compute": None}, "computes nothing"),
        ({"direction": "up"}, "direction 'up'"),
        ({"gate": "z"}, "gate 'z'"),
        ({"asv": Track(suite="NoSuchClass")}, "asv suite 'NoSuchClass'"),
        ({"asv": Track(name="ece")}, "track_ece is 'ece'"),
    ],
)
def test_a_bad_metric_is_refused_with_the_reason(change, message):
    fields = {**MEAN_P.__dict__, **change}
    with pytest.raises(ValueError, match=message):
        register_metric(Metric(**fields))
    assert MEAN_P.name not in METRICS


def test_get_metric_names_the_registered_ones():
    assert get_metric("ece").path == "calibration.ece"
    with pytest.raises(KeyError, match="registered: total_s"):
        get_metric("no_such_metric")


def test_the_report_keeps_its_column_order():
    from bnn_models.report.summary import _columns

    headers = [h for _, h, _, _ in _columns("NUTS")]
    assert headers[:6] == ["Total time", "Compile", "Fit", "Draw", "Predict", "Speed-up vs NUTS"]
    assert headers.index("Max R-hat: predictions / weights") + 1 == headers.index(
        "Min bulk ESS, predictions"
    )
    assert headers[-1] == "Divergences"
