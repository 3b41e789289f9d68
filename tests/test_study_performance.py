"""studies/performance: the before/after tables from hand-made runs (the measuring path runs
``make bench`` at two commits: not a test), and full-rank's step in tiny suite fits."""

from __future__ import annotations

import json

import pytest

from bnn_models.errors import BadInput
from bnn_models.inference import METHODS
from studies._common import write_report
from studies.performance import before_after, fullrank_in_suite, opt_in


def _fits(nuts_fit_s: float, advi_us: float) -> dict:
    """make bench's three fits: NUTS 4 chains on 2 cores and 1e6 gradients; ADVI and
    full-rank ADVI 10,000 steps, 1% reached at step 5,000."""

    def vi(us: float, fired: int) -> dict:
        return {
            "runtime": {"fit_s": us * 1e-2, "us_per_iter": us},
            "elbo": {
                "iterations": 10_000,
                "iter_to_1pct": 5_000,
                "converged": True,
                "neg_final_elbo": 850.0,
                "rule_fired_at": fired,
            },
        }

    nuts = {
        "backend": "numba (nutpie)",
        "config": {"chains": 4, "cores": 2},
        "runtime": {"fit_s": nuts_fit_s, "grad_evals": 1_000_000, "grad_per_draw": 300.0},
        "diagnostics": {"rhat_max_pred": 1.004, "ess_bulk_min_pred": 900.0},
        "fidelity": {"pred_sd_ratio_gmean": 0.998, "pred_tv_max": 0.01},
    }
    return {"nuts": nuts, "advi": vi(advi_us, 10_000), "fullrank_advi": vi(2 * advi_us, 8_000)}


def _side(label: str, wall: float, nuts_fit_s: float, advi_us: float, **extra) -> dict:
    fits = _fits(nuts_fit_s, advi_us)
    return {"label": label, "commit": "c" * 40, "wall_s": wall, "fits": fits} | {
        "extra": [],
        "env": {},
        **extra,
    }


SIDES = [
    _side("before", 300.0, 60.0, 400.0),
    _side("after", 180.0, 40.0, 300.0),
    _side("after, fast (opt-in)", 90.0, 20.0, 75.0, extra=["--set", "nuts.fused=true"]),
    {"label": "after, broken", "commit": "c" * 40, "error": "exit status 1", "fits": {}}
    | {"extra": [], "env": {}, "wall_s": 1.0},
]
DOC = {
    "commit": "0123456789abcdef",
    "machine": {"cpu": "CPU X", "cpu_count": 2},
    "versions": {"pymc": "6", "pytensor": "3", "nutpie": "0.16", "numpyro": "0.22", "jax": "0.12"},
    "bench_methods": "nuts,advi,fullrank_advi",
    "svi_seed": 0,
    "svi_steps": 2000,
    "sides": SIDES,
    "svi": [
        {"method": m, "seed": 0, "us_per_step": us, "final_loss": 850.0, "to_1pct_step": 1000}
        | {"to_1pct_s": us * 1e-3, "compile_s": 1.0}
        for m, us in (("advi (pytensor numba)", 300.0), ("numpyro svi (jax)", 600.0))
    ],
    "svi_to_1pct": before_after.SVI_TO_1PCT,
}


def test_opt_in_choices_against_the_default_side_of_one_run():
    """Each opt-in side against the "after" side of the same run, by hand: wall 90 / 180 s
    is 0.50x; NUTS 20 s x 2 cores / 1e6 gradients is 40 us per gradient per core against
    80; a side that failed is left out."""
    choices = opt_in.speed_choices(DOC)
    assert choices is not None and len(choices.rows) == 1
    row = dict(zip(choices.header, choices.rows[0], strict=True))
    nuts, advi = METHODS["nuts"].label, METHODS["advi"].label
    assert row["Choice (opt-in)"] == "fast (opt-in)"
    assert choices.settings == ["fast (opt-in): --set nuts.fused=true"]
    assert row["make bench time vs default"] == "0.50x"
    assert row[f"{nuts}: us per gradient per core"] == "40 (80)"
    assert row[f"{advi}: us per step"] == "75 (300)"
    assert row[f"{nuts}: R-hat / fidelity sd ratio"] == "1.004 / 0.998"
    text = opt_in.render(DOC)
    assert "Faster, opt-in" in text and "`0123456789ab`" in text and "CPU X" in text
    assert opt_in.speed_choices({**DOC, "sides": SIDES[:2]}) is None  # no opt-in side
    assert "no opt-in side" in opt_in.render({**DOC, "sides": SIDES[:2]})


