"""The regression gate: baseline building, the tolerance rule, verdicts and bad input."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bnn_models import gate
from bnn_models.errors import BadInput, ResultsError
from bnn_models.gate import (
    BASELINE_SCHEMA_VERSION,
    check,
    compare,
    load_baseline,
    make_baseline,
    tolerance,
    write_baseline,
)
from bnn_models.io import write_json
from bnn_models.report.check import format_baseline, format_check
from bnn_models.schema import SCHEMA, SCHEMA_VERSION

_SHA = {"rupturemodel_train.txt": "ab" * 32}
#: Family of each method of the synthetic runs: what decides which metrics a fit has.
_FAMILY = {"nuts": "mcmc", "advi": "vi"}
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
        "family": _FAMILY[method],
        "label": method.upper(),
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
    if entry["family"] == "mcmc":
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
    # Four seeds in the run: sqrt(1/6 + 1/4) instead of sqrt(1/6 + 1).
    assert tolerance(2.0, 6, 4, 10.0) == pytest.approx(
        stats.t.ppf(0.999, 5) * 2 * math.sqrt(1 / 6 + 1 / 4)
    )
    assert tolerance(0.0, 6, 1, 10.0) == pytest.approx(0.1)  # 1% of |mean|
    assert tolerance(0.0, 6, 1, 0.0, abs_floor=0.0025) == 0.0025
    with pytest.raises(ValueError, match="k >= 2"):
        tolerance(1.0, 1, 1, 0.0)


def test_baseline_records_spread_and_rule(baseline: Path):
    doc = load_baseline(baseline)
    assert doc["seeds"] == list(range(6))
    assert "t(1 - alpha, k - 1)" in doc["rule"]
    calibration = {f"calibration.{k}" for k in _CENTRE["calibration"]}
    # Each method is gated on the metrics its fits have: ELBO for VI, R-hat/ESS for MCMC.
    assert set(doc["metrics"]["advi"]) == calibration | {
        "spread.pred_sd_mean",
        "elbo.neg_final_elbo",
    }
    assert set(doc["metrics"]["nuts"]) == calibration | {
        "spread.pred_sd_mean",
        "diagnostics.rhat_max_pred",
        "diagnostics.ess_bulk_min_pred",
    }
    st = doc["metrics"]["advi"]["elbo.neg_final_elbo"]
    values = [_fit("advi", s)["elbo"]["neg_final_elbo"] for s in range(6)]
    assert st["mean"] == pytest.approx(np.mean(values))
    assert st["sd"] == pytest.approx(np.std(values, ddof=1))
    assert st["k"] == 6
    assert (st["min"], st["max"]) == (pytest.approx(min(values)), pytest.approx(max(values)))
    # The 1-seed tolerance: the t bound (about 30 nats here) beats the 1% floor (9 nats).
    t_bound = stats.t.ppf(0.999, 5) * np.std(values, ddof=1) * math.sqrt(1 / 6 + 1)
    assert t_bound > 0.01 * abs(np.mean(values))
    assert st["tolerance"] == pytest.approx(t_bound)
    assert doc["metrics"]["nuts"]["calibration.error_rate"]["abs_floor"] == 1 / 400
    assert doc["metrics"]["nuts"]["calibration.ece"]["abs_floor"] == 0.0
    assert doc["metrics"]["nuts"]["calibration.roc_auc"]["direction"] == "higher"


def test_write_baseline_writes_what_it_returns(tmp_path: Path):
    run = _run(tmp_path, "a", [0, 1, 2])
    path = tmp_path / "sub" / "base.json"
    doc = write_baseline(path, [run])
    assert json.loads(path.read_text()) == doc
    assert load_baseline(path)["seeds"] == [0, 1, 2]
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left over
    lines = format_baseline(doc, path)
    assert lines[0] == f"bnn-bench check: wrote {path}: profile quick, seeds [0, 1, 2]"
    assert "tolerance (1 seed)" in lines[1]
    assert sum("advi" in ln for ln in lines[1].splitlines()) == len(doc["metrics"]["advi"])


def test_identical_run_passes(tmp_path: Path, baseline: Path):
    result = check(baseline, _run(tmp_path, "same", [0]))
    assert result.passed
    assert result.regressed.empty and result.better.empty
    assert result.seeds == [0] and result.commits == ["c0ffee"]
    # A run identical to one of the baseline's seeds: within tolerance, not at its edge.
    assert (result.table["excess"] < 1).all()
    lines = format_check(result, show_all=True)
    assert lines[0].startswith(f"bnn-bench check: run {tmp_path / 'same'} (profile quick, ")
    assert f"vs baseline {baseline} (6 seeds, commit c0ffee)" in lines[0]
    assert lines[-1].startswith(f"PASSED: {len(result.table)} gated metrics within tolerance")
    assert not any("REGRESSED" in ln for ln in lines)
    assert not any(ln.startswith("FAILED") for ln in lines)


def test_new_seeds_within_spread_pass(tmp_path: Path, baseline: Path):
    result = check(baseline, [_run(tmp_path, "new", [40, 41])])
    assert result.passed
    assert set(result.table["n"]) == {2}  # the mean over both seeds is gated


def test_worse_elbo_and_calibration_fail_with_a_table(tmp_path: Path, baseline: Path):
    run = _run(
        tmp_path, "worse", [0], shift={"elbo.neg_final_elbo": 1500.0, "calibration.ece": 0.3}
    )
    result = check(baseline, run)
    assert not result.passed
    assert set(zip(result.regressed["method"], result.regressed["metric"], strict=True)) == {
        ("advi", "elbo.neg_final_elbo"),
        ("advi", "calibration.ece"),
    }
    lines = format_check(result)
    assert lines[-1] == f"FAILED: 2 of {len(result.table)} gated metrics regressed"
    assert lines[-2].startswith("tolerance rule (baseline): tol = max(t(1 - alpha, k - 1)")
    table = next(ln for ln in lines if "REGRESSED" in ln and "\n" in ln).splitlines()
    header, rows = table[0], table[1:]
    for col in ("method", "metric", "baseline", "now", "tolerance", "verdict"):
        assert col in header.split()
    assert len(rows) == 2  # only the regressed metrics without show_all
    assert any("advi" in r and "elbo.neg_final_elbo" in r and "1500" in r for r in rows)


def test_direction_is_respected(tmp_path: Path, baseline: Path):
    better = check(baseline, _run(tmp_path, "better", [0], shift={"calibration.ece": 0.01}))
    assert better.passed
    assert list(better.better["metric"]) == ["calibration.ece"]
    assert any(
        ln.startswith("note: 1 metric(s) better than the baseline") and "advi calibration.ece" in ln
        for ln in format_check(better)
    )
    auc_down = _run(tmp_path, "auc", [0], shift={"calibration.roc_auc": 0.5})
    assert list(check(baseline, auc_down).regressed["metric"]) == ["calibration.roc_auc"]
    # No better direction: a collapse of the predictive sd regresses too.
    collapsed = _run(tmp_path, "sd", [0], shift={"spread.pred_sd_mean": 0.001})
    assert list(check(baseline, collapsed).regressed["metric"]) == ["spread.pred_sd_mean"]


def test_failed_or_missing_fit_regresses(baseline: Path):
    doc = load_baseline(baseline)
    table, _ = compare(doc, [_fit("nuts", 0)])
    row = table.query("method == 'advi'")
    assert list(row["verdict"]) == ["REGRESSED"] and list(row["detail"]) == ["no fit in the run"]
    failed = _fit("advi", 0) | {"status": "failed", "error": "boom"}
    table, _ = compare(doc, [_fit("nuts", 0), failed])
    row = table.query("method == 'advi'").iloc[0]
    assert row["verdict"] == "REGRESSED" and row["detail"] == "seed 0: boom"
    assert (table.query("method == 'nuts'")["verdict"] == "ok").all()


def test_a_seed_that_failed_in_the_baseline_is_expected_to_fail(tmp_path: Path):
    run = _run(tmp_path, "some-fail", [0, 1, 2, 3])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"] = [
        f | {"status": "failed", "error": "not positive definite"}
        if (f["method"], f["seed"]) == ("advi", 1)
        else f
        for f in doc["fits"]
    ]
    write_json(run / "metrics.json", doc)
    base = make_baseline([run])
    assert base["failures"] == {"advi": {"1": "not positive definite"}}
    assert base["metrics"]["advi"]["calibration.ece"]["k"] == 3  # the successful seeds
    failed = {"status": "failed", "error": "not positive definite"}
    # the same seed fails again: a note, not a regression; its metrics are not gated
    table, notes = compare(base, [_fit("nuts", 1), _fit("advi", 1) | failed])
    assert "advi: seed(s) 1 failed, as in the baseline; not gated" in notes
    assert "advi" not in set(table["method"]) and (table["verdict"] == "ok").all()
    # a seed that succeeded in the baseline fails now: a regression
    table, _ = compare(base, [_fit("nuts", 2), _fit("advi", 2) | failed])
    row = table.query("method == 'advi'").iloc[0]
    assert row["verdict"] == "REGRESSED" and row["detail"] == "seed 2: not positive definite"
    # both: the expected failure is noted, the others are gated on the seeds that ran
    table, notes = compare(base, [_fit("advi", 1) | failed, _fit("advi", 2), _fit("nuts", 2)])
    assert (table.query("method == 'advi'")["verdict"] == "ok").all()
    assert set(table.query("method == 'advi'")["n"]) == {1}


def test_metric_missing_from_the_run_regresses(baseline: Path):
    fit = _fit("advi", 0)
    fit["calibration"]["ece"] = float("nan")
    table, _ = compare(load_baseline(baseline), [_fit("nuts", 0), fit])
    row = table.query("metric == 'calibration.ece' and method == 'advi'").iloc[0]
    assert row["verdict"] == "REGRESSED" and row["detail"] == "missing or non-finite in the run"


def test_changed_settings_and_ungated_methods_are_noted(tmp_path: Path, baseline: Path):
    run = _run(tmp_path, "cfg", [0])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"][1]["config"]["learning_rate"] = 1e-4
    # settings added to a method after the baseline: at their default, no change; else noted
    doc["fits"][1]["config"]["backend"] = None
    doc["fits"][0]["config"]["backend"] = "jax"
    doc["fits"].append(_fit("advi", 0) | {"method": "extra", "label": "extra"})
    write_json(run / "metrics.json", doc)
    result = check(baseline, run)
    assert result.notes == [
        "advi: settings differ from the baseline's: learning_rate 0.01 -> 0.0001",
        "nuts: settings differ from the baseline's: backend None -> 'jax'",
        "not in the baseline, not gated: extra",
    ]
    assert "note: not in the baseline, not gated: extra" in format_check(result)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(schema_version=BASELINE_SCHEMA_VERSION + 1), "'schema_version' is 2"),
        (lambda d: d.update(schema="something/else"), "'schema' is 'something/else'"),
        (lambda d: d.pop("metrics"), "'metrics' missing"),
        (lambda d: d.update(metrics={}), "'metrics'"),
        (lambda d: d["dataset"].pop("sha256"), "'dataset.sha256' missing"),
        (lambda d: d.update(seeds=[]), "'seeds'"),
        (lambda d: d.update(alpha="0.001"), "'alpha'"),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].update(sd="x"),
            "'metrics.advi.calibration.ece.sd' is invalid: expected float, got str",
        ),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].update(mean=float("nan")),
            "'metrics.advi.calibration.ece.mean' is nan, not a finite number",
        ),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].pop("abs_floor"),
            "'metrics.advi.calibration.ece.abs_floor' missing",
        ),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].update(direction="up"),
            "'metrics.advi.calibration.ece.direction' is invalid: unknown value 'up'",
        ),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].update(k=1),
            "'metrics.advi.calibration.ece.k' is invalid: expected int >= 2",
        ),
        (
            lambda d: d["metrics"]["advi"]["calibration.ece"].update(sd=-0.1),
            "'metrics.advi.calibration.ece.sd' is invalid: expected float >= 0",
        ),
        (lambda d: d["metrics"]["advi"].update(bogus={}), "'metrics.advi.bogus': unknown metric"),
        (lambda d: d["metrics"].update(advi={}), "'metrics.advi' must map metrics"),
    ],
)
def test_bad_baseline_names_file_and_field(baseline: Path, mutate, field):
    doc = json.loads(baseline.read_text())
    mutate(doc)
    baseline.write_text(json.dumps(doc))
    with pytest.raises(ResultsError) as err:
        load_baseline(baseline)
    assert str(err.value).startswith(f"{baseline}: field ")
    assert field in str(err.value)


def test_missing_or_corrupt_baseline(tmp_path: Path, baseline: Path):
    with pytest.raises(ResultsError, match="no baseline file"):
        load_baseline(tmp_path / "absent.json")
    baseline.write_text(baseline.read_text()[:100])
    with pytest.raises(ResultsError, match="corrupted baseline JSON"):
        check(baseline, _run(tmp_path, "x", [0]))


def test_other_profile_or_data_is_refused(tmp_path: Path, baseline: Path):
    full = _run(tmp_path, "full", [0], profile="default")
    with pytest.raises(ResultsError, match="'run.profile' is 'default'"):
        check(baseline, full)
    other = _run(tmp_path, "other", [0])
    doc = json.loads((other / "metrics.json").read_text())
    doc["run"]["dataset"]["sha256"] = {"x": "00"}
    write_json(other / "metrics.json", doc)
    with pytest.raises(ResultsError, match="sha256"):
        check(baseline, other)


def test_runs_to_pool_must_not_repeat_a_fit(tmp_path: Path, baseline: Path):
    a, b = _run(tmp_path, "a", [0]), _run(tmp_path, "b", [0, 1])
    with pytest.raises(ResultsError, match="seed 0 appears in two runs"):
        check(baseline, [a, b])
    with pytest.raises(ResultsError, match="no metrics file"):
        check(baseline, tmp_path / "nowhere")


def test_baseline_needs_clean_runs_with_enough_seeds(tmp_path: Path):
    with pytest.raises(BadInput, match="--run DIR"):
        make_baseline([])
    with pytest.raises(ResultsError, match="at least 3"):
        make_baseline([_run(tmp_path, "two", [0, 1])])
    run = _run(tmp_path, "bad", [0, 1, 2])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"][0] = doc["fits"][0] | {"status": "failed", "error": "diverged"}
    write_json(run / "metrics.json", doc)
    with pytest.raises(ResultsError, match=r"nuts: 2 successful seed\(s\).*failed: diverged"):
        make_baseline([run])
    default = _run(tmp_path, "default", [3, 4, 5], profile="default")
    with pytest.raises(ResultsError, match="run.profile"):
        make_baseline([_run(tmp_path, "quick", [0, 1, 2]), default])


def test_fresh_run_uses_the_baselines_profile_seeds_and_methods(
    tmp_path: Path, baseline: Path, monkeypatch
):
    from bnn_models import data
    from bnn_models.inference import METHODS

    calls: list[dict] = []

    def fake_run(dataset, out, **kwargs):
        calls.append(kwargs)
        _run(Path(out).parent, Path(out).name, kwargs["seeds"])

    monkeypatch.setattr(data, "load_dataset", lambda name, **kw: (name, kw))
    monkeypatch.setattr(gate.verdict, "run_benchmark", fake_run)
    log: list[str] = []
    result = check(baseline, seeds=2, log=log.append)
    assert result.passed and result.seeds == [0, 1]
    (call,) = calls
    assert call["seeds"] == [0, 1] and call["quick"] is True
    order = list(METHODS)  # registry order, not the baseline's alphabetical one
    assert call["methods"] == sorted(call["methods"], key=order.index)
    assert set(call["methods"]) == {"nuts", "advi"}
    assert log[0].startswith("bnn-bench check: fresh quick run of ")
    with pytest.raises(BadInput, match="--seeds: 7 is not between 1 and the baseline's 6"):
        check(baseline, seeds=7)
    assert len(calls) == 1  # refused before any fit


def test_cli_writes_baseline_then_gates(tmp_path: Path, capsys):
    from bnn_models.cli import main

    a = _run(tmp_path, "a", [0, 1, 2])
    b = _run(tmp_path, "b", [3, 4])
    path = tmp_path / "base.json"
    argv = ["check", "--write-baseline", "--baseline", str(path), "--run", str(a), "--run", str(b)]
    assert main(argv) == 0
    assert load_baseline(path)["seeds"] == [0, 1, 2, 3, 4]
    worse = _run(tmp_path, "w", [0], shift={"calibration.error_rate": 0.4})
    assert main(["check", "--baseline", str(path), "--run", str(worse)]) == 1
    assert "calibration.error_rate" in capsys.readouterr().out
    assert main(["check", "--baseline", str(path), "--run", str(a)]) == 0
    assert "PASSED" in capsys.readouterr().out
    path.write_text(path.read_text()[:100])
    assert main(["check", "--baseline", str(path), "--run", str(a)]) == 2
    assert "corrupted baseline JSON" in capsys.readouterr().err


_RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.mark.parametrize(
    ("name", "shift", "data"),
    [
        ("baseline_quick.json", None, "rupture"),
        ("baseline_shift_quick.json", "bump-height", "rupture"),
        ("baseline_teacher_quick.json", None, "teacher"),
    ],
)
def test_committed_quick_baselines_are_valid(name, shift, data):
    from bnn_models.inference import METHOD_SETS, METHODS

    doc = load_baseline(_RESULTS / name)
    assert doc["profile"] == "quick"
    assert (doc["dataset"]["name"], doc["dataset"]["shift"]) == (data, shift)
    if name == "baseline_quick.json":  # the gate covers every installed method ...
        installed = {m for m, method in METHODS.items() if method.installed}
        assert set(doc["metrics"]) <= installed
        # ... but the methods issue 33 added, until the baseline is made again with them
        assert installed - set(doc["metrics"]) <= set(METHOD_SETS["literature"])
        assert set(METHOD_SETS["ci"]) <= set(doc["metrics"])
    else:
        assert set(doc["metrics"]) == set(METHOD_SETS["design"])  # the design card's
    assert min(st["k"] for m in doc["metrics"].values() for st in m.values()) >= 3
    gated = {"shift.auroc_sd", "shift.shifted_log_loss"} if shift else set()
    gated |= {"fidelity.truth_coverage_90"} if data == "teacher" else set()
    assert gated <= set(doc["metrics"]["nuts"])
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


def _shift_run(tmp: Path, name: str, seeds: list[int], auroc: float, shift: str | None) -> Path:
    """A run on a named shift whose fits hold shift metrics (AUROC ~auroc, 1% seed noise)."""
    path = _run(tmp, name, seeds)
    doc = json.loads((path / "metrics.json").read_text())
    doc["run"]["dataset"]["shift"] = None if shift is None else {"name": shift}
    for fit in doc["fits"]:
        rng = np.random.default_rng(fit["seed"])
        fit["shift"] = {
            "auroc_sd": auroc * (1 + 0.01 * rng.standard_normal()),
            "shifted_log_loss": 0.4 * (1 + 0.01 * rng.standard_normal()),
        }
    write_json(path / "metrics.json", doc)
    return path


def test_shift_metrics_are_gated_and_a_shift_is_compared_with_its_own_baseline(tmp_path):
    base = make_baseline([_shift_run(tmp_path, "base", list(range(6)), 0.8, "bump-height")])
    assert base["dataset"]["shift"] == "bump-height"
    assert base["metrics"]["advi"]["shift.auroc_sd"]["direction"] == "higher"
    path = tmp_path / "shift_baseline.json"
    write_json(path, base)
    assert load_baseline(path)["dataset"]["shift"] == "bump-height"
    same = check(path, _shift_run(tmp_path, "same", [7], 0.8, "bump-height"))
    assert same.passed
    worse = check(path, _shift_run(tmp_path, "worse", [8], 0.6, "bump-height"))
    failed = worse.table[worse.table["verdict"] == "REGRESSED"]
    assert not worse.passed and set(failed["metric"]) == {"shift.auroc_sd"}
    with pytest.raises(ResultsError, match="'run.dataset.shift' is None"):
        check(path, _shift_run(tmp_path, "plain", [9], 0.8, None))


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_check_and_make_ci_run_the_same_gate():
    """The CI gate is written once: `make ci` runs `make check`, which gates the CI set of
    methods and the design card's under shift and on the teacher data."""
    root = Path(__file__).resolve().parents[1]

    def dry(target: str) -> str:
        done = subprocess.run(
            ["make", "-n", "--no-print-directory", target],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    gates = [ln for ln in dry("check").splitlines() if "bnn-bench check" in ln]
    assert len(gates) == 3
    assert "--baseline results/baseline_quick.json --methods ci" in gates[0]
    assert "baseline_shift_quick.json" in gates[1] and "baseline_teacher_quick.json" in gates[2]
    ci = dry("ci-checks")
    assert all(g in ci for g in gates)  # the same commands, through make check
    assert "BNN_BENCH_METHODS=ci" in dry("ci-asv")
