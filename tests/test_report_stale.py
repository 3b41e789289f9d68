"""Stale results announced: a run's recorded settings against today's defaults."""

from __future__ import annotations

import json

from bnn_models.inference import METHODS
from bnn_models.report import build_report, render_html, render_markdown
from bnn_models.report.run import MethodRun
from bnn_models.report.stale import NOT_RECORDED, REMOVED, StaleSetting, build_stale
from tests.test_report import _copy, saved_run  # noqa: F401 - the shared tiny run

_WARNING = "This report was made with settings that differ from today's defaults:"


def _run(method: str, *, quick: bool = False, overrides: dict | None = None, **changes):
    """A run document and its methods: one fit of ``method`` recording today's defaults
    (of the quick profile if ``quick``) changed by ``changes`` (None: key dropped)."""
    config = {"method": method, "seed": 3, **METHODS[method].configure(quick=quick).as_config()}
    config = json.loads(json.dumps(config))
    for key, value in changes.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    entry = {"method": method, "seed": 3, "status": "ok", "label": "L", "config": config}
    doc = {
        "run": {"profile": "quick" if quick else "default", "overrides": overrides or {}},
        "fits": [entry],
    }
    return doc, {method: MethodRun(method, [entry])}


def test_current_defaults_list_nothing():
    assert build_stale(*_run("advi")) == []
    assert build_stale(*_run("fullrank_advi", quick=True)) == []


def test_one_changed_setting_listed_with_both_values():
    lr = METHODS["advi"].settings().learning_rate
    assert build_stale(*_run("advi", learning_rate=lr * 5)) == [
        StaleSetting("L", "learning_rate", json.dumps(lr * 5), json.dumps(lr))
    ]


def test_quick_runs_compare_with_the_quick_defaults():
    quick = METHODS["advi"].quick["max_iter"]
    assert build_stale(*_run("advi", quick=True)) == []
    doc, methods = _run("advi", quick=True)
    doc["run"]["profile"] = "default"  # the same record read as a default run: stale
    default = METHODS["advi"].settings().max_iter
    assert StaleSetting("L", "max_iter", str(quick), str(default)) in build_stale(doc, methods)


def test_settings_added_or_removed_since():
    got = build_stale(*_run("fullrank_advi", warm_start=None, retired=7))
    assert got == [
        StaleSetting("L", "retired", "7", REMOVED),
        StaleSetting("L", "warm_start", NOT_RECORDED, "true"),
    ]


def test_what_the_run_set_on_purpose_or_chose_at_fit_time_is_not_stale():
    doc, methods = _run("advi", learning_rate=0.5, overrides={"advi": {"learning_rate": 0.5}})
    assert build_stale(doc, methods) == []
    # NUTS's sampler defaults to None (chosen when the fit runs) and the fit records its choice
    assert build_stale(*_run("nuts", sampler="nutpie")) == []
    # an opt-in acceleration's switch that did not exist then: off then and off now
    assert build_stale(*_run("advi", fused=None)) == []


def test_report_of_a_current_run_has_no_warning(saved_run):  # noqa: F811
    rep = build_report(saved_run, figures=False)
    assert rep.stale == []
    assert _WARNING not in render_markdown(rep) and _WARNING not in render_html(rep)


def test_report_of_a_stale_run_says_so_at_the_top(saved_run, tmp_path):  # noqa: F811
    def edit(doc):
        for fit in doc["fits"]:
            if fit["method"] == "advi":
                fit["config"]["tol"] = 0.05

    out = _copy(saved_run, tmp_path / "stale", edit)
    rep = build_report(out, figures=False)
    label = METHODS["advi"].label
    tol = METHODS["advi"].settings().tol
    assert rep.stale == [StaleSetting(label, "tol", "0.05", json.dumps(tol))]
    md = render_markdown(rep)
    assert md.index(_WARNING) < md.index("## ")  # right under the title
    assert f"| {label} | tol | 0.05 | {json.dumps(tol)} |" in md
    html = render_html(rep)
    assert html.index(_WARNING) < html.index("<h2")
    assert f"<td>{label}</td><td>tol</td><td>0.05</td><td>{json.dumps(tol)}</td>" in html
