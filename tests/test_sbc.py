"""Simulation-based calibration: the procedure on a conjugate model whose exact posterior
is known (right by construction passes, over- and under-confident fail), and the BNN's
simulations and test quantities against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.sbc import (
    Design,
    fit_ranks,
    pit_values,
    quantity_names,
    rank_quantities,
    simulate,
    uniformity_pvalues,
)
from tests.conftest import rupture_available

N_SIMS, N_RANKED, N_OBS = 300, 99, 5


def _normal_ranks(sd_factor: float, seed: int = 0) -> np.ndarray:
    """theta ~ N(0, 1), y_j ~ N(theta, 1) (5 rows): the posterior is N(sum y / 6, 1 / 6).
    Draws from it with its sd times ``sd_factor`` (1: exact)."""
    rng = np.random.default_rng(seed)
    ranks = np.empty((N_SIMS, 1), dtype=int)
    for i in range(N_SIMS):
        theta = rng.normal()
        y = rng.normal(theta, 1.0, N_OBS)
        mean, sd = y.sum() / (N_OBS + 1), np.sqrt(1 / (N_OBS + 1))
        draws = rng.normal(mean, sd * sd_factor, (400, 1))
        ranks[i] = rank_quantities(draws, np.array([theta]), N_RANKED, rng)
    return ranks


def test_the_exact_posterior_passes_and_wrong_spreads_fail():
    exact = uniformity_pvalues(_normal_ranks(1.0), N_RANKED)
    over = uniformity_pvalues(_normal_ranks(1 / 3), N_RANKED)  # over-confident
    under = uniformity_pvalues(_normal_ranks(3.0), N_RANKED)  # too vague
    assert exact.shape == (1,) and exact[0] > 0.05
    assert over[0] < 1e-4 and under[0] < 1e-4


def test_exact_posteriors_pass_at_the_nominal_rate():
    # Under the null the p-value is uniform: about 5% of repeats fall below 0.05.
    p = [uniformity_pvalues(_normal_ranks(1.0, seed), N_RANKED)[0] for seed in range(20)]
    assert sum(v < 0.05 for v in p) <= 4


def test_ranks_count_draws_below_and_break_ties_at_random():
    draws = np.array([[0.1], [0.2], [0.3], [0.3], [0.5]])
    rng = np.random.default_rng(0)
    assert rank_quantities(draws, np.array([0.25]), 5, rng).tolist() == [2]
    tied = {int(rank_quantities(draws, np.array([0.3]), 5, rng)[0]) for _ in range(200)}
    assert tied == {2, 3, 4}  # below: 2; the two ties fall on either side
    with pytest.raises(Exception, match="fewer than the 9 to rank"):
        rank_quantities(draws, np.array([0.3]), 9, rng)


def test_pit_values_are_inside_their_rank_cells():
    pit = pit_values(np.array([[0], [99]]), 99)
    assert 0 <= pit[0, 0] < 0.01 and 0.99 <= pit[1, 0] < 1


def _design() -> Design:
    rng = np.random.default_rng(5)
    return Design(X=rng.normal(size=(30, 3)), probes=rng.normal(size=(2, 3)), n_hidden=4)


def test_a_simulation_draws_from_the_prior_and_its_truth_is_computed_directly():
    design = _design()
    sim = simulate(design, 7, seed=1)
    again = simulate(design, 7, seed=1)
    assert np.array_equal(sim.y, again.y) and np.array_equal(sim.truth, again.truth)
    assert 0 < sim.y.sum() < sim.y.size
    w = sim.weights
    assert w["W0"].shape == (3, 4) and w["W1"].shape == (4,) and np.ndim(w["b1"]) == 0

    # the network written out unit by unit
    def logit(x):
        return sum(max(x @ w["W0"][:, j] + w["b0"][j], 0) * w["W1"][j] for j in range(4)) + w["b1"]

    p_probe = [1 / (1 + np.exp(-logit(x))) for x in design.probes]
    p = np.array([1 / (1 + np.exp(-logit(x))) for x in design.X])
    loglik = np.sum(sim.y * np.log(p) + (1 - sim.y) * np.log(1 - p))
    assert sim.truth == pytest.approx([*p_probe, loglik], rel=1e-10)
    assert quantity_names(design) == ["p_probe0", "p_probe1", "loglik"]


def test_a_real_fit_gives_ranks_in_range():
    from bnn_models.inference import METHODS

    design = _design()
    sim = simulate(design, 0, seed=0)
    result = METHODS["advi"](
        dataset=sim.dataset(design), seed=0, progressbar=False, quick=True, n_hidden=4
    )
    ranks = fit_ranks(result, design, sim, n_ranked=99)
    assert ranks.shape == (3,) and ((ranks >= 0) & (ranks <= 99)).all()


def test_run_sbc_writes_every_simulation_and_resumes_without_refitting(tmp_path):
    from bnn_models.errors import BadInput
    from bnn_models.executor import SerialExecutor
    from bnn_models.sbc import run_sbc, sbc_task, summarise

    design = _design()
    lines: list[str] = []
    kwargs = {"executor": SerialExecutor(sbc_task), "quick": True, "log": lines.append}
    doc = run_sbc(["advi"], design, 3, tmp_path, **kwargs)
    sims = doc["simulations"]
    assert [(e["method"], e["seed"], e["status"]) for e in sims] == [
        ("advi", 0, "ok"),
        ("advi", 1, "ok"),
        ("advi", 2, "ok"),
    ]
    assert all(len(e["ranks"]) == 3 for e in sims)
    # each simulation holds what its fit's own checks need: ADVI's rule and its cap
    assert all(set(e["convergence"]) >= {"fired_at", "cap", "converged"} for e in sims)
    assert all("diagnostics" not in e for e in sims)  # no chains to compare
    with pytest.raises(BadInput, match="sbc.json exists: pass --resume"):
        run_sbc(["advi"], design, 3, tmp_path, **kwargs)
    again = run_sbc(["advi"], design, 4, tmp_path, resume=True, **kwargs)
    assert "sbc: 4 simulations, 3 kept, 1 to run" in lines
    assert [e["ranks"] for e in again["simulations"][:3]] == [e["ranks"] for e in sims]
    (row,) = summarise(again)
    assert row["ok"] == 4 and set(row["p_values"]) == {"p_probe0", "p_probe1", "loglik"}
    assert 0 <= row["p_adjusted"] <= 1
    # another method into the same folder keeps the first one's simulations
    both = run_sbc(["fullrank_advi"], design, 2, tmp_path, resume=True, **kwargs)
    assert both["methods"] == ["advi", "fullrank_advi"]
    assert both["n_sims"] == {"advi": 4, "fullrank_advi": 2}
    assert [e["method"] for e in both["simulations"]].count("advi") == 4


@pytest.mark.skipif(not rupture_available(), reason="rupture files not available")
def test_the_sbc_command_writes_its_results_and_report(tmp_path, capsys):
    from bnn_models.cli import main

    out = tmp_path / "sbc"
    args = ["sbc", "--methods", "advi", "--sims", "3", "--rows", "40", "--probes", "2"]
    assert main([*args, "--hidden", "3", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Simulation-based calibration:" in printed and "sbc.html" in printed
    md = (out / "sbc.md").read_text()
    assert "| ADVI (mean-field) " in md and "p: loglik" in md
    assert "advi 3 of 3 run (seed 0)" in md
    assert (out / "figures" / "sbc_pit_ecdf.png").stat().st_size > 1000
    html = (out / "sbc.html").read_text()
    assert '<img src="figures/sbc_pit_ecdf.png"' in html and "data:image" not in html
    assert main([*args, "--hidden", "3", "--quick", "--out", str(out)]) == 2  # no --resume
    before = (out / "sbc.md").read_bytes()
    assert main(["report", str(out)]) == 0  # regenerated from sbc.json, the same bytes
    assert (out / "sbc.md").read_bytes() == before


def test_sbc_figure_shares_y_per_quantity_and_draws_the_simultaneous_band():
    """Methods with different numbers of simulations, one row each; each quantity's column
    shares its y-axis; a uniform sample stays in ArviZ's simultaneous band, a sample piled
    in both tails (an over-confident posterior) leaves it."""
    from bnn_models import figures as figs

    rng = np.random.default_rng(0)
    tails = np.concatenate([rng.uniform(0, 0.05, 60), rng.uniform(0.95, 1, 60)])
    pit = {
        "a": rng.uniform(size=(100, 2)),
        "b": np.column_stack([rng.uniform(size=120), tails]),
    }
    fig = figs.sbc_figure(pit, ["q0", "q1"], figs.method_styles({"a": "A", "b": "B"}))
    axes = np.array(fig.axes).reshape(2, 2)
    for c in range(2):
        assert axes[0, c].get_ylim() == axes[1, c].get_ylim()
    assert [ax.get_title() for ax in axes[0]] == ["q0", "q1"]
    assert "n=100" in axes[0, 0].get_ylabel() and "n=120" in axes[1, 0].get_ylabel()
    # Dots mark where the curve leaves the band: none for uniform, many for the tails.
    outside = [[len(ax.lines[-1].get_xdata()) for ax in row] for row in axes]
    assert outside[0] == [0, 0] and outside[1][1] > 10
    assert figs.png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_tail_shares_show_an_over_confident_posterior_in_both_tails():
    """The tail table from ranks made by hand: the exact posterior puts about 5% of the
    truths in each 5% tail; one with a third of the sd puts far more in both."""
    from bnn_models.report.sbc import tail_table
    from bnn_models.sbc import summarise

    def sims(method: str, ranks: np.ndarray) -> list[dict]:
        return [
            {"method": method, "label": method, "status": "ok", "ranks": r.tolist()} for r in ranks
        ]

    exact, over = _normal_ranks(1.0), _normal_ranks(1 / 3)
    doc = {
        "methods": ["exact", "over"],
        "quantities": ["theta"],
        "n_ranked": N_RANKED,
        "seed": 0,
        "simulations": sims("exact", exact) + sims("over", over),
    }
    tails = {r["method"]: r["tails"]["theta"] for r in summarise(doc)}
    assert all(0.01 <= share <= 0.10 for share in tails["exact"])
    assert all(share > 0.25 for share in tails["over"])  # truth often beyond every draw
    # by hand: the share of PIT values below 0.05 is the share of ranks 0..4 (rank 4 + U
    # reaches 0.05 only at U = 1), and at or above 0.95 that of ranks 95..99
    assert tails["over"][0] == pytest.approx(np.mean(over[:, 0] <= 4))
    assert tails["over"][1] == pytest.approx(np.mean(over[:, 0] >= 95))
    table = tail_table(doc).set_index("Method")
    low, high = tails["over"]
    assert table.loc["over", "theta"] == f"{100 * low:.0f}% / {100 * high:.0f}%"


def test_the_table_counts_the_simulations_whose_fit_passes_its_own_checks():
    from bnn_models.report.sbc import sbc_table

    def sim(method: str, seed: int, **checks: object) -> dict:
        return {
            "method": method,
            "label": method.upper(),
            "seed": seed,
            "status": "ok",
            "ranks": [seed % 5, (3 * seed) % 5],
            **checks,
        }

    vi = [
        sim("vi", s, convergence={"fired_at": 900, "cap": 1000, "converged": True})
        for s in range(3)
    ]
    vi[0]["convergence"] = {"fired_at": None, "cap": 1000, "converged": False}
    mc = [
        sim("mc", s, diagnostics={"rhat_max_pred": 1.002, "ess_bulk_min_pred": 800.0})
        for s in range(3)
    ]
    mc[2]["diagnostics"]["ess_bulk_min_pred"] = 120.0
    old = [sim("old", s) for s in range(3)]  # made before simulations recorded their checks
    doc = {
        "methods": ["vi", "mc", "old"],
        "quantities": ["a", "b"],
        "n_ranked": 4,
        "seed": 0,
        "simulations": vi + mc + old,
    }
    table = sbc_table(doc).set_index("Method")["Own diagnostics pass"]
    assert table.to_dict() == {"VI": "2 of 3", "MC": "2 of 3", "OLD": "not recorded"}
