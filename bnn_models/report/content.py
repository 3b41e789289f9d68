"""What the report says, as data: the summary table and verdicts, and the whole report.

Every cell is text with its unit, computed from the run's ``metrics.json``.
Methods are compared with the run's MCMC baseline (:func:`bnn_models.report.run.baseline`),
named by its label.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from bnn_models.metrics import METRICS, Metric
from bnn_models.report import sections
from bnn_models.report.decision import Decision, Engines, build_decision, build_engines
from bnn_models.report.fidelity import Fidelity, build_fidelity
from bnn_models.report.figures import Figure, draw_figures
from bnn_models.report.formats import Stat, possessive, reason, sig
from bnn_models.report.run import (
    MethodRun,
    Row,
    baseline,
    group_widths,
    load_methods,
    seed_text,
    styles,
)
from bnn_models.report.shift import ShiftSection, build_shift
from bnn_models.schema import SEED_INTERVAL_PROB, load_metrics

__all__ = [
    "Report",
    "build_report",
    "summary_rows",
    "summary_table",
    "verdicts",
]


# --------------------------------------------------------------------------- summary table

#: A cell of the summary table from a method and the baseline: a number, text, or n/a.
_Getter = Callable[[MethodRun, MethodRun | None], Stat | str | None]


def _key(key: str) -> _Getter:
    return lambda m, ref: m.stats.get(key)


def _speedup(m: MethodRun, ref: MethodRun | None) -> Stat | str | None:
    if ref is None or "runtime.total_s" not in m.stats:
        return None
    if m is ref:
        return "reference"
    return Stat(ref.get("runtime.total_s") / m.get("runtime.total_s"))


def _sd_ratio(m: MethodRun, ref: MethodRun | None) -> Stat | str | None:
    if ref is None or "spread.pred_sd_mean" not in m.stats:
        return None
    if m is ref:
        return "reference"
    return Stat(m.get("spread.pred_sd_mean") / ref.get("spread.pred_sd_mean"))


def _rule(m: MethodRun, ref: MethodRun | None) -> str | None:
    fits = [e for e in m.ok if e.get("elbo")]
    if not fits:
        return None
    fired = [e["elbo"]["rule_fired_at"] for e in fits if e["elbo"].get("rule_fired_at")]
    if len(fits) > 1:
        return f"fired in {len(fired)} of {len(fits)} seeds"
    if fired:
        return f"{fired[0]:,}"
    return f"not met ({fits[0]['elbo']['iterations']:,})"


def _rhats(m: MethodRun, ref: MethodRun | None) -> str | None:
    pred, weights = (
        m.stats.get("diagnostics.rhat_max_pred"),
        m.stats.get("diagnostics.rhat_max_weights"),
    )
    if pred is None or weights is None:
        return None
    return f"{pred.show('rhat')} / {weights.show('rhat')}"


#: Unit kinds named in the column header (their cells then carry it too).
_HEADER_UNITS = {"s": "s", "nats": "nats", "us": "µs"}


def _derived(against: str) -> dict[tuple[str, str], list[tuple[str, str, str, _Getter]]]:
    """Columns that compare methods or join two metrics (no one metric of the table), by
    the table metric (``path``) they follow or precede."""
    return {
        ("after", "runtime.predict_s"): [("Runtime", f"Speed-up vs {against}", "x", _speedup)],
        ("after", "elbo.iter_to_1pct"): [("ELBO", "Rule fired at iteration", "", _rule)],
        ("after", "spread.pred_sd_mean"): [
            ("Spread", f"Predictive sd vs {against}", "pct0", _sd_ratio)
        ],
        ("before", "diagnostics.ess_bulk_min_pred"): [
            ("Diagnostics", "Max R-hat: predictions / weights", "", _rhats)
        ],
    }


def _columns(against: str) -> list[tuple[str, str, str, _Getter]]:
    """(group, header, unit kind, getter) of the summary table; ``against``: the baseline.

    One column per metric of the metric table with a ``column`` format
    (:data:`bnn_models.metrics.METRICS`, its ``label`` the header), grouped by
    ``column_group`` in the order the groups first appear, and the comparison columns
    (:func:`_derived`) beside the metric they belong with.
    """
    shown = [m for m in METRICS.values() if m.column_format is not None]
    order = list(dict.fromkeys(m.column_group for m in shown))
    shown.sort(key=lambda m: order.index(m.column_group))  # stable: table order within a group
    derived = _derived(against)
    out: list[tuple[str, str, str, _Getter]] = []
    for m in shown:
        out += derived.pop(("before", m.path), [])
        out.append((m.column_group, m.label, str(m.column_format), _key(m.path)))
        out += derived.pop(("after", m.path), [])
    for extra in derived.values():  # beside a metric no longer in the table: at the end
        out += extra
    return out


def _against(methods: dict[str, MethodRun]) -> str:
    ref = baseline(methods)
    return ref.label if ref is not None else "MCMC"


def _notes(methods: dict[str, MethodRun]) -> list[str]:
    ref = baseline(methods)
    speedup = (
        f"Speed-up: {possessive(ref.label)} total time over the method's."
        if ref is not None
        else "Speed-up and predictive sd against MCMC: n/a, since no MCMC method has a "
        "successful fit in this run."
    )
    diagnosed = [m.label for m in methods.values() if any(e.get("diagnostics") for e in m.ok)]
    return [
        "Times are wall-clock seconds of one fit: compile (building and compiling the model, "
        "and the first call of the VI sampler), fit (sampling or optimising), draw (drawing "
        "from the VI approximation), predict (test-set probabilities). " + speedup,
        "Per gradient, per core: wall-clock microseconds of sampling (warm-up excluded) per "
        "log-density gradient, times the cores the chains ran on (4 chains on 2 cores: "
        "twice the wall time per gradient), i.e. what one gradient costs one core, sampler "
        "included. Per VI step: microseconds of fit time per optimisation step (one "
        "Monte Carlo ELBO gradient and the optimiser's update).",
        "ELBO in nats (higher is better) is the mean over the last convergence window; "
        "'within 1% of final from' is the first iteration from which the ELBO's running mean "
        "stays within 1% of its final value; the convergence rule compares the mean loss of "
        "successive windows ('not met (N)': it did not fire in the N iterations run).",
        "Predictive sd: sd over posterior draws of each test row's probability, averaged over "
        "rows (probability scale, invariant to the hidden units' permutation symmetry).",
        "Test-set metrics use the mean predicted probability per row, with a 0.5 threshold "
        "for accuracy and F1; ECE uses 10 equal-mass bins; log loss in nats per row.",
        f"Diagnostics ({', '.join(diagnosed) or 'no method of this run'} only): "
        "rank-normalised R-hat and bulk ESS from ArviZ over all test-set probabilities and all "
        "weights; ESS per second is the smallest bulk ESS over the predictions per second of "
        "sampling. n/a: does not apply to the method.",
    ]


def _skipped(m: MethodRun) -> str | None:
    """Why a method was not run at all (every entry skipped), or None."""
    if m.entries and all(e["status"] == "skipped" for e in m.entries):
        return reason(m.entries[0].get("error"))
    return None


def _failures(m: MethodRun) -> str:
    return "; ".join(f"seed {e['seed']}: {reason(e.get('error'))}" for e in m.failed)


def summary_rows(doc: dict, methods: dict[str, MethodRun] | None = None) -> list[Row]:
    """The summary table: one row per method, every cell a string with its unit.

    Parameters
    ----------
    doc : dict
        The metrics document (:func:`bnn_models.schema.load_metrics`).
    methods : dict, optional
        The run's methods, if already built from ``doc``.

    Returns
    -------
    list of Row
        In the run's method order; ``cells`` is None for a method whose every fit failed.
    """
    methods = methods if methods is not None else load_methods(Path("."), doc, load=False)
    ref = baseline(methods)
    look = styles(methods)
    rows = []
    for name, m in methods.items():
        color = look[name].color
        if not m.ok:
            why = _skipped(m)
            failure = f"skipped ({why})" if why else f"failed ({_failures(m)})"
            rows.append(Row(name, m.label, seed_text(m), None, failure, color))
            continue
        cells = []
        for _, _, kind, get in _columns(_against(methods)):
            value = get(m, ref)
            if value is None:
                cells.append("n/a")
            elif isinstance(value, str):
                cells.append(value)
            else:
                cells.append(value.show(kind) if kind else str(value.mean))
        partial = "; ".join(f"seed {e['seed']} failed: {reason(e.get('error'))}" for e in m.failed)
        rows.append(Row(name, m.label, seed_text(m), cells, partial or None, color))
    return rows


def summary_table(doc: dict) -> pd.DataFrame:
    """One row per fit: method, seed, status, the metrics of the metric table that the
    report shows or the gate checks (by name; those no fit has are left out), and
    ``converged_at`` (the convergence rule's iteration, "no" where it never fired).

    Examples
    --------
    >>> summary_table(load_metrics("results/rupture"))[["method", "seed", "ece"]].head(1)  # doctest: +SKIP
      method  seed       ece
    0   nuts     0  0.133082
    """
    rows = []
    for fit in doc["fits"]:
        row = {"method": fit["method"], "seed": fit["seed"], "status": fit["status"]}
        if fit["status"] == "ok":
            row.update({name: m.value(fit) for name, m in METRICS.items() if _shown(m)})
            el = fit.get("elbo")
            row["converged_at"] = (el["rule_fired_at"] or "no") if el else None
        else:
            row["error"] = fit.get("error")
        rows.append(row)
    table = pd.DataFrame(rows)
    metrics = [c for c in table.columns if c in METRICS]
    return table.drop(columns=[c for c in metrics if table[c].isna().all()])


def _shown(m: Metric) -> bool:
    return m.column_format is not None or m.gate is not None


# --------------------------------------------------------------------------- verdicts


def _times(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:.1f}x faster than" if ratio >= 1 else f"{1 / ratio:.1f}x slower than"


def _against_baseline(m: MethodRun, ref: MethodRun) -> list[str]:
    t, sd = m.get("runtime.total_s"), m.get("spread.pred_sd_mean")
    t_ref, sd_ref = ref.get("runtime.total_s"), ref.get("spread.pred_sd_mean")
    ece, ece_ref = m.get("calibration.ece"), ref.get("calibration.ece")
    acc, acc_ref = m.get("calibration.accuracy"), ref.get("calibration.accuracy")
    whose = possessive(ref.label)
    shown, shown_ref = round(ece, 3), round(ece_ref, 3)  # judged as printed: 0.041 = 0.041
    compared = "better" if shown < shown_ref else "worse" if shown > shown_ref else "equal"
    return [
        f"{m.label} was {_times(t_ref, t)} {ref.label} ({sig(t)} s against {sig(t_ref)} s in "
        f"total); its mean predictive sd was {sd / sd_ref:.0%} of {whose} ({sd:.3f} against "
        f"{sd_ref:.3f}).",
        f"Its ECE was {ece:.3f} against {whose} {ece_ref:.3f} ({compared}), its accuracy "
        f"{acc:.1%} against {acc_ref:.1%}.",
    ]


def _elbo_verdict(m: MethodRun) -> str | None:
    el = [e["elbo"] for e in m.ok if e.get("elbo")]
    if not el:
        return None
    fired = [e for e in el if e.get("rule_fired_at")]
    if len(el) > 1:
        return f"The convergence rule fired in {len(fired)} of {len(el)} seeds."
    if fired:
        return f"Its ELBO converged: the rule fired at iteration {el[0]['rule_fired_at']:,}."
    return (
        f"Its ELBO did not meet the convergence rule in {el[0]['iterations']:,} iterations: "
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
            why = _skipped(m)
            out.append(
                f"{m.label} was skipped: {why}." if why else f"{m.label} failed: {_failures(m)}"
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
            parts.append(f"{len(m.failed)} of {len(m.entries)} seeds failed.")
        out.append(" ".join(parts))
    for m in methods.values():
        if m.ok and np.isfinite(m.get("diagnostics.rhat_max_pred")):
            out.append(_diagnostics_verdict(m, m is ref))
    best = []
    for what, key, sign in (
        ("lowest ECE", "calibration.ece", 1),
        ("lowest log loss", "calibration.log_loss", 1),
        ("highest accuracy", "calibration.accuracy", -1),
        ("fastest", "runtime.total_s", 1),
    ):
        have = [m for m in methods.values() if m.ok and np.isfinite(m.get(key))]
        if len(have) > 1:
            best.append(f"{what}: {min(have, key=lambda m: sign * m.get(key)).label}")
    if best:
        out.append("Across methods: " + "; ".join(best) + ".")
    for m in methods.values():
        for e in m.ok:
            for w in e.get("warnings") or []:
                if "convergence rule" in w and len(m.ok) == 1:
                    continue  # already said above, from the numbers
                out.append(f"Warning, {m.label} seed {e['seed']}: {w}.")
    return [v for v in out if v]


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
    for m in methods.values():
        if m.fit_note and m.ok:
            warnings.warn(
                f"report {out}: {m.label}: {m.fit_note}; figures that need it are left out",
                UserWarning,
                stacklevel=2,
            )
    published_rows, published_notes = sections.published(doc, methods)
    ds = doc["run"].get("dataset", {})
    digest = (
        hashlib.sha256(metrics_path.read_bytes()).hexdigest()
        if metrics_path.is_file()
        else "unknown"
    )
    try:
        version = metadata.version("bnn-bench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    columns = _columns(_against(methods))
    rows = summary_rows(doc, methods)
    notes = _notes(methods)
    if any(r.cells and "[" in " ".join(r.cells) for r in rows):
        notes.insert(
            0,
            f"Cells with an interval: mean over seeds [central "
            f"{SEED_INTERVAL_PROB:.0%} interval over seeds].",
        )
    return Report(
        title=f"bnn-bench: {_and([m.label for m in methods.values()])} on {ds.get('name', 'data')}",
        header=sections.header(doc, methods),
        groups=group_widths([g for g, *_ in columns]),
        columns=[
            f"{h} ({_HEADER_UNITS[u]})" if u in _HEADER_UNITS else h for _, h, u, _ in columns
        ],
        rows=rows,
        notes=notes,
        verdicts=verdicts(methods),
        published=published_rows,
        published_notes=published_notes,
        figures=draw_figures(methods, doc) if figures else [],
        fidelity=build_fidelity(doc, methods),
        decision=build_decision(methods),
        engines=build_engines(methods),
        shift=build_shift(doc, methods),
        details=sections.details(methods),
        asv=sections.asv_link(out),
        source=f"Generated by bnn-bench {version} from metrics.json (SHA256 {digest}) and "
        "the fit files it names.",
    )
