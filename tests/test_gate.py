"""The regression gate: baseline building, the tolerance rule, verdicts and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bnn_models._io import write_json
from bnn_models.bench import SCHEMA, SCHEMA_VERSION
from bnn_models.cli import main
from bnn_models.gate import (
    BASELINE_SCHEMA_VERSION,
    GATED,
    check_main,
    compare,
    load_baseline,
    make_baseline,
    tolerance,
)

_SHA = {"rupturemodel_train.txt": "ab" * 32}
#: Per-method centre of each metric in the synthetic runs; seeds add ~1% noise.
_CENTRE = {
    "calibration": {
        "ece": 0.1,
        "brier": 0.1,
        "log_loss": 0.3,
        "error_rate": 0.12,
        "one_minus_f1_weighted": 0.13,
        "roc_auc": 0.95,
    },
    "spread": {"pred_sd_mean": 0.07},
}


def _fit(method: str, seed: int, shift: dict | None = None) -> dict:
    rng = np.random.default_rng(1000 * seed + len(method))
    entry: dict = {
        "method": method,
        "seed": seed,
        "status": "ok",
        "error": None,
        "config": {"method": method, "seed": seed, "learning_rate": 0.01},
        "config_hash": f"{method}{seed}",
    }
    for section, values in _CENTRE.items():
        entry[section] = {k: v * (1 + 0.01 * rng.standard_normal()) for k, v in values.items()}
    entry["elbo"] = None
    entry["diagnostics"] = None
    if method == "nuts":
        entry["diagnostics"] = {
            "rhat_max_pred": 1.05 + 0.01 * rng.standard_normal(),
            "ess_bulk_min_pred": 20 + rng.standard_normal(),
        }
    else:
        entry["elbo"] = {"neg_final_elbo": 900 + 5 * rng.standard_normal(), "final_elbo": -900.0}
    for dotted, value in (shift or {}).items():
        section, key = dotted.split(".")
        entry[section][key] = value
    return entry


def _run(
    tmp: Path,
    name: str,
    seeds: list[int],
    *,
    methods=("nuts", "advi"),
    shift: dict | None = None,
    profile: str = "quick",
) -> Path:
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": {
            "commit": "c0ffee",
            "profile": profile,
            "created": "now",
            "command": "test",
            "dataset": {"name": "rupture", "n_train": 1600, "n_test": 400, "sha256": _SHA},
        },
        "fits": [_fit(m, s, shift if m == "advi" else None) for s in seeds for m in methods],
    }
    out = tmp / name
    write_json(out / "metrics.json", doc)
    return out


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    run = _run(tmp_path, "base", list(range(6)))
    path = tmp_path / "baseline.json"
    write_json(path, make_baseline([run]))
    return path


def test_tolerance_is_the_student_t_prediction_bound():
    # k = 6 seeds of sd 2, one new seed: t(0.999, 5) * 2 * sqrt(1/6 + 1).
    expected = stats.t.ppf(0.999, 5) * 2 * math.sqrt(1 / 6 + 1)
    assert tolerance(2.0, 6, 1, 10.0) == pytest.approx(expected)
    assert tolerance(2.0, 6, 1, 10.0, direction="none") == pytest.approx(
        stats.t.ppf(0.9995, 5) * 2 * math.sqrt(1 / 6 + 1)
    )
    # More seeds in the run narrow it; the floors bound it from below.
    assert tolerance(2.0, 6, 4, 10.0) < expected
    assert tolerance(0.0, 6, 1, 10.0) == pytest.approx(0.1)  # 1% of |mean|
    assert tolerance(0.0, 6, 1, 0.0, abs_floor=0.0025) == 0.0025
    with pytest.raises(ValueError, match="k >= 2"):
        tolerance(1.0, 1, 1, 0.0)


def test_baseline_records_spread_and_rule(baseline: Path):
    doc = load_baseline(baseline)
    assert doc["seeds"] == list(range(6))
    assert "t(1 - alpha, k - 1)" in doc["rule"]
    assert set(doc["metrics"]["advi"]) == set(GATED) - {
        "diagnostics.rhat_max_pred",
        "diagnostics.ess_bulk_min_pred",
    }
    assert "elbo.neg_final_elbo" not in doc["metrics"]["nuts"]
    st = doc["metrics"]["advi"]["elbo.neg_final_elbo"]
    values = [_fit("advi", s)["elbo"]["neg_final_elbo"] for s in range(6)]
    assert st["mean"] == pytest.approx(np.mean(values))
    assert st["sd"] == pytest.approx(np.std(values, ddof=1))
    assert doc["metrics"]["nuts"]["calibration.error_rate"]["abs_floor"] == 1 / 400


def test_identical_run_passes(tmp_path: Path, baseline: Path, capsys):
    run = _run(tmp_path, "same", [0])
    assert check_main(baseline, run, show_all=True) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "REGRESSED" not in out


def test_new_seeds_within_spread_pass(tmp_path: Path, baseline: Path):
    run = _run(tmp_path, "new", [40, 41])
    assert check_main(baseline, run) == 0


def test_worse_elbo_and_calibration_fail_with_a_table(tmp_path: Path, baseline: Path, capsys):
    run = _run(
        tmp_path, "worse", [0], shift={"elbo.neg_final_elbo": 1500.0, "calibration.ece": 0.3}
    )
    assert check_main(baseline, run) == 1
    out = capsys.readouterr().out
    assert "FAILED: 2 of" in out
    lines = [ln for ln in out.splitlines() if "REGRESSED" in ln]
    assert any("advi" in ln and "elbo.neg_final_elbo" in ln and "1500" in ln for ln in lines)
    assert any("calibration.ece" in ln for ln in lines)
    header = next(ln for ln in out.splitlines() if ln.lstrip().startswith("method"))
    for col in ("metric", "baseline", "now", "tolerance"):
        assert col in header


def test_direction_is_respected(tmp_path: Path, baseline: Path):
    better = _run(tmp_path, "better", [0], shift={"calibration.ece": 0.01})
    assert check_main(baseline, better) == 0
    auc_down = _run(tmp_path, "auc", [0], shift={"calibration.roc_auc": 0.5})
    assert check_main(baseline, auc_down) == 1
    # No better direction: a collapse of the predictive sd regresses too.
    collapsed = _run(tmp_path, "sd", [0], shift={"spread.pred_sd_mean": 0.001})
    assert check_main(baseline, collapsed) == 1


def test_failed_or_missing_fit_regresses(tmp_path: Path, baseline: Path):
    doc = load_baseline(baseline)
    fits = [_fit("nuts", 0)]
    table, _ = compare(doc, fits)
    assert (table.query("method == 'advi'")["verdict"] == "REGRESSED").all()
    failed = _fit("advi", 0) | {"status": "failed", "error": "boom"}
    table, _ = compare(doc, [_fit("nuts", 0), failed])
    row = table.query("method == 'advi'").iloc[0]
    assert row["verdict"] == "REGRESSED" and "boom" in row["detail"]


def test_changed_settings_are_reported(tmp_path: Path, baseline: Path, capsys):
    run = _run(tmp_path, "cfg", [0])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"][1]["config"]["learning_rate"] = 1e-4
    write_json(run / "metrics.json", doc)
    check_main(baseline, run)
    assert "learning_rate 0.01 -> 0.0001" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(schema_version=BASELINE_SCHEMA_VERSION + 1), "schema_version"),
        (lambda d: d.update(schema="something/else"), "schema"),
        (lambda d: d.pop("metrics"), "metrics"),
        (lambda d: d["metrics"]["advi"]["calibration.ece"].update(sd="x"), "calibration.ece.sd"),
        (lambda d: d["metrics"]["advi"]["calibration.ece"].update(k=1), "calibration.ece"),
        (lambda d: d["metrics"]["advi"].update(bogus={}), "bogus"),
    ],
)
def test_bad_baseline_names_file_and_field(baseline: Path, mutate, field):
    doc = json.loads(baseline.read_text())
    mutate(doc)
    baseline.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=field) as err:
        load_baseline(baseline)
    assert str(baseline) in str(err.value)


def test_corrupt_baseline_exits_2(tmp_path: Path, baseline: Path, capsys):
    baseline.write_text(baseline.read_text()[:100])
    run = _run(tmp_path, "x", [0])
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 2
    assert "corrupted baseline JSON" in capsys.readouterr().err


def test_other_profile_or_data_is_refused(tmp_path: Path, baseline: Path):
    full = _run(tmp_path, "full", [0], profile="default")
    with pytest.raises(ValueError, match="run.profile"):
        check_main(baseline, full)
    other = _run(tmp_path, "other", [0])
    doc = json.loads((other / "metrics.json").read_text())
    doc["run"]["dataset"]["sha256"] = {"x": "00"}
    write_json(other / "metrics.json", doc)
    with pytest.raises(ValueError, match="sha256"):
        check_main(baseline, other)


def test_baseline_needs_clean_runs_with_enough_seeds(tmp_path: Path):
    with pytest.raises(ValueError, match="at least 3"):
        make_baseline([_run(tmp_path, "two", [0, 1])])
    run = _run(tmp_path, "bad", [0, 1, 2])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"][0] = doc["fits"][0] | {"status": "failed", "error": "diverged"}
    write_json(run / "metrics.json", doc)
    with pytest.raises(ValueError, match="failed fits"):
        make_baseline([run])


def test_cli_writes_baseline_then_gates(tmp_path: Path, capsys):
    a = _run(tmp_path, "a", [0, 1, 2])
    b = _run(tmp_path, "b", [3, 4])
    path = tmp_path / "base.json"
    assert (
        main(
            ["check", "--write-baseline", "--baseline", str(path), "--run", str(a), "--run", str(b)]
        )
        == 0
    )
    assert load_baseline(path)["seeds"] == [0, 1, 2, 3, 4]
    worse = _run(tmp_path, "w", [0], shift={"calibration.error_rate": 0.4})
    assert main(["check", "--baseline", str(path), "--run", str(worse)]) == 1
    assert main(["check", "--baseline", str(path), "--run", str(a)]) == 0
    assert "error_rate" in capsys.readouterr().out


def test_committed_quick_baseline_is_valid():
    path = Path(__file__).resolve().parents[1] / "results" / "baseline_quick.json"
    doc = load_baseline(path)
    assert doc["profile"] == "quick"
    assert set(doc["metrics"]) == {"nuts", "advi", "fullrank_advi"}
    assert min(st["k"] for m in doc["metrics"].values() for st in m.values()) >= 5
    # Its stored 1-seed tolerances follow the rule the gate applies now.
    for entries in doc["metrics"].values():
        for st in entries.values():
            assert st["tolerance"] == pytest.approx(
                tolerance(
                    st["sd"],
                    st["k"],
                    1,
                    st["mean"],
                    direction=st["direction"],
                    alpha=doc["alpha"],
                    rel_floor=doc["rel_floor"],
                    abs_floor=st["abs_floor"],
                )
            )
