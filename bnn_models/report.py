"""The comparison report of a results folder: ``report.html`` (self-contained) and ``report.md``.

Everything in the report is computed from the folder's ``metrics.json`` and the fit
files it names; the only numbers from elsewhere are the published study's, each shown
with its source (:data:`PUBLISHED`). The same results give the same bytes: the report
carries the run's time, not its own, and figures are PNGs without timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from bnn_models import figures as figs
from bnn_models._io import atomic_path, write_text
from bnn_models.bench import load_metrics, summarise_seeds
from bnn_models.data import RUPTURE_FILES
from bnn_models.inference import FitResult, load_fit

__all__ = [
    "FIGURE_FILES",
    "PUBLISHED",
    "Report",
    "build_report",
    "render_html",
    "render_markdown",
    "summary_markdown",
    "summary_rows",
    "verdicts",
    "write_report",
]

#: The published study's test-set results on the same 400-row rupture test file.
PUBLISHED: dict[str, Any] = {
    "f1_weighted": 0.8334,
    "accuracy": 0.835,
    "f1_source": "S. Ahamed and E. Daub, arXiv:1911.09660 (8-12-1 BNN fitted with "
    "variational inference): weighted F1 on the test set",
    "accuracy_source": "the study's notebook in msahamed/machine_learning_earthquake_rupture "
    "(commit 876f31d): accuracy on the test set",
    "url": "https://arxiv.org/abs/1911.09660",
}

#: Figure file names (under ``DIR/figures/``) the report may write, in report order.
FIGURE_FILES = (
    "summary_runtime.png",
    "elbo_traces.png",
    "reliability.png",
    "predictive_sd.png",
    "weight_sd.png",
    "nuts_trace.png",
    "nuts_rank.png",
)

_REFERENCE = "nuts"
_SECTIONS = ("runtime", "elbo", "spread", "calibration", "diagnostics")
_NOT_METRICS = {
    "method",
    "seed",
    "status",
    "error",
    "config",
    "config_hash",
    "sampler",
    "convergence",
    "fit_file",
    "warnings",
    "reliability",
}


# --------------------------------------------------------------------------- numbers


def _sig(x: float, digits: int = 3) -> str:
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 10**digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


#: Unit kind -> (number format, unit suffix).
_FORMATS: dict[str, tuple[Callable[[float], str], str]] = {
    "s": (_sig, " s"),
    "x": (lambda x: f"{x:.1f}", "x"),
    "nats": (lambda x: f"{x:,.1f}", " nats"),
    "nats3": (lambda x: f"{x:.3f}", " nats"),
    "prob": (lambda x: f"{x:.3f}", ""),
    "f1": (lambda x: f"{x:.4f}", ""),
    "pct": (lambda x: f"{100 * x:.1f}", "%"),
    "pct0": (lambda x: f"{100 * x:.0f}", "%"),
    "int": (lambda x: f"{int(round(x)):,}", ""),
    "rhat": (lambda x: f"{x:.3f}", ""),
    "per_s": (_sig, " /s"),
}


@dataclass(frozen=True)
class _Stat:
    """One metric of one method: a value, or a mean with an interval over seeds."""

    mean: float
    lo: float | None = None
    hi: float | None = None
    n: int = 1

    def show(self, kind: str) -> str:
        """The value with its unit, then the interval over seeds where there is one."""
        num, unit = _FORMATS[kind]
        if not np.isfinite(self.mean):
            return "n/a"
        if self.n > 1 and self.lo is not None and self.hi is not None:
            return f"{num(self.mean)}{unit} [{num(self.lo)}, {num(self.hi)}]"
        return f"{num(self.mean)}{unit}"


def _flatten(entry: dict) -> dict[str, float]:
    """Numeric scalars of every metric section of a fit entry, keyed ``section.key``."""
    out = {}
    for section, values in entry.items():
        if section in _NOT_METRICS or not isinstance(values, dict):
            continue
        for key, val in values.items():
            if isinstance(val, int | float) and not isinstance(val, bool):
                out[f"{section}.{key}"] = float(val)
    return out


def _interval_prob() -> float:
    return float(inspect.signature(summarise_seeds).parameters["prob"].default)


# --------------------------------------------------------------------------- model of a run


@dataclass
class _Method:
    """Everything the report says about one method."""

    name: str
    entries: list[dict]  # every fit entry of this method, in file order
    stats: dict[str, _Stat] = field(default_factory=dict)
    shown: dict = field(default_factory=dict)  # the fit entry whose figures are drawn
    fit: FitResult | None = None
    fit_note: str | None = None

    @property
    def ok(self) -> list[dict]:
        return [e for e in self.entries if e["status"] == "ok"]

    @property
    def failed(self) -> list[dict]:
        return [e for e in self.entries if e["status"] != "ok"]

    @property
    def label(self) -> str:
        return figs.method_label(self.name)

    def get(self, key: str) -> float:
        """Value (mean over seeds) of ``section.key``; NaN when not recorded."""
        stat = self.stats.get(key)
        return float("nan") if stat is None else stat.mean


def _methods(out: Path, doc: dict, *, load: bool = True) -> dict[str, _Method]:
    names = list(doc["run"].get("methods") or [])
    names += [f["method"] for f in doc["fits"] if f["method"] not in names]
    summary = doc.get("seed_summary")
    if summary is None and any(
        sum(f["method"] == m and f["status"] == "ok" for f in doc["fits"]) > 1 for m in names
    ):
        summary = summarise_seeds(doc["fits"])
    out_methods = {}
    for name in names:
        m = _Method(name, [f for f in doc["fits"] if f["method"] == name])
        if m.ok:
            m.shown = min(m.ok, key=lambda e: e["seed"])
            per_seed = (summary or {}).get(name)
            if per_seed and per_seed.get("n_seeds", 1) > 1:
                m.stats = {
                    k: _Stat(v["mean"], v["lo"], v["hi"], int(v["n"]))
                    for k, v in per_seed["metrics"].items()
                }
            else:
                m.stats = {k: _Stat(v) for k, v in _flatten(m.shown).items()}
            if load:
                m.fit, m.fit_note = _load(out, m.shown)
        out_methods[name] = m
    return out_methods


def _load(out: Path, entry: dict) -> tuple[FitResult | None, str | None]:
    name = entry.get("fit_file")
    if not name:
        return None, "no fit file recorded"
    path = out / name
    if not path.is_file():
        return None, f"{name} is absent (fit files are not committed; rerun 'bnn-bench run')"
    try:
        return load_fit(path), None
    except ValueError as err:
        return None, str(err)


# --------------------------------------------------------------------------- summary table

#: (group, header, unit kind, key or function of (method, reference)).
_Getter = Callable[["_Method", "_Method | None"], "_Stat | str | None"]


def _key(key: str) -> _Getter:
    return lambda m, ref: m.stats.get(key)


def _speedup(m: _Method, ref: _Method | None) -> _Stat | str | None:
    if ref is None or not ref.ok or "runtime.total_s" not in m.stats:
        return None
    if m.name == ref.name:
        return "reference"
    return _Stat(ref.get("runtime.total_s") / m.get("runtime.total_s"))


def _sd_ratio(m: _Method, ref: _Method | None) -> _Stat | str | None:
    if ref is None or not ref.ok or "spread.pred_sd_mean" not in m.stats:
        return None
    if m.name == ref.name:
        return "reference"
    return _Stat(m.get("spread.pred_sd_mean") / ref.get("spread.pred_sd_mean"))


def _rule(m: _Method, ref: _Method | None) -> str | None:
    fits = [e for e in m.ok if e.get("elbo")]
    if not fits:
        return None
    fired = [e["elbo"]["rule_fired_at"] for e in fits if e["elbo"].get("rule_fired_at")]
    if len(fits) > 1:
        return f"fired in {len(fired)} of {len(fits)} seeds"
    if fired:
        return f"{fired[0]:,}"
    return f"not met ({fits[0]['elbo']['iterations']:,})"


def _rhats(m: _Method, ref: _Method | None) -> str | None:
    pred, weights = (
        m.stats.get("diagnostics.rhat_max_pred"),
        m.stats.get("diagnostics.rhat_max_weights"),
    )
    if pred is None or weights is None:
        return None
    return f"{pred.show('rhat')} / {weights.show('rhat')}"


_COLUMNS: list[tuple[str, str, str, _Getter]] = [
    ("Runtime", "Total time", "s", _key("runtime.total_s")),
    ("Runtime", "Compile", "s", _key("runtime.compile_s")),
    ("Runtime", "Fit", "s", _key("runtime.fit_s")),
    ("Runtime", "Draw", "s", _key("runtime.draw_s")),
    ("Runtime", "Predict", "s", _key("runtime.predict_s")),
    ("Runtime", "Speed-up vs NUTS", "x", _speedup),
    ("ELBO", "Final ELBO", "nats", _key("elbo.final_elbo")),
    ("ELBO", "Within 1% of final from iteration", "int", _key("elbo.iter_to_1pct")),
    ("ELBO", "Rule fired at iteration", "", _rule),
    ("Spread", "Mean predictive sd", "prob", _key("spread.pred_sd_mean")),
    ("Spread", "Predictive sd vs NUTS", "pct0", _sd_ratio),
    ("Test set", "ECE", "prob", _key("calibration.ece")),
    ("Test set", "Brier", "prob", _key("calibration.brier")),
    ("Test set", "Log loss", "nats3", _key("calibration.log_loss")),
    ("Test set", "Accuracy", "pct", _key("calibration.accuracy")),
    ("Test set", "Weighted F1", "prob", _key("calibration.f1_weighted")),
    ("Test set", "ROC AUC", "prob", _key("calibration.roc_auc")),
    ("Diagnostics", "Max R-hat: predictions / weights", "", _rhats),
    ("Diagnostics", "Min bulk ESS, predictions", "int", _key("diagnostics.ess_bulk_min_pred")),
    ("Diagnostics", "Bulk ESS per second", "per_s", _key("runtime.ess_bulk_per_s")),
    ("Diagnostics", "Divergences", "int", _key("diagnostics.divergences")),
]

_NOTES = [
    "Times are wall-clock seconds of one fit: compile (building and compiling the model, "
    "and the first call of the VI sampler), fit (sampling or optimising), draw (drawing "
    "from the VI approximation), predict (test-set probabilities). Speed-up: NUTS' total "
    "time over the method's.",
    "ELBO in nats (higher is better) is the mean over the last convergence window; "
    "'within 1% of final from' is the first iteration from which the ELBO's running mean "
    "stays within 1% of its final value; the convergence rule compares the mean loss of "
    "successive windows ('not met (N)': it did not fire in the N iterations run).",
    "Predictive sd: sd over posterior draws of each test row's probability, averaged over "
    "rows (probability scale, invariant to the hidden units' permutation symmetry).",
    "Test-set metrics use the mean predicted probability per row, with a 0.5 threshold "
    "for accuracy and F1; ECE uses 10 equal-mass bins; log loss in nats per row.",
    "Diagnostics (NUTS only): rank-normalised R-hat and bulk ESS from ArviZ over all "
    "test-set probabilities and all weights; ESS per second is the smallest bulk ESS over "
    "the predictions per second of sampling. n/a: does not apply to the method.",
]


@dataclass(frozen=True)
class _Row:
    method: str
    label: str
    seeds: str
    cells: list[str] | None  # None: every fit failed
    failure: str | None = None


def summary_rows(doc: dict, methods: dict[str, _Method] | None = None) -> list[_Row]:
    """The summary table: one row per method, every cell a string with its unit."""
    methods = methods if methods is not None else _methods(Path("."), doc, load=False)
    ref = methods.get(_REFERENCE)
    rows = []
    for m in methods.values():
        seeds = [e["seed"] for e in m.entries]
        seed_text = (
            f"seed {seeds[0]}"
            if len(seeds) == 1
            else f"{len(m.ok)} of {len(seeds)} seeds"
            if m.failed
            else f"{len(seeds)} seeds"
        )
        if not m.ok:
            reasons = "; ".join(
                f"seed {e['seed']}: {e.get('error') or 'no reason recorded'}" for e in m.failed
            )
            rows.append(_Row(m.name, m.label, seed_text, None, f"failed ({reasons})"))
            continue
        cells = []
        for _, _, kind, get in _COLUMNS:
            value = get(m, ref)
            if value is None:
                cells.append("n/a")
            elif isinstance(value, str):
                cells.append(value)
            else:
                cells.append(value.show(kind) if kind else str(value.mean))
        failure = None
        if m.failed:
            failure = "; ".join(f"seed {e['seed']} failed: {e.get('error')}" for e in m.failed)
        rows.append(_Row(m.name, m.label, seed_text, cells, failure))
    return rows


# --------------------------------------------------------------------------- verdicts


def _times(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:.1f}x faster than" if ratio >= 1 else f"{1 / ratio:.1f}x slower than"


def verdicts(methods: dict[str, _Method]) -> list[str]:
    """Short sentences generated from the numbers, comparing each method with NUTS."""
    out = []
    found = methods.get(_REFERENCE)
    ref = found if found is not None and found.ok else None
    for m in methods.values():
        if not m.ok:
            out.append(
                f"{m.label} failed: "
                + "; ".join(
                    f"seed {e['seed']}: {e.get('error') or 'no reason recorded'}" for e in m.failed
                )
            )
            continue
        if m.name == _REFERENCE:
            continue
        parts = []
        t, sd = m.get("runtime.total_s"), m.get("spread.pred_sd_mean")
        if ref is not None:
            t_ref, sd_ref = ref.get("runtime.total_s"), ref.get("spread.pred_sd_mean")
            parts.append(
                f"{m.label} was {_times(t_ref, t)} NUTS ({_sig(t)} s against "
                f"{_sig(t_ref)} s in total); its mean predictive sd was "
                f"{sd / sd_ref:.0%} of NUTS' ({sd:.3f} against {sd_ref:.3f})."
            )
            ece, ece_ref = m.get("calibration.ece"), ref.get("calibration.ece")
            acc, acc_ref = m.get("calibration.accuracy"), ref.get("calibration.accuracy")
            parts.append(
                f"Its ECE was {ece:.3f} against NUTS' {ece_ref:.3f} "
                f"({'better' if ece < ece_ref else 'worse' if ece > ece_ref else 'equal'}"
                f"), its accuracy {acc:.1%} against {acc_ref:.1%}."
            )
        else:
            parts.append(f"{m.label} took {_sig(t)} s; its mean predictive sd was {sd:.3f}.")
        el = [e["elbo"] for e in m.ok if e.get("elbo")]
        if el:
            fired = [e for e in el if e.get("rule_fired_at")]
            if len(el) == 1:
                parts.append(
                    f"Its ELBO converged: the rule fired at iteration {el[0]['rule_fired_at']:,}."
                    if fired
                    else f"Its ELBO did not meet the convergence rule in {el[0]['iterations']:,} "
                    "iterations: compare with care."
                )
            else:
                parts.append(f"The convergence rule fired in {len(fired)} of {len(el)} seeds.")
        if m.failed:
            parts.append(f"{len(m.failed)} of {len(m.entries)} seeds failed.")
        out.append(" ".join(parts))
    if ref is not None:
        parts = []
        r_pred, r_w = ref.get("diagnostics.rhat_max_pred"), ref.get("diagnostics.rhat_max_weights")
        div = ref.get("diagnostics.divergences")
        if np.isfinite(r_pred):
            parts.append(
                f"NUTS: largest R-hat {r_pred:.3f} over the test predictions and "
                f"{r_w:.3f} over the weights; {int(round(div or 0))} divergences."
            )
            if r_pred > 1.01:
                parts.append(
                    "Chains disagree on some predictions (R-hat above 1.01): the "
                    "NUTS reference is itself uncertain; more draws or chains would "
                    "sharpen it."
                )
            elif r_w > 1.01:
                parts.append(
                    "The weights' R-hat is high while the predictions' is not: "
                    "chains sit in different permutation or sign modes of the hidden "
                    "units, which leave the predictions unchanged. Compare methods on "
                    "predictions, not on single weights."
                )
        out.append(" ".join(parts))
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


# --------------------------------------------------------------------------- published


def _published(doc: dict, methods: dict[str, _Method]) -> tuple[list[list[str]], list[str]]:
    ds = doc["run"].get("dataset", {})
    notes = []
    if ds.get("name") != "rupture":
        return [], [
            f"The published numbers are for the rupture data; this run used "
            f"{ds.get('name')!r}, so there is nothing to compare."
        ]
    test_hash = (ds.get("sha256") or {}).get("rupturemodel_test.txt")
    same = test_hash == RUPTURE_FILES["rupturemodel_test.txt"]
    notes.append(
        f"Test set: rupturemodel_test.txt, {ds.get('n_test')} rows, SHA256 "
        f"{(test_hash or 'unknown')[:16]}..., "
        + (
            "the file the study used (pinned hash)."
            if same
            else "NOT the pinned file the study used: compare with care."
        )
    )
    notes.append(
        f"Training: {ds.get('n_train')} rows (train and validate files, as in the study). "
        + (
            "The minority class was upsampled, as in the study."
            if ds.get("rebalanced")
            else "The study upsampled the minority class of the training rows; this run did not "
            "(bnn-bench run --rebalance does), which moves the base rate and the 0.5-threshold "
            "metrics."
        )
    )
    notes.append(
        f"Published F1: {PUBLISHED['f1_source']} ({PUBLISHED['url']}). "
        f"Published accuracy: {PUBLISHED['accuracy_source']}."
    )
    rows = [
        [
            "Published study (VI)",
            "seed not reported",
            f"{PUBLISHED['f1_weighted']:.4f}",
            f"{PUBLISHED['accuracy']:.1%}",
            "",
            "",
        ]
    ]
    for m in methods.values():
        if not m.ok:
            rows.append([m.label, "failed", "n/a", "n/a", "n/a", "n/a"])
            continue
        f1, acc = m.stats.get("calibration.f1_weighted"), m.stats.get("calibration.accuracy")
        if f1 is None or acc is None:
            rows.append([m.label, "not recorded", "n/a", "n/a", "n/a", "n/a"])
            continue
        rows.append(
            [
                m.label,
                f"{len(m.ok)} seeds (mean)" if f1.n > 1 else f"seed {m.shown['seed']}",
                f1.show("f1"),
                acc.show("pct"),
                f"{f1.mean - PUBLISHED['f1_weighted']:+.4f}",
                f"{100 * (acc.mean - PUBLISHED['accuracy']):+.1f} pp",
            ]
        )
    return rows, notes


_PUBLISHED_HEADER = [
    "",
    "Seeds",
    "Weighted F1",
    "Accuracy",
    "F1 - published",
    "Accuracy - published",
]


# --------------------------------------------------------------------------- asv


def _asv_link(out: Path) -> tuple[str, str] | None:
    """(href, text) of the asv dashboard when the project holding ``out`` has asv results."""
    for root in [out.resolve(), *out.resolve().parents]:
        conf_path = root / "asv.conf.json"
        if conf_path.is_file():
            break
    else:
        return None
    try:
        # asv allows // comments in its configuration.
        text = re.sub(r"^\s*//.*$", "", conf_path.read_text(), flags=re.MULTILINE)
        conf = json.loads(text)
    except (OSError, json.JSONDecodeError):
        return None
    results = root / conf.get("results_dir", "results")
    found = results.is_dir() and any(
        p.name not in ("benchmarks.json", "machine.json") for p in results.glob("*/*.json")
    )
    if not found:
        return None
    if conf.get("dashboard_url"):
        return conf["dashboard_url"], "published asv dashboard"
    index = root / conf.get("html_dir", "html") / "index.html"
    rel = Path(*[".."] * len(out.resolve().relative_to(root).parts)) / index.relative_to(root)
    return rel.as_posix(), "asv dashboard (build it with 'make asv-publish')"


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class _Figure:
    name: str
    title: str
    caption: str
    png: bytes | None  # None: not drawn, ``caption`` says why


def _draw_figures(methods: dict[str, _Method]) -> list[_Figure]:
    ok = {n: m for n, m in methods.items() if m.ok}
    shown = ", ".join(f"{m.label} seed {m.shown['seed']}" for m in ok.values())
    multi = any(len(m.ok) > 1 for m in ok.values())
    which = f" Figures show one fit per method ({shown})." if multi else ""
    out: list[_Figure] = []
    if not ok:
        return out

    def add(
        name: str,
        title: str,
        caption: str,
        make: Callable[[], Figure] | None,
        missing: str | None = None,
    ) -> None:
        if make is None:
            out.append(_Figure(name, title, f"Not drawn: {missing}", None))
            return
        out.append(_Figure(name, title, caption + which, figs.png_bytes(make())))

    add(
        "summary_runtime.png",
        "Runtime by stage",
        "Left: wall-clock seconds of one fit per method, stacked by stage, with the total and "
        "the speed-up against NUTS at the end of each bar. Right: each stage on a log scale, "
        "so that short stages stay visible (a stage of 0 s, such as NUTS' draw stage, is not "
        "shown).",
        lambda: figs.runtime_figure({n: m.shown["runtime"] for n, m in ok.items()}),
    )
    vi = {n: m for n, m in ok.items() if m.shown.get("elbo")}
    losses = {n: m.fit.loss for n, m in vi.items() if m.fit is not None and m.fit.loss is not None}
    missing = "; ".join(f"{m.label}: {m.fit_note}" for m in vi.values() if m.fit is None)
    add(
        "elbo_traces.png",
        "ELBO traces",
        "ELBO at every iteration (thin) and its running mean over the convergence window "
        "(thick), per VI method. Open circle: from there on the running mean stays within 1% of "
        "its final value; dashed line: the convergence rule fired and the fit stopped.",
        (lambda: figs.elbo_figure(losses, {n: vi[n].shown["elbo"] for n in losses}))
        if losses
        else None,
        missing or "no variational fit in this run",
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
        ),
    )
    add(
        "predictive_sd.png",
        "Predictive sd against predicted probability",
        "Each test row's predictive sd (over posterior draws) against its mean predicted "
        "probability, all methods overlaid: the published study's figure. The dotted arc is "
        "the largest sd any distribution on [0, 1] with that mean can have.",
        lambda: figs.predictive_sd_figure({n: m.shown["spread"] for n, m in ok.items()}),
    )
    ref = ok.get(_REFERENCE)
    with_fit = {n: m.fit for n, m in ok.items() if m.fit is not None}
    if ref is None:
        why = "NUTS did not run or failed"
    elif ref.fit is None:
        why = f"NUTS: {ref.fit_note}"
    elif len(with_fit) < 2:
        why = "no VI fit file to compare with: " + "; ".join(
            f"{m.label}: {m.fit_note}" for n, m in ok.items() if m.fit is None
        )
    else:
        why = None
    add(
        "weight_sd.png",
        "Posterior sd per weight, VI against NUTS",
        "Posterior sd of each of the network's weights and biases under each VI method "
        "against NUTS, log scales, with the line of equal sd. NUTS pools its chains: chains "
        "in different permutation or sign modes of the hidden units inflate its sd, so "
        "points below the line mean less spread than NUTS' pooled chains, not necessarily "
        "than the posterior.",
        (lambda: figs.weight_sd_figure(with_fit, reference=_REFERENCE)) if why is None else None,
        why,
    )
    nuts_tree = ref.fit.idata if ref is not None and ref.fit is not None else None
    if (
        ref is not None
        and ref.fit is not None
        and nuts_tree is not None
        and (nuts_tree["posterior"].sizes["chain"] > 1)
    ):
        chosen = figs.pick_nuts_variables(ref.fit)
        names = ", ".join(str(v) for v in chosen.data_vars)
        add(
            "nuts_trace.png",
            "NUTS trace plots",
            f"Marginal density and trace of each chain for {names}: the output bias, the "
            "elements of W1 and W0 with the largest R-hat, the test probability with the "
            "largest R-hat and the one with the largest predictive sd (arviz-plots).",
            lambda: figs.nuts_trace_figure(chosen),
        )
        add(
            "nuts_rank.png",
            "NUTS rank plots",
            "Rank plots of the same quantities: the Δ-ECDF of each chain's fractional ranks "
            "(arviz-plots). Chains that sample the same distribution stay near zero; black "
            "marks where the chains' ranks are not uniform.",
            lambda: figs.nuts_rank_figure(chosen),
        )
    else:
        why = (
            "NUTS did not run or failed"
            if ref is None
            else ref.fit_note or "NUTS ran a single chain"
        )
        add("nuts_trace.png", "NUTS trace plots", "", None, why)
        add("nuts_rank.png", "NUTS rank plots", "", None, why)
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
    rows : list
        One per method.
    notes : list of str
        Definitions under the summary table.
    verdicts : list of str
    published : list of list of str
        The published study's row and one row per method.
    published_notes : list of str
    figures : list
        Each with file name, title, caption and PNG bytes (None when not drawn).
    details : list of (str, list of str, list of list of str)
        Titled tables: every metric of every fit, and the configurations.
    asv : (str, str) or None
        Link and text of the asv dashboard.
    source : str
        Which file the report was generated from, with its SHA256.
    """

    title: str
    header: list[tuple[str, str]]
    groups: list[tuple[str, int]]
    columns: list[str]
    rows: list[_Row]
    notes: list[str]
    verdicts: list[str]
    published: list[list[str]]
    published_notes: list[str]
    figures: list[_Figure]
    details: list[tuple[str, list[str], list[list[str]]]]
    asv: tuple[str, str] | None
    source: str


