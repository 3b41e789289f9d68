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
    "Fidelity",
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
    "fidelity_sd.png",
    "khat.png",
    "seed_intervals.png",
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
    "ratio": (lambda x: f"{x:.2f}", ""),
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


def _seed_text(m: _Method) -> str:
    """'seed 3', '5 seeds', or '4 of 5 seeds' when some failed."""
    seeds = [e["seed"] for e in m.entries]
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return f"{len(m.ok)} of {len(seeds)} seeds" if m.failed else f"{len(seeds)} seeds"


def summary_rows(doc: dict, methods: dict[str, _Method] | None = None) -> list[_Row]:
    """The summary table: one row per method, every cell a string with its unit."""
    methods = methods if methods is not None else _methods(Path("."), doc, load=False)
    ref = methods.get(_REFERENCE)
    rows = []
    for m in methods.values():
        seed_text = _seed_text(m)
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
    section: str = "figures"  # or "fidelity": drawn in the fidelity section


def _draw_figures(methods: dict[str, _Method], doc: dict) -> list[_Figure]:
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
        section: str = "figures",
        one_fit: bool = True,
    ) -> None:
        if make is None:
            out.append(_Figure(name, title, f"Not drawn: {missing}", None, section))
            return
        text = caption + (which if one_fit else "")
        out.append(_Figure(name, title, text, figs.png_bytes(make()), section))

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
    _fidelity_figures(ok, doc, add)
    return out


_INTERVAL_PANELS = (
    ("calibration.ece", "ECE (lower is better)", "{:.3f}"),
    ("calibration.log_loss", "log loss (nats per row)", "{:.3f}"),
    ("calibration.accuracy", "accuracy", "{:.1%}"),
    ("spread.pred_sd_mean", "mean predictive sd", "{:.3f}"),
    ("fidelity.pred_tv_mean", "mean |Δp| to the reference", "{:.3f}"),
    ("fidelity.pred_sd_ratio_median", "predictive sd / reference's (median)", "{:.2f}"),
    ("fidelity.psis_khat", "PSIS k-hat", "{:.2f}"),
)


def _fidelity_figures(ok: dict[str, _Method], doc: dict, add: Callable[..., None]) -> None:
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
                )
            )
            if compared and ref.get("pred_sd")
            else None,
            "no fit was compared with the reference",
            section=section,
            one_fit=False,
        )
    khats = {n: k for n, m in ok.items() if (k := _khats(m))}
    fids = [e.get("fidelity") or {} for m in ok.values() for e in m.ok]
    threshold = next((f["khat_threshold"] for f in fids if f.get("khat_threshold")), 0.7)
    if khats:
        add(
            "khat.png",
            "PSIS k-hat per VI fit",
            "Pareto k-hat of the importance ratios p(θ, y) / q(θ) over each VI fit's draws "
            f"(one point per seed). Above {threshold:g} (shaded), the approximation's tails are "
            "too light for importance sampling to correct it, and PSIS-corrected estimates are "
            "not reliable (Yao et al. 2018).",
            lambda: figs.khat_figure(khats, threshold),
            section=section,
            one_fit=False,
        )
    multi = {n: m for n, m in ok.items() if len(m.ok) > 1}
    if not multi:
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
        elif key == "fidelity.pred_sd_ratio_median":
            line = (1.0, "as the reference")
        elif key == "fidelity.psis_khat":
            line = (threshold, f"{threshold:g}")
        panels.append({"title": title, "methods": per, "line": line, "fmt": fmt})
    prob = _interval_prob()
    add(
        "seed_intervals.png",
        "Metrics across seeds",
        "Per metric and method: the mean over seeds (dot, with its value), the central "
        f"{prob:.0%} interval over seeds (bar) and each seed (ticks above). "
        + (
            "Dashed lines: the reference posterior's mean predictive sd, an sd ratio of 1, and "
            f"the k-hat threshold {threshold:g}."
            if ref
            else "Dashed line: the k-hat threshold."
        ),
        lambda: figs.seed_interval_figure(panels),
        section=section,
        one_fit=False,
    )


# --------------------------------------------------------------------------- fidelity

_WEIGHT_VARS = ("W0", "b0", "W1", "b1")
_ALIGN_LABEL = {
    "raw": "Weights, raw (as sampled)",
    "sort_w1": "Weights, hidden units sorted by W1 per draw",
    "match": "Weights, hidden units matched to a template per draw",
}


