"""The recommendation and the verdicts across methods: never a method whose own diagnostics
fail, never a win within seed noise (hand-made runs with known numbers)."""

from __future__ import annotations

from pathlib import Path

from bnn_models.report.content import verdicts
from bnn_models.report.recommend import best_within, build_recommendation, diagnostics_fail
from bnn_models.report.run import load_methods

FLOOR = {"pred_tv_mean": 0.002, "pred_sd_ratio_gmean": 0.999, "class_agreement": 0.9975}


def _point(seconds: float, tv: float, converged: bool | None, stage: str = "full run") -> dict:
    return {
        "stage": stage,
        "seconds": seconds,
        "grad_evals": 100,
        "n_draws": 100,
        "final": stage == "full run",
        "converged": converged,
        "log_loss": 0.3,
        "pred_tv_mean": tv,
        "pred_sd_ratio_gmean": 0.9,
        "class_agreement": 0.99,
    }


def _fit(
    method: str,
    family: str,
    seed: int,
    *,
    ece: float,
    acc: float,
    points: list,
    rhat=None,
    rule=None,
) -> dict:
    return {
        "method": method,
        "family": family,
        "label": method.upper(),
        "seed": seed,
        "status": "ok",
        "error": None,
        "config": {},
        "config_hash": f"{method}{seed}",
        "sampler": "",
        "fit_file": None,
        "convergence": {}
        if rule is None
        else {"fired_at": 100 if rule else None, "max_iter": 1000, "converged": rule},
        "runtime": {
            "total_s": points[-1]["seconds"],
            "compile_s": 0.0,
            "fit_s": 1.0,
            "draw_s": 0.0,
            "predict_s": 0.0,
        },
        "spread": {"pred_sd_mean": 0.1},
        "calibration": {"ece": ece, "accuracy": acc, "log_loss": 0.3, "brier": 0.1},
        "diagnostics": None
        if rhat is None
        else {
            "rhat_max_pred": rhat,
            "rhat_max_weights": rhat,
            "ess_bulk_min_pred": 900.0,
            "divergences": 0,
        },
        "anytime": {"points": points},
    }


def _run(fits: list[dict]) -> tuple[dict, dict]:
    names = list(dict.fromkeys(f["method"] for f in fits))
    doc = {
        "run": {
            "methods": names,
            "dataset": {"name": "rupture"},
            "reference": {"noise_floor": FLOOR},
        },
        "fits": fits,
    }
    return doc, load_methods(Path("."), doc, load=False)


def test_a_non_converged_mcmc_fit_with_the_best_ece_is_neither_recommended_nor_crowned():
    fits = []
    for seed in (0, 1, 2):
        # "bad": MCMC whose R-hat fails, with the best ECE, accuracy and fidelity of all.
        fits.append(
            _fit(
                "bad", "mcmc", seed, ece=0.01, acc=0.95, rhat=1.18, points=[_point(5, 0.001, False)]
            )
        )
        fits.append(
            _fit(
                "good",
                "mcmc",
                seed,
                ece=0.05 + 0.001 * seed,
                acc=0.90,
                rhat=1.004,
                points=[_point(20, 0.004, True, "2 chains x 500 draws"), _point(40, 0.003, True)],
            )
        )
        fits.append(
            _fit(
                "vi",
                "vi",
                seed,
                ece=0.09 + 0.001 * seed,
                acc=0.85,
                rule=True,
                points=[_point(3, 0.05, False, "step 1,000"), _point(6, 0.04, True)],
            )
        )
    doc, methods = _run(fits)
    assert "R-hat up to 1.180 > 1.01" in diagnostics_fail(methods["bad"])
    assert diagnostics_fail(methods["good"]) is None and diagnostics_fail(methods["vi"]) is None
    rec = build_recommendation(doc, methods)
    used = {row[0]: row[1] for row in rec.rows}
    assert "BAD" not in rec.headline and not any("BAD" in u for u in used.values())
    assert used == {
        "10 s": "VI, full run",  # the VI's snapshot at 3 s fails its rule: not counted
        "1 min": "GOOD, full run",
        "10 min": "GOOD, full run",
    }
    assert any("Not recommended, diagnostics fail: BAD" in n for n in rec.notes)
    text = " ".join(verdicts(methods))
    assert "lowest ECE: GOOD" in text and "lowest ECE: BAD" not in text
    assert "Not ranked, because their own diagnostics fail: BAD" in text
    # The floor: 0.003 is 1.5x the floor of 0.002.
    assert rec.rows[1][2] == "mean |dp| 0.0030 (1.5x the floor)"


def test_two_methods_within_seed_spread_are_no_win():
    """Accuracy 0.1 pp apart with seed spreads of several pp: no "ahead of", no win."""
    fits = []
    for seed, (a, b) in enumerate([(0.90, 0.88), (0.86, 0.91), (0.93, 0.897)]):
        fits.append(
            _fit(
                "one",
                "vi",
                seed,
                ece=0.05,
                acc=a,
                rule=True,
                points=[_point(5, 0.010 + 0.004 * seed, True)],
            )
        )
        fits.append(
            _fit(
                "two",
                "vi",
                seed,
                ece=0.05,
                acc=b,
                rule=True,
                points=[_point(6, 0.012 + 0.003 * seed, True)],
            )
        )
    doc, methods = _run(fits)
    assert (
        abs(methods["one"].get("calibration.accuracy") - methods["two"].get("calibration.accuracy"))
        < 0.0011
    )
    text = " ".join(verdicts(methods))
    assert (
        "highest accuracy: no clear winner" in text
        and "ahead of" not in text.split("highest accuracy")[1].split(";")[0]
    )
    rec = build_recommendation(doc, methods)
    assert "within seed noise" in rec.rows[0][4] and "within seed noise" in rec.headline


def test_best_within_takes_only_passing_points_within_the_budget():
    pts = [
        _point(1, 0.5, None),
        _point(2, 0.1, False),
        _point(3, 0.2, True),
        _point(30, 0.01, True),
    ]
    assert best_within(pts, 10, "pred_tv_mean")["seconds"] == 3
    assert best_within(pts, 0.5, "pred_tv_mean") is None
