"""studies/minibatch_batch_size: a tiny sweep's rows, its summary and the committed answer."""

from __future__ import annotations

import json

import pytest

from bnn_models.inference import METHODS
from studies.minibatch_batch_size import batch_size_sweep as sweep


def test_a_tiny_sweep_writes_its_rows(teacher_small, tmp_path):
    """Full batch and one batch of 50 of the 200 rows, one seed: the minibatch row counts
    a quarter of a gradient per step; --render redraws the markdown."""
    argv = ["--out", str(tmp_path), "--seeds", "1", "--batch-sizes", "50"]
    tiny = ["--set", "max_iter=300", "--set", "window=100", "--set", "draws=50"]
    assert sweep.main([*argv, *tiny, "--set", "n_hidden=3"], dataset=teacher_small) == 0
    doc = json.loads((tmp_path / "sweep.json").read_text())
    full, mini = doc["rows"]
    assert (full["batch_size"], mini["batch_size"]) == ("full", 50)
    assert full["grad_evals"] == full["grad_evals_minibatch"] == full["steps"]
    assert mini["grad_evals_minibatch"] == mini["steps"] == 300
    assert mini["grad_evals"] == 300 * 50 // 200
    means = sweep.summary(doc)
    assert list(means["batch_size"]) == ["full", 50]
    text = (tmp_path / "sweep.md").read_text()
    assert sweep.main(["--out", str(tmp_path), "--render"]) == 0
    assert (tmp_path / "sweep.md").read_text() == text


def test_the_committed_sweep_backs_the_default():
    """The default batch size is a size of the committed sweep, whose every seed fitted."""
    doc = json.loads((sweep.RESULTS / "sweep.json").read_text())
    default = METHODS["advi_minibatch"].settings().batch_size
    rows = [r for r in doc["rows"] if r["batch_size"] == default]
    assert len(rows) == len(doc["seeds"]) >= 2
    assert all(r["status"] == "ok" for r in doc["rows"])
    assert not doc["commit"].endswith("-dirty")


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--batch-sizes", "0"], "--batch-sizes must be >= 1"), (["--set", "x"], "KEY=VALUE")],
)
def test_bad_settings_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        sweep.main(argv)
    assert message in capsys.readouterr().err
