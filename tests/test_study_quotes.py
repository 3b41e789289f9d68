"""The studies' READMEs quote their result files (``docs/quotes/study-*.md.j2``): a claim
of the prose that a changed result no longer supports stops the rendering, naming the
sentence to rewrite."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import QuoteError, _environment  # noqa: E402

# nuts_budget

NUTS_BUDGET = "nuts_budget/results/nuts_budget.json"


def _nuts_budget_render(tmp_path: Path, template: str, change) -> str:
    """``template`` rendered from a copy of the study's result file that ``change`` edited."""
    doc = json.loads((ROOT / "studies" / NUTS_BUDGET).read_text())
    change(doc)
    path = tmp_path / NUTS_BUDGET
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=tmp_path)
    return env.get_template(f"{template}.md.j2").render()


def _nuts_budget_points(doc: dict, tune: int, target: float, stage: str) -> list[dict]:
    return [
        p
        for fit in doc["fits"]
        if (fit["tune"], fit["target_accept"]) == (tune, target)
        for p in fit["points"]
        if p["stage"] == stage
    ]


def _nuts_budget_set(tune, target, stage, **values):
    def change(doc):
        for p in _nuts_budget_points(doc, tune, target, stage):
            p.update(values)

    return change


def test_nuts_budget_answer_renders_the_committed_numbers(tmp_path):
    """The committed run: the former default passed in every seed, so the study's rule
    picks it, and the answer says why the suite's default (warm-up 400, 4 x 2,000) stands."""
    text = _nuts_budget_render(tmp_path, "study-nuts-budget", lambda doc: None)
    text = " ".join(text.split())
    assert "passed its own diagnostics in every seed of this run" in text
    assert "R-hat 1.0071 over the 5 seeds" in text
    assert (
        "The suite's NUTS default is not that choice: warm-up 400, 4 chains x 2,000 draws" in text
    )
    assert (
        "is the closest to the reference of every configuration: 0.00122 (1.1x the floor)" in text
    )
    assert "1.16x the chosen's gradients (4,026,299)" in text
    assert "2 chains x 2,000 draws after 400 warm-up steps pass in every seed" in text


def _nuts_budget_fail(tune, target, stage):
    """A seed of the point fails its diagnostics (R-hat over the limit)."""

    def change(doc):
        _nuts_budget_points(doc, tune, target, stage)[0].update(converged=False, rhat_max_pred=1.02)

    return change


def test_nuts_budget_answer_when_the_former_default_fails(tmp_path):
    """As in the run that set the default: with the former default failing in a seed, the
    rule picks the cheapest passing point as faithful, the suite's default."""
    change = _nuts_budget_fail(1000, 0.8, "4 chains x 1,000 draws")
    text = " ".join(_nuts_budget_render(tmp_path, "study-nuts-budget", change).split())
    assert "did not pass its own diagnostics in every seed" in text
    assert "Chosen, and now the suite's NUTS default: warm-up 400, 4 chains x 2,000 draws" in text
    assert "is not that choice" not in text
    # no 2-chain point is as faithful as that choice: the fewer-chains bullet goes
    assert "R-hat from 2 chains has little power" not in text


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (
            _nuts_budget_fail(400, 0.8, "4 chains x 2,000 draws"),
            "The suite's NUTS default is a point of the sweep and passes",
        ),
        (
            _nuts_budget_set(1000, 0.8, "2 chains x 2,000 draws", pred_tv_mean=0.001),
            "No configuration reached the floor",
        ),
        (
            _nuts_budget_set(400, 0.9, "4 chains x 2,000 draws", pred_tv_mean=0.0012),
            "Target acceptance 0.9 cost more gradients for little gain in fidelity",
        ),
    ],
)
def test_nuts_budget_answer_claims_stop_when_the_results_break_them(tmp_path, change, sentence):
    with pytest.raises(QuoteError, match=f"no longer support the claim: {sentence}"):
        _nuts_budget_render(tmp_path, "study-nuts-budget", change)


