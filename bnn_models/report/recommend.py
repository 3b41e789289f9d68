"""What to use, for which budget: the recommendation at the top of every report.

Computed from the anytime points of every fit (:mod:`bnn_models.anytime`): for each budget
of wall seconds on the machine that ran the run, each method's most faithful point within
the budget whose own diagnostics pass, in every seed; the method whose mean over seeds is
closest to the reference is recommended, the next is the runner-up, and a runner-up whose
seed range overlaps the recommended method's is said to be within seed noise of it.
Faithfulness is the mean ``|dp|`` against the reference posterior (the test log loss where the
run has no reference). A method whose diagnostics fail (:func:`diagnostics_fail`) is never
recommended and never named best by a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnn_models.floor import floor_text
from bnn_models.inference import METHODS
from bnn_models.refsummary import ACCEPT_ESS_BULK, ACCEPT_RHAT
from bnn_models.report.run import MethodRun, converged

__all__ = [
    "BUDGETS",
    "KHAT_UNRELIABLE",
    "Recommendation",
    "best_within",
    "build_recommendation",
    "diagnostics_fail",
    "khat_flag",
    "noise_floor",
    "ranking_key",
]

#: Budgets of wall seconds a recommendation is given for, with their names.
BUDGETS = ((10.0, "10 s"), (60.0, "1 min"), (600.0, "10 min"))
#: Pareto k-hat above which importance weights of a density q are flagged unreliable.
KHAT_UNRELIABLE = 0.7


@dataclass(frozen=True)
class Recommendation:
    """The "What to use" section: a headline, one table row per budget, notes."""

    headline: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]


def fit_fails(entry: dict) -> list[str]:
    """Which of its own diagnostics one fit fails ('R-hat', 'ESS', 'rule'); empty: it passes.

    The definitions of :func:`diagnostics_fail`, for one fit entry: R-hat over the test
    predictions above 1.01, bulk ESS below 400, a convergence rule that did not fire before
    the step cap.

    Examples
    --------
    >>> fit_fails({"diagnostics": {"rhat_max_pred": 1.002, "ess_bulk_min_pred": 900}})
    []
    >>> fit_fails({"convergence": {"fired_at": 20000, "cap": 20000}})
    ['rule']
    """
    diag = entry.get("diagnostics") or {}
    out = []
    if diag.get("rhat_max_pred") is not None and diag["rhat_max_pred"] > ACCEPT_RHAT:
        out.append("R-hat")
    if diag.get("ess_bulk_min_pred") is not None and diag["ess_bulk_min_pred"] < ACCEPT_ESS_BULK:
        out.append("ESS")
    has_rule = "fired_at" in (entry.get("convergence") or {}) or bool(entry.get("elbo"))
    if has_rule and not converged(entry):
        out.append("rule")
    return out


def diagnostics_fail(m: MethodRun, *, short: bool = False) -> str | None:
    """Why a method's own diagnostics fail, from what its fits hold (None: they pass).

    MCMC diagnostics (a fit with a function-space R-hat): R-hat above 1.01 or bulk ESS
    below 400 in any seed. A convergence rule (a fit with ``convergence.converged``): not
    fired before the step cap in any seed. ``short``: a few words for a table cell.
    """
    why, brief = [], []
    n = len(m.ok)
    rhat = [e["diagnostics"]["rhat_max_pred"] for e in m.ok if _has(e, "rhat_max_pred")]
    ess = [e["diagnostics"]["ess_bulk_min_pred"] for e in m.ok if _has(e, "ess_bulk_min_pred")]
    bad_r = [r for r in rhat if r > ACCEPT_RHAT]
    bad_e = [x for x in ess if x < ACCEPT_ESS_BULK]
    if bad_r:
        brief.append(f"R-hat {max(bad_r):.3f}")
        why.append(
            f"R-hat up to {max(bad_r):.3f} > {ACCEPT_RHAT} over the test predictions "
            f"({len(bad_r)} of {n} seeds)"
        )
    if bad_e:
        brief.append(f"ESS {min(bad_e):.0f}")
        why.append(
            f"bulk ESS down to {min(bad_e):.0f} < {ACCEPT_ESS_BULK} ({len(bad_e)} of {n} seeds)"
        )
    # Fits with a rule (a convergence record with fired_at, or an ELBO section), judged by
    # the one definition: fired before the step cap.
    unfired = sum("rule" in fit_fails(e) for e in m.ok)
    if unfired:
        brief.append("rule not fired before the cap")
        why.append(
            f"its convergence rule did not fire before the step cap ({unfired} of {n} seeds)"
        )
    if not why:
        return None
    seeds = f" ({max(len(bad_r), len(bad_e), unfired)} of {n} seeds)"
    return ", ".join(brief) + seeds if short else "; ".join(why)


def _has(entry: dict, key: str) -> bool:
    return (entry.get("diagnostics") or {}).get(key) is not None


def khat_flag(m: MethodRun) -> str | None:
    """'importance weights unreliable (k-hat 0.92)' for a density q with k-hat > 0.7."""
    k = m.get("fidelity.psis_khat")
    if np.isfinite(k) and k > KHAT_UNRELIABLE:
        return f"importance weights unreliable (PSIS k-hat {k:.2f} > {KHAT_UNRELIABLE})"
    return None


def noise_floor(doc: dict) -> dict | None:
    """The reference's noise floor recorded in the run (None: no reference, or none recorded)."""
    return ((doc.get("run") or {}).get("reference") or {}).get("noise_floor")