def _header(doc: dict, methods: dict[str, _Method]) -> list[tuple[str, str]]:
    run = doc["run"]
    ds = run.get("dataset", {})
    ver = run.get("versions", {})
    mach = run.get("machine", {})
    seeds = run.get("seeds", [])
    hashes = "; ".join(f"{k}: {v}" for k, v in sorted((ds.get("sha256") or {}).items()))
    libs = ", ".join(
        f"{name} {ver[key]}"
        for name, key in (
            ("Python", "python"),
            ("PyMC", "pymc"),
            ("PyTensor", "pytensor"),
            ("ArviZ", "arviz"),
            ("arviz-stats", "arviz-stats"),
            ("nutpie", "nutpie"),
            ("NumPy", "numpy"),
            ("xarray", "xarray"),
        )
        if ver.get(key)
    )
    samplers = ", ".join(
        f"{m.label}: {m.shown['sampler']}"
        for m in methods.values()
        if m.shown and m.shown.get("sampler")
    )
    return [
        ("Methods", ", ".join(figs.method_label(m) for m in methods)),
        (
            "Profile",
            f"{run.get('profile')}; overrides: "
            f"{json.dumps(run.get('overrides') or {}, sort_keys=True)}"
            + (f"; time limit {run['time_limit_s']} s per fit" if run.get("time_limit_s") else ""),
        ),
        ("Seeds", ", ".join(str(s) for s in seeds)),
        ("Command", run.get("command") or "not recorded"),
        (
            "Dataset",
            f"{ds.get('name')}: {ds.get('n_train')} training rows, {ds.get('n_test')} "
            f"test rows, {ds.get('n_features')} features "
            f"({', '.join(ds.get('feature_names') or [])}); share of label 1: "
            f"{ds.get('train_positive_rate', float('nan')):.3f} train, "
            f"{ds.get('test_positive_rate', float('nan')):.3f} test; "
            f"{'rebalanced' if ds.get('rebalanced') else 'not rebalanced'}",
        ),
        ("Data SHA256", hashes or "not recorded"),
        ("Commit", run.get("commit") or "not recorded (not a git checkout)"),
        (
            "Machine",
            f"{mach.get('hostname')}: {mach.get('cpu')}, {mach.get('cpu_count')} CPUs, "
            f"{mach.get('platform')}",
        ),
        ("Versions", libs),
        ("Samplers", samplers or "none"),
        ("Run started", run.get("created") or "not recorded"),
    ]