def test_nuts_budget_method_claim_stops_when_a_seed_was_not_fitted(tmp_path):
    def drop_a_fit(doc):
        doc["fits"].pop()

    with pytest.raises(QuoteError, match="fits each configuration on 5 seeds"):
        _nuts_budget_render(tmp_path, "study-nuts-budget-method", drop_a_fit)


# fullrank_schedule

FULLRANK_SCHEDULE = ROOT / "studies" / "fullrank_schedule" / "results" / "schedule.json"


def _fullrank_schedule_render(tmp_path: Path, template: str, change) -> str:
    """``template`` rendered from a copy of schedule.json that ``change(doc)`` edited."""
    doc = json.loads(FULLRANK_SCHEDULE.read_text())
    change(doc)
    path = tmp_path / "fullrank_schedule" / "results" / "schedule.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=tmp_path)
    return env.get_template(f"{template}.md.j2").render()


def _fullrank_schedule_fits(doc: dict, schedule: str) -> list[dict]:
    return [f for f in doc["fits"] if f["schedule"] == schedule]


def _fullrank_schedule_slow_warm_seed(doc):
    _fullrank_schedule_fits(doc, "warm start")[0]["fit_s"] = doc["goal_s"] + 1


def _fullrank_schedule_warm_seed_worse(doc):
    warm = _fullrank_schedule_fits(doc, "warm start")[0]
    warm["final_loss"] = _fullrank_schedule_fits(doc, "cold start")[0]["final_loss"] + 1


def _fullrank_schedule_other_rate(doc):
    doc["schedules"]["warm start"]["learning_rate"] = 2e-4


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (_fullrank_schedule_slow_warm_seed, "The warm start meets the goal"),
        (_fullrank_schedule_warm_seed_worse, "at a better ELBO in every seed"),
        (_fullrank_schedule_other_rate, "So full-rank ADVI's default is the warm start"),
    ],
)
def test_fullrank_schedule_answer_claims_stop_the_rendering(tmp_path, change, sentence):
    assert "| warm start (the default) | 5 of 5 |" in _fullrank_schedule_render(
        tmp_path / "as-committed", "study-fullrank-schedule", lambda doc: None
    )
    with pytest.raises(QuoteError, match=f"no longer support the claim: {sentence}"):
        _fullrank_schedule_render(tmp_path / "changed", "study-fullrank-schedule", change)


def test_fullrank_schedule_method_claim_stops_the_rendering(tmp_path):
    def own_tol(doc):
        doc["schedules"]["cold start"]["tol"] = 1e-2

    with pytest.raises(QuoteError, match="moved by less than the default tol"):
        _fullrank_schedule_render(tmp_path, "study-fullrank-schedule-method", own_tol)


def test_fullrank_schedule_source_claim_stops_the_rendering(tmp_path):
    def no_trace(doc):
        doc["fits"][0]["loss"] = []

    with pytest.raises(QuoteError, match="every fit with its thinned loss trace"):
        _fullrank_schedule_render(tmp_path, "study-fullrank-schedule-source", no_trace)


# /fullrank_schedule


# minibatch_batch_size

MINIBATCH_BATCH_SIZE = "minibatch_batch_size/results/sweep.json"


