"""What the report says, as data: the verdicts, and the whole report.

Every sentence is computed from the run's ``metrics.json``. Methods are compared with the
run's MCMC baseline (:func:`bnn_models.report.run.baseline`), named by its label; the
summary table is :mod:`bnn_models.report.summary`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from bnn_models.report import sections
from bnn_models.report.decision import Decision, Engines, build_decision, build_engines
from bnn_models.report.fidelity import Fidelity, build_fidelity
from bnn_models.report.figure_data import FigureData, collect_figure_data
from bnn_models.report.figures import Figure, draw_figures
from bnn_models.report.formats import Stat, possessive, sig
from bnn_models.report.recommend import (
    Recommendation,
    build_recommendation,
    diagnostics_fail,
    noise_floor,
)
from bnn_models.report.run import (
    MethodRun,
    Row,
    baseline,
    converged,
    failure_text,
    load_methods,
    seeds_not_ok,
    skip_reason,
)
from bnn_models.report.shift import ShiftSection, build_shift
from bnn_models.report.stale import StaleSetting, build_stale
from bnn_models.report.summary import summary_header, summary_notes, summary_rows
from bnn_models.schema import load_metrics

__all__ = ["Report", "build_report", "verdicts"]


# --------------------------------------------------------------------------- verdicts


def _times(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:.1f}x faster than" if ratio >= 1 else f"{1 / ratio:.1f}x slower than"


def _spread_against(m: MethodRun, ref: MethodRun) -> str:
    """The predictive-sd ratio against the reference posterior (geometric mean over test
    rows) where the fit was compared with one; else the ratio of mean predictive sds to
    the baseline's, named as such."""
    gmean = m.get("fidelity.pred_sd_ratio_gmean")
    if np.isfinite(gmean):
        return (
            f"its predictive sd was {gmean:.0%} of the reference posterior's (geometric mean "
            "over test rows)."
        )
    sd, sd_ref = m.get("spread.pred_sd_mean"), ref.get("spread.pred_sd_mean")
    return (
        f"the ratio of its mean predictive sd to {possessive(ref.label)} was {sd / sd_ref:.0%} "
        f"({sd:.3f} against {sd_ref:.3f})."
    )


def _against_baseline(m: MethodRun, ref: MethodRun) -> list[str]:
    t, t_ref = m.get("runtime.total_s"), ref.get("runtime.total_s")
    ece, ece_ref = m.get("calibration.ece"), ref.get("calibration.ece")
    acc, acc_ref = m.get("calibration.accuracy"), ref.get("calibration.accuracy")
    whose = possessive(ref.label)
    shown, shown_ref = round(ece, 3), round(ece_ref, 3)  # judged as printed: 0.041 = 0.041
    compared = "better" if shown < shown_ref else "worse" if shown > shown_ref else "equal"
    a, b = m.stats.get("calibration.ece"), ref.stats.get("calibration.ece")
    if compared != "equal" and a is not None and b is not None and a.n > 1 and b.n > 1:
        # With seeds, a difference inside the seed-to-seed intervals is no "better".
        lead, other = (a, b) if shown < shown_ref else (b, a)
        if _within_noise(lead, other, 1):
            compared = "within seed noise"
    return [
        f"{m.label} was {_times(t_ref, t)} {ref.label} ({sig(t)} s against {sig(t_ref)} s in "
        f"total); {_spread_against(m, ref)}",
        f"Its ECE was {ece:.3f} against {whose} {ece_ref:.3f} ({compared}), its accuracy "
        f"{acc:.1%} against {acc_ref:.1%}.",
    ]


def _elbo_verdict(m: MethodRun) -> str | None:
    fits = [e for e in m.ok if e.get("elbo")]
    if not fits:
        return None
    done = [e for e in fits if converged(e)]
    if len(fits) > 1:
        return (
            f"The convergence rule fired before the step cap in {len(done)} of {len(fits)} seeds."
        )
    el = fits[0]["elbo"]
    if done:
        return f"Its ELBO converged: the rule fired at iteration {el['rule_fired_at']:,}."
    if el.get("rule_fired_at"):
        return (
            f"Its ELBO met the convergence rule only at the step cap (iteration "
            f"{el['rule_fired_at']:,}): not converged, compare with care."
        )
    return (
        f"Its ELBO did not meet the convergence rule in {el['iterations']:,} iterations: "
        "compare with care."
    )