def _details(methods: dict[str, _Method]) -> list[tuple[str, list[str], list[list[str]]]]:
    fits = [(m, e) for m in methods.values() for e in m.entries]
    cols = [f"{m.label} s{e['seed']}" for m, e in fits]
    flat = [_flatten(e) if e["status"] == "ok" else {} for _, e in fits]
    keys = sorted(
        {k for f in flat for k in f},
        key=lambda k: (
            _SECTIONS.index(k.split(".")[0]) if k.split(".")[0] in _SECTIONS else len(_SECTIONS),
            k,
        ),
    )
    metrics = [[k] + [_sig(f[k], 4) if k in f else "" for f in flat] for k in keys]
    status = [
        ["status"] + [e["status"] for _, e in fits],
        ["sampler"] + [e.get("sampler") or "" for _, e in fits],
        ["error"] + [e.get("error") or "" for _, e in fits],
        ["fit file"] + [e.get("fit_file") or "" for _, e in fits],
        ["config hash"] + [e.get("config_hash") or "" for _, e in fits],
    ]
    cfg_keys = sorted({k for _, e in fits for k in (e.get("config") or {})})
    config = [
        [k]
        + [
            json.dumps((e.get("config") or {}).get(k)) if k in (e.get("config") or {}) else ""
            for _, e in fits
        ]
        for k in cfg_keys
    ]
    return [
        ("Every fit: status", ["", *cols], status),
        ("Every fit: configuration", ["setting", *cols], config),
        (
            "Every fit: all scalar metrics (section.key, units in the key names)",
            ["metric", *cols],
            metrics,
        ),
    ]


