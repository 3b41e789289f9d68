"""studies/fullrank_schedule: a tiny warm-start fit through the suite's method, the summary."""

from __future__ import annotations

import json

import pytest

from studies.fullrank_schedule import fullrank_schedule as schedule

#: A warm start of a few hundred steps on the small teacher data (seconds).
TINY = {"max_iter": 300, "warm_max_iter": 200, "window": 50, "warm_window": 50}
TINY |= {"draws": 20, "n_hidden": 4}


def test_a_tiny_run_writes_its_json_summary_and_figure(teacher_small, tmp_path):
    out = tmp_path / "out"
    argv = ["--out", str(out), "--seeds", "0", "--schedules", "warm start"]
    assert schedule.main(argv, dataset=teacher_small, **TINY) == 0
    doc = json.loads((out / "schedule.json").read_text())
    (fit,) = doc["fits"]
    assert fit["schedule"] == "warm start" and fit["seed"] == 0
    # both stages counted: the mean-field stage's steps are part of the fit's
    assert 0 < fit["warm_steps"] <= 200 and fit["warm_steps"] < fit["steps"] <= 500
    assert fit["final_loss"] > 0 and 0 <= fit["log_loss"] and 0 <= fit["f1_weighted"] <= 1
    # the settings recorded are those the fits ran with, the smoke run's included
    assert doc["data"]["n_train"] == 200
    assert doc["schedules"] == {"warm start": schedule.SCHEDULES["warm start"] | TINY}
    text = (out / "summary.md").read_text()
    assert "| warm start |" in text and (out / "elbo_traces.png").stat().st_size > 0
    # --render redraws the same markdown from the JSON
    (out / "summary.md").unlink()
    assert schedule.main(["--out", str(out), "--render"]) == 0
    assert (out / "summary.md").read_text() == text


def test_the_committed_summary_renders_from_its_json():
    """The committed run: the warm start meets the goal in every seed, the cold does not."""
    doc = json.loads((schedule.RESULTS / "schedule.json").read_text())
    text = schedule.render(doc)
    assert "- warm start: meets the goal" in text
    assert "- cold start: does not meet the goal" in text


@pytest.mark.parametrize("name", list(schedule.SCHEDULES))
def test_each_schedule_is_a_full_set_of_settings(name):
    from bnn_models.inference import FullRankADVISettings

    FullRankADVISettings(**schedule.SCHEDULES[name])  # every field known