@dataclass(frozen=True)
class Fidelity:
    """The "fidelity to the reference" section: what the reference is, and each method against it.

    Attributes
    ----------
    reference : list of (str, str)
        Description of the reference posterior: key, file, sampler, model, acceptance.
    diagnostics_header : list of str
    diagnostics : list of list of str
        R-hat and ESS of the test-set probabilities and of the weights (raw, aligned).
    explanation : list of str
        Why convergence is judged in function space, with this reference's numbers.
    groups : list of (str, int)
    columns : list of str
    rows : list
        One per method: cells as "mean [lo, hi]" over seeds where there are several.
    notes : list of str
    verdicts : list of str
    """

    reference: list[tuple[str, str]]
    diagnostics_header: list[str]
    diagnostics: list[list[str]]
    explanation: list[str]
    groups: list[tuple[str, int]]
    columns: list[str]
    rows: list[_Row]
    notes: list[str]
    verdicts: list[str]


def _fid(m: _Method, key: str) -> _Stat | None:
    return m.stats.get(f"fidelity.{key}")


def _fid_show(m: _Method, key: str, kind: str) -> str:
    stat = _fid(m, key)
    if stat is None:
        return "n/a"
    text = stat.show(kind)
    if len(m.ok) > 1 and stat.n < len(m.ok):
        text += f" ({stat.n} of {len(m.ok)} seeds)"
    return text


def _khats(m: _Method) -> dict[int, float]:
    """Seed -> k-hat of every successful fit of ``m`` that has one."""
    return {
        int(e["seed"]): float(e["fidelity"]["psis_khat"])
        for e in m.ok
        if (e.get("fidelity") or {}).get("psis_khat") is not None
    }


def _over_seeds(values: list[float]) -> _Stat:
    """Mean and central interval over seeds, as :func:`bnn_models.bench.summarise_seeds`."""
    arr = np.asarray(values, dtype=float)
    prob = _interval_prob()
    lo, hi = np.quantile(arr, [(1 - prob) / 2, (1 + prob) / 2])
    return _Stat(float(arr.mean()), float(lo), float(hi), int(arr.size))


def _khat_cell(m: _Method, threshold: float) -> str:
    khats = _khats(m)
    if not khats:
        return "n/a"
    stat = _over_seeds(list(khats.values()))
    above = sum(k >= threshold for k in khats.values())
    if len(khats) == 1:
        return stat.show("ratio") + (f" (> {threshold:g})" if above else " (ok)")
    return f"{stat.show('ratio')}; > {threshold:g} in {above} of {len(khats)} seeds"


def _by_var_cell(m: _Method) -> str:
    parts = []
    for v in _WEIGHT_VARS:
        vals = [
            float(e["fidelity"]["weight_sd_ratio_by_var"][v]["median"])
            for e in m.ok
            if v in ((e.get("fidelity") or {}).get("weight_sd_ratio_by_var") or {})
        ]
        parts.append(f"{v} {_over_seeds(vals).mean:.2f}" if vals else f"{v} n/a")
    return ", ".join(parts)


def _psis_cell(m: _Method, key: str, kind: str, threshold: float) -> str:
    if not _khats(m):
        return "n/a"
    if _fid(m, f"psis_{key}") is None:
        return f"n/a (k-hat >= {threshold:g})"
    return _fid_show(m, f"psis_{key}", kind)


def _range_cell(m: _Method) -> str:
    lo, hi = _fid(m, "pred_sd_ratio_q05"), _fid(m, "pred_sd_ratio_q95")
    if lo is None or hi is None:
        return "n/a"
    return f"{lo.mean:.2f} to {hi.mean:.2f}"


