"""studies/vi_optimizer_sweep: one tiny fit, its row by the package's definitions, the summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studies.vi_optimizer_sweep import vi_optimizer_sweep as sweep


def test_a_row_uses_the_package_definition_of_to_1pct_and_its_rule():
    """A thinned trace at 200 nats for 1,000 steps, then 100: the final loss is 100, the
    trailing 500-step mean stays within 1% of it from step 1,500 on, and the rule
    (5,000-step windows, 0.1%) fires at 15,000, its first pair of windows both at 100."""
    loss = np.r_[np.full(100, 200.0), np.full(1400, 100.0)]  # every 10th of 15,000 steps
    doc = {"method": "advi", "opt": "adam_1e-2", "n": 15_000, "seconds": 1.0, "thin": 10}
    row = sweep.summary_row(doc | {"loss": loss.tolist()})
    assert row["final_loss"] == pytest.approx(100.0)
    assert row["to_1pct"] == 1500
    assert row["rule_fires"] == 15_000


def test_a_trace_that_dips_and_leaves_is_counted_from_when_it_stays():
    """The loss sits at the final value for 200 steps, leaves the band (150), and is back
    from 3,000: the count is where the 500-step mean stays within 1% (one 150 of 50 thinned
    values left in it: 101, on the band's edge), not the first touch; the rule never fires."""
    loss = np.r_[np.full(20, 100.0), np.full(280, 150.0), np.full(200, 100.0)]
    doc = {"method": "advi", "opt": "adam_1e-2", "n": 5000, "seconds": 1.0, "thin": 10}
    row = sweep.summary_row(doc | {"loss": loss.tolist()})
    assert row["to_1pct"] == 3490
    assert row["rule_fires"] is None


def test_a_tiny_fit_and_its_summary(teacher_small, tmp_path):
    """300 steps of ADVI on the small teacher data: a thinned trace of 30 losses, and a
    summary row with a number or "never" in each column; the figure drawn."""
    doc = sweep.fit("advi", "adam_1e-2", 300, tmp_path / "fit.json", dataset=teacher_small)
    assert len(json.loads((tmp_path / "fit.json").read_text())["loss"]) == 30 == len(doc["loss"])
    path = sweep.summarise([tmp_path / "fit.json"], tmp_path / "out")
    text = path.read_text()
    assert "| advi | adam_1e-2 | 300 |" in text and "| never |" in text
    assert (tmp_path / "out" / "elbo_traces.png").stat().st_size > 0


def test_a_count_below_one_is_refused(capsys):
    with pytest.raises(SystemExit):
        sweep.main(["fit", "advi", "adam_1e-2", "0", "out.json"])
    assert "n must be >= 1" in capsys.readouterr().err
