"""The tables of a sweep that set its cells side by side: coverage of the true
probabilities over teacher datasets (:func:`coverage_table`) and quality and flagging under
each shift (:func:`shift_table`), from the sweep's frame of one row per successful fit
(:func:`bnn_models.report.scaling.scaling_frame`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COVERAGE", "SHIFTED", "coverage_table", "shift_table"]

#: Columns of the coverage table: quantity and header.
COVERAGE = (
    ("coverage_50", "Coverage of 50% intervals"),
    ("coverage_90", "Coverage of 90% intervals"),
    ("width_50", "Width of 50% intervals"),
    ("width_90", "Width of 90% intervals"),
)

#: Columns of the shift table: header and key of the fit entry's ``shift`` section.
SHIFTED = (
    ("Accuracy in", "in_accuracy"),
    ("Accuracy shifted", "shifted_accuracy"),
    ("Log loss in", "in_log_loss"),
    ("Log loss shifted", "shifted_log_loss"),
    ("Mean sd in", "in_pred_sd_mean"),
    ("Mean sd shifted", "shifted_pred_sd_mean"),
    ("AUROC by sd", "auroc_sd"),
    ("AUROC by mutual info", "auroc_mutual_info"),
)


def coverage_table(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per method over every fit of the sweep (cells x seeds): coverage of the true
    probabilities by the central intervals and their width, mean [5%, 95% over fits];
    None without true probabilities."""
    have = frame.dropna(subset=["coverage_90"])
    if have.empty:
        return None

    def row(label: str, g: pd.DataFrame, suffix: str = "") -> dict:
        out = {
            "Method": label,
            "Fits": str(len(g)),
            "Data sets": str(g["cell"].nunique()),
            "Own diagnostics pass": f"{int(g['passes'].sum())} of {len(g)}",
        }
        for q, header in COVERAGE:
            v = g[q + suffix]
            lo, hi = np.quantile(v, [0.05, 0.95])
            if q.startswith("width"):
                out[header] = f"{v.mean():.3f} [{lo:.3f}, {hi:.3f}]"
            else:
                out[header] = f"{100 * v.mean():.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
        return out

    rows = [row(label, g) for (_, label), g in have.groupby(["method", "label"], sort=False)]
    # The reference posterior of each cell (the same in every fit of the cell): once per cell
    refs = have.dropna(subset=["coverage_90_ref"]).drop_duplicates("cell")
    if not refs.empty:
        rows.append(
            row("reference posterior", refs, "_ref") | {"Fits": "-", "Own diagnostics pass": "-"}
        )
    return pd.DataFrame(rows)


def shift_table(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per shift and method: quality on the in-distribution and shifted test rows and the
    AUROC of flagging the shifted rows, mean [min, max] over seeds; None without shifts."""
    have = frame.dropna(subset=["shift"])
    if have.empty:
        return None
    rows = []
    for (shift, _, label), g in have.groupby(["shift", "method", "label"], sort=False):
        row = {"Shift": shift, "Method": label, "Seeds": str(len(g))}
        for header, key in SHIFTED:
            v = g[key].dropna()
            pct = "accuracy" in key
            fmt = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.3f}")
            row[header] = "n/a" if v.empty else f"{fmt(v.mean())} [{fmt(v.min())}, {fmt(v.max())}]"
        rows.append(row)
    return pd.DataFrame(rows)