def _diagnostics_verdict(m: MethodRun, is_baseline: bool) -> str:
    r_pred, r_w = m.get("diagnostics.rhat_max_pred"), m.get("diagnostics.rhat_max_weights")
    div = m.get("diagnostics.divergences")
    divergences = "" if not np.isfinite(div) else f"; {int(round(div)):,} divergences"
    parts = [
        f"{m.label}: largest R-hat {r_pred:.3f} over the test predictions and "
        f"{r_w:.3f} over the weights{divergences}."
    ]
    who = f"the {m.label} reference" if is_baseline else m.label
    if r_pred > 1.01:
        parts.append(
            f"Chains disagree on some predictions (R-hat above 1.01): {who} is itself "
            "uncertain; more draws or chains would sharpen it."
        )
    elif r_w > 1.01:
        parts.append(
            "The weights' R-hat is high while the predictions' is not: chains sit in different "
            "permutation or sign modes of the hidden units, which leave the predictions "
            "unchanged. Compare methods on predictions, not on single weights."
        )
    return " ".join(parts)


def verdicts(methods: dict[str, MethodRun]) -> list[str]:
    """Short sentences generated from the numbers, comparing each method with the baseline.

    The baseline is the run's first MCMC method with a successful fit; without one, each
    method's time and spread are given alone.
    """
    out = []
    ref = baseline(methods)
    for m in methods.values():
        if not m.ok:
            why = skip_reason(m)
            out.append(
                f"{m.label} was skipped: {why}." if why else f"{m.label} failed: {failure_text(m)}"
            )
            continue
        if m is ref:
            continue
        if ref is not None:
            parts = _against_baseline(m, ref)
        else:
            t, sd = m.get("runtime.total_s"), m.get("spread.pred_sd_mean")
            parts = [f"{m.label} took {sig(t)} s; its mean predictive sd was {sd:.3f}."]
        parts += [p for p in [_elbo_verdict(m)] if p]
        if m.failed:
            parts.append(f"{seeds_not_ok(m)}.")
        out.append(" ".join(parts))
    for m in methods.values():
        if m.ok and np.isfinite(m.get("diagnostics.rhat_max_pred")):
            out.append(_diagnostics_verdict(m, m is ref))
    out += _across(methods)
    for m in methods.values():
        for e in m.ok:
            for w in e.get("warnings") or []:
                if "convergence rule" in w and len(m.ok) == 1:
                    continue  # already said above, from the numbers
                out.append(f"Warning, {m.label} seed {e['seed']}: {w}.")
    return [v for v in out if v]


#: The "across methods" verdicts: (what, metric key, +1 lower is better / -1 higher, format).
ACROSS = (
    ("lowest ECE", "calibration.ece", 1, "prob"),
    ("lowest log loss", "calibration.log_loss", 1, "nats3"),
    ("highest accuracy", "calibration.accuracy", -1, "pct"),
    ("fastest", "runtime.total_s", 1, "s"),
)


def _within_noise(a: Stat, b: Stat, sign: int) -> bool:
    """Whether ``b`` reaches ``a`` within the seed-to-seed interval (one seed: no interval,
    so no difference can be called a win)."""
    if a.n < 2 or b.n < 2 or a.lo is None or a.hi is None or b.lo is None or b.hi is None:
        return True
    return bool(b.lo <= a.hi) if sign > 0 else bool(b.hi >= a.lo)


