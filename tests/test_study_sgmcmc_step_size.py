"""studies/sgmcmc_step_size: the choice rule, and a tiny sweep's rows and page."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from studies.sgmcmc_step_size import sgmcmc_step_size as sweep


def test_the_choice_is_the_closest_step_size_whose_every_seed_is_ok():
    """0.1 is closest on its one ok seed but failed the other: 0.01 is chosen; per method."""
    rows = pd.DataFrame(
        [
            ("sgld", 0.001, 0, "ok", 0.05),
            ("sgld", 0.001, 1, "ok", 0.07),
            ("sgld", 0.01, 0, "ok", 0.03),
            ("sgld", 0.01, 1, "ok", 0.05),
            ("sgld", 0.1, 0, "ok", 0.01),
            ("sgld", 0.1, 1, "failed", None),
            ("sghmc", 0.01, 0, "ok", 0.2),
        ],
        columns=["method", "step_size", "seed", "status", "pred_tv_mean"],
    )
    for key in ("pred_sd_ratio_gmean", "share_mean_off_0p3sd", "ece", "log_loss"):
        rows[key] = 0.0
    rows["rhat_max_pred"], rows["ess_bulk_min_pred"] = 1.0, 100.0
    out = sweep.choose(rows)
    chosen = out[out["chosen"]].set_index("method")["step_size"].to_dict()
    assert chosen == {"sgld": 0.01, "sghmc": 0.01}
    assert out.set_index(["method", "step_size"]).loc[("sgld", 0.01), "pred_tv_mean"] == 0.04


def test_a_tiny_sweep_records_ok_and_diverged_fits(teacher_small, tmp_path, monkeypatch):
    """Two step sizes of sgld on the small teacher data, tiny budget: the diverging one is
    a failed fit with its reason on the page; --render redraws the same markdown."""
    monkeypatch.setattr(sweep, "GRID", {"sgld": (0.2, 1e4)})
    tiny = {"draws": 20, "thin": 2, "burn_in": 20, "chains": 2, "n_hidden": 4}
    argv = ["--out", str(tmp_path), "--seeds", "0"]
    assert sweep.main(argv, dataset=teacher_small, **tiny) == 0
    doc = json.loads((tmp_path / "sweep.json").read_text())
    ok, failed = doc["rows"]
    assert ok["status"] == "ok" and ok["grad_evals"] == round(2 * 60 * 128 / 200)
    assert failed["status"] == "failed" and "non-finite" in failed["error"]
    text = (tmp_path / "sweep.md").read_text()
    assert "step_size 10000, seed 0: RuntimeError: non-finite weights" in text
    assert sweep.main([*argv, "--render"]) == 0
    assert (tmp_path / "sweep.md").read_text() == text


def test_unknown_methods_are_refused(capsys):
    with pytest.raises(SystemExit):
        sweep.main(["--methods", "nuts"])
    assert "invalid choice" in capsys.readouterr().err
