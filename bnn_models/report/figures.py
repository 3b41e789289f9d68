"""Which figures the report draws, from what, with which captions; or why one is not drawn.

The drawing itself is :mod:`bnn_models.figures`. Figures are chosen by what the fit
entries hold (an ``elbo`` section, a fit file with several chains, k-hats) and by the
run's MCMC baseline, never by a method's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure as MplFigure

from bnn_models import figures as figs
from bnn_models.anytime import envelope
from bnn_models.report.fidelity import khats
from bnn_models.report.figure_data import FigureData
from bnn_models.report.formats import possessive
from bnn_models.report.recommend import noise_floor, ranking_key
from bnn_models.report.run import MethodRun, baseline, converged, styles
from bnn_models.report.shift import accuracy_curves
from bnn_models.schema import SEED_INTERVAL_PROB

__all__ = ["FIGURE_FILES", "RETIRED_FIGURE_FILES", "Figure", "draw_figures"]

#: Figure file names (under ``DIR/figures/``) the report may write, in report order.
FIGURE_FILES = (
    "anytime.png",
    "summary_runtime.png",
    "elbo_traces.png",
    "reliability.png",
    "predictive_sd.png",
    "weight_sd.png",
    "mcmc_trace.png",
    "mcmc_rank.png",
    "fidelity_sd.png",
    "khat.png",
    "seed_intervals.png",
    "shift_accuracy_coverage.png",
)

#: Names earlier versions wrote; deleted when a report is written, so none is left stale.
RETIRED_FIGURE_FILES = ("nuts_trace.png", "nuts_rank.png")


@dataclass(frozen=True)
class Figure:
    """One figure of the report: drawn (``png``), or not drawn with the reason as caption."""

    name: str
    title: str
    caption: str
    png: bytes | None  # None: not drawn, ``caption`` says why
    section: str = "figures"  # or "fidelity" / "shift": drawn in that section


class _Figures:
    """Collects the figures in report order; draws each one only when it can be drawn."""

    def __init__(self, one_fit_note: str) -> None:
        self.out: list[Figure] = []
        self.one_fit_note = one_fit_note

    def add(
        self,
        name: str,
        title: str,
        caption: str,
        make: Callable[[], MplFigure] | None,
        missing: str | None = None,
        section: str = "figures",
        one_fit: bool = True,
    ) -> None:
        if make is None:
            self.out.append(Figure(name, title, f"Not drawn: {missing}", None, section))
            return
        text = caption + (self.one_fit_note if one_fit else "")
        self.out.append(Figure(name, title, text, figs.png_bytes(make()), section))


def draw_figures(
    methods: dict[str, MethodRun], doc: dict, data: FigureData | None = None
) -> list[Figure]:
    """Every figure the run's results allow, in report order; the fit-based ones from
    ``data`` (:func:`~bnn_models.report.figure_data.collect_figure_data`; None: not drawn)."""
    data = data if data is not None else FigureData()
    ok = {n: m for n, m in methods.items() if m.ok}
    if not ok:
        return []
    look = styles(methods)
    shown = ", ".join(f"{m.label} seed {m.shown['seed']}" for m in ok.values())
    multi = any(len(m.ok) > 1 for m in ok.values())
    figures = _Figures(f" Figures show one fit per method ({shown})." if multi else "")
    add = figures.add
    _anytime_figure(ok, doc, look, add)
    ref = baseline(methods)
    ref_name = ref.name if ref is not None else None
    against = f" and the speed-up against {ref.label}" if ref is not None else ""
    no_draw = [m for m in ok.values() if m.shown["runtime"].get("draw_s") == 0]
    example = f", such as {possessive(no_draw[0].label)} draw stage," if no_draw else ""
    add(
        "summary_runtime.png",
        "Runtime by stage",
        f"Left: wall-clock seconds of one fit per method, stacked by stage, with the total{against} "
        "at the end of each bar. Right: each stage on a log scale, so that short stages stay "
        f"visible (a stage of 0 s{example} is not shown).",
        lambda: figs.runtime_figure(
            {n: m.shown["runtime"] for n, m in ok.items()},
            look,
            reference=ref_name,
        ),
    )
    vi = {n: m for n, m in ok.items() if m.shown.get("elbo")}
    losses = {n: data.losses[n] for n in vi if n in data.losses}
    missing = "; ".join(
        f"{m.label}: {m.fit_note}" for n, m in vi.items() if m.fit is None and n not in losses
    )
    add(
        "elbo_traces.png",
        "ELBO traces",
        "ELBO at every iteration (thin) and its running mean over the convergence window "
        "(thick), per VI method. Open circle: from there on the running mean stays within 1% of "
        "its final value; dashed line: the convergence rule fired and the fit stopped.",
        (
            lambda: figs.elbo_figure(
                losses,
                {n: {**vi[n].shown["elbo"], "converged": converged(vi[n].shown)} for n in losses},
                look,
            )
        )
        if losses
        else None,
        missing or "no fit in this run records an ELBO",
    )
    add(
        "reliability.png",
        "Reliability diagrams",
        "PAV-adjusted reliability diagram per method (ArviZ's isotonic fit): the observed "
        "rate of rupture (conditional event probability) against the mean predicted "
        "probability on the test set. The band is where the curve would fall if the "
        "method's own predictive distribution were true; a curve outside it is miscalibrated.",
        lambda: figs.reliability_figure(
            {n: m.shown["reliability"] for n, m in ok.items()},
            {n: m.shown["calibration"] for n, m in ok.items()},
            look,
        ),
    )
    add(
        "predictive_sd.png",
        "Predictive sd against predicted probability",
        "Each test row's predictive sd (over posterior draws) against its mean predicted "
        "probability, all methods overlaid: the published study's figure. The dotted arc is "
        "the largest sd any distribution on [0, 1] with that mean can have.",
        lambda: figs.predictive_sd_figure({n: m.shown["spread"] for n, m in ok.items()}, look),
    )
    _baseline_figures(ok, ref, data, look, add)
    _fidelity_figures(ok, doc, look, add)
    curves = accuracy_curves(ok)
    if curves:
        add(
            "shift_accuracy_coverage.png",
            "Accuracy when abstaining on the most uncertain rows",
            "Accuracy on the test rows kept when each method abstains on those with the "
            "highest predictive entropy, in-distribution and shifted rows together, mean over "
            "seeds: a method whose uncertainty is right where it matters rises steeply.",
            lambda: figs.accuracy_coverage_figure(curves, look),
            section="shift",
            one_fit=False,
        )
    return figures.out


def _anytime_figure(
    ok: dict[str, MethodRun], doc: dict, look: dict[str, figs.Style], add: Callable
) -> None:
    """What each second buys: every seed's best state within each budget, per method."""
    have = {n: m for n, m in ok.items() if any(e.get("anytime") for e in m.ok)}
    if not have:
        return
    seconds = [p["seconds"] for m in have.values() for e in m.ok for p in e["anytime"]["points"]]
    budgets = np.geomspace(max(min(seconds), 0.1), max(seconds) * 1.05, 160)
    first = ranking_key(have)
    keys = [first] + (["log_loss"] if first != "log_loss" else [])
    curves = {
        n: {
            k + suffix: np.array(
                [
                    envelope(e["anytime"]["points"], budgets, k, passing=not suffix)
                    for e in m.ok
                    if e.get("anytime")
                ]
            )
            for k in keys
            for suffix in ("", ":all")
        }
        for n, m in have.items()
    }
    floor = noise_floor(doc)
    floor_value = floor.get("pred_tv_mean") if floor and "pred_tv_mean" in keys else None
    seeds = max(len(m.ok) for m in have.values())
    add(
        "anytime.png",
        "What each second buys",
        "The closest each method gets to the reference posterior (left: mean |dp| over test "
        "rows, log scale) and its test log loss (right) within a budget of wall seconds on "
        "this machine. Solid: states whose own diagnostics pass (MCMC: R-hat <= 1.01 and bulk "
        "ESS >= 400 over the test predictions; VI: the convergence rule fired before the step "
        "cap); dotted: every state, failing ones included. "
        "States: prefixes of an MCMC run's draws and chains, snapshots of an optimisation, "
        "subsets of an ensemble, and each final fit. "
        + (
            f"Line: median over {seeds} seeds, from the budget every seed reaches; band: "
            "their range. "
            if seeds > 1
            else ""
        )
        + (
            "Grey band: the reference's noise floor (two independent reference runs differ "
            "by this much): below it no method can be told apart from the posterior."
            if floor_value is not None
            else ""
        ),
        lambda: figs.anytime_figure(curves, budgets, look, floor=floor_value),
        one_fit=False,
    )