def _across(methods: dict[str, MethodRun]) -> list[str]:
    """Which method leads each quantity: never one whose own diagnostics fail, and a lead
    within the seed-to-seed interval of the next is said to be no win."""
    ran = [m for m in methods.values() if m.ok]
    failing = {m.name: diagnostics_fail(m) for m in ran}
    eligible = [m for m in ran if failing[m.name] is None]
    parts = []
    for what, key, sign, kind in ACROSS:
        have = [m for m in eligible if key in m.stats and np.isfinite(m.get(key))]
        if len(have) < 2:
            continue
        ranked = sorted(have, key=lambda m: sign * m.get(key))
        a, b = ranked[0], ranked[1]
        sa, sb = a.stats[key], b.stats[key]
        if _within_noise(sa, sb, sign):
            seeds = "one seed" if min(sa.n, sb.n) < 2 else "their seed intervals overlap"
            parts.append(
                f"{what}: no clear winner, {a.label} ({sa.show(kind)}) and {b.label} "
                f"({sb.show(kind)}) lie within seed noise ({seeds})"
            )
        else:
            parts.append(
                f"{what}: {a.label} ({sa.show(kind)}), ahead of {b.label} ({sb.show(kind)}) "
                "beyond the seed-to-seed interval"
            )
    out = ["Across methods: " + "; ".join(parts) + "."] if parts else []
    left = [f"{m.label} ({failing[m.name]})" for m in ran if failing[m.name]]
    if left:
        out.append("Not ranked, because their own diagnostics fail: " + "; ".join(left) + ".")
    return out


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Report:
    """A report's content, ready to render.

    Attributes
    ----------
    title : str
    header : list of (str, str)
        What was run, on what, by what, when.
    groups : list of (str, int)
        Column groups of the summary table and their widths.
    columns : list of str
        Summary table headers (after the method column).
    rows : list of Row
        One per method, in the run's order.
    notes : list of str
        Definitions under the summary table.
    verdicts : list of str
    published : list of list of str
        The published study's row and one row per method (empty: not comparable).
    published_notes : list of str
    figures : list of Figure
        Each with file name, title, caption and PNG bytes (None when not drawn).
    details : list of (str, list of str, list of list of str)
        Titled tables: every metric of every fit, and the configurations.
    asv : (str, str) or None
        Link and text of the asv dashboard.
    source : str
        Which file the report was generated from, with its SHA256.
    fidelity : Fidelity or None
        The "fidelity to the reference" section; None when the run had no reference.
    decision : Decision or None
        The compact per-method table that opens the report.
    engines : Engines or None
        The NUTS engines side by side; None with fewer than two.
    shift : ShiftSection or None
        Quality and uncertainty on in-distribution and shifted rows; None without a shift.
    recommendation : Recommendation or None
        What to use for which budget (:mod:`bnn_models.report.recommend`); None when no
        fit recorded anytime points.
    stale : list of StaleSetting
        Settings the run recorded that differ from today's defaults
        (:func:`bnn_models.report.stale.build_stale`); empty for a current run.
    links : list of (str, str)
        Files the report names, as written in its text, and their links relative to the
        report's folder (the metrics, the fit files, the reference summary).
    files : list of (str, str)
        The files a reader may open next, named for the table of contents, with links.
    figure_data : FigureData or None
        What the fit-based figures plot (:mod:`bnn_models.report.figure_data`), saved
        beside the figures so that the report re-renders without the fits; None when
        the figures were not drawn.
    compact : bool
        The figures were left out on purpose (a sweep's cell: the sweep's page draws what
        varies across cells); the report says so where they would be.
    """

    title: str
    header: list[tuple[str, str]]
    groups: list[tuple[str, int]]
    columns: list[str]
    rows: list[Row]
    notes: list[str]
    verdicts: list[str]
    published: list[list[str]]
    published_notes: list[str]
    figures: list[Figure]
    details: list[tuple[str, list[str], list[list[str]]]]
    asv: tuple[str, str] | None
    source: str
    fidelity: Fidelity | None = None
    decision: Decision | None = None
    engines: Engines | None = None
    shift: ShiftSection | None = None
    recommendation: Recommendation | None = None
    stale: list[StaleSetting] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    figure_data: FigureData | None = None
    compact: bool = False
    files: list[tuple[str, str]] = field(default_factory=list)


