"""The decision table (one compact row per method, grouped by family) and the
"which NUTS engine" table, as data.

Both read the run's per-method statistics (mean over seeds); cells are text with
units. A method without a density q says so in the k-hat column rather than leaving
it blank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnn_models.floor import floor_text
from bnn_models.report.formats import Stat, possessive, reason, sig
from bnn_models.report.recommend import diagnostics_fail
from bnn_models.report.run import MethodRun, baseline, seed_text, styles

__all__ = [
    "DECISION_FAMILIES",
    "Decision",
    "Engines",
    "build_decision",
    "build_engines",
    "nuts_engines",
]

#: Families in the order the decision table groups them, with their headings.
DECISION_FAMILIES = {
    "mcmc": "MCMC",
    "vi": "Variational (a density q)",
    "particles": "Particles",
    "ensemble": "Ensemble",
    "point": "Point estimate",
}


@dataclass(frozen=True)
class Decision:
    """The compact table: ``rows`` of (family heading, method label, colour, cells)."""

    header: list[str]
    rows: list[tuple[str, str, str, list[str]]]
    notes: list[str]


@dataclass(frozen=True)
class Engines:
    """The NUTS-engine table: (label, colour, cells) per engine, and sentences."""

    header: list[str]
    rows: list[tuple[str, str, list[str]]]
    notes: list[str]
    verdicts: list[str]


def _show(m: MethodRun, key: str, kind: str) -> str:
    """The mean over seeds alone (the full tables give the intervals)."""
    stat = m.stats.get(key)
    return "n/a" if stat is None else Stat(stat.mean).show(kind)


def _speedup(m: MethodRun, ref: MethodRun | None) -> str:
    if ref is None:
        return "n/a"
    if m is ref:
        return "1 (baseline)"
    return Stat(ref.get("runtime.total_s") / m.get("runtime.total_s")).show("x")


def _sd_ratio(m: MethodRun, ref: MethodRun | None, has_ref: bool) -> str:
    """Against the reference when the run has one (n/a for a fit not compared with it),
    else against the baseline: one column never mixes the two."""
    if has_ref:
        return _show(m, "fidelity.pred_sd_ratio_gmean", "pct0")
    if ref is None or "spread.pred_sd_mean" not in m.stats:
        return "n/a"
    return Stat(m.get("spread.pred_sd_mean") / ref.get("spread.pred_sd_mean")).show("pct0")


def _own(m: MethodRun) -> str:
    """'pass', or 'FAIL: why' (:func:`bnn_models.report.recommend.diagnostics_fail`)."""
    why = diagnostics_fail(m, short=True)
    return "pass" if why is None else f"FAIL: {why}"


def _khat(m: MethodRun) -> str:
    if "fidelity.psis_khat" in m.stats:
        return _show(m, "fidelity.psis_khat", "rhat")
    return "n/a: no density"


def _tv(m: MethodRun, floor: dict | None) -> str:
    """Mean |dp| against the reference, and how it stands against the noise floor."""
    stat = m.stats.get("fidelity.pred_tv_mean")
    if stat is None:
        return "n/a"
    where = floor_text("pred_tv_mean", stat.mean, floor)
    return f"{stat.mean:.4f}" + (f" ({where})" if where else "")


def build_decision(methods: dict[str, MethodRun], floor: dict | None = None) -> Decision:
    """One row per method, grouped by family in :data:`DECISION_FAMILIES` order; ``floor``:
    the reference's noise floor (:mod:`bnn_models.floor`), printed beside the fidelity."""
    ref = baseline(methods)
    against = ref.label if ref is not None else "MCMC"
    has_ref = any("fidelity.class_agreement" in m.stats for m in methods.values())
    header = [
        "Total time (s)",
        f"Speed-up vs {against}",
        "Accuracy",
        "Log loss",
        "ECE",
        "Mean |dp| vs reference" if has_ref else "Mean |dp| vs reference (none)",
        "Class agreement with reference" if has_ref else "Class agreement with reference (none)",
        "Predictive sd vs reference"
        if has_ref
        else f"Ratio of mean predictive sd to {possessive(against)}",
        "PSIS k-hat",
        "Own diagnostics",
    ]
    order = list(DECISION_FAMILIES)
    ranked = sorted(
        methods.values(),
        key=lambda m: order.index(m.family) if m.family in order else len(order),
    )
    look = styles(methods)
    rows = []
    for m in ranked:
        family = DECISION_FAMILIES.get(m.family or "", m.family or "")
        if not m.ok:
            why = reason(m.entries[0].get("error") if m.entries else None, limit=120)
            state = m.entries[0]["status"].replace("_", " ") if m.entries else "failed"
            rows.append(
                (
                    family,
                    m.label,
                    look[m.name].color,
                    [f"{state}: {why}"] + [""] * (len(header) - 1),
                )
            )
            continue
        # Some seeds failed: the row is the mean over those that ran, and says so.
        label = f"{m.label} ({seed_text(m)})" if m.failed else m.label
        rows.append(
            (
                family,
                label,
                look[m.name].color,
                [
                    _show(m, "runtime.total_s", "s"),
                    _speedup(m, ref),
                    _show(m, "calibration.accuracy", "pct"),
                    _show(m, "calibration.log_loss", "nats3"),
                    _show(m, "calibration.ece", "prob"),
                    _tv(m, floor),
                    _show(m, "fidelity.class_agreement", "pct"),
                    _sd_ratio(m, ref, has_ref),
                    _khat(m),
                    _own(m),
                ],
            )
        )
    notes = [
        "Mean over seeds (over the seeds that ran, where the label says some failed; the "
        "details say why). Total time: one fit, compile to prediction, wall-clock seconds. "
        f"Speed-up: {against}'s total time over the method's.",
        "Mean |dp|: mean over test points of |p - p_ref|, the distance between the method's "
        "and the reference's predictive probability; 'at the floor' / 'Nx the floor': against "
        "how far two independent reference runs lie apart (below it no method can be told "
        "apart from the posterior). "
        "Class agreement: share of test points whose predicted class (mean probability "
        ">= 0.5) is the reference posterior's. Predictive sd vs reference: geometric mean "
        "over test points of the method's predictive sd over the reference's (100%: the "
        "same spread)."
        + (
            ""
            if has_ref
            else f" Without a reference: the method's predictive sd averaged over test points, "
            f"over {possessive(against)} (a ratio of means, not the same quantity)."
        ),
        "Own diagnostics: MCMC R-hat <= 1.01 and bulk ESS >= 400 over the test predictions, "
        "a convergence rule fired before the step cap, in every seed; a method that fails "
        "is neither recommended nor ranked by the verdicts. "
        "PSIS k-hat: Pareto k of the importance ratios p/q (below 0.7: q is usable for "
        "importance sampling). Only methods with a density q have one; MCMC, SVGD and the "
        "ensemble do not ('n/a: no density').",
    ]
    return Decision(header=header, rows=rows, notes=notes)