def _fidelity_columns(
    gate: float, threshold: float, truth: bool
) -> list[tuple[str, str, Callable[[_Method], str]]]:
    cols: list[tuple[str, str, Callable[[_Method], str]]] = [
        ("Predictions", "Same class", lambda m: _fid_show(m, "class_agreement", "pct")),
        ("Predictions", "Mean |Δp| (TV)", lambda m: _fid_show(m, "pred_tv_mean", "prob")),
        ("Predictions", "Max |Δp|", lambda m: _fid_show(m, "pred_tv_max", "prob")),
        (
            "Predictions",
            "sd ratio, median",
            lambda m: _fid_show(m, "pred_sd_ratio_median", "ratio"),
        ),
        ("Predictions", "sd ratio, 5% to 95% of points", _range_cell),
        (
            "Predictions",
            f"Means off by > {gate:g} ref. sd",
            lambda m: _fid_show(m, "share_mean_off_0p3sd", "pct0"),
        ),
        ("Predictions", "Wasserstein-1", lambda m: _fid_show(m, "pred_wasserstein_mean", "prob")),
        (
            "Weights, units matched",
            "sd ratio, median",
            lambda m: _fid_show(m, "weight_sd_ratio_median", "ratio"),
        ),
        ("Weights, units matched", "median per variable", _by_var_cell),
        (
            "Importance sampling (VI)",
            f"k-hat (ok below {threshold:g})",
            lambda m: _khat_cell(m, threshold),
        ),
        ("Importance sampling (VI)", "ESS share", lambda m: _fid_show(m, "psis_ess_share", "pct")),
        (
            "Importance sampling (VI)",
            "corrected mean |Δp|",
            lambda m: _psis_cell(m, "pred_tv_mean", "prob", threshold),
        ),
        (
            "Importance sampling (VI)",
            "corrected sd ratio",
            lambda m: _psis_cell(m, "pred_sd_ratio_median", "ratio", threshold),
        ),
    ]
    if truth:
        cols += [
            (
                "True probabilities",
                "Mean |E p - p_true|",
                lambda m: _fid_show(m, "truth_tv_mean", "prob"),
            ),
            ("True probabilities", "RMSE", lambda m: _fid_show(m, "truth_rmse", "prob")),
            (
                "True probabilities",
                "90% interval coverage",
                lambda m: _fid_show(m, "truth_coverage_90", "pct"),
            ),
        ]
    return cols


def _num(d: dict | None, key: str, fmt: str) -> str:
    value = (d or {}).get(key)
    return "not recorded" if value is None else format(float(value), fmt)


def _reference_rows(ref: dict) -> list[tuple[str, str]]:
    cfg, model = ref.get("config") or {}, ref.get("model") or {}
    sampler = f"{cfg.get('chains')} chains x {cfg.get('draws')} draws"
    if cfg.get("tune") is not None:
        sampler += (
            f" (tune {cfg.get('tune')}), seed {cfg.get('seed')}, target_accept "
            f"{cfg.get('target_accept')}, {cfg.get('sampler')}"
        )
    else:
        sampler += " (draws given from elsewhere; no sampler settings recorded)"
    acc = ref.get("acceptance")
    if acc:
        r, e = acc.get("rhat_max_pred") or {}, acc.get("ess_bulk_min_pred") or {}
        acceptance = (
            f"{'PASSED' if acc.get('passed') else 'FAILED'}: largest R-hat of the test-set "
            f"probabilities {_num(r, 'value', '.4f')} (limit {r.get('limit')}: "
            f"{'ok' if r.get('ok') else 'not ok'}); smallest bulk ESS "
            f"{_num(e, 'value', ',.0f')} (at least {e.get('limit')}: "
            f"{'ok' if e.get('ok') else 'not ok'})"
        )
    else:
        acceptance = "not recorded (a reference from external draws carries no diagnostics)"
    return [
        ("Reference", f"{ref.get('key')}: {ref.get('path') or 'not cached (external draws)'}"),
        ("Sampler", sampler),
        (
            "Model",
            f"n_hidden={model.get('n_hidden')}, prior_sigma={model.get('prior_sigma')}, "
            f"build_bnn source SHA256 {(model.get('source_sha256') or 'not recorded')[:16]}...",
        ),
        ("Data hash", ref.get("data_hash") or "not recorded"),
        (
            "Built",
            f"{ref.get('created') or 'not recorded'}, commit {ref.get('commit') or 'not recorded'}",
        ),
        ("Acceptance", acceptance),
    ]


