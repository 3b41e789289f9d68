"""studies/lowrank_cutoff: one tiny low-rank fit, its row and the summary."""

from __future__ import annotations

import json

import pytest

from studies.lowrank_cutoff import lowrank_cutoff_sweep as sweep


def test_a_tiny_sweep_writes_its_rows(teacher_small, tmp_path):
    """One cutoff, 2 chains x (30 + 30) on the small teacher data: a low-rank row whose
    ESS per 1,000 gradients is its ESS over its gradients; --render redraws the markdown."""
    argv = ["--out", str(tmp_path), "--tune", "30", "--draws", "30", "--cutoffs", "2"]
    assert sweep.main([*argv, "--no-diagonal"], dataset=teacher_small) == 0
    doc = json.loads((tmp_path / "sweep.json").read_text())
    (row,) = doc["rows"]
    assert row["adaptation"] == "low_rank" and row["eigval_cutoff"] == 2.0
    assert row["leapfrog_per_draw"] >= 1
    assert row["ess_per_1k_grad"] == pytest.approx(
        1000 * row["ess_bulk_min_pred"] / row["grad_evals"]
    )
    text = (tmp_path / "sweep.md").read_text()
    assert "seed 1" in text and "30 tune + 30 draws, 2 chains" in " ".join(text.split())
    assert sweep.main(["--out", str(tmp_path), "--render"]) == 0
    assert (tmp_path / "sweep.md").read_text() == text


@pytest.mark.parametrize("folder", [sweep.RESULTS, sweep.RESULTS / "seed2"])
def test_the_committed_pages_are_their_json_rendered(folder):
    """Each committed sweep.md is what render() makes of the sweep.json beside it (the
    pipeline's study-lowrank-cutoff step made both, seeds 1 and 2, at one commit)."""
    doc = json.loads((folder / "sweep.json").read_text())
    assert doc["seed"] == (2 if folder.name == "seed2" else 1)
    assert not doc["commit"].endswith("-dirty")
    assert (folder / "sweep.md").read_text() == sweep.render(doc)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--draws", "0"], "--draws must be >= 1"), (["--cutoffs", "1"], "--cutoffs must be > 1")],
)
def test_bad_settings_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        sweep.main(argv)
    assert message in capsys.readouterr().err
