"""The studies' README blocks (docs/quotes/study-*.md.j2): a claim of the prose that a
study's result file no longer supports stops the rendering, naming the sentence."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import QuoteError, _environment  # noqa: E402

# fullrank_schedule

FULLRANK_SCHEDULE = ROOT / "studies" / "fullrank_schedule" / "results" / "schedule.json"


def _fullrank_schedule_render(tmp_path: Path, template: str, change) -> str:
    """``template`` rendered from a copy of schedule.json that ``change(doc)`` edited."""
    doc = json.loads(FULLRANK_SCHEDULE.read_text())
    change(doc)
    path = tmp_path / "fullrank_schedule" / "results" / "schedule.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=tmp_path)
    return env.get_template(f"{template}.md.j2").render()


def _fullrank_schedule_fits(doc: dict, schedule: str) -> list[dict]:
    return [f for f in doc["fits"] if f["schedule"] == schedule]


def _fullrank_schedule_slow_warm_seed(doc):
    _fullrank_schedule_fits(doc, "warm start")[0]["fit_s"] = doc["goal_s"] + 1


def _fullrank_schedule_warm_seed_worse(doc):
    warm = _fullrank_schedule_fits(doc, "warm start")[0]
    warm["final_loss"] = _fullrank_schedule_fits(doc, "cold start")[0]["final_loss"] + 1


def _fullrank_schedule_other_rate(doc):
    doc["schedules"]["warm start"]["learning_rate"] = 2e-4


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (_fullrank_schedule_slow_warm_seed, "The warm start meets the goal"),
        (_fullrank_schedule_warm_seed_worse, "at a better ELBO in every seed"),
        (_fullrank_schedule_other_rate, "So full-rank ADVI's default is the warm start"),
    ],
)
def test_fullrank_schedule_answer_claims_stop_the_rendering(tmp_path, change, sentence):
    assert "| warm start (the default) | 5 of 5 |" in _fullrank_schedule_render(
        tmp_path / "as-committed", "study-fullrank-schedule", lambda doc: None
    )
    with pytest.raises(QuoteError, match=f"no longer support the claim: {sentence}"):
        _fullrank_schedule_render(tmp_path / "changed", "study-fullrank-schedule", change)


def test_fullrank_schedule_method_claim_stops_the_rendering(tmp_path):
    def own_tol(doc):
        doc["schedules"]["cold start"]["tol"] = 1e-2

    with pytest.raises(QuoteError, match="moved by less than the default tol"):
        _fullrank_schedule_render(tmp_path, "study-fullrank-schedule-method", own_tol)


def test_fullrank_schedule_source_claim_stops_the_rendering(tmp_path):
    def no_trace(doc):
        doc["fits"][0]["loss"] = []

    with pytest.raises(QuoteError, match="every fit with its thinned loss trace"):
        _fullrank_schedule_render(tmp_path, "study-fullrank-schedule-source", no_trace)


# /fullrank_schedule
