"""scripts/svi_compare.py's pure helpers: loss-trace summaries with known answers, and its report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "svi_compare.py"
_SPEC = importlib.util.spec_from_file_location("svi_compare", _PATH)
svi_compare = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(svi_compare)


def test_rolling_mean_ends_each_window_at_its_step():
    assert svi_compare.rolling_mean(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist() == [1.5, 2.5, 3.5]
    assert svi_compare.rolling_mean(np.arange(5.0), 5).tolist() == [2.0]
    with pytest.raises(ValueError, match="window"):
        svi_compare.rolling_mean(np.arange(3.0), 4)


def test_steps_to_within_a_step_change():
    # 200 for 10 steps, then 100: the 4-step mean is 100 first at step 14.
    loss = np.r_[np.full(10, 200.0), np.full(30, 100.0)]
    assert svi_compare.final_loss(loss, 10) == 100.0
    assert svi_compare.steps_to_within(loss, smooth=4, last=10, within=0.01) == 14
    # A 30% band: first met by the window 200, 100, 100, 100 (mean 125) ending at step 13.
    assert svi_compare.steps_to_within(loss, smooth=4, last=10, within=0.3) == 13


def test_steps_to_within_an_exponential_decay():
    # loss = 100 + 50 exp(-t / 100): within 1% of 100 once 50 exp(-t / 100) <= 1,
    # t >= 100 ln 50 = 391.2, so step 393 (t = step - 1). The tail is flat at 100.
    t = np.arange(5000.0)
    loss = 100.0 + 50.0 * np.exp(-t / 100.0)
    assert svi_compare.steps_to_within(loss, smooth=1, last=1, within=0.01) == 393


def test_steps_to_within_never():
    loss = np.array([1.0, 100.0, 300.0])  # final (last 2) = 200: no value within 1%
    assert svi_compare.steps_to_within(loss, smooth=1, last=2) is None


def test_rule_fires_as_the_suite_rule_would():
    flat = np.full(100, 50.0)
    assert svi_compare.rule_fires(flat, window=10, tol=1e-3) == 20
    # Falling for 30 steps, flat after: two flat windows end at step 50.
    loss = np.r_[np.linspace(500.0, 100.0, 30), np.full(70, 100.0)]
    assert svi_compare.rule_fires(loss, window=10, tol=1e-3) == 50
    assert svi_compare.rule_fires(np.linspace(1000.0, 10.0, 100), window=10, tol=1e-3) is None


def test_summarise_run_in_steps_and_seconds():
    loss = np.r_[np.full(1000, 200.0), np.full(3000, 100.0)]
    run = svi_compare.summarise_run(loss, 1e-3, window=1000, tol=1e-3)
    assert run["steps"] == 4000
    assert run["final_loss"] == 100.0
    # A 500-step window holding k of the 200s has mean 100 + k / 5: within 1% for k <= 5,
    # first when it ends at step 1495 (it holds steps 996-1000 of the 200s).
    assert svi_compare.SMOOTH == 500 and svi_compare.FINAL == 1000
    assert run["to_1pct_step"] == 1495
    assert run["to_1pct_s"] == pytest.approx(1.495)
    assert run["rule_step"] == 3000 and run["rule_s"] == pytest.approx(3.0)
    assert run["us_per_step"] == pytest.approx(1000.0)
    assert len(run["smooth_trace"]) == -(-(4000 - svi_compare.SMOOTH + 1) // svi_compare.THIN)


def _run(method: str, seed: int, to_1pct_s: float) -> dict:
    trace = [110.0, 105.0, 100.0]
    return {
        "method": method,
        "seed": seed,
        "us_per_step": 1e6 * to_1pct_s / 1000,
        "compile_s": 1.0,
        "fit_s": 2.0,
        "final_loss": 100.0,
        "to_1pct_step": 1000,
        "to_1pct_s": to_1pct_s,
        "rule_step": None,
        "rule_s": None,
        "smooth_trace": trace,
    }


def test_verdict_medians_over_seeds():
    runs = [_run("advi (pytensor numba)", s, t) for s, t in ((1, 1.0), (2, 3.0), (3, 2.0))]
    runs += [_run("numpyro svi (jax)", s, t) for s, t in ((1, 4.0), (2, 1.0), (3, 5.0))]
    summary = svi_compare.summarise(runs)
    assert [r["to_1pct_s"] for r in summary] == [2.0, 4.0]
    (line,) = svi_compare.verdict(summary)
    assert "2.00 s" in line and "4.00 s" in line and "goal met" in line


def test_verdict_not_met():
    runs = [_run("advi (pytensor c)", 1, 3.0), _run("numpyro svi (jax)", 1, 1.5)]
    (line,) = svi_compare.verdict(svi_compare.summarise(runs))
    assert "goal not met" in line and "2.00x" in line


def _costs(backend: str) -> list[dict]:
    us = {
        "log density + gradient": 100.0,
        "step: compiled graph alone (Function.vm)": 250.0,
        "step: pytensor.Function call": 260.0,
        "pm.fit per step, no callbacks": 380.0,
        "pm.fit per step, suite callbacks": 400.0,
    }
    rows = [{"what": w, "backend": backend, "us": v} for w, v in us.items()]
    rows += [
        {"what": "pm.fit's loop alone", "backend": "any", "us": 7.0},
        {"what": "suite callbacks alone", "backend": "any", "us": 3.0},
        {"what": "log density + gradient", "backend": "other", "us": 1e6},
    ]
    return rows


def test_breakdown_adds_up_to_the_step():
    rows = svi_compare.breakdown(_costs("c"), "c")
    parts, total = rows[:-1], rows[-1]
    # each part is a difference of two timings; the rest (130) is what none of them holds
    assert [r["us"] for r in parts] == [100.0, 150.0, 10.0, 7.0, 3.0, 130.0]
    assert total["us"] == 400.0 and parts[0]["share"] == pytest.approx(0.25)


def test_step_verdict_against_the_goal_and_the_gradient():
    """ADVI's step inside pm.fit against 100 us and the same run's gradient; full-rank's
    against 1.3x ADVI's on the same backend; a backend without the rows says nothing."""
    costs = _costs("c") + [
        {"what": "full-rank ADVI: pm.fit per step, suite callbacks", "backend": "c", "us": 600.0}
    ]
    fast = [
        {"what": "log density + gradient", "backend": "pos", "us": 80.0},
        {"what": "pm.fit per step, suite callbacks", "backend": "pos", "us": 96.0},
        {"what": "full-rank ADVI: pm.fit per step, suite callbacks", "backend": "pos", "us": 144.0},
        {"what": svi_compare.PACKED_STEP, "backend": "pos", "us": 105.6},
    ]
    slow, quick = svi_compare.step_verdict(costs + fast, ["c", "pos", "jax"])
    assert "400.0 us" in slow and "4.00x" in slow and "<= 100 us not met" in slow
    assert "1.50x ADVI's: <= 1.3x not met" in slow and "packed" not in slow
    assert "1.20x the 80.0 us" in quick and "<= 100 us met" in quick
    assert "full-rank ADVI 144.0 us, 1.50x ADVI's: <= 1.3x not met" in quick
    assert "with its packed factor 105.6 us, 1.10x ADVI's: <= 1.3x met" in quick