def build_report(out_dir: str | Path, doc: dict | None = None, *, figures: bool = True) -> Report:
    """Compute everything the report shows from a results folder.

    Parameters
    ----------
    out_dir : path
        Folder with ``metrics.json`` and the fit files it names.
    doc : dict, optional
        The metrics document, if already loaded.
    figures : bool
        Draw the figures (reading the fit files); False gives the tables and text alone.

    Returns
    -------
    Report
    """
    out = Path(out_dir)
    metrics_path = out / "metrics.json"
    doc = doc if doc is not None else load_metrics(metrics_path)
    methods = _methods(out, doc, load=figures)
    for m in methods.values():
        if m.fit_note and m.ok:
            warnings.warn(
                f"report {out}: {m.label}: {m.fit_note}; figures that need it are left out",
                UserWarning,
                stacklevel=2,
            )
    published, published_notes = _published(doc, methods)
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
    groups: list[tuple[str, int]] = []
    for group, *_ in _COLUMNS:
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + 1)
        else:
            groups.append((group, 1))
    notes = list(_NOTES)
    if any(r.cells and "[" in " ".join(r.cells) for r in summary_rows(doc, methods)):
        notes.insert(
            0,
            f"Cells with an interval: mean over seeds [central "
            f"{_interval_prob():.0%} interval over seeds].",
        )
    return Report(
        title=f"bnn-bench: NUTS, ADVI and full-rank ADVI on {ds.get('name', 'data')}",
        header=_header(doc, methods),
        groups=groups,
        columns=[f"{h} ({u})" if u in ("s", "nats") else h for _, h, u, _ in _COLUMNS],
        rows=summary_rows(doc, methods),
        notes=notes,
        verdicts=verdicts(methods),
        published=published,
        published_notes=published_notes,
        figures=_draw_figures(methods) if figures else [],
        details=_details(methods),
        asv=_asv_link(out),
        source=f"Generated by bnn-bench {version} from metrics.json (SHA256 {digest}) and "
        "the fit files it names.",
    )


