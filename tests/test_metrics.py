"""Metrics against known answers: hand-made probabilities and a known-truth teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from sklearn.model_selection import train_test_split

from bnn_models.cli import main
from bnn_models.data import make_teacher
from bnn_models.errors import BadInput
from bnn_models.inference import ELBOConvergence, FitResult, rule_converged
from bnn_models.metrics import calibration, ece, elbo, reliability, runtime
from tests.conftest import TINY


def test_ece_hand_made():
    # two bins: [0.2, 0.2] with labels [0, 1] -> |0.5-0.2| ; [0.9, 0.9] with [1, 1] -> 0.1
    p = np.array([0.2, 0.2, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    assert ece(p, y, n_bins=2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.1)
    assert ece(np.array([0.0, 1.0]), np.array([0, 1]), n_bins=1) == pytest.approx(0.0)
    with pytest.raises(BadInput, match=r"ece: n_bins must lie in \[1, 4\], got 5"):
        ece(p, y, n_bins=5)


def test_calibration_hand_made():
    p = np.array([0.9, 0.8, 0.3, 0.6])
    y = np.array([1, 1, 0, 0])
    out = calibration(p, y, n_bins=2)
    assert out["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert out["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.7, 0.4])))
    assert out["accuracy"] == pytest.approx(0.75) and out["error_rate"] == pytest.approx(0.25)
    # weighted F1: class 1 precision 2/3 recall 1 -> 0.8; class 0 precision 1 recall 0.5 -> 2/3
    assert out["f1_weighted"] == pytest.approx(0.5 * 0.8 + 0.5 * 2 / 3)
    assert out["roc_auc"] == pytest.approx(1.0)


def test_true_probabilities_are_calibrated_and_biased_ones_are_not():
    ds = make_teacher(10, 20000, seed=11)
    true = calibration(ds.p_test_true, ds.y_test)
    assert true["ece"] < 0.015
    shrunk = calibration(0.5 + 0.5 * (ds.p_test_true - 0.5), ds.y_test)
    assert shrunk["ece"] > 0.05 and shrunk["log_loss"] > true["log_loss"]


def test_convergence_rule_fires_on_a_flat_tail():
    rule = ELBOConvergence(window=100, tol=1e-3)
    loss = np.concatenate([np.linspace(2000, 1000, 500), np.full(1000, 1000.0)])
    fired = None
    for i in range(1, loss.size + 1):
        try:
            rule(None, loss[:i], i)
        except StopIteration:
            fired = i
            break
    # windows (500,600] vs (600,700] are both flat: fires at 700, not earlier
    assert fired == rule.fired_at == 700


def _run_to_cap(loss: np.ndarray, max_iter: int, window: int) -> dict:
    """The ``convergence`` record of a fit of at most ``max_iter`` steps on ``loss``, the
    rule called after every step as ``pm.fit`` calls it, stopping the fit when it fires."""
    rule = ELBOConvergence(window=window, tol=1e-3)
    steps = max_iter
    for i in range(1, max_iter + 1):
        try:
            rule(None, loss[:i], i)
        except StopIteration:
            steps = i
            break
    return {
        "window": window,
        "fired_at": rule.fired_at,
        "max_iter": max_iter,
        "cap": max_iter,
        "iterations": steps,
    }


@pytest.mark.parametrize(("max_iter", "converged"), [(700, False), (1500, True)])
def test_a_rule_that_fires_at_the_cap_is_not_convergence(max_iter, converged):
    # flat from step 501: the rule fires at 700 (test above). With a cap of 700 it fires on
    # the last step allowed, the fit would have stopped there anyway: not converged. With
    # 1,500 steps it fires with 800 to spare: converged.
    loss = np.concatenate([np.linspace(2000, 1000, 500), np.full(1000, 1000.0)])
    conv = _run_to_cap(loss, max_iter, 100)
    assert conv["fired_at"] == 700
    assert rule_converged(conv) is converged
    assert elbo(_Fake(loss[: conv["iterations"]], 100, conv))["converged"] is converged


def test_the_cap_of_a_record_without_one_counts_the_warm_start():
    # a full-rank record written before ``cap``: 10,000 warm-start steps, then a cap of 20,000
    warm = {"warm_start": {"iterations": 10000}, "max_iter": 20000}
    assert rule_converged({"fired_at": 20000, **warm}) is True  # 10,000 into its 20,000
    assert rule_converged({"fired_at": 30000, **warm}) is False
    assert rule_converged({"fired_at": 80000, "max_iter": 80000}) is False
    assert rule_converged({"fired_at": None, "max_iter": 80000}) is False


class _Fake:
    def __init__(self, loss, window, convergence=None):
        self.loss = loss
        self.convergence = convergence or {"window": window, "fired_at": None, "converged": False}


def test_elbo_iterations_to_one_percent():
    loss = np.concatenate([np.full(1000, 5000.0), np.full(3000, 1000.0)])
    out = elbo(_Fake(loss, 100))
    # the 100-step rolling mean is within 1% of 1000 once at most 1 of 100 values is 5000
    assert out["iter_to_1pct"] == 1100
    assert out["final_elbo"] == pytest.approx(-1000.0) and out["final_elbo_sd"] == 0.0


def test_calibration_of_a_two_row_one_class_split():
    # the test rows of a tiny table: both label 1, predictions 0.2 and 0.9
    out = calibration(np.array([0.2, 0.9]), np.array([1, 1]))
    # 2 rows: 2 equal-mass bins of one row each: (|1 - 0.2| + |1 - 0.9|) / 2 = 0.45
    assert out["ece_bins"] == 2 and out["ece"] == pytest.approx(0.45)
    assert out["roc_auc"] is None
    assert set(out["not_available"]) == {"ece", "roc_auc"}
    assert "2 test rows" in out["not_available"]["ece"]
    assert "one class only (all 1)" in out["not_available"]["roc_auc"]
    # still computed: 0.2 < 0.5 is a miss, 0.9 a hit
    assert out["accuracy"] == 0.5 and out["error_rate"] == 0.5
    assert out["brier"] == pytest.approx((0.8**2 + 0.1**2) / 2)
    assert out["log_loss"] == pytest.approx(-(np.log(0.2) + np.log(0.9)) / 2)
    # weighted F1 over the one class present: precision 1, recall 0.5 -> 2/3
    assert out["f1_weighted"] == pytest.approx(2 / 3)


def test_a_large_two_class_split_has_nothing_missing():
    out = calibration(np.linspace(0.05, 0.95, 40), np.tile([0, 1], 20))
    assert out["ece_bins"] == 10 and out["not_available"] == {}
    assert out["roc_auc"] is not None


def _constant_draws(p: np.ndarray, draws: int) -> FitResult:
    """A fit whose test probabilities are ``p`` in every one of ``draws`` draws."""
    p_draws = np.broadcast_to(p, (1, draws, p.size)).copy()
    idata = xr.DataTree.from_dict(
        {"predictions": xr.Dataset({"p": (("chain", "draw", "obs"), p_draws)})}
    )
    return FitResult(
        method="hand",
        idata=idata,
        loss=None,
        timings={},
        n_grad_evals=None,
        convergence={},
        config={},
        sampler="hand-made",
    )


#: Two groups of ten test rows, predictions 0.02 apart around 0.2 and 0.8, listed out
#: of order (high group first) so that the curve must sort them.
LOW = np.round(np.arange(0.11, 0.30, 0.02), 2)  # 0.11 ... 0.29, mean 0.2
HIGH = np.round(np.arange(0.71, 0.90, 0.02), 2)  # 0.71 ... 0.89, mean 0.8
P_GROUPS = np.concatenate([HIGH, LOW])


def _inside(out: dict) -> np.ndarray:
    cep = np.array(out["cep"])
    return (np.array(out["band_low"]) - 1e-12 <= cep) & (cep <= np.array(out["band_high"]) + 1e-12)


def test_reliability_curve_of_a_calibrated_forecast():
    # Sorted by prediction, each group's labels put its ones first: [1, 1, 0 x 8] (rate
    # 0.2) and [1 x 8, 0, 0] (rate 0.8). PAV pools a block while a later label is
    # lower, so each group becomes one block at its rate, and 0.2 < 0.8 needs no
    # pooling across groups: the CEP is 0.2 on the ten low rows, 0.8 on the high ones.
    y = np.concatenate([[1] * 8 + [0] * 2, [1] * 2 + [0] * 8])
    out = reliability(_constant_draws(P_GROUPS, 20_000), y, seed=0)
    assert out["ci_prob"] == 0.9
    np.testing.assert_allclose(out["cep"], [0.2] * 10 + [0.8] * 10, atol=1e-12)
    # forecast: the posterior predictive mean of each row (replicated labels drawn from
    # p, 20,000 draws: sd at most 0.0035), sorted
    assert np.all(np.diff(out["forecast"]) > 0)
    np.testing.assert_allclose(out["forecast"], np.sort(P_GROUPS), atol=0.015)
    # the forecast is calibrated (group rates equal the mean predictions): the
    # consistency band holds the CEP everywhere
    assert _inside(out).all()
    assert all(len(out[k]) == 20 for k in ("band_low", "band_high"))


def test_reliability_band_excludes_a_miscalibrated_forecast():
    # rate 0.5 in both groups: PAV gives 0.5 within each, and no pooling is needed
    # across: the CEP is 0.5 everywhere, far from predictions near 0.2 and 0.8
    y = np.concatenate([[1] * 5 + [0] * 5, [1] * 5 + [0] * 5])
    out = reliability(_constant_draws(P_GROUPS, 20_000), y, seed=0)
    np.testing.assert_allclose(out["cep"], [0.5] * 20, atol=1e-12)
    outside = ~_inside(out)
    # at the lowest predictions (0.11 ... 0.17) no replicate comes near 0.5
    assert outside[:4].all() and outside.sum() >= 8


def test_reliability_of_fewer_test_rows_than_curves_warns_nothing():
    # ArviZ stacks the 4 curves over the rows and names the axes chain and draw: with
    # fewer than 4 rows it warns that "chain" is longer than "draw" (warnings are errors)
    out = reliability(_constant_draws(np.array([0.2, 0.5, 0.8]), 2000), np.array([1, 1, 0]))
    # sorted: labels 1, 1, 0 -> PAV pools all three to 2/3
    np.testing.assert_allclose(out["cep"], [2 / 3] * 3)
    assert len(out["band_low"]) == len(out["forecast"]) == 3


def _one_class_test_table(path) -> None:
    """10 rows whose 2-row test split (seed 0, as ``--data-seed 0`` splits) holds label 1 only."""
    rng = np.random.default_rng(5)
    _, test_rows = train_test_split(np.arange(10), test_size=2, random_state=0, shuffle=True)
    y = np.array([i % 2 for i in range(10)])
    y[test_rows] = 1
    lines = ["a,b,label"] + [
        f"{a:.4f},{b:.4f},{lab}" for (a, b), lab in zip(rng.normal(size=(10, 2)), y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_a_one_class_test_split_runs_and_says_what_is_missing(tmp_path, capsys):
    table = tmp_path / "tiny.csv"
    _one_class_test_table(table)
    tiny = TINY["advi"]
    settings = [f"advi.{k}={tiny[k]}" for k in ("max_iter", "draws", "window")]
    code = main(
        [
            "run",
            "--data",
            str(table),
            "--label",
            "label",
            "--methods",
            "advi",
            "--quick",
            "--hidden",
            str(tiny["n_hidden"]),
            *[arg for s in settings for arg in ("--set", s)],
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["run"]["dataset"]["n_test"] == 2
    assert doc["run"]["dataset"]["test_positive_rate"] == 1.0
    (fit,) = doc["fits"]
    cal = fit["calibration"]
    assert fit["status"] == "ok" and cal["roc_auc"] is None
    assert "one class only" in cal["not_available"]["roc_auc"]
    assert cal["ece_bins"] == 2 and 0 <= cal["accuracy"] <= 1


def _timed(timings: dict, **fields) -> FitResult:
    """A one-chain fit with hand-made timings, counts, config, loss and convergence."""
    idata = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"w": (("chain", "draw"), np.zeros((1, 10)))})}
    )
    base = {"loss": None, "n_grad_evals": None, "convergence": {}, "config": {}}
    return FitResult(
        method="hand", idata=idata, timings=timings, sampler="hand-made", **(base | fields)
    )


def test_runtime_microseconds_per_gradient_and_per_step_by_hand():
    # 4 chains on 2 cores: 2.0 s of sampling for 50,000 gradients is 40 us of wall time
    # per gradient, 80 us of one core's; warm-up time does not count.
    nuts = _timed(
        {"fit_s": 5.0, "warmup_s": 3.0, "sampling_s": 2.0},
        counts={"grad_evals_warmup": 70_000, "grad_evals_sampling": 50_000},
        config={"chains": 4, "cores": 2},
    )
    out = runtime(nuts)
    assert out["us_per_grad"] == pytest.approx(40.0)
    assert out["us_per_grad_core"] == pytest.approx(80.0)
    assert out["grad_per_draw"] == pytest.approx(5_000.0)  # 50,000 over 10 kept draws
    assert "us_per_iter" not in out
    # 1 chain on 2 cores: one core's time is the wall time
    one = _timed(nuts.timings, counts=nuts.counts, config={"chains": 1, "cores": 2})
    assert runtime(one)["us_per_grad_core"] == pytest.approx(40.0)
    # 3,000 mean-field steps in 0.5 s, then 2,000 steps of the method in 0.3 s: 150 us
    # per step of its own (0.8 s / 5,000 = 160 us over both stages)
    vi = _timed(
        {"fit_s": 0.8, "warm_start_s": 0.5},
        loss=np.ones(5000),
        convergence={"iterations": 5000, "warm_start": {"iterations": 3000}},
    )
    out = runtime(vi)
    assert out["us_per_iter"] == pytest.approx(150.0)
    assert out["iter_per_s"] == pytest.approx(5000 / 0.8)
    assert "us_per_grad" not in out and "us_per_grad_core" not in out
    # without a warm start every step is the method's own
    plain = _timed({"fit_s": 0.8}, loss=np.ones(5000))
    assert runtime(plain)["us_per_iter"] == pytest.approx(160.0)