def ranking_key(methods: dict[str, MethodRun]) -> str:
    """``pred_tv_mean`` when the run's points hold fidelity, else ``log_loss``."""
    for m in methods.values():
        for e in m.ok:
            for p in (e.get("anytime") or {}).get("points", []):
                if p.get("pred_tv_mean") is not None:
                    return "pred_tv_mean"
    return "log_loss"


def _eligible(point: dict) -> bool:
    return point.get("converged") is not False


def best_within(
    points: list[dict], budget: float, key: str, *, passing: bool = True
) -> dict | None:
    """The point with the lowest ``key`` among those within ``budget`` seconds whose
    diagnostics pass (``converged`` not False); None if there is none."""
    ok = [
        p
        for p in points
        if p["seconds"] <= budget and (_eligible(p) or not passing) and p.get(key) is not None
    ]
    return min(ok, key=lambda p: p[key]) if ok else None


@dataclass(frozen=True)
class _Pick:
    method: MethodRun
    points: list[dict]  # one per seed

    def values(self, key: str) -> np.ndarray:
        return np.array([p[key] for p in self.points], dtype=float)

    def mean(self, key: str) -> float:
        return float(self.values(key).mean())

    @property
    def stage(self) -> str:
        stages = sorted({p["stage"] for p in self.points})
        return stages[0] if len(stages) == 1 else f"{len(stages)} stages over seeds"


def _picks(
    candidates: list[MethodRun], budget: float, key: str, *, passing: bool = True
) -> list[_Pick]:
    """Each candidate with a passing point (any point: ``passing`` false) within the budget
    in every seed, best first."""
    picks = []
    for m in candidates:
        best = [
            best_within((e.get("anytime") or {}).get("points", []), budget, key, passing=passing)
            for e in m.ok
        ]
        if best and all(b is not None for b in best):
            picks.append(_Pick(m, best))  # type: ignore[arg-type]
    return sorted(picks, key=lambda p: p.mean(key))


def _overlap(a: _Pick, b: _Pick, key: str) -> bool | None:
    """Whether ``b``'s seed range reaches ``a``'s; None with one seed (no range: the
    difference is neither a win nor noise, and the notes say so)."""
    va, vb = a.values(key), b.values(key)
    if len(va) < 2 or len(vb) < 2:
        return None
    return bool(vb.min() <= va.max())


def _closeness(pick: _Pick, key: str, floor: dict | None) -> str:
    value = pick.mean(key)
    if key == "log_loss":
        return f"log loss {value:.3f}"
    text = f"mean |dp| {value:.4f}"
    where = floor_text(key, value, floor)
    return f"{text} ({where})" if where else text


def _by_budget(said: list[str]) -> str:
    """'with 10 s, A; with 1 min or more, B': neighbouring budgets with one answer merged."""
    names = [name for _, name in BUDGETS]
    parts, i = [], 0
    while i < len(said):
        j = i
        while j + 1 < len(said) and said[j + 1] == said[i]:
            j += 1
        if i == j:
            span = names[i]
        elif j == len(said) - 1:
            span = f"{names[i]} or more"
        else:
            span = f"{names[i]} to {names[j]}"
        parts.append(f"with {span}, {said[i]}")
        i = j + 1
    text = "; ".join(parts)
    return text