def _doc(anatomy: bool) -> dict:
    doc = {
        "commit": "abc",
        "machine": {"cpu": "cpu", "cpu_count": 2},
        "versions": {"pymc": "6", "pytensor": "3", "numpyro": "0.22", "jax": "0.12"},
        "data": {"name": "rupture", "n_train": 1600, "sha256": "0" * 64},
        "settings": {
            "seeds": [1],
            "steps": 3000,
            "advi_backends": ["c"],
            "smooth": 500,
            "final": 1000,
            "within": 0.01,
            "thin": 10,
            "chunk": 1000,
            "rule": {"window": 5000, "tol": 1e-3},
            "anatomy": {"number": 200, "repeat": 5, "loop_steps": 3000, "loop_repeat": 3},
        },
        "runs": [_run("advi (pytensor c)", 1, 1.0), _run("numpyro svi (jax)", 1, 2.0)],
    }
    if anatomy:
        op = {"op": "normal_rv", "inputs": "(2)", "us_per_call": 5.0, "share": 0.5}
        doc["anatomy"] = {
            "costs": _costs("c"),
            "profile": {
                "calls": 10,
                "backend": "c (CVM)",
                "us_per_call": 12.0,
                "us_in_ops_per_call": 10.0,
                "nodes": 2,
                "top_ops": [op, {**op, "op": "Elemwise Composite[Sqrt]"}],
                "op_classes": [{"class": "NormalRV", "us_per_call": 5.0, "share": 0.5}],
            },
        }
    return doc


@pytest.mark.parametrize("anatomy", [False, True])
def test_render_fills_the_template(anatomy):
    text = svi_compare.render(_doc(anatomy))
    assert "goal met" in text and "advi (pytensor c)" in text
    assert ("Anatomy of one ADVI step" in text) is anatomy
    if anatomy:
        assert "normal_rv" in text and "pm.fit's loop" in text
        assert "`c`: ADVI 400.0 us per step" in text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", (None, False)),
        ("c", ("c", False)),
        ("numba_positional", ("numba_positional", False)),
        ("numba_positional+fused", ("numba_positional", True)),
        ("default+fused", (None, True)),
    ],
)
def test_backend_spec_splits_the_backend_from_the_fused_likelihood(spec, expected):
    assert svi_compare.backend_spec(spec) == expected


def test_an_unknown_backend_is_refused_with_its_name(capsys):
    with pytest.raises(SystemExit):
        svi_compare.main(["--advi-backends", "numba_positional+fast", "--out", "/nonexistent"])
    assert "'numba_positional+fast' is none of default" in capsys.readouterr().err