def _reference_diagnostics(ref: dict) -> tuple[list[str], list[list[str]]]:
    diag = ref.get("diagnostics") or {}
    fs, ws = diag.get("function_space") or {}, diag.get("weight_space") or {}
    header = [
        "Quantity",
        "Max R-hat",
        "Median R-hat",
        "Min bulk ESS",
        "Median bulk ESS",
        "Min tail ESS",
    ]
    n = fs.get("n_points") or len(ref.get("pred_mean") or [])
    rows = [
        [
            f"Test-set probabilities ({n}; function space)",
            _num(fs, "rhat_max", ".4f"),
            _num(fs, "rhat_median", ".4f"),
            _num(fs, "ess_bulk_min", ",.0f"),
            _num(fs, "ess_bulk_median", ",.0f"),
            _num(fs, "ess_tail_min", ",.0f"),
        ]
    ]
    for name, label in _ALIGN_LABEL.items():
        d = ws.get(name) or {}
        rows.append(
            [
                label,
                _num(d, "rhat_max", ".4f"),
                "",
                _num(d, "ess_bulk_min", ",.0f"),
                "",
                _num(d, "ess_tail_min", ",.0f"),
            ]
        )
    return header, rows


def _explanation(ref: dict) -> list[str]:
    n_hidden = (ref.get("model") or {}).get("n_hidden", "hidden")
    diag = ref.get("diagnostics") or {}
    fs, ws = diag.get("function_space") or {}, diag.get("weight_space") or {}
    out = [
        f"Why the reference's convergence is judged on its predictions: relabelling the "
        f"{n_hidden} hidden units (or other per-unit changes: a ReLU unit that is never active "
        "keeps its prior; a unit's incoming weights can grow while its outgoing weight shrinks) "
        "leaves the network's function unchanged. Each chain settles into its own relabelling, "
        "so the raw weights show a high R-hat and a low ESS even when every chain mixes well "
        "within its mode, while the test-set probabilities, which no symmetry changes, "
        "converge. The acceptance criterion is therefore on the test-set probabilities."
    ]
    raw, match = ws.get("raw") or {}, ws.get("match") or {}
    limit = float(((ref.get("acceptance") or {}).get("rhat_max_pred") or {}).get("limit", 1.01))
    if fs.get("rhat_max") is None or raw.get("rhat_max") is None:
        out.append(
            "This reference records no diagnostics (draws given from elsewhere), so the "
            "contrast cannot be shown on its data."
        )
        return out
    sentence = (
        f"On this reference: the raw weights' largest R-hat is {raw['rhat_max']:.3f} "
        f"(smallest bulk ESS {raw['ess_bulk_min']:,.0f}), the test-set probabilities' "
        f"{fs['rhat_max']:.4f} (bulk ESS {fs['ess_bulk_min']:,.0f})"
    )
    if match.get("rhat_max") is not None:
        sentence += (
            f", and after matching the hidden units to a template {match['rhat_max']:.3f} "
            f"(bulk ESS {match['ess_bulk_min']:,.0f})"
        )
    sentence += "."
    if raw["rhat_max"] > limit >= fs["rhat_max"]:
        sentence += (
            f" The raw weights would fail the usual R-hat <= {limit:g} check while the "
            "predictions pass it."
        )
    out.append(sentence)
    if match.get("rhat_max") is not None:
        if match["rhat_max"] > limit:
            out.append(
                "Matching the units removes the permutation part, not all of it: what is left "
                "(rescaling a unit's incoming weights against its outgoing weight, and units "
                "that stay inactive) keeps the matched weights' R-hat above "
                f"{limit:g}. This is why the per-weight sd comparison below, W1's above "
                "all, is harder to read than the predictive one."
            )
        else:
            out.append(
                "Matching the units removes the permutation part; the remaining per-unit "
                "rescalings still make per-weight sds, W1's above all, harder to read than "
                "the predictive comparison."
            )
    return out