#: Most methods a report's title names; beyond, it counts them ("13 methods on rupture").
TITLE_METHODS = 3


def _title(labels: list[str], data: str) -> str:
    """One line: the methods by name when there are few, else how many."""
    shown = _and(labels) if len(labels) <= TITLE_METHODS else f"{len(labels)} methods"
    return f"bnn-bench: {shown} on {data}"


def _links(out: Path) -> list[tuple[str, str]]:
    """Files the report names that exist beside it or in the project, with relative links.

    Fit files are not linked: they are not committed, so a committed report would link to
    nothing, and its bytes would depend on whether the fits are there.
    """
    links = [("metrics.json", "metrics.json")]
    root = next(
        (p for p in [out.resolve(), *out.resolve().parents] if (p / "results").is_dir()), None
    )
    if root is not None:
        for path in sorted((root / "results").glob("*/*.json")):
            rel = path.relative_to(root).as_posix()  # as the report's text names it
            links.append((rel, os.path.relpath(path, out.resolve())))
    return links


def _files(links: list[tuple[str, str]], data: str) -> list[tuple[str, str]]:
    """The run's metrics and its dataset's committed reference summary, where linked."""
    href = dict(links)
    named = [
        ("the run's metrics (metrics.json)", "metrics.json"),
        (
            f"the reference summary (results/reference/{data}.json)",
            f"results/reference/{data}.json",
        ),
    ]
    return [(text, href[key]) for text, key in named if key in href]


def _and(words: list[str]) -> str:
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def build_report(out_dir: str | Path, doc: dict | None = None, *, figures: bool = True) -> Report:
    """Compute everything the report shows from a results folder.

    Parameters
    ----------
    out_dir : path
        Folder with ``metrics.json`` and the fit files it names.
    doc : dict, optional
        The metrics document, if already loaded (:func:`bnn_models.schema.load_metrics`).
    figures : bool
        Draw the figures (reading the fit files); False gives the tables and text alone.

    Returns
    -------
    Report

    Raises
    ------
    bnn_models.errors.ResultsError
        When ``metrics.json`` is missing or invalid.
    """
    out = Path(out_dir)
    metrics_path = out / "metrics.json"
    doc = doc if doc is not None else load_metrics(metrics_path)
    methods = load_methods(out, doc, load=figures)
    digest = (
        hashlib.sha256(metrics_path.read_bytes()).hexdigest()
        if metrics_path.is_file()
        else "unknown"
    )
    data = collect_figure_data(out, methods, baseline(methods), digest) if figures else None
    for m in methods.values():
        if m.fit_note and m.ok and not (data and data.holds(m.name)):
            warnings.warn(
                f"report {out}: {m.label}: {m.fit_note}; figures that need it are left out",
                UserWarning,
                stacklevel=2,
            )
    published_rows, published_notes = sections.published(doc, methods)
    ds = doc["run"].get("dataset", {})
    try:
        version = metadata.version("bnn-bench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    groups, headers = summary_header(methods)
    rows = summary_rows(doc, methods)
    links = _links(out)
    return Report(
        title=_title([m.label for m in methods.values()], ds.get("name", "data")),
        header=sections.header(doc, methods),
        groups=groups,
        columns=headers,
        rows=rows,
        notes=summary_notes(methods, rows),
        verdicts=verdicts(methods),
        published=published_rows,
        published_notes=published_notes,
        figures=draw_figures(methods, doc, data) if figures else [],
        figure_data=data,
        fidelity=build_fidelity(doc, methods),
        decision=build_decision(methods, noise_floor(doc)),
        engines=build_engines(methods),
        shift=build_shift(doc, methods),
        recommendation=build_recommendation(doc, methods),
        stale=build_stale(doc, methods),
        details=sections.details(methods),
        asv=sections.asv_link(out),
        links=links,
        files=_files(links, ds.get("name", "")),
        source=f"Generated by bnn-bench {version} from metrics.json (SHA256 {digest}) and "
        "the fit files it names.",
    )
