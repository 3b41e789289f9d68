"""One definition per quantity in the report: convergence at the step cap, the predictive-sd
ratio, the cost per gradient, and where the published study is comparable."""

from __future__ import annotations

import pytest

from bnn_models.data import RUPTURE_FILES
from bnn_models.report import build_report, summary_table
from bnn_models.report.content import verdicts
from bnn_models.report.run import load_methods
from bnn_models.report.sections import not_comparable, published
from bnn_models.schema import load_metrics
from tests.test_report import _copy, saved_run  # noqa: F401 - the shared tiny run


def _fire_at_cap(doc: dict) -> None:
    """Full-rank ADVI's rule fired on the last step it was allowed."""
    for fit in doc["fits"]:
        if fit["method"] == "fullrank_advi":
            conv = fit["convergence"]
            conv["fired_at"] = conv["cap"]
            conv["converged"] = True  # as runs recorded it before the cap counted
            fit["elbo"]["rule_fired_at"] = conv["cap"]
            fit["elbo"]["converged"] = True


def test_a_rule_fired_at_the_cap_is_reported_as_not_converged(saved_run, tmp_path):  # noqa: F811
    out = _copy(saved_run, tmp_path / "cap", _fire_at_cap)
    doc = load_metrics(out / "metrics.json")
    cap = next(f for f in doc["fits"] if f["method"] == "fullrank_advi")["convergence"]["cap"]
    methods = load_methods(out, doc, load=False)
    said = " ".join(verdicts(methods))
    assert f"only at the step cap (iteration {cap:,}): not converged" in said
    table = summary_table(doc).set_index("method")
    assert table.loc["fullrank_advi", "converged_at"] == "no"
    rep = build_report(out, figures=False)
    row = next(r for r in rep.rows if r.method == "fullrank_advi")
    assert f"at the cap ({cap:,}): not converged" in row.cells


def test_a_rule_fired_before_the_cap_is_convergence(saved_run, tmp_path):  # noqa: F811
    def early(doc):
        for fit in doc["fits"]:
            if fit["method"] == "fullrank_advi":
                fit["convergence"]["fired_at"] = fit["convergence"]["cap"] - 1
                fit["elbo"]["rule_fired_at"] = fit["convergence"]["cap"] - 1

    out = _copy(saved_run, tmp_path / "early", early)
    doc = load_metrics(out / "metrics.json")
    table = summary_table(doc).set_index("method")
    fired = next(f for f in doc["fits"] if f["method"] == "fullrank_advi")["convergence"]
    assert table.loc["fullrank_advi", "converged_at"] == fired["fired_at"]
    said = " ".join(verdicts(load_methods(out, doc, load=False)))
    assert f"the rule fired at iteration {fired['fired_at']:,}" in said


# --------------------------------------------------------------------------- published study


def _rupture(**changes) -> dict:
    """A run document on the study's data and split, changed by ``changes``."""
    dataset = {
        "name": "rupture",
        "n_train": 1600,
        "n_test": 400,
        "sha256": dict(RUPTURE_FILES),
        "rebalanced": False,
        **changes,
    }
    return {"run": {"dataset": dataset}, "fits": []}


def test_published_study_compared_on_its_own_data_and_split():
    rows, notes = published(_rupture(), {})
    assert rows[0][0] == "Published study (VI)" and "pinned hash" in notes[0]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        (
            {
                "n_train": 1200,
                "n_test": 800,
                "shift": {"name": "bump-height", "feature": "height", "central": 0.8},
            },
            "Not comparable: trained on the central 80% of height (shift 'bump-height'), "
            "not on the study's training files.",
        ),
        (
            {"n_train": 400},
            "Not comparable: 400 training and 400 test rows, not the study's 1,600 and 400.",
        ),
        (
            {"sha256": {**RUPTURE_FILES, "rupturemodel_test.txt": "0" * 64}},
            "Not comparable: rupturemodel_test.txt: not the study's file (SHA256 differs "
            "from the pinned one).",
        ),
        (
            {"name": "teacher"},
            "Not comparable: the published numbers are for the rupture data; this run used "
            "'teacher', so there is nothing to compare.",
        ),
    ],
)
def test_published_study_absent_elsewhere_and_the_report_says_why(changes, why):
    doc = _rupture(**changes)
    assert not_comparable(doc["run"]["dataset"]) == why
    assert published(doc, {}) == ([], [why])
