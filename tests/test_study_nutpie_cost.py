"""studies/nutpie_cost: one case measured on tiny settings, and the report from its numbers."""

from __future__ import annotations

import json

import pytest

from studies.nutpie_cost import nutpie_cost


@pytest.fixture(scope="module")
def one_case(teacher_small):
    """The suite's NUTS on the small teacher data, 1 chain on 1 core, 10 + 10 draws."""
    import bnn_models.data

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bnn_models.data, "load_rupture", lambda: teacher_small)
        return nutpie_cost.worker({"model": "sign", "chains": 1, "cores": 1, "tune_draws": 10})


def test_a_case_counts_gradients_and_cpu_time(one_case):
    """Gradients at least one per draw (20 draws), CPU and wall us per gradient from the
    same counts; the bare call timed; the points' hash a SHA256."""
    assert one_case["gradients"] >= 20
    assert one_case["cpu_us_per_grad"] == pytest.approx(
        1e6 * one_case["cpu_s"] / one_case["gradients"]
    )
    assert one_case["wall_us_per_grad_per_core"] == pytest.approx(
        1e6 * one_case["wall_s"] / one_case["gradients"]
    )
    assert one_case["bare_us"] > 0 and len(one_case["points_sha256"]) == 64


def _doc(case: dict) -> dict:
    def row(part: str, name: str, cpu: float) -> dict:
        return {**case, "part": part, "case": name, "flags": "", "cpu_us_per_grad": cpu}

    cases = [row("layout", f"{c} on 2 cores", 60.0) for c in ("2 chains", "4 chains")]
    cases += [
        row("means", "likelihood as a switch (before)", 80.0),
        row("means", "likelihood with a sign (now)", 60.0),
    ]
    repro = [
        {**case, "fastmath": f, "cache": c, "points_sha256": h}
        for f, hashes in (("fastmath on (default)", "ab"), ("fastmath off", "cc"))
        for c, h in zip(("cold", "warm"), hashes, strict=True)
    ]
    return {
        "commit": "abc",
        "machine": {"cpu": "cpu", "cpu_count": 2},
        "versions": {"pymc": "6", "pytensor": "3", "nutpie": "0.16", "numba": "0.6"},
        "data": {"name": "rupture", "n_train": 1600, "sha256": "0" * 64},
        "settings": {"rounds": 1, "tune_draws": 10, "seed": 1, "n_points": 50},
        "cases": cases,
        "repro": repro,
    }


def test_report_from_measured_numbers(one_case, tmp_path):
    """A switch at 80 us against a sign at 60 us is 25% less; cold and warm hashes that
    differ with fastmath on and agree with it off are called so; --render redraws it."""
    text = nutpie_cost.render(_doc(one_case))
    assert "80.0 -> 60.0 us per gradient (25% less)" in text
    assert "fastmath on (default): the points' values differ" in text
    assert "fastmath off: the points' values agree" in text
    (tmp_path / "nutpie_cost.json").write_text(json.dumps(_doc(one_case)))
    assert nutpie_cost.main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "nutpie_cost.md").read_text() == text


def test_the_committed_report_renders_from_its_json():
    doc = json.loads((nutpie_cost.RESULTS / "nutpie_cost.json").read_text())
    assert "4 chains on 2 cores" in nutpie_cost.render(doc)


def test_rounds_below_one_are_refused(capsys):
    with pytest.raises(SystemExit):
        nutpie_cost.main(["--rounds", "0"])
    assert "--rounds must be >= 1" in capsys.readouterr().err
