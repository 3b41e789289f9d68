"""What each second buys: the anytime points of a fit, and the reference's noise floor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnn_models.anytime import anytime, envelope, mcmc_checks
from bnn_models.errors import BadInput
from bnn_models.floor import distance, floor_text, noise_floor, record_noise_floor


class _Ref:
    """A reference reduced to what the scorer reads: predictive mean and sd per test row."""

    def __init__(self, mean: np.ndarray, sd: np.ndarray) -> None:
        self.pred_mean, self.pred_sd = mean, sd

    def mismatch(self, dataset, config):  # noqa: ANN001 - duck type of Reference
        return None


def test_mcmc_points_cover_chains_and_draws_and_end_at_the_full_run(tiny_fits, teacher_small):
    """Tiny NUTS: 2 chains x 100 draws. Points 1-2 chains x 50-100 draws; the full run is
    charged its total seconds and gradients, scored exactly as its own predictions."""
    fit = tiny_fits["nuts"]
    p = fit.p_test
    ref = _Ref(p.mean(axis=0), p.std(axis=0))  # the fit as its own reference: distance 0
    points = anytime(fit, teacher_small, ref)["points"]
    stages = {q["stage"] for q in points}
    assert stages == {f"{c} chain{'s' * (c > 1)} x {d} draws" for c in (1, 2) for d in (50, 100)}
    full = next(q for q in points if q["final"])
    assert full["seconds"] == pytest.approx(fit.timings["total_s"], rel=1e-6)
    assert full["grad_evals"] == fit.n_grad_evals
    assert full["pred_tv_mean"] == pytest.approx(0.0, abs=1e-12)
    assert full["pred_sd_ratio_gmean"] == pytest.approx(1.0)
    # fewer draws, fewer gradients and seconds; every point dearer than compile alone
    half = next(q for q in points if q["stage"] == "2 chains x 50 draws")
    assert half["grad_evals"] < full["grad_evals"] and half["seconds"] < full["seconds"]
    assert min(q["seconds"] for q in points) > fit.timings["compile_s"]
    assert [q["seconds"] for q in points] == sorted(q["seconds"] for q in points)
    # the full run's checks are the diagnostics of its predictions
    assert full["rhat_max_pred"] == pytest.approx(
        mcmc_checks(fit.idata["predictions"]["p"].transpose("chain", "draw", "obs").values)[
            "rhat_max_pred"
        ]
    )


def test_a_fit_without_stages_is_one_point_with_its_rule(tiny_fits, teacher_small):
    fit = tiny_fits["laplace"]
    points = anytime(fit, teacher_small)["points"]
    assert [q["stage"] for q in points][-1] == "full run"
    assert points[-1]["pred_tv_mean"] is None  # no reference: log loss alone
    y, m = teacher_small.y_test, fit.p_test.mean(axis=0)
    by_hand = -np.mean(y * np.log(m) + (1 - y) * np.log(1 - m))
    assert points[-1]["log_loss"] == pytest.approx(by_hand, rel=1e-6)


def test_mcmc_checks_by_known_chains():
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(4, 500, 3))
    assert mcmc_checks(mixed)["converged"]
    apart = mixed + np.arange(4)[:, None, None]  # each chain elsewhere: R-hat far above 1.01
    out = mcmc_checks(apart)
    assert out["rhat_max_pred"] > 1.5 and not out["converged"]
    # one chain: its halves are compared
    drift = np.linspace(0, 5, 400)[None, :, None] + rng.normal(size=(1, 400, 2))
    assert mcmc_checks(drift)["rhat_max_pred"] > 1.1


def test_envelope_is_the_best_so_far():
    pts = [
        {"seconds": 1.0, "x": 0.5},
        {"seconds": 2.0, "x": 0.7},
        {"seconds": 4.0, "x": 0.1, "converged": False},
        {"seconds": 8.0, "x": 0.2},
    ]
    budgets = np.array([0.5, 1.0, 3.0, 5.0, 10.0])
    assert np.allclose(envelope(pts, budgets, "x"), [np.nan, 0.5, 0.5, 0.5, 0.2], equal_nan=True)
    every = envelope(pts, budgets, "x", passing=False)
    assert np.allclose(every, [np.nan, 0.5, 0.5, 0.1, 0.1], equal_nan=True)


def _summary(seed: int, mean: list[float], sd: list[float]) -> dict:
    return {
        "key": f"k{seed}",
        "commit": "abc",
        "created": "2026-12-05",
        "data_hash": "d",
        "model": {"n_hidden": 12},
        "config": {"chains": 8, "draws": 1000, "seed": seed},
        "pred_mean": mean,
        "pred_sd": sd,
    }


def test_noise_floor_from_two_references_by_hand():
    a = _summary(1, [0.2, 0.6, 0.9], [0.1, 0.1, 0.1])
    b = _summary(2, [0.21, 0.58, 0.9], [0.1, 0.2, 0.05])
    floor = noise_floor(a, b)
    assert floor["pred_tv_mean"] == pytest.approx(0.01)  # (0.01 + 0.02 + 0) / 3
    assert floor["pred_sd_ratio_gmean"] == pytest.approx(1.0)  # (1 * 2 * 0.5) ** (1/3)
    assert floor["class_agreement"] == 1.0
    assert [r["seed"] for r in floor["runs"]] == [1, 2]
    assert floor_text("pred_tv_mean", 0.005, floor) == "at the floor"
    assert floor_text("pred_tv_mean", 0.03, floor) == "3.0x the floor"
    assert floor_text("pred_tv_mean", 0.03, None) == ""
    assert distance("pred_sd_ratio_gmean", 0.5) == pytest.approx(distance("pred_sd_ratio_gmean", 2))
    with pytest.raises(BadInput, match="seed 1 is the same"):
        noise_floor(a, a)
    with pytest.raises(BadInput, match="config differs beyond the seed"):
        noise_floor(a, {**b, "config": {**b["config"], "draws": 500}})


def test_record_noise_floor_writes_into_the_primary(tmp_path, monkeypatch):
    import bnn_models.floor as floor_mod

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_summary(1, [0.2, 0.6], [0.1, 0.1])))
    b.write_text(json.dumps(_summary(2, [0.25, 0.6], [0.1, 0.1])))
    monkeypatch.setattr(floor_mod, "read_summary", lambda p: json.loads(p.read_text()))
    floor = record_noise_floor(a, b)
    written = json.loads(a.read_text())
    assert written["noise_floor"] == floor and floor["pred_tv_mean"] == pytest.approx(0.025)
    assert floor["runs"][1]["file"] == "b.json" and "noise_floor" not in json.loads(b.read_text())


def test_vi_snapshots_are_states_before_the_end(tiny_fits, teacher_small):
    """Tiny full-rank ADVI (warm-started): snapshots of both stages, cheaper than the
    full run, none converged (a fired rule ends the fit), scored like the full run."""
    fit = tiny_fits["fullrank_advi"]
    stages = fit.idata["anytime"].to_dataset()
    assert np.all(np.diff(stages["seconds"].values) > 0)
    assert np.all(np.diff(stages["grad_evals"].values) > 0)
    assert stages["grad_evals"].values[-1] < fit.n_grad_evals
    assert not stages["converged"].values.any()
    assert stages["p_mean"].min() >= 0 and stages["p_mean"].max() <= 1
    assert set(stages["n_draws"].values) == {fit.idata["posterior"].sizes["draw"]}
    points = anytime(fit, teacher_small)["points"]
    assert len(points) == stages.sizes["stage"] + 1 and points[-1]["stage"] == "full run"


def test_ensemble_stages_are_its_first_members(tiny_fits, teacher_small):
    fit = tiny_fits["ensemble"]
    stages = fit.idata["anytime"].to_dataset()
    p = fit.idata["predictions"]["p"].values[0]  # (members, obs)
    for i, k in enumerate(stages["n_draws"].values):
        assert np.allclose(stages["p_mean"].values[i], p[:k].mean(axis=0))
        assert np.allclose(stages["p_sd"].values[i], p[:k].std(axis=0))
    assert stages["n_draws"].values.max() < p.shape[0]
