"""studies/nuts_budget: the choice of a configuration from hand-made points."""

from __future__ import annotations

from studies.nuts_budget import nuts_budget


def _point(stage: str, seconds: float, tv: float, ok: bool = True) -> dict:
    return {
        "stage": stage,
        "seconds": seconds,
        "grad_evals": int(seconds * 1000),
        "pred_tv_mean": tv,
        "pred_sd_ratio_gmean": 1.0,
        "rhat_max_pred": 1.0 if ok else 1.05,
        "ess_bulk_min_pred": 1000.0,
        "converged": ok,
    }


def _doc(points_by_config: dict) -> dict:
    fits = [
        {"tune": tune, "target_accept": 0.8, "seed": seed, "points": pts}
        for tune, pts in points_by_config.items()
        for seed in (0, 1)
    ]
    return {"reference": {"noise_floor": {"pred_tv_mean": 0.002}}, "seeds": [0, 1], "fits": fits}


def test_the_cheapest_counting_point_at_the_floor_is_chosen():
    """A cheaper point at the floor that fails its diagnostics is passed over."""
    doc = _doc(
        {
            400: [
                _point("4 chains x 500 draws", 30, 0.001, ok=False),
                _point("4 chains x 2,000 draws", 60, 0.0015),
            ],
            1000: [
                _point("4 chains x 1,000 draws", 70, 0.003),
                _point("4 chains x 2,000 draws", 90, 0.0012),
            ],
        }
    )
    s = nuts_budget.summarise(doc)
    assert (s["chosen"]["tune"], s["chosen"]["stage"]) == (400, "4 chains x 2,000 draws")
    assert s["default"]["tv_mean"] == 0.003 and s["chosen"]["at_floor"]


def test_without_a_point_at_the_floor_the_cheapest_as_faithful_as_today():
    doc = _doc(
        {
            400: [
                _point("4 chains x 1,000 draws", 40, 0.004),
                _point("4 chains x 2,000 draws", 55, 0.0029),
            ],
            1000: [_point("4 chains x 1,000 draws", 70, 0.003)],
        }
    )
    s = nuts_budget.summarise(doc)
    assert (s["chosen"]["tune"], s["chosen"]["seconds"]) == (400, 55)
    assert "no point reached the floor" in s["why"]
    assert "| 400 | 0.8 | 4 chains x 2,000 draws | 55,000 | 55.0 |" in nuts_budget.render(
        {
            **doc,
            "commit": "abc",
            "machine": {},
            "draws": 2000,
            "quick": False,
            "reference": {**doc["reference"], "key": "k"},
        }
    )