# --------------------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_cells(rep: Report) -> tuple[list[str], list[list[str]]]:
    header = ["Method", *rep.columns]
    rows = []
    for r in rep.rows:
        name = f"{r.label} ({r.seeds})"
        if r.cells is None:
            rows.append([name, r.failure or "failed"] + [""] * (len(rep.columns) - 1))
        else:
            rows.append([name + (f"; {r.failure}" if r.failure else ""), *r.cells])
    return header, rows


def summary_markdown(rep: Report) -> str:
    """The summary table alone, as Markdown (e.g. for the README)."""
    return _md_table(*_summary_cells(rep))


def render_markdown(rep: Report, figure_dir: str = "figures") -> str:
    """The report as Markdown; figures are linked from ``figure_dir``."""
    parts = [f"# {rep.title}", ""]
    parts += [_md_table(["", ""], [[f"**{k}**", v] for k, v in rep.header]), ""]
    parts += ["## Summary", "", summary_markdown(rep), ""]
    parts += [f"- {n}" for n in rep.notes] + [""]
    parts += ["### Verdicts", ""] + [f"- {v}" for v in rep.verdicts] + [""]
    parts += ["## Against the published study", ""]
    if rep.published:
        parts += [_md_table(_PUBLISHED_HEADER, rep.published), ""]
    parts += [f"- {n}" for n in rep.published_notes] + [""]
    parts += ["## Figures", ""]
    for i, f in enumerate(rep.figures, 1):
        parts += [f"### Figure {i}. {f.title}", ""]
        if f.png is not None:
            parts += [f"![{f.title}]({figure_dir}/{f.name})", ""]
        parts += [f.caption, ""]
    if rep.asv:
        parts += ["## Benchmarks over time", "", f"[{rep.asv[1]}]({rep.asv[0]})", ""]
    parts += ["## Details", ""]
    for title, header, rows in rep.details:
        parts += [f"### {title}", "", _md_table(header, rows), ""]
    parts += ["---", "", rep.source, ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- html

_CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222;
       margin: 0 auto; max-width: 1640px; padding: 1em 1em 3em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.3em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d4d4d4; padding: 4px 6px; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
table.header th { text-align: left; white-space: nowrap; }
table.header td { word-break: break-all; }
.scroll { overflow-x: auto; border: 1px solid #e4e4e4; }
table.summary { font-size: 12px; }
table.summary td, table.summary th { padding: 4px 4px; }
table.summary td small { color: #555; }
ul.notes, ul.verdicts, figcaption, p { max-width: 75em; }
table.summary th { font-size: 11.5px; font-weight: 600; min-width: 3.2em; }
table.summary td { text-align: right; white-space: nowrap; }
table.summary td.method, table.summary th.method { text-align: left; position: sticky; left: 0;
       background: #fff; z-index: 1; white-space: nowrap; }
table.summary th.method { background: #f3f3f3; }
table.summary th.group { text-align: center; background: #e9eef3; }
table.summary td.failed { text-align: left; color: #a00; white-space: normal; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px;
          margin-right: 0.4em; vertical-align: baseline; }
ul.notes { font-size: 13px; color: #444; }
ul.verdicts li { margin-bottom: 0.35em; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13.5px; color: #333; max-width: 70em; margin-top: 0.4em; }
details { margin: 0.8em 0; }
summary { cursor: pointer; font-weight: 600; }
table.details td { text-align: right; font-family: "DejaVu Sans Mono", monospace;
                   font-size: 12px; }
table.details td:first-child { text-align: left; }
footer { margin-top: 3em; font-size: 12px; color: #666; }
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(header: list[str], rows: list[list[str]], cls: str) -> str:
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{_h(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _html_summary(rep: Report) -> str:
    out = [
        '<div class="scroll"><table class="summary" id="summary-table"><thead><tr>',
        '<th class="method" rowspan="2">Method</th>',
    ]
    out += [f'<th class="group" colspan="{n}">{_h(g)}</th>' for g, n in rep.groups]
    out.append("</tr><tr>")
    out += [f"<th>{_h(c)}</th>" for c in rep.columns]
    out.append("</tr></thead><tbody>")
    for r in rep.rows:
        color = figs.method_style(r.method)["color"]
        name = (
            f'<td class="method"><span class="swatch" style="background:{color}"></span>'
            f"<b>{_h(r.label)}</b><br><small>{_h(r.seeds)}</small></td>"
        )
        if r.cells is None:
            out.append(
                f'<tr>{name}<td class="failed" colspan="{len(rep.columns)}">'
                f"{_h(r.failure)}</td></tr>"
            )
            continue
        out.append(
            f"<tr>{name}" + "".join(f"<td>{_interval_br(c)}</td>" for c in r.cells) + "</tr>"
        )
        if r.failure:
            out.append(
                f'<tr><td class="method"></td><td class="failed" '
                f'colspan="{len(rep.columns)}">{_h(r.failure)}</td></tr>'
            )
    out.append("</tbody></table></div>")
    return "".join(out)


def _interval_br(cell: str) -> str:
    # "mean [lo, hi]" -> the interval on a second, smaller line: keeps the table narrow.
    return re.sub(r" (\[[^\]]*\])", r"<br><small>\1</small>", _h(cell))


def render_html(rep: Report) -> str:
    """The report as one self-contained HTML page (figures embedded as PNG data URIs)."""
    body = [f"<h1>{_h(rep.title)}</h1>"]
    body.append(
        '<table class="header" id="run-header"><tbody>'
        + "".join(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in rep.header)
        + "</tbody></table>"
    )
    body += ['<h2 id="summary">Summary</h2>', _html_summary(rep), '<ul class="notes">']
    body += [f"<li>{_h(n)}</li>" for n in rep.notes]
    body += ["</ul>", "<h3>Verdicts</h3>", '<ul class="verdicts">']
    body += [f"<li>{_h(v)}</li>" for v in rep.verdicts]
    body += ["</ul>", '<h2 id="published">Against the published study</h2>']
    if rep.published:
        body.append(_html_table(_PUBLISHED_HEADER, rep.published, "published"))
    body += ['<ul class="notes">'] + [f"<li>{_h(n)}</li>" for n in rep.published_notes]
    body += ["</ul>", '<h2 id="figures">Figures</h2>']
    for i, f in enumerate(rep.figures, 1):
        body.append(
            f'<figure id="fig-{_h(f.name.removesuffix(".png"))}"><h3>Figure {i}. {_h(f.title)}</h3>'
        )
        if f.png is not None:
            data = base64.b64encode(f.png).decode("ascii")
            body.append(f'<img src="data:image/png;base64,{data}" alt="{_h(f.title)}">')
        body.append(f"<figcaption>{_h(f.caption)}</figcaption></figure>")
    if rep.asv:
        body += [
            '<h2 id="asv">Benchmarks over time</h2>',
            f'<p><a href="{_h(rep.asv[0])}">{_h(rep.asv[1])}</a></p>',
        ]
    body.append('<h2 id="details">Details</h2>')
    for title, header, rows in rep.details:
        body.append(
            f'<details><summary>{_h(title)}</summary><div class="scroll">'
            f"{_html_table(header, rows, 'details')}</div></details>"
        )
    body.append(f"<footer>{_h(rep.source)}</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(rep.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- writing


def write_report(out_dir: str | Path) -> list[Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into a results folder.

    Parameters
    ----------
    out_dir : path
        A folder written by ``bnn-bench run`` (``metrics.json`` and ``fits/``).

    Returns
    -------
    list of pathlib.Path
        The written files: the HTML, the Markdown, then the figures.

    Raises
    ------
    ValueError
        When ``metrics.json`` is missing or invalid.

    Examples
    --------
    >>> write_report("results/rupture")  # doctest: +SKIP
    [PosixPath('results/rupture/report.html'), PosixPath('results/rupture/report.md'), ...]
    """
    out = Path(out_dir)
    rep = build_report(out)
    fig_dir = out / "figures"
    written = []
    for f in rep.figures:
        if f.png is None:
            (fig_dir / f.name).unlink(missing_ok=True)  # a stale figure would not match
            continue
        with atomic_path(fig_dir / f.name) as tmp:
            tmp.write_bytes(f.png)
        written.append(fig_dir / f.name)
    for name in FIGURE_FILES:
        if name not in {f.name for f in rep.figures}:
            (fig_dir / name).unlink(missing_ok=True)
    html_path = write_text(out / "report.html", render_html(rep))
    md_path = write_text(out / "report.md", render_markdown(rep))
    return [html_path, md_path, *written]