def _fidelity_verdicts(
    methods: dict[str, _Method], ref: dict, threshold: float, gate: float
) -> list[str]:
    out = []
    acc = ref.get("acceptance")
    if acc and not acc.get("passed"):
        out.append(
            "The reference FAILED its own acceptance criterion (see above): differences from it "
            "may be the reference's as much as the method's."
        )
    for m in methods.values():
        used = [e for e in m.ok if (e.get("fidelity") or {}).get("reference")]
        if not used:
            continue
        seeds = f", mean over {len(used)} seeds" if len(used) > 1 else ""
        parts = []
        sd = _fid(m, "pred_sd_ratio_median")
        if sd is not None:
            q05, q95 = _fid(m, "pred_sd_ratio_q05"), _fid(m, "pred_sd_ratio_q95")
            text = (
                f"{m.label}: its predictive sd was {sd.mean:.0%} of the reference's (median "
                f"over test points{seeds}"
            )
            if q05 is not None and q95 is not None:
                text += f"; 5% to 95% of points: {q05.mean:.0%} to {q95.mean:.0%}"
            text += ")"
            parts.append(text + ".")
        tv, agree, off = (
            _fid(m, "pred_tv_mean"),
            _fid(m, "class_agreement"),
            _fid(m, "share_mean_off_0p3sd"),
        )
        if tv is not None and agree is not None and off is not None:
            parts.append(
                f"Its predicted probabilities differ from the reference's by {tv.mean:.3f} on "
                f"average and give the same class for {agree.mean:.1%} of test points; "
                f"{off.mean:.0%} of the points' means lie more than {gate:g} reference sds away."
            )
        w = _fid(m, "weight_sd_ratio_median")
        if w is not None:
            parts.append(
                f"With the hidden units matched to the reference's, its weights' sd was "
                f"{w.mean:.0%} of the reference's (median over weights; {_by_var_cell(m)})."
            )
        khats = _khats(m)
        if khats:
            stat = _over_seeds(list(khats.values()))
            above = sum(k >= threshold for k in khats.values())
            k_text = (
                f"k-hat {stat.mean:.2f}"
                if len(khats) == 1
                else f"k-hat {stat.mean:.2f} on average, above {threshold:g} in {above} of "
                f"{len(khats)} seeds"
            )
            if above == len(khats):
                parts.append(
                    (f"{k_text} > {threshold:g}" if len(khats) == 1 else k_text)
                    + ": the approximation is not reliable for importance correction."
                )
            else:
                corr = _fid(m, "psis_pred_sd_ratio_median")
                corr_tv = _fid(m, "psis_pred_tv_mean")
                text = (
                    f"{k_text}" + (f" < {threshold:g}" if len(khats) == 1 else "") + ": "
                    "importance sampling can correct it"
                )
                if corr is not None and corr_tv is not None:
                    text += (
                        f"; corrected, its predictive sd is {corr.mean:.0%} of the reference's "
                        f"and its probabilities differ by {corr_tv.mean:.3f} on average"
                    )
                parts.append(text + ".")
        out.append(" ".join(parts))
    return [v for v in out if v]


