"""The studies' READMEs quote their result files: a claim of the prose that a changed result
no longer supports stops the rendering, naming the sentence (``docs/quotes/study-*.md.j2``)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import QuoteError, _environment  # noqa: E402

# minibatch_batch_size

MINIBATCH_BATCH_SIZE = "minibatch_batch_size/results/sweep.json"


def _minibatch_batch_size_render(tmp_path: Path, template: str, edit) -> str:
    """``template`` rendered from a copy of the study's sweep.json changed by ``edit``."""
    studies = tmp_path / "studies"
    path = studies / MINIBATCH_BATCH_SIZE
    path.parent.mkdir(parents=True)
    doc = json.loads((ROOT / "studies" / MINIBATCH_BATCH_SIZE).read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=studies)
    return env.get_template(f"{template}.md.j2").render()


def _minibatch_batch_size_fit(doc: dict, batch_size: int | str, seed: int) -> dict:
    return next(r for r in doc["rows"] if r["batch_size"] == batch_size and r["seed"] == seed)


def _minibatch_256_matches(doc: dict) -> None:
    """256's worse seed as close to the reference as its good one: 256 becomes the choice."""
    _minibatch_batch_size_fit(doc, 256, 1)["pred_tv_mean"] = 0.0484


def _minibatch_worse_optima_better_calibrated(doc: dict) -> None:
    for r in doc["rows"]:
        if r["pred_tv_mean"] > 0.06:
            r["ece"] = 0.2


def _minibatch_one_usable_khat(doc: dict) -> None:
    _minibatch_batch_size_fit(doc, "full", 0)["psis_khat"] = 0.5


@pytest.mark.parametrize(
    ("template", "edit", "sentence"),
    [
        ("study-minibatch-batch-size", lambda doc: None, None),
        (
            "study-minibatch-batch-size",
            _minibatch_256_matches,
            "512 rows (the default, ADVIMinibatchSettings.batch_size)",
        ),
        (
            "study-minibatch-batch-size",
            _minibatch_worse_optima_better_calibrated,
            "the worse optima have the lower ECE",
        ),
        ("study-minibatch-batch-size", _minibatch_one_usable_khat, "PSIS k-hat is far above 0.7"),
        ("study-minibatch-batch-size-method", lambda doc: None, None),
        (
            "study-minibatch-batch-size-method",
            lambda doc: doc["overrides"].update(learning_rate="0.003"),
            "every fit runs its method's default schedule",
        ),
        ("study-minibatch-batch-size-source", lambda doc: None, None),
        (
            "study-minibatch-batch-size-source",
            lambda doc: doc.update(commit=doc["commit"] + "-dirty"),
            "from a clean tree",
        ),
    ],
)
def test_minibatch_batch_size_claims_fail_naming_the_sentence(tmp_path, template, edit, sentence):
    if sentence is None:  # the committed file supports every claim
        assert _minibatch_batch_size_render(tmp_path, template, edit)
        return
    with pytest.raises(QuoteError, match="no longer support the claim: .*" + re.escape(sentence)):
        _minibatch_batch_size_render(tmp_path, template, edit)