def _baseline_figures(
    ok: dict[str, MethodRun],
    ref: MethodRun | None,
    data: FigureData,
    look: Mapping[str, figs.Style],
    add: Callable[..., None],
) -> None:
    """Weight sds against the MCMC baseline, and its trace and rank plots."""
    others = [m for m in ok.values() if m is not ref]
    vi_only = all(m.family == "vi" for m in others)
    what = "VI" if vi_only else "each method"
    under = "each VI method" if vi_only else "each other method"
    sds = {n: data.weight_sd[n] for n in ok if n in data.weight_sd}
    name = ref.label if ref is not None else "MCMC"
    ref_name = ref.name if ref is not None else ""
    if ref is None:
        why = "no MCMC method has a successful fit in this run"
    elif ref.name not in sds:
        why = f"{ref.label}: {ref.fit_note}"
    elif len(sds) < 2:
        why = "no other fit file to compare with: " + "; ".join(
            f"{m.label}: {m.fit_note}" for m in others if m.name not in sds
        )
    else:
        why = None
    add(
        "weight_sd.png",
        f"Posterior sd per weight, {what} against {name}",
        f"Posterior sd of each of the network's weights and biases under {under} against "
        f"{name}, log scales, with the line of equal sd. {name} pools its chains: chains in "
        "different permutation or sign modes of the hidden units inflate its sd, so points "
        f"below the line mean less spread than {possessive(name)} pooled chains, not "
        "necessarily than the posterior.",
        (lambda: figs.weight_sd_figure(sds, look, reference=ref_name)) if why is None else None,
        why,
    )
    chosen = data.trace if ref is not None and data.trace_method == ref.name else None
    if chosen is not None:
        names = ", ".join(str(v) for v in chosen.data_vars)
        style = look[ref_name]
        add(
            "mcmc_trace.png",
            f"{name} trace plots",
            f"Marginal density and trace of each chain for {names}: the output bias, the "
            "elements of W1 and W0 with the largest R-hat, the test probability with the "
            "largest R-hat and the one with the largest predictive sd (arviz-plots).",
            lambda: figs.trace_figure(chosen, style),
        )
        add(
            "mcmc_rank.png",
            f"{name} rank plots",
            "Rank plots of the same quantities: the Δ-ECDF of each chain's fractional ranks "
            "(arviz-plots). Chains that sample the same distribution stay near zero; black "
            "marks where the chains' ranks are not uniform.",
            lambda: figs.rank_figure(chosen, style),
        )
    else:
        why = (
            "no MCMC method has a successful fit in this run"
            if ref is None
            else ref.fit_note or f"{ref.label} ran a single chain"
        )
        add("mcmc_trace.png", f"{name} trace plots", "", None, why)
        add("mcmc_rank.png", f"{name} rank plots", "", None, why)