@pytest.mark.parametrize(
    ("sides", "field"),
    [
        ("none", "field 'sides' must be a list of objects"),
        (SIDES[2:], "field 'sides' has no side labelled 'after'"),
    ],
)
def test_opt_in_refuses_a_run_without_its_sides(sides, field):
    with pytest.raises(BadInput, match=f"before_after.json: {field}"):
        opt_in.speed_choices({**DOC, "sides": sides})


def test_opt_in_main_names_a_file_it_cannot_read(tmp_path, capsys):
    (tmp_path / "before_after.json").write_text("{not json")
    with pytest.raises(SystemExit):
        opt_in.main(["--out", str(tmp_path)])
    assert "before_after.json: cannot be read as JSON" in capsys.readouterr().err


def test_the_committed_opt_in_page_is_its_json_rendered():
    """opt_in.md is before_after.json through the study's template: no number by hand."""
    results = opt_in.RESULTS
    doc = json.loads((results / "before_after.json").read_text())
    assert (results / "opt_in.md").read_text() == opt_in.render(doc)


def test_before_after_table_per_side(tmp_path):
    """Per side that ran: wall time; NUTS 40 s x 2 cores over 1e6 gradients = 80 us per
    gradient per core; ADVI 300 us over 10,000 steps = 3 s, 1% at step 5,000 = 1.5 s."""
    frame = before_after.table(SIDES)
    assert list(frame.columns) == ["before", "after", "after, fast (opt-in)"]
    after = frame["after"]
    assert after["make bench wall time (s)"] == "180"
    assert after["NUTS: wall us per gradient per core"] == "80"
    assert after["ADVI: us per step"] == "300"
    assert after["ADVI: seconds to 1% of final"] == "1.5"
    (tmp_path / "before_after.json").write_text(json.dumps(DOC))
    assert before_after.main(["--render", "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "Failed, so not in the table: **after, broken** (exit status 1)" in summary
    assert "iterations_to_within" in summary and "numpyro svi (jax)" in summary
    assert (tmp_path / "opt_in.md").read_text() == opt_in.render(DOC)


def test_before_after_needs_the_commit_before(capsys):
    with pytest.raises(SystemExit):
        before_after.main(["--out", "/nonexistent"])
    assert "--before is needed to measure" in capsys.readouterr().err


def test_fullrank_in_suite_on_tiny_fits(tmp_path, monkeypatch, teacher_small):
    """One round of the three fits on the small teacher data: us per step of ADVI's fit
    and of full-rank's own stage (its warm stage's steps left out), and their ratios."""
    import bnn_models.data

    monkeypatch.setattr(bnn_models.data, "load_rupture", lambda: teacher_small)
    tiny = {"max_iter": 300, "window": 100, "draws": 20, "n_hidden": 4}
    overrides = {"advi": tiny, "fullrank_advi": {**tiny, "warm_max_iter": 200, "warm_window": 100}}

    def measure() -> dict:
        return fullrank_in_suite.measure(1, {"default": {}}, overrides)

    write_report(tmp_path, "fullrank_in_suite", fullrank_in_suite.render, measure)
    doc = json.loads((tmp_path / "fullrank_in_suite.json").read_text())
    rows = {r["fit"]: r for r in doc["rows"]}
    assert set(rows) == {label for label, _, _ in fullrank_in_suite.FITS}
    assert rows["ADVI"]["steps"] <= 300 and rows["full-rank ADVI"]["steps"] <= 300
    assert all(r["us_per_step"] > 0 for r in rows.values())
    text = (tmp_path / "fullrank_in_suite.md").read_text()
    assert "full-rank ADVI / ADVI" in text and "| default" in text