def _fidelity(doc: dict, methods: dict[str, _Method]) -> Fidelity | None:
    ref = doc["run"].get("reference")
    if not ref:
        return None
    fids = [e.get("fidelity") or {} for m in methods.values() for e in m.ok]
    gate = next((f["gate_sd"] for f in fids if f.get("gate_sd") is not None), 0.3)
    threshold = next(
        (f["khat_threshold"] for f in fids if f.get("khat_threshold") is not None), 0.7
    )
    truth = any(f.get("truth_tv_mean") is not None for f in fids)
    cols = _fidelity_columns(gate, threshold, truth)
    rows = []
    for m in methods.values():
        seed_text = _seed_text(m)
        if not m.ok:
            rows.append(_Row(m.name, m.label, seed_text, None, "failed: no fit to compare"))
            continue
        skipped = {(e.get("fidelity") or {}).get("reference_skipped") for e in m.ok} - {None}
        if not any((e.get("fidelity") or {}).get("reference") for e in m.ok):
            why = "; ".join(sorted(str(s) for s in skipped)) or "no fidelity metrics recorded"
            rows.append(_Row(m.name, m.label, seed_text, None, f"not compared: {why}"))
            continue
        rows.append(_Row(m.name, m.label, seed_text, [get(m) for _, _, get in cols]))
    groups: list[tuple[str, int]] = []
    for group, *_ in cols:
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + 1)
        else:
            groups.append((group, 1))
    cfg = ref.get("config") or {}
    align = (ref.get("alignment") or {}).get("match") or "hidden units matched to a template"
    notes = [
        f"Every method against the reference posterior {ref.get('key')} ({cfg.get('chains')} "
        f"chains x {cfg.get('draws')} draws), one row per method.",
        "Predictions: the test-set probabilities, which no symmetry of the hidden units "
        "changes. Same class: share of test points whose mean probability is on the same side "
        "of 0.5 as the reference's. Mean and max |Δp|: total variation distance between the "
        "method's and the reference's Bernoulli predictive distributions (the difference of "
        "mean probabilities), averaged and largest over points. sd ratio: the method's "
        "predictive sd over the reference's, per test point: its median, and its 5th and 95th "
        f"percentiles over points. Means off by > {gate:g} ref. sd: share of test points "
        f"whose mean probability is more than {gate:g} reference sds from the reference's "
        "(the gate of Stan's performance tests). Wasserstein-1: distance between the draws of "
        "each test probability under the method and the reference, averaged over points.",
        f"Weights: the sd of every weight and bias within each chain (root mean square over "
        f"chains), after relabelling the hidden units of every draw ({align}); the median "
        "over all weights of the method's sd over the reference's, then per variable. Pooling "
        "chains without matching would mix modes.",
        "Importance sampling (VI only): Pareto k-hat of the importance ratios "
        "p(θ, y) / q(θ) over the approximation's draws (PSIS, Yao et al. 2018). Below "
        f"{threshold:g}, importance sampling can correct the approximation, and the corrected "
        "columns compare the reweighted predictive with the reference; above it they are n/a. "
        "ESS share: effective sample size of the smoothed weights over the number of draws.",
    ]
    if any(r.cells and "[" in " ".join(r.cells) for r in rows):
        notes.insert(
            0,
            f"Cells with an interval: mean over seeds [central {_interval_prob():.0%} interval "
            "over seeds]; the 5% to 95% range and the per-variable medians are means over seeds.",
        )
    if truth and ref.get("truth"):
        t = ref["truth"]
        notes.append(
            f"True probabilities (teacher data): the reference itself has mean |E p - p_true| "
            f"{t['tv_mean']:.3f}, RMSE {t['rmse']:.3f} and 90% interval coverage "
            f"{t['coverage_90']:.1%}."
        )
    diag_header, diag_rows = _reference_diagnostics(ref)
    return Fidelity(
        reference=_reference_rows(ref),
        diagnostics_header=diag_header,
        diagnostics=diag_rows,
        explanation=_explanation(ref),
        groups=groups,
        columns=[h for _, h, _ in cols],
        rows=rows,
        notes=notes,
        verdicts=_fidelity_verdicts(methods, ref, threshold, gate),
    )


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
    fidelity : Fidelity or None
        The "fidelity to the reference" section; None when the run had no reference.
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
    fidelity: Fidelity | None = None


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
        figures=_draw_figures(methods, doc) if figures else [],
        fidelity=_fidelity(doc, methods),
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


def _row_cells(columns: list[str], method_rows: list[_Row]) -> tuple[list[str], list[list[str]]]:
    header = ["Method", *columns]
    rows = []
    for r in method_rows:
        name = f"{r.label} ({r.seeds})"
        if r.cells is None:
            rows.append([name, r.failure or "failed"] + [""] * (len(columns) - 1))
        else:
            rows.append([name + (f"; {r.failure}" if r.failure else ""), *r.cells])
    return header, rows


def summary_markdown(rep: Report) -> str:
    """The summary table alone, as Markdown (e.g. for the README)."""
    return _md_table(*_row_cells(rep.columns, rep.rows))


def _md_figure(i: int, f: _Figure, figure_dir: str) -> list[str]:
    out = [f"### Figure {i}. {f.title}", ""]
    if f.png is not None:
        out += [f"![{f.title}]({figure_dir}/{f.name})", ""]
    return out + [f.caption, ""]


def _md_fidelity(fid: Fidelity, figures: list[tuple[int, _Figure]], figure_dir: str) -> list[str]:
    parts = ["## Fidelity to the reference", "", "### The reference posterior", ""]
    parts += [_md_table(["", ""], [[f"**{k}**", v] for k, v in fid.reference]), ""]
    parts += [_md_table(fid.diagnostics_header, fid.diagnostics), ""]
    for paragraph in fid.explanation:
        parts += [paragraph, ""]
    parts += ["### Each method against the reference", ""]
    header, rows = _row_cells(_grouped_headers(fid.groups, fid.columns), fid.rows)
    parts += [_md_table(header, rows), ""]
    parts += [f"- {n}" for n in fid.notes] + [""]
    parts += ["### Verdicts", ""] + [f"- {v}" for v in fid.verdicts] + [""]
    for i, f in figures:
        parts += _md_figure(i, f, figure_dir)
    return parts


def _grouped_headers(groups: list[tuple[str, int]], columns: list[str]) -> list[str]:
    """Column headers prefixed with their group ("Weights: sd ratio"), for flat tables."""
    names = [g for g, n in groups for _ in range(n)]
    return [f"{g}: {c}" for g, c in zip(names, columns, strict=True)]