_ENGINE_COLUMNS = (
    ("Total (s)", "runtime.total_s", "s"),
    ("Compile (s)", "runtime.compile_s", "s"),
    ("Warm-up (s)", "runtime.warmup_s", "s"),
    ("Sampling (s)", "runtime.sampling_s", "s"),
    ("Gradients per draw", "runtime.grad_per_draw", "num"),
    ("µs per gradient, per core (sampling)", "runtime.us_per_grad_core", "num"),
    ("Bulk ESS per s (warm-up + sampling)", "runtime.ess_bulk_per_s", "per_s"),
    ("Bulk ESS per s of sampling", "runtime.ess_bulk_per_s_sampling", "per_s"),
    ("Bulk ESS per 1,000 gradients", "runtime.ess_bulk_per_grad", "k"),
    ("Max R-hat, predictions", "diagnostics.rhat_max_pred", "rhat"),
    ("Divergences", "diagnostics.divergences", "int"),
)


#: The column of each engine's budget per chain, read from its recorded settings.
_BUDGET_COLUMN = "Warm-up + draws per chain"


def _budget(m: MethodRun) -> tuple[int, int] | None:
    """``(tune, draws)`` per chain from the fit's recorded settings; None if not recorded."""
    config = m.shown.get("config") or {}
    if "tune" not in config or "draws" not in config:
        return None
    return int(config["tune"]), int(config["draws"])


