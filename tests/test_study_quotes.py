"""The studies' READMEs quote their result files: a claim their results break stops the
rendering, naming the sentence to rewrite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import QuoteError, _environment  # noqa: E402

# nuts_budget

NUTS_BUDGET = "nuts_budget/results/nuts_budget.json"


def _nuts_budget_render(tmp_path: Path, template: str, change) -> str:
    """``template`` rendered from a copy of the study's result file that ``change`` edited."""
    doc = json.loads((ROOT / "studies" / NUTS_BUDGET).read_text())
    change(doc)
    path = tmp_path / NUTS_BUDGET
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=tmp_path)
    return env.get_template(f"{template}.md.j2").render()


def _nuts_budget_points(doc: dict, tune: int, target: float, stage: str) -> list[dict]:
    return [
        p
        for fit in doc["fits"]
        if (fit["tune"], fit["target_accept"]) == (tune, target)
        for p in fit["points"]
        if p["stage"] == stage
    ]


def _nuts_budget_set(tune, target, stage, **values):
    def change(doc):
        for p in _nuts_budget_points(doc, tune, target, stage):
            p.update(values)

    return change


def test_nuts_budget_answer_renders_the_committed_numbers(tmp_path):
    text = _nuts_budget_render(tmp_path, "study-nuts-budget", lambda doc: None)
    assert "mean |dp| 0.00145 (1.3x the reference's noise floor of\n  0.00115)" in text
    assert "R-hat 1.0102 over the 5 seeds" in text


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (
            _nuts_budget_set(1000, 0.8, "4 chains x 1,000 draws", converged=True),
            "The former default .* did not pass its own diagnostics",
        ),
        (
            _nuts_budget_set(400, 0.9, "4 chains x 1,000 draws", pred_tv_mean=0.0015),
            "Chosen, and now the suite's NUTS default",
        ),
        (
            _nuts_budget_set(1000, 0.8, "2 chains x 2,000 draws", pred_tv_mean=0.001),
            "No configuration reached the floor",
        ),
        (
            _nuts_budget_set(400, 0.9, "4 chains x 2,000 draws", pred_tv_mean=0.0012),
            "Target acceptance 0.9 cost more gradients for no gain in fidelity",
        ),
        (
            _nuts_budget_set(1000, 0.8, "2 chains x 2,000 draws", converged=False),
            "2 chains x 2,000 draws after 1,000 warm-up steps pass in every seed",
        ),
    ],
)
def test_nuts_budget_answer_claims_stop_when_the_results_break_them(tmp_path, change, sentence):
    with pytest.raises(QuoteError, match=f"no longer support the claim: {sentence}"):
        _nuts_budget_render(tmp_path, "study-nuts-budget", change)


def test_nuts_budget_method_claim_stops_when_a_seed_was_not_fitted(tmp_path):
    def drop_a_fit(doc):
        doc["fits"].pop()

    with pytest.raises(QuoteError, match="fits each configuration on 5 seeds"):
        _nuts_budget_render(tmp_path, "study-nuts-budget-method", drop_a_fit)