def _numbered(rep: Report) -> dict[str, list[tuple[int, _Figure]]]:
    """Figures by section, numbered in the order they appear in the report."""
    out: dict[str, list[tuple[int, _Figure]]] = {"figures": [], "fidelity": []}
    i = 0
    for section in ("figures", "fidelity"):
        if section == "fidelity" and rep.fidelity is None:
            continue
        for f in rep.figures:
            if f.section == section:
                i += 1
                out[section].append((i, f))
    return out


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
    numbered = _numbered(rep)
    for i, f in numbered["figures"]:
        parts += _md_figure(i, f, figure_dir)
    if rep.fidelity is not None:
        parts += _md_fidelity(rep.fidelity, numbered["fidelity"], figure_dir)
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
    return _html_grouped(rep.groups, rep.columns, rep.rows, "summary-table")


def _html_grouped(
    groups: list[tuple[str, int]], columns: list[str], rows: list[_Row], table_id: str
) -> str:
    out = [
        f'<div class="scroll"><table class="summary" id="{table_id}"><thead><tr>',
        '<th class="method" rowspan="2">Method</th>',
    ]
    out += [f'<th class="group" colspan="{n}">{_h(g)}</th>' for g, n in groups]
    out.append("</tr><tr>")
    out += [f"<th>{_h(c)}</th>" for c in columns]
    out.append("</tr></thead><tbody>")
    for r in rows:
        color = figs.method_style(r.method)["color"]
        name = (
            f'<td class="method"><span class="swatch" style="background:{color}"></span>'
            f"<b>{_h(r.label)}</b><br><small>{_h(r.seeds)}</small></td>"
        )
        if r.cells is None:
            out.append(
                f'<tr>{name}<td class="failed" colspan="{len(columns)}">{_h(r.failure)}</td></tr>'
            )
            continue
        out.append(
            f"<tr>{name}" + "".join(f"<td>{_interval_br(c)}</td>" for c in r.cells) + "</tr>"
        )
        if r.failure:
            out.append(
                f'<tr><td class="method"></td><td class="failed" '
                f'colspan="{len(columns)}">{_h(r.failure)}</td></tr>'
            )
    out.append("</tbody></table></div>")
    return "".join(out)


def _interval_br(cell: str) -> str:
    # "mean [lo, hi]" -> the interval on a second, smaller line: keeps the table narrow.
    return re.sub(r" (\[[^\]]*\])", r"<br><small>\1</small>", _h(cell))


def _html_figure(i: int, f: _Figure) -> str:
    out = f'<figure id="fig-{_h(f.name.removesuffix(".png"))}"><h3>Figure {i}. {_h(f.title)}</h3>'
    if f.png is not None:
        data = base64.b64encode(f.png).decode("ascii")
        out += f'<img src="data:image/png;base64,{data}" alt="{_h(f.title)}">'
    return out + f"<figcaption>{_h(f.caption)}</figcaption></figure>"


def _html_fidelity(fid: Fidelity, figures: list[tuple[int, _Figure]]) -> list[str]:
    body = [
        '<h2 id="fidelity">Fidelity to the reference</h2>',
        "<h3>The reference posterior</h3>",
        '<table class="header" id="reference-header"><tbody>'
        + "".join(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in fid.reference)
        + "</tbody></table>",
        '<p></p><div class="scroll">'
        + _html_table(fid.diagnostics_header, fid.diagnostics, "details")
        + "</div>",
    ]
    body += [f"<p>{_h(p)}</p>" for p in fid.explanation]
    body += [
        "<h3>Each method against the reference</h3>",
        _html_grouped(fid.groups, fid.columns, fid.rows, "fidelity-table"),
        '<ul class="notes">',
    ]
    body += [f"<li>{_h(n)}</li>" for n in fid.notes]
    body += ["</ul>", "<h3>Verdicts</h3>", '<ul class="verdicts">']
    body += [f"<li>{_h(v)}</li>" for v in fid.verdicts]
    body.append("</ul>")
    body += [_html_figure(i, f) for i, f in figures]
    return body


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
    numbered = _numbered(rep)
    body += [_html_figure(i, f) for i, f in numbered["figures"]]
    if rep.fidelity is not None:
        body += _html_fidelity(rep.fidelity, numbered["fidelity"])
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