def nuts_engines(methods: dict[str, MethodRun]) -> list[MethodRun]:
    """The NUTS engines of a run: its MCMC methods with a successful fit whose fits record
    NUTS trees (a tree depth) and count their gradients by phase, in the run's order."""
    return [
        m
        for m in methods.values()
        if m.family == "mcmc"
        and m.ok
        and "runtime.grad_per_draw" in m.stats
        and "diagnostics.tree_depth_mean" in m.stats
    ]


def build_engines(methods: dict[str, MethodRun]) -> Engines | None:
    """The NUTS engines (:func:`nuts_engines`) side by side (None: fewer than 2)."""
    engines = nuts_engines(methods)
    if len(engines) < 2:
        return None
    look = styles(methods)
    rows = []
    budgets = {m.name: _budget(m) for m in engines}
    for m in engines:
        plan = budgets[m.name]
        cells = ["n/a" if plan is None else f"{plan[0]:,} + {plan[1]:,}"]
        for _, key, kind in _ENGINE_COLUMNS:
            if kind == "k":  # per 1,000
                cells.append(Stat(1000 * m.get(key)).show("num") if key in m.stats else "n/a")
            else:
                cells.append(_show(m, key, kind))
        rows.append((m.label, look[m.name].color, cells))
    seeds = sorted({int(e["seed"]) for m in engines for e in m.ok})
    verdicts = []
    for what, key, better, scale, unit in (
        ("total time", "runtime.total_s", min, 1, " s"),
        ("bulk ESS per second (warm-up + sampling)", "runtime.ess_bulk_per_s", max, 1, " /s"),
        ("bulk ESS per 1,000 gradients", "runtime.ess_bulk_per_grad", max, 1000, ""),
    ):
        have = [m for m in engines if np.isfinite(m.get(key))]
        if len(have) < 2:
            continue
        ranked = sorted(have, key=lambda m: m.get(key), reverse=better is max)
        best, runner, last = ranked[0], ranked[1], ranked[-1]
        a, b, z = best.get(key), runner.get(key), last.get(key)
        ratio, spread = (b / a, z / a) if better is min else (a / b, a / z)
        verdicts.append(
            f"Best {what}: {best.label} ({sig(scale * a)}{unit}), {ratio:.2f}x the next best, "
            f"{runner.label} ({sig(scale * b)}{unit}), and {spread:.2f}x the last, "
            f"{last.label} ({sig(scale * z)}{unit})."
        )
    # in run order, so that a tie names the first engine's budget the usual one
    known = list(dict.fromkeys(p for p in budgets.values() if p is not None))
    if len(known) <= 1:
        budget = "same draws and warm-up steps"
    else:
        usual = max(known, key=lambda p: sum(v == p for v in budgets.values()))
        others = [
            f"{m.label} {p[0]:,} + {p[1]:,}"
            for m in engines
            if (p := budgets[m.name]) is not None and p != usual
        ]
        budget = (
            f"not the same warm-up and draws: {usual[0]:,} + {usual[1]:,} per chain, but "
            f"{'; '.join(others)} (their settings' defaults; column '{_BUDGET_COLUMN}')"
        )
    notes = [
        f"Every engine on the same seeds ({', '.join(map(str, seeds))}), same model, "
        f"{budget}; mean over seeds. Warm-up is timed apart from sampling: "
        "nutpie, PyMC and Stan report each chain's tuning and sampling seconds (chains run two at "
        "a time, so the run's wall time is split in the ratio of the chains' summed seconds); "
        "NumPyro and BlackJAX run warm-up and sampling as separate calls. JAX compiles on "
        "first call: BlackJAX's compilation is timed apart (compiled ahead of time), "
        "NumPyro's falls in its warm-up.",
        "Gradients per draw: leapfrog steps (one gradient each) per kept draw during "
        "sampling; µs per gradient, per core: sampling seconds (warm-up excluded) times the "
        "cores in use over those gradients, as in the summary (the whole engine's cost per "
        "step, tree building included). ESS: smallest bulk ESS over the "
        "test-set probabilities (invariant to the hidden units' symmetry); per gradient "
        "counts warm-up's gradients too.",
    ]
    header = [_BUDGET_COLUMN, *(h for h, _, _ in _ENGINE_COLUMNS)]
    return Engines(header=header, rows=rows, notes=notes, verdicts=verdicts)
