"""The report's "under dataset shift" section: a run on a named shift of the rupture data.

Shown when the fits hold a ``shift`` section (``bnn-bench run --shift NAME``): per method,
quality on the in-distribution and the shifted test rows side by side, how well its
uncertainty flags the shifted rows, and its accuracy when it abstains on the rows it is
least sure of. Methods are told apart only by what their entries hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnn_models.report.formats import Stat, over_seeds
from bnn_models.report.run import MethodRun, Row, group_widths, seed_text, styles

__all__ = ["SHIFT_COLUMNS", "ShiftSection", "accuracy_curves", "build_shift"]

#: (group, header, key of the entry's ``shift`` section, unit kind).
SHIFT_COLUMNS = (
    ("Accuracy", "in", "in_accuracy", "pct"),
    ("Accuracy", "shifted", "shifted_accuracy", "pct"),
    ("Log loss (nats)", "in", "in_log_loss", "nats3"),
    ("Log loss (nats)", "shifted", "shifted_log_loss", "nats3"),
    ("ECE", "in", "in_ece", "prob"),
    ("ECE", "shifted", "shifted_ece", "prob"),
    ("Mean predictive sd", "in", "in_pred_sd_mean", "prob"),
    ("Mean predictive sd", "shifted", "shifted_pred_sd_mean", "prob"),
    ("Flags shifted rows (AUROC)", "by sd", "auroc_sd", "prob"),
    ("Flags shifted rows (AUROC)", "by mutual info", "auroc_mutual_info", "prob"),
    ("Abstaining", "accuracy at 80% kept", "accuracy_at_80", "pct"),
)


@dataclass
class ShiftSection:
    """The section as data: the shift, the grouped table, notes and verdicts."""

    about: list[str]
    groups: list[tuple[str, int]]
    columns: list[str]
    rows: list[Row]
    notes: list[str]
    verdicts: list[str]


def _stat(m: MethodRun, key: str) -> Stat | None:
    values = [e["shift"][key] for e in m.ok if e.get("shift") and e["shift"].get(key) is not None]
    return over_seeds(values) if values else None


def accuracy_curves(methods: dict[str, MethodRun]) -> dict[str, tuple[list[float], list[float]]]:
    """Per method with shift results: kept share of rows and accuracy (mean over seeds)."""
    out = {}
    for name, m in methods.items():
        curves = [e["shift"] for e in m.ok if e.get("shift")]
        if curves:
            acc = np.mean([c["accuracy_at_coverage"] for c in curves], axis=0)
            out[name] = (list(curves[0]["coverage"]), [float(a) for a in acc])
    return out


def _verdicts(rows: dict[str, dict[str, Stat]], labels: dict[str, str]) -> list[str]:
    out = []
    by_sd = {n: s["auroc_sd"].mean for n, s in rows.items() if "auroc_sd" in s}
    if by_sd:
        best = max(by_sd, key=by_sd.__getitem__)
        worst = min(by_sd, key=by_sd.__getitem__)
        out.append(
            f"Predictive sd flags the shifted rows best for {labels[best]} (AUROC "
            f"{by_sd[best]:.3f}) and worst for {labels[worst]} ({by_sd[worst]:.3f}); 0.5 "
            "is chance."
        )
    drops = {
        n: s["in_accuracy"].mean - s["shifted_accuracy"].mean
        for n, s in rows.items()
        if "in_accuracy" in s and "shifted_accuracy" in s
    }
    if drops:
        most = max(drops, key=drops.__getitem__)
        least = min(drops, key=drops.__getitem__)
        changes = ", ".join(f"{labels[n]} {-100 * d:+.1f} points" for n, d in drops.items())
        if drops[most] > 0:
            tail = f"; it drops most for {labels[most]}."
        else:  # no method loses accuracy: the shifted rows are easier here, not harder
            tail = f"; no method loses accuracy there, {labels[least]} gains most."
        out.append(f"Accuracy changes from in-distribution to shifted rows by {changes}{tail}")
    return out


def build_shift(doc: dict, methods: dict[str, MethodRun]) -> ShiftSection | None:
    """The section, or None when no fit of the run holds shift results."""
    info = doc["run"]["dataset"].get("shift")
    if info is None or not any(e.get("shift") for m in methods.values() for e in m.ok):
        return None
    look = styles(methods)
    rows, stats = [], {}
    for name, m in methods.items():
        s = {key: st for _, _, key, _ in SHIFT_COLUMNS if (st := _stat(m, key)) is not None}
        if not s:
            rows.append(
                Row(name, m.label, seed_text(m), None, "no successful fit", look[name].color)
            )
            continue
        stats[name] = s
        cells = [s[key].show(kind) if key in s else "n/a" for _, _, key, kind in SHIFT_COLUMNS]
        rows.append(Row(name, m.label, seed_text(m), cells, None, look[name].color))
    lo, hi = info["bounds"]
    about = [
        f"Shift {info['name']!r}: trained on the {info['n_train']:,} simulations whose "
        f"{info['feature']} lies within its central {info['central']:.0%} "
        f"({lo:.4g} to {hi:.4g}, quantiles of all 2,000); tested on {info['n_test_in']:,} "
        f"held-out rows inside that range and the {info['n_test_shifted']:,} outside it "
        f"({info['below']} below, {info['above']} above).",
    ]
    notes = [
        "Mean over seeds [90% interval]. In: the in-distribution test rows; shifted: the rows "
        "outside the training range of the shift's feature. Mutual information: the "
        "epistemic part of the predictive entropy, H(mean p) - mean H(p) over draws.",
        "AUROC: how well the score (predictive sd, or mutual information) ranks shifted rows "
        "above in-distribution ones; 1 flags every shifted row first, 0.5 is chance. "
        "Accuracy at 80% kept: accuracy on the 80% of all test rows with the lowest "
        "predictive entropy (abstaining on the rest).",
    ]
    return ShiftSection(
        about=about,
        groups=group_widths([g for g, *_ in SHIFT_COLUMNS]),
        columns=[h for _, h, _, _ in SHIFT_COLUMNS],
        rows=rows,
        notes=notes,
        verdicts=_verdicts(stats, {n: methods[n].label for n in stats}),
    )