def build_recommendation(doc: dict, methods: dict[str, MethodRun]) -> Recommendation | None:
    """The recommendation of a run, or None when no fit recorded anytime points."""
    key = ranking_key(methods)
    have = [m for m in methods.values() if m.ok and any(e.get("anytime") for e in m.ok)]
    if not have:
        return None
    floor = noise_floor(doc) if key == "pred_tv_mean" else None
    failing = {m.name: diagnostics_fail(m) for m in have}
    candidates = [m for m in have if failing[m.name] is None]
    machine = (doc.get("run") or {}).get("machine") or {}
    cores = machine.get("cpu_count") or machine.get("cores")
    where = f"this run's machine{f' ({cores} cores)' if cores else ''}"
    rows, said = [], []
    for budget, name in BUDGETS:
        picks = _picks(candidates, budget, key)
        if not picks:
            failing_ones = [m for m in have if m not in candidates]
            closest = _picks(failing_ones, budget, key, passing=False)
            if closest:
                c = closest[0]
                rows.append(
                    [
                        name,
                        "nothing whose diagnostics pass",
                        f"closest, diagnostics failing: {c.method.label} "
                        f"({_closeness(c, key, floor)})",
                        "",
                        "",
                    ]
                )
            else:
                rows.append([name, "nothing within it", "", "", ""])
            said.append("nothing whose diagnostics pass")
            continue
        top = picks[0]
        runner = picks[1] if len(picks) > 1 else None
        tie = _overlap(top, runner, key) if runner is not None else False
        if runner is None:
            second = "none"
        else:
            second = f"{runner.method.label}, {_closeness(runner, key, floor)}"
            if tie:
                second += ": within seed noise"
            elif tie is None:
                second += ": one seed, not tested against seed noise"
        sd = top.mean("pred_sd_ratio_gmean") if key == "pred_tv_mean" else float("nan")
        rows.append(
            [
                name,
                f"{top.method.label}, {top.stage}",
                _closeness(top, key, floor),
                f"{sd:.0%}" if np.isfinite(sd) else "n/a",
                second,
            ]
        )
        said.append(
            f"{top.method.label}"
            + (f" (or {runner.method.label}, within seed noise)" if tie and runner else "")
        )
    headline = (
        f"On {where}: "
        + _by_budget(said)
        + ". "
        + (
            "Ranked by closeness to the reference posterior (mean |dp| over test rows)."
            if key == "pred_tv_mean"
            else "No reference posterior: ranked by test log loss."
        )
    )
    notes = []
    failed = [m for m in have if failing[m.name]]
    if len(failed) == 1:
        m = failed[0]
        notes.append(f"Not recommended, diagnostics fail: {m.label}: {failing[m.name]}.")
    elif failed:  # many: a few words each, the decision table's diagnostics column has them
        notes.append(
            "Not recommended, diagnostics fail: "
            + "; ".join(f"{m.label} ({diagnostics_fail(m, short=True)})" for m in failed)
            + "."
        )
    if floor:
        runs = floor.get("runs") or []
        seeds = ", ".join(str(r.get("seed")) for r in runs)
        notes.append(
            f"The floor: two independent reference runs (seeds {seeds}) differ by mean |dp| "
            f"{floor['pred_tv_mean']:.4f}."
        )
    notes.append(
        "Per budget and seed, the method's closest state within that many wall seconds whose "
        "own diagnostics pass (an MCMC prefix of draws and chains, a VI snapshot, the first "
        "ensemble members, or the full run); a method needs one in every seed; mean over seeds."
    )
    for m in have:
        registered = METHODS.get(m.name)
        if registered is not None and registered.defaults_from:
            notes.append(
                f"{m.label}'s default settings were chosen by a study: {registered.defaults_from}."
            )
    flagged = [
        f"{m.label} ({m.get('fidelity.psis_khat'):.2f})" for m in have if khat_flag(m) is not None
    ]
    if flagged:
        notes.append(
            f"Importance weights unreliable (PSIS k-hat > {KHAT_UNRELIABLE}): "
            + ", ".join(flagged)
            + "."
        )
    if any(len(m.ok) < 2 for m in candidates):
        notes.append("One seed: seed noise is unknown, so no difference is called a win.")
    header = ["Budget", "Use", "How close", "Predictive sd vs reference", "Runner-up"]
    return Recommendation(headline=headline, header=header, rows=rows, notes=notes)
