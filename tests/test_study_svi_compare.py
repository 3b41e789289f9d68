"""studies/svi_compare: loss-trace summaries with known answers, its report, and a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studies.svi_compare import anatomy, fits, report, svi_compare, traces


def test_final_loss_is_the_mean_of_the_last_steps():
    loss = np.r_[np.full(10, 200.0), np.full(30, 100.0)]
    assert traces.final_loss(loss, 10) == 100.0
    assert traces.final_loss(loss, 1000) == pytest.approx((2000 + 3000) / 40)


def test_rule_step_is_the_package_rule_called_every_step():
    """ELBOConvergence fires at the end of the first window whose mean moved < tol from
    the window before it: a flat trace at 2 windows; falling for 30 steps then flat, when
    two flat windows end (step 50); a steady fall never."""
    assert traces.rule_step(np.full(100, 50.0), window=10, tol=1e-3) == 20
    loss = np.r_[np.linspace(500.0, 100.0, 30), np.full(70, 100.0)]
    assert traces.rule_step(loss, window=10, tol=1e-3) == 50
    assert traces.rule_step(np.linspace(1000.0, 10.0, 100), window=10, tol=1e-3) is None


def test_summarise_run_uses_the_package_definition_of_within_1pct():
    """1,000 steps at 200, then 3,000 at 100; window 1,000: the trailing mean holding k of
    the 200s is 100 + k / 10, within 1% of 100 for k <= 10, so from the window ending at
    step 1,990 on (it holds steps 991-1,000 of the 200s)."""
    loss = np.r_[np.full(1000, 200.0), np.full(3000, 100.0)]
    run = traces.summarise_run(loss, 1e-3, window=1000, rule=3000)
    assert run["steps"] == 4000 and run["final_loss"] == 100.0
    assert run["to_1pct_step"] == 1990
    assert run["to_1pct_s"] == pytest.approx(1.99)
    assert run["rule_step"] == 3000 and run["rule_s"] == pytest.approx(3.0)
    assert run["us_per_step"] == pytest.approx(1000.0)
    assert len(run["smooth_trace"]) == -(-(4000 - traces.SMOOTH + 1) // traces.THIN)


def _run(method: str, seed: int, to_1pct_s: float) -> dict:
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
        "smooth_trace": [110.0, 105.0, 100.0],
    }


def test_verdict_medians_over_seeds():
    runs = [_run("advi (pytensor numba)", s, t) for s, t in ((1, 1.0), (2, 3.0), (3, 2.0))]
    runs += [_run("numpyro svi (jax)", s, t) for s, t in ((1, 4.0), (2, 1.0), (3, 5.0))]
    summary = report.summarise(runs)
    assert [r["to_1pct_s"] for r in summary] == [2.0, 4.0]
    (line,) = report.verdict(summary)
    assert "2.00 s" in line and "4.00 s" in line and "goal met" in line


def test_verdict_not_met():
    runs = [_run("advi (pytensor c)", 1, 3.0), _run("numpyro svi (jax)", 1, 1.5)]
    (line,) = report.verdict(report.summarise(runs))
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
    rows = anatomy.breakdown(_costs("c"), "c")
    parts, total = rows[:-1], rows[-1]
    # each part is a difference of two timings; the rest (130) is what none of them holds
    assert [r["us"] for r in parts] == [100.0, 150.0, 10.0, 7.0, 3.0, 130.0]
    assert total["us"] == 400.0 and parts[0]["share"] == pytest.approx(0.25)


def test_step_verdict_against_the_goal_and_the_gradient():
    """ADVI's step inside pm.fit against 100 us and the same run's gradient; full-rank's
    against 1.3x ADVI's on the same backend; a backend without the rows says nothing."""
    costs = _costs("c") + [{"what": anatomy.FULLRANK_STEP, "backend": "c", "us": 600.0}]
    fast = [
        {"what": "log density + gradient", "backend": "pos", "us": 80.0},
        {"what": anatomy.FIT_STEP, "backend": "pos", "us": 96.0},
        {"what": anatomy.FULLRANK_STEP, "backend": "pos", "us": 144.0},
        {"what": anatomy.PACKED_STEP, "backend": "pos", "us": 105.6},
    ]
    slow, quick = report.step_verdict(costs + fast, ["c", "pos", "jax"])
    assert "400.0 us" in slow and "4.00x" in slow and "<= 100 us not met" in slow
    assert "1.50x ADVI's: <= 1.3x not met" in slow and "packed" not in slow
    assert "1.20x the 80.0 us" in quick and "<= 100 us met" in quick
    assert "full-rank ADVI 144.0 us, 1.50x ADVI's: <= 1.3x not met" in quick
    assert "with its packed factor 105.6 us, 1.10x ADVI's: <= 1.3x met" in quick