_INTERVAL_PANELS = (
    ("calibration.ece", "ECE (lower is better)", "{:.3f}"),
    ("calibration.log_loss", "log loss (nats per row)", "{:.3f}"),
    ("calibration.accuracy", "accuracy", "{:.1%}"),
    ("spread.pred_sd_mean", "mean predictive sd", "{:.3f}"),
    ("fidelity.pred_tv_mean", "mean |Δp| to the reference", "{:.3f}"),
    ("fidelity.pred_sd_ratio_gmean", "predictive sd vs reference (geometric mean)", "{:.2f}"),
    ("fidelity.psis_khat", "PSIS k-hat", "{:.2f}"),
)


def _fidelity_figures(
    ok: dict[str, MethodRun],
    doc: dict,
    look: Mapping[str, figs.Style],
    add: Callable[..., None],
) -> None:
    """Predictive sd against the reference's, k-hat per VI fit, metrics across seeds.

    The k-hat and seed figures need no reference: without one, they join the other figures.
    """
    ref = doc["run"].get("reference")
    section = "fidelity" if ref else "figures"
    if ref:
        compared = {
            n: m
            for n, m in ok.items()
            if (m.shown.get("fidelity") or {}).get("reference")
            and (m.shown.get("spread") or {}).get("pred_sd") is not None
        }
        shown = ", ".join(f"{m.label} seed {m.shown['seed']}" for m in compared.values())
        add(
            "fidelity_sd.png",
            "Predictive sd per test point against the reference's",
            "Each test point's predictive sd (over draws) under each method against the "
            "reference posterior's, log scales: on the solid line the method is as uncertain "
            "as the reference; the dotted lines mark half and twice the reference's sd. "
            f"One fit per method ({shown}).",
            (
                lambda: figs.fidelity_sd_figure(
                    {n: m.shown["spread"]["pred_sd"] for n, m in compared.items()},
                    ref["pred_sd"],
                    {n: m.shown["fidelity"] for n, m in compared.items()},
                    look,
                )
            )
            if compared and ref.get("pred_sd")
            else None,
            "no fit was compared with the reference",
            section=section,
            one_fit=False,
        )
    per_method = {n: k for n, m in ok.items() if (k := khats(m))}
    fids = [e.get("fidelity") or {} for m in ok.values() for e in m.ok]
    threshold = next((f["khat_threshold"] for f in fids if f.get("khat_threshold")), 0.7)
    if per_method:
        add(
            "khat.png",
            "PSIS k-hat per VI fit",
            "Pareto k-hat of the importance ratios p(θ, y) / q(θ) over each VI fit's draws "
            f"(one point per seed). Above {threshold:g} (shaded), the approximation's tails are "
            "too light for importance sampling to correct it, and PSIS-corrected estimates are "
            "not reliable (Yao et al. 2018).",
            lambda: figs.khat_figure(per_method, look, threshold=threshold),
            section=section,
            one_fit=False,
        )
    if not any(len(m.ok) > 1 for m in ok.values()):
        return
    ref_sd = float(np.mean(ref["pred_sd"])) if ref and ref.get("pred_sd") else None
    panels = []
    for key, title, fmt in _INTERVAL_PANELS:
        per = {}
        for n, m in ok.items():
            section_name, name = key.split(".", 1)
            values = [
                float(v)
                for e in m.ok
                if isinstance(v := (e.get(section_name) or {}).get(name), int | float)
                and not isinstance(v, bool)
            ]
            stat = m.stats.get(key)
            if values and stat is not None:
                lo = stat.lo if stat.lo is not None else stat.mean
                hi = stat.hi if stat.hi is not None else stat.mean
                per[n] = {"mean": stat.mean, "lo": lo, "hi": hi, "values": values}
        if not per:
            continue
        line = None
        if key == "spread.pred_sd_mean" and ref_sd is not None:
            line = (ref_sd, "reference")
        elif key == "fidelity.pred_sd_ratio_gmean":
            line = (1.0, "as the reference")
        elif key == "fidelity.psis_khat":
            line = (threshold, f"{threshold:g}")
        panels.append({"title": title, "methods": per, "line": line, "fmt": fmt})
    add(
        "seed_intervals.png",
        "Metrics across seeds",
        "Per metric and method: the mean over seeds (dot, with its value), the central "
        f"{SEED_INTERVAL_PROB:.0%} interval over seeds (bar) and each seed (ticks above). "
        + (
            "Dashed lines: the reference posterior's mean predictive sd, an sd ratio of 1, and "
            f"the k-hat threshold {threshold:g}."
            if ref
            else "Dashed line: the k-hat threshold."
        ),
        lambda: figs.seed_interval_figure(panels, look),
        section=section,
        one_fit=False,
    )