def _minibatch_batch_size_render(tmp_path: Path, template: str, edit) -> str:
    """``template`` rendered from a copy of the study's sweep.json changed by ``edit``."""
    studies = tmp_path / "studies"
    path = studies / MINIBATCH_BATCH_SIZE
    path.parent.mkdir(parents=True)
    doc = json.loads((ROOT / "studies" / MINIBATCH_BATCH_SIZE).read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    env = _environment(ROOT / "results", studies=studies)
    return env.get_template(f"{template}.md.j2").render()


def _minibatch_batch_size_fit(doc: dict, batch_size: int | str, seed: int) -> dict:
    return next(r for r in doc["rows"] if r["batch_size"] == batch_size and r["seed"] == seed)


def _minibatch_256_matches(doc: dict) -> None:
    """256's worse seed as close to the reference as its good one: 256 becomes the choice."""
    _minibatch_batch_size_fit(doc, 256, 1)["pred_tv_mean"] = 0.0484


def _minibatch_worse_optima_better_calibrated(doc: dict) -> None:
    for r in doc["rows"]:
        if r["pred_tv_mean"] > 0.06:
            r["ece"] = 0.2


def _minibatch_one_usable_khat(doc: dict) -> None:
    _minibatch_batch_size_fit(doc, "full", 0)["psis_khat"] = 0.5


@pytest.mark.parametrize(
    ("template", "edit", "sentence"),
    [
        ("study-minibatch-batch-size", lambda doc: None, None),
        (
            "study-minibatch-batch-size",
            _minibatch_256_matches,
            "512 rows (the default, ADVIMinibatchSettings.batch_size)",
        ),
        (
            "study-minibatch-batch-size",
            _minibatch_worse_optima_better_calibrated,
            "the worse optima have the lower ECE",
        ),
        ("study-minibatch-batch-size", _minibatch_one_usable_khat, "PSIS k-hat is far above 0.7"),
        ("study-minibatch-batch-size-method", lambda doc: None, None),
        (
            "study-minibatch-batch-size-method",
            lambda doc: doc["overrides"].update(learning_rate="0.003"),
            "every fit runs its method's default schedule",
        ),
        ("study-minibatch-batch-size-source", lambda doc: None, None),
        (
            "study-minibatch-batch-size-source",
            lambda doc: doc.update(commit=doc["commit"] + "-dirty"),
            "from a clean tree",
        ),
    ],
)
def test_minibatch_batch_size_claims_fail_naming_the_sentence(tmp_path, template, edit, sentence):
    if sentence is None:  # the committed file supports every claim
        assert _minibatch_batch_size_render(tmp_path, template, edit)
        return
    with pytest.raises(QuoteError, match="no longer support the claim: .*" + re.escape(sentence)):
        _minibatch_batch_size_render(tmp_path, template, edit)


# sgmcmc_step_size

SGMCMC_STEP_SIZE = "sgmcmc_step_size/results/sweep.json"


def _sgmcmc_step_size_render(tmp_path: Path, template: str, edit) -> str:
    """``template`` rendered from a copy of the study's sweep.json changed by ``edit`` (and
    the committed studies/nuts_budget result it also reads)."""
    studies = tmp_path / "studies"
    path = studies / SGMCMC_STEP_SIZE
    path.parent.mkdir(parents=True)
    doc = json.loads((ROOT / "studies" / SGMCMC_STEP_SIZE).read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    budget = "nuts_budget/results/nuts_budget.json"
    (studies / budget).parent.mkdir(parents=True)
    shutil.copy(ROOT / "studies" / budget, studies / budget)
    env = _environment(ROOT / "results", studies=studies)
    return env.get_template(f"{template}.md.j2").render()


def _sgmcmc_smaller_sgld_step_wins(doc: dict) -> None:
    """SGLD at 0.1 closer to the reference than at 0.3, its default: 0.1 becomes the choice."""
    for r in doc["rows"]:
        if r["method"] == "sgld" and r["step_size"] == 0.1:
            r["pred_tv_mean"] = 0.005


def _sgmcmc_other_reference(doc: dict) -> None:
    doc["reference"] = "0123456789abcdef"


def _sgmcmc_no_commit(doc: dict) -> None:
    doc["commit"] = None


@pytest.mark.parametrize(
    ("template", "edit", "sentence"),
    [
        ("study-sgmcmc-step-size", lambda doc: None, None),
        ("study-sgmcmc-step-size-method", lambda doc: None, None),
        ("study-sgmcmc-step-size-provenance", lambda doc: None, None),
        (
            "study-sgmcmc-step-size",
            _sgmcmc_smaller_sgld_step_wins,
            "These step sizes are the methods' defaults",
        ),
        (
            "study-sgmcmc-step-size-method",
            _sgmcmc_other_reference,
            "the committed reference posterior (`results/reference/rupture.json`",
        ),
        ("study-sgmcmc-step-size-provenance", _sgmcmc_no_commit, "They ran at commit"),
    ],
)
def test_sgmcmc_step_size_claims_stop_the_rendering(tmp_path, template, edit, sentence):
    if sentence is None:  # the committed file renders
        assert _sgmcmc_step_size_render(tmp_path, template, edit)
        return
    with pytest.raises(QuoteError, match=re.escape(sentence)):
        _sgmcmc_step_size_render(tmp_path, template, edit)


# lowrank_cutoff (its first committed result comes from the regeneration: made-up files here)


def _lowrank_doc(seed: int, per_1k: dict) -> dict:
    """A sweep.json of lowrank_cutoff_sweep.py: one row per adaptation, ``per_1k`` giving
    each one's ESS per 1,000 gradients (None: the diagonal)."""
    rows = [
        {
            "adaptation": "diag" if cutoff is None else "low_rank",
            "eigval_cutoff": cutoff,
            "warmup_s": 10.0,
            "sampling_s": 5.0,
            "leapfrog_per_draw": 100.0,
            "grad_evals": 100_000,
            "ess_bulk_min_pred": 100 * value,
            "rhat_max_pred": 1.004,
            "ess_per_s": 20 * value,
            "ess_per_1k_grad": value,
        }
        for cutoff, value in per_1k.items()
    ]
    budget = {"tune": 1000, "draws": 500, "chains": 2}
    machine = {"cpu": "AMD EPYC", "cpu_count": 2}
    return {"commit": "0" * 40, "machine": machine, "seed": seed, "budget": budget, "rows": rows}


def _lowrank_render(tmp_path: Path, seed1: dict, seed2: dict) -> str:
    folder = tmp_path / "lowrank_cutoff" / "results"
    (folder / "seed2").mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(seed1))
    (folder / "seed2" / "sweep.json").write_text(json.dumps(seed2))
    env = _environment(ROOT / "results", studies=tmp_path)
    return env.get_template("study-lowrank-cutoff.md.j2").render()


def test_lowrank_cutoff_names_the_best_cutoff_against_the_seed_noise(tmp_path):
    # cutoff 10 beats the default 2 by 0.15 on average; the seeds of one adaptation differ
    # by at most 0.1: the default is not the best; the diagonal is beaten by 0.25
    one = _lowrank_doc(1, {None: 0.5, 2.0: 0.6, 10.0: 0.75})
    two = _lowrank_doc(2, {None: 0.5, 2.0: 0.6, 10.0: 0.75})
    two["rows"][0]["ess_per_1k_grad"] = 0.6  # the diagonal: 0.5 and 0.6, spread 0.1
    text = _lowrank_render(tmp_path, one, two)
    assert "| low rank, cutoff 2 (the default) | 0.6, 0.6 |" in text
    assert "cutoff 10 gets the most bulk ESS per gradient on average, 0.15 more" in text
    assert "the\n  default is not the best cutoff" in text
    assert "the best cutoff gets 0.2 more ESS per" in text and "more than the seed" in text
    # now cutoff 10's seeds read 0.75 and 0.65 against the diagonal's 0.5 and 0.85: its
    # lead of 0.1 over the default lies within that spread of 0.35
    two["rows"][2]["ess_per_1k_grad"] = 0.65
    two["rows"][0]["ess_per_1k_grad"] = 0.85
    text = _lowrank_render(tmp_path / "b", one, two)
    assert "0.1 more per\n  1,000 gradients than the default 2" in text
    assert "so these runs do not tell the two apart and the default\n  stands" in text


def test_lowrank_cutoff_needs_both_seeds_on_one_budget(tmp_path):
    one = _lowrank_doc(1, {None: 0.5, 2.0: 0.6})
    two = _lowrank_doc(2, {None: 0.5, 2.0: 0.6})
    two["budget"]["draws"] = 1000
    with pytest.raises(QuoteError, match="both seeds ran at one commit on the same budget"):
        _lowrank_render(tmp_path, one, two)
