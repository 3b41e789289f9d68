"""The report's summary table: its columns, their cells and notes, and the per-fit table.

One column per metric of the metric table with a ``column`` format
(:data:`bnn_models.metrics.METRICS`), and the columns that compare a method with the run's
MCMC baseline (:func:`bnn_models.report.run.baseline`) beside the metric they belong
with. Every cell is text with its unit, computed from the run's ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bnn_models.metrics import METRICS, Metric
from bnn_models.report.formats import Stat, possessive
from bnn_models.report.run import (
    MethodRun,
    Row,
    baseline,
    converged,
    failure_text,
    group_widths,
    load_methods,
    seed_text,
    skip_reason,
    styles,
)
from bnn_models.schema import SEED_INTERVAL_PROB

__all__ = ["summary_header", "summary_notes", "summary_rows", "summary_table"]

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
    done = [e["elbo"]["rule_fired_at"] for e in fits if converged(e)]
    if len(fits) > 1:
        return f"fired before the cap in {len(done)} of {len(fits)} seeds"
    if done:
        return f"{done[0]:,}"
    if fits[0]["elbo"].get("rule_fired_at"):
        return f"at the cap ({fits[0]['elbo']['rule_fired_at']:,}): not converged"
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
            ("Spread", f"Ratio of mean predictive sd to {possessive(against)}", "pct0", _sd_ratio)
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
        "successive windows ('not met (N)': it did not fire in the N iterations run; 'at the "
        "cap': it fired only at the last step the fit was allowed, which is not convergence).",
        "Predictive sd: sd over posterior draws of each test row's probability, averaged over "
        "rows (probability scale, invariant to the hidden units' permutation symmetry). Ratio "
        "of mean predictive sd: the method's over the baseline's, a ratio of means; against "
        "the reference, the decision table and the fidelity section give the predictive sd "
        "ratio (geometric mean over test rows).",
        "Test-set metrics use the mean predicted probability per row, with a 0.5 threshold "
        "for accuracy and F1; ECE uses 10 equal-mass bins; log loss in nats per row.",
        f"Diagnostics ({', '.join(diagnosed) or 'no method of this run'} only): "
        "rank-normalised R-hat and bulk ESS from ArviZ over all test-set probabilities and all "
        "weights; ESS per second is the smallest bulk ESS over the predictions per second of "
        "sampling. n/a: does not apply to the method.",
    ]


def summary_header(methods: dict[str, MethodRun]) -> tuple[list[tuple[str, int]], list[str]]:
    """Column groups of the summary table with their widths, and its column headers.

    A header names its unit where every cell of the column shares one (seconds, nats, µs).
    """
    columns = _columns(_against(methods))
    headers = [f"{h} ({_HEADER_UNITS[u]})" if u in _HEADER_UNITS else h for _, h, u, _ in columns]
    return group_widths([g for g, *_ in columns]), headers


def summary_notes(methods: dict[str, MethodRun], rows: list[Row]) -> list[str]:
    """Definitions under the summary table; what an interval means, first, when a cell has one."""
    notes = _notes(methods)
    if any(r.cells and "[" in " ".join(r.cells) for r in rows):
        notes.insert(
            0,
            f"Cells with an interval: mean over seeds [central "
            f"{SEED_INTERVAL_PROB:.0%} interval over seeds].",
        )
    return notes


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
            why = skip_reason(m)
            states = {e["status"] for e in m.failed}
            state = states.pop().replace("_", " ") if len(states) == 1 else "failed"
            failure = f"skipped ({why})" if why else f"{state} ({failure_text(m)})"
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
        partial = failure_text(m)
        rows.append(Row(name, m.label, seed_text(m), cells, partial or None, color))
    return rows


def summary_table(doc: dict) -> pd.DataFrame:
    """One row per fit: method, seed, status, the metrics of the metric table that the
    report shows or the gate checks (by name; those no fit has are left out), and
    ``converged_at`` (the convergence rule's iteration, "no" where it never fired before the
    step cap: :func:`bnn_models.report.run.converged`).

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
            row["converged_at"] = (el["rule_fired_at"] if converged(fit) else "no") if el else None
        else:
            row["error"] = fit.get("error")
        rows.append(row)
    table = pd.DataFrame(rows)
    metrics = [c for c in table.columns if c in METRICS]
    return table.drop(columns=[c for c in metrics if table[c].isna().all()])


def _shown(m: Metric) -> bool:
    return m.column_format is not None or m.gate is not None
