"""The studies' READMEs quote their result files: a claim of the prose that a changed result
no longer supports stops the rendering, naming the sentence (``docs/quotes/study-*.md.j2``)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import QuoteError, _environment  # noqa: E402

# sgmcmc_step_size

SGMCMC_STEP_SIZE = "sgmcmc_step_size/results/sweep.json"


def _sgmcmc_step_size_render(tmp_path: Path, template: str, edit) -> str:
    """``template`` rendered from a copy of the study's sweep.json changed by ``edit`` (and
    the committed studies/nuts_budget result it also reads)."""
    studies = tmp_path / "studies"
    path = studies / SGMCMC_STEP_SIZE
    path.parent.mkdir(parents=True)
    doc = json.loads((ROOT / "studies" / SGMCMC_STEP_SIZE).read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    budget = "nuts_budget/results/nuts_budget.json"
    (studies / budget).parent.mkdir(parents=True)
    shutil.copy(ROOT / "studies" / budget, studies / budget)
    env = _environment(ROOT / "results", studies=studies)
    return env.get_template(f"{template}.md.j2").render()


def _sgmcmc_smaller_sgld_step_wins(doc: dict) -> None:
    """SGLD at 0.1 closer to the reference than at 0.3, its default: 0.1 becomes the choice."""
    for r in doc["rows"]:
        if r["method"] == "sgld" and r["step_size"] == 0.1:
            r["pred_tv_mean"] = 0.005


def _sgmcmc_other_reference(doc: dict) -> None:
    doc["reference"] = "0123456789abcdef"


def _sgmcmc_no_commit(doc: dict) -> None:
    doc["commit"] = None


@pytest.mark.parametrize(
    ("template", "edit", "sentence"),
    [
        ("study-sgmcmc-step-size", lambda doc: None, None),
        ("study-sgmcmc-step-size-method", lambda doc: None, None),
        ("study-sgmcmc-step-size-provenance", lambda doc: None, None),
        (
            "study-sgmcmc-step-size",
            _sgmcmc_smaller_sgld_step_wins,
            "These step sizes are the methods' defaults",
        ),
        (
            "study-sgmcmc-step-size-method",
            _sgmcmc_other_reference,
            "the committed reference posterior (`results/reference/rupture.json`",
        ),
        ("study-sgmcmc-step-size-provenance", _sgmcmc_no_commit, "They ran at commit"),
    ],
)
def test_sgmcmc_step_size_claims_stop_the_rendering(tmp_path, template, edit, sentence):
    if sentence is None:  # the committed file renders
        assert _sgmcmc_step_size_render(tmp_path, template, edit)
        return
    with pytest.raises(QuoteError, match=re.escape(sentence)):
        _sgmcmc_step_size_render(tmp_path, template, edit)