def _doc(anatomy_rows: bool) -> dict:
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
            "to_1pct_window": 5000,
            "thin": 10,
            "chunk": 1000,
            "rule": {"window": 5000, "tol": 1e-3},
            "anatomy": {"number": 200, "repeat": 5, "loop_steps": 3000, "loop_repeat": 3},
        },
        "runs": [_run("advi (pytensor c)", 1, 1.0), _run("numpyro svi (jax)", 1, 2.0)],
    }
    if anatomy_rows:
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


@pytest.mark.parametrize("anatomy_rows", [False, True])
def test_render_fills_the_template(anatomy_rows):
    text = report.render(_doc(anatomy_rows))
    assert "goal met" in text and "advi (pytensor c)" in text
    assert "iterations_to_within" in text  # the definition the numbers used
    assert ("Anatomy of one ADVI step" in text) is anatomy_rows
    if anatomy_rows:
        assert "normal_rv" in text and "pm.fit's loop" in text
        assert "`c`: ADVI 400.0 us per step" in text


def test_the_committed_run_names_its_own_definition_of_1pct():
    """The committed JSON predates the package's definition: its page says so."""
    doc = json.loads((svi_compare.RESULTS / "svi_compare.json").read_text())
    text = report.render(doc)
    assert "this run's own definition" in text and "| advi (pytensor numba)" in text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", (None, False)),
        ("c", ("c", False)),
        ("numba_positional+fused", ("numba_positional", True)),
        ("default+fused", (None, True)),
    ],
)
def test_backend_spec_splits_the_backend_from_the_fused_likelihood(spec, expected):
    assert fits.backend_spec(spec) == expected


def test_an_unknown_backend_is_refused_with_its_name(capsys):
    with pytest.raises(SystemExit):
        svi_compare.main(["--advi-backends", "numba_positional+fast", "--out", "/nonexistent"])
    assert "'numba_positional+fast' is none of default" in capsys.readouterr().err


def test_a_tiny_run_writes_its_json_markdown_and_figure(tmp_path, monkeypatch, teacher_small):
    """Both fits for 400 steps on the small teacher data, no anatomy."""
    import bnn_models.data

    monkeypatch.setattr(bnn_models.data, "load_rupture", lambda: teacher_small)
    assert (
        svi_compare.main(
            ["--out", str(tmp_path), "--seeds", "1", "--steps", "400", "--advi-backends", "default"]
            + ["--no-anatomy"]
        )
        == 0
    )
    doc = json.loads((tmp_path / "svi_compare.json").read_text())
    advi, svi = doc["runs"]
    assert advi["engine"] == "pymc" and svi["engine"] == "numpyro"
    for run in (advi, svi):
        assert run["steps"] == 400 and run["status"] == "ok"
        assert 1 <= run["to_1pct_step"] <= 400 and np.isfinite(run["final_loss"])
    assert doc["settings"]["to_1pct_window"] == fits.rule_settings()[0]
    text = (tmp_path / "svi_compare.md").read_text()
    assert "numpyro svi (jax)" in text and "iterations_to_within" in text
    assert (tmp_path / "loss_traces.png").stat().st_size > 0
