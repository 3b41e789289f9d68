"""Where minibatching pays: each minibatch method against each full-batch method along a
sweep's training-rows axis, in time and in fidelity to the true probabilities.

A method is a minibatch method by what its fits record, a ``batch_size`` in their settings
(where it covers every row, that fit is full-batch in fact: the table says so, and it
never pays); every other method on the same line (same data and hidden width) is a
full-batch comparator. At each number of rows, the minibatch method *pays* against a
comparator when its median end-to-end time is lower than the comparator's median by more
than the comparator's own seed-to-seed range of times there, **and** its median RMSE to
the true probabilities is no worse than the comparator's median plus the comparator's own
seed-to-seed range of RMSEs (with one seed, a plain comparison): a difference within the
comparator's seed noise is no answer. The answer is the smallest number of rows from which
it pays at every larger size of the grid, or that it never does here. Teacher data only:
elsewhere there are no true probabilities to judge by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnn_models.report.formats import sig

__all__ = ["batch_sizes", "minibatch_pays", "minibatch_table"]


def batch_sizes(cells: dict[str, dict]) -> dict[tuple[str, str], int]:
    """``(cell, method) -> batch size`` for every fit whose settings hold one, at most the
    cell's training rows (a larger batch covers every row)."""
    out: dict[tuple[str, str], int] = {}
    for folder, doc in cells.items():
        rows = int(doc["run"]["dataset"]["n_train"])
        for fit in doc["fits"]:
            size = (fit.get("config") or {}).get("batch_size")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                out[(folder, fit["method"])] = min(size, rows)
    return out


def minibatch_pays(frame: pd.DataFrame, minibatch: dict) -> pd.DataFrame:
    """One row per (line, minibatch method, comparator, rows): medians over seeds of time
    and RMSE to truth on both sides, the comparator's time and RMSE ranges over seeds,
    whether the minibatch method pays there.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`bnn_models.report.scaling.scaling_frame` (one row per ok fit).
    minibatch : dict
        :func:`batch_sizes` of the sweep's cells.
    """
    columns = ["dataset", "n_hidden", "method", "label", "against", "against_label", "n_train"]
    columns += ["batch_size", "time", "time_against", "time_range_against"]
    columns += ["rmse", "rmse_against", "range_against"]
    columns += ["pays"]
    have = frame.dropna(subset=["truth_rmse", "total_s"])
    if have.empty or not minibatch:
        return pd.DataFrame(columns=columns)
    is_mb = have["method"].isin({method for _, method in minibatch})
    rows = []
    for (dataset, width), line in have.groupby(["dataset", "n_hidden"], sort=False):
        mb, full = line[is_mb.loc[line.index]], line[~is_mb.loc[line.index]]
        for (method, label), m in mb.groupby(["method", "label"], sort=False):
            for (against, against_label), f in full.groupby(["method", "label"], sort=False):
                for n, m_at in m.groupby("n_train"):
                    f_at = f[f["n_train"] == n]
                    if f_at.empty:
                        continue
                    spread = float(f_at["truth_rmse"].max() - f_at["truth_rmse"].min())
                    t_spread = float(f_at["total_s"].max() - f_at["total_s"].min())
                    t, t_f = float(m_at["total_s"].median()), float(f_at["total_s"].median())
                    r, r_f = float(m_at["truth_rmse"].median()), float(f_at["truth_rmse"].median())
                    batch = minibatch.get((m_at["cell"].iloc[0], method), int(n))
                    rows.append(
                        {
                            "dataset": dataset,
                            "n_hidden": int(width),
                            "method": method,
                            "label": label,
                            "against": against,
                            "against_label": against_label,
                            "n_train": int(n),
                            "batch_size": batch,
                            "time": t,
                            "time_against": t_f,
                            "time_range_against": t_spread,
                            "rmse": r,
                            "rmse_against": r_f,
                            "range_against": spread,
                            "pays": bool(batch < n and t < t_f - t_spread and r <= r_f + spread),
                        }
                    )
    return pd.DataFrame(rows, columns=columns)


def _from(sizes: pd.DataFrame) -> str:
    """The smallest rows from which every larger size pays, or why there is none."""
    ordered = sizes.sort_values("n_train")
    pays = ordered["pays"].to_numpy()
    if not pays.any():
        return "never on this grid"
    if not pays[-1]:
        return "not at the largest size"
    first = len(pays) - int(np.argmin(pays[::-1])) if not pays.all() else 0
    return f"{int(ordered['n_train'].iloc[first]):,} rows"


def minibatch_table(pays: pd.DataFrame) -> pd.DataFrame | None:
    """The answer as text: per minibatch method and comparator, the rows it pays from,
    then at each size the time ratio and both RMSEs (a tick where it pays); None without
    a minibatch method on a line of two sizes or more."""
    if pays.empty:
        return None
    rows = []
    keys = ["dataset", "n_hidden", "method", "label", "against", "against_label"]
    for (dataset, width, _, label, _, against), g in pays.groupby(keys, sort=False):
        if g["n_train"].nunique() < 2:
            continue
        row = {
            "Minibatch method": label,
            "Against": against,
            "Data": f"{dataset}, width {width}",
            "Pays from": _from(g),
        }
        for r in g.sort_values("n_train").itertuples(index=False):
            row[f"{r.n_train:,} rows"] = (
                f"{'✓ ' if r.pays else ''}{sig(r.time / r.time_against)}x time, "
                f"RMSE {r.rmse:.4f} vs {r.rmse_against:.4f} "
                + (f"(batch {r.batch_size:,})" if r.batch_size < r.n_train else "(every row)")
            )
        rows.append(row)
    return pd.DataFrame(rows).fillna("n/a") if rows else None
