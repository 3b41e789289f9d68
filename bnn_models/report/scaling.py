"""A sweep's report: cost growth against training rows and hidden width, and what the
cells hold side by side (coverage of the truth over teacher datasets, quality under shift).

A sweep (``bnn-bench sweep``) leaves one results folder per cell and ``sweep.json``
listing them. This module reads every cell's ``metrics.json`` into one pandas frame (one
row per successful fit), takes the median over seeds at each grid point, and fits a line
in log-log coordinates along each axis that the grid varies with the other held fixed
(:func:`scipy.stats.linregress`): the slope is the exponent of the growth (time ~ rows^slope).
The report (:func:`build_scaling`, rendered by the ``scaling.*.j2`` templates) shows the
slopes and one figure per axis where an axis has two points, the coverage of the true
probabilities where the data have them, each shift's quality and flagging side by side
where the cells are shifts, and every grid point. It is titled by what it holds.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bnn_models import figures as figs
from bnn_models.errors import ResultsError
from bnn_models.report.figures import Figure
from bnn_models.report.formats import sig
from bnn_models.report.minibatch import batch_sizes, minibatch_pays
from bnn_models.report.recommend import fit_fails
from bnn_models.report.sweep_tables import SHIFTED, coverage_table, shift_table
from bnn_models.schema import flatten_metrics, load_metrics
from bnn_models.sweep import SWEEP_SCHEMA

__all__ = [
    "AXES",
    "QUANTITIES",
    "SCALING_FIGURE_FILES",
    "coverage_table",
    "Scaling",
    "build_scaling",
    "load_sweep",
    "point_table",
    "points",
    "scaling_frame",
    "shift_table",
    "slope_table",
    "slopes",
]

#: Quantity -> (column of the fit entry, readable name, where it applies).
QUANTITIES: dict[str, tuple[str, str, str]] = {
    "total_s": ("runtime.total_s", "end-to-end time (s)", "every method"),
    "grad_evals": ("runtime.grad_evals", "gradient evaluations", "methods that count them"),
    "iterations": ("elbo.iterations", "optimiser iterations", "VI with an ELBO trace"),
    "grad_per_draw": ("runtime.grad_per_draw", "gradients per draw", "MCMC"),
    "ess_bulk_per_s": ("runtime.ess_bulk_per_s", "bulk ESS per second", "MCMC"),
    "truth_rmse": ("fidelity.truth_rmse", "RMSE to the true probabilities", "teacher data"),
    "coverage_50": ("fidelity.truth_coverage_50", "50% interval coverage", "teacher data"),
    "coverage_90": ("fidelity.truth_coverage_90", "90% interval coverage", "teacher data"),
    "width_50": ("fidelity.truth_width_50", "50% interval width", "teacher data"),
    "width_90": ("fidelity.truth_width_90", "90% interval width", "teacher data"),
    # The same for the cell's reference posterior (one value per cell, in every fit)
    "coverage_50_ref": ("fidelity.truth_coverage_50_ref", "reference 50% coverage", "reference"),
    "coverage_90_ref": ("fidelity.truth_coverage_90_ref", "reference 90% coverage", "reference"),
    "width_50_ref": ("fidelity.truth_width_50_ref", "reference 50% width", "reference"),
    "width_90_ref": ("fidelity.truth_width_90_ref", "reference 90% width", "reference"),
}

#: Axis -> (column, readable name, the column held fixed along it).
AXES: dict[str, tuple[str, str, str]] = {
    "rows": ("n_train", "training rows", "n_hidden"),
    "width": ("n_hidden", "hidden width", "n_train"),
}

#: Quantities whose slope is reported (quality is shown, not fitted).
SLOPED = ("total_s", "grad_evals", "iterations", "grad_per_draw", "ess_bulk_per_s")

#: The panels of each axis' figure: column and title.
PANELS = (
    ("total_s", "End-to-end time (s)"),
    ("grad_evals", "Gradient evaluations"),
    ("ess_bulk_per_s", "Bulk ESS per second"),
    ("truth_rmse", "RMSE to true probabilities"),
)

#: Figure file per axis, under the sweep's ``figures/``.
SCALING_FIGURE_FILES = {"rows": "scaling_rows.png", "width": "scaling_width.png"}


def load_sweep(sweep_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    """``sweep.json`` and each cell's ``metrics.json`` (by folder name).

    Raises
    ------
    ResultsError
        No or a corrupted ``sweep.json``, another schema, or a cell without results; the
        message names the file.
    """
    path = Path(sweep_dir) / "sweep.json"
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(
            f"{path}: no sweep index (was it written by 'bnn-bench sweep'?)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: corrupted JSON ({err})") from err
    if not isinstance(index, dict) or index.get("schema") != SWEEP_SCHEMA:
        got = index.get("schema") if isinstance(index, dict) else type(index).__name__
        raise ResultsError(f"{path}: field 'schema' is {got!r}; expected {SWEEP_SCHEMA!r}")
    cells = {c["folder"]: load_metrics(Path(sweep_dir) / c["folder"]) for c in index["cells"]}
    return index, cells


def scaling_frame(cells: dict[str, dict]) -> pd.DataFrame:
    """One row per successful fit: cell, dataset, rows, width, parameters, method, seed,
    and the :data:`QUANTITIES` (NaN where a method has none)."""
    rows = []
    for folder, doc in cells.items():
        data = doc["run"]["dataset"]
        shift = (data.get("shift") or {}).get("name")
        # Two shifts of the same files are different data: never pooled into one point.
        name = f"{data['name']} ({shift} shift)" if shift else data["name"]
        for fit in doc["fits"]:
            if fit["status"] != "ok":
                continue
            flat = flatten_metrics(fit)
            width = int(fit["config"]["n_hidden"])
            rows.append(
                {
                    "cell": folder,
                    "dataset": name,
                    "shift": shift,
                    "n_train": int(data["n_train"]),
                    "n_hidden": width,
                    "n_params": (data["n_features"] + 2) * width + 1,
                    "method": fit["method"],
                    "label": fit["label"],
                    "family": fit["family"],
                    "seed": fit["seed"],
                    "passes": not fit_fails(fit),
                    **{q: flat.get(col, np.nan) for q, (col, _, _) in QUANTITIES.items()},
                    **{key: flat.get(f"shift.{key}", np.nan) for _, key in SHIFTED},
                }
            )
    columns = ["cell", "dataset", "shift", "n_train", "n_hidden", "n_params", "method", "label"]
    columns += ["family", "seed", "passes", *QUANTITIES, *(key for _, key in SHIFTED)]
    return pd.DataFrame(rows, columns=columns)


def points(frame: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds per grid point and method; ``seeds``: how many fits it pools,
    ``passes``: how many of them pass their own diagnostics."""
    keys = ["dataset", "n_train", "n_hidden", "n_params", "method", "label", "family"]
    grouped = frame.groupby(keys, sort=False)
    med = grouped[list(QUANTITIES)].median()
    med.insert(0, "passes", grouped["passes"].sum())
    med.insert(0, "seeds", grouped.size())
    return med.reset_index()


def _lines(pts: pd.DataFrame, axis: str) -> list[tuple[tuple, pd.DataFrame]]:
    """The groups along ``axis``: same dataset, method and held value, >= 2 axis values."""
    col, _, held = AXES[axis]
    out = []
    for key, g in pts.groupby(["dataset", held, "method"], sort=False):
        if g[col].nunique() >= 2:
            out.append((key, g.sort_values(col)))
    return out


def slopes(fits: pd.DataFrame) -> pd.DataFrame:
    """Log-log slope (with its standard error) of each :data:`SLOPED` quantity along each
    axis, per method and held value; NaN where fewer than two points are positive.

    Fitted to every fit (:func:`scaling_frame`: each seed its own point), so that with
    several seeds per grid point the standard error holds the seed-to-seed spread too;
    ``points`` counts the fits. Fitted to :func:`points` (one median per grid point), it
    is the slope through the medians.
    """
    rows = []
    for axis, (col, _, held) in AXES.items():
        for (dataset, held_value, method), g in _lines(fits, axis):
            row = {
                "axis": axis,
                "dataset": dataset,
                "held": held,
                "held_value": int(held_value),
                "method": method,
                "label": g["label"].iloc[0],
                "family": g["family"].iloc[0],
                "start": int(g[col].min()),
                "stop": int(g[col].max()),
                "points": len(g),
            }
            for q in SLOPED:
                ok = g[q].notna() & (g[q] > 0)
                slope = stderr = np.nan
                if ok.sum() >= 2:
                    fit = stats.linregress(np.log10(g.loc[ok, col]), np.log10(g.loc[ok, q]))
                    slope = float(fit.slope)
                    stderr = float(fit.stderr) if ok.sum() >= 3 else np.nan
                row[q] = slope
                row[f"{q}_se"] = stderr
            rows.append(row)
    return pd.DataFrame(rows)


def _held_name(axis: str) -> str:
    """The readable name of what is held fixed along ``axis`` (the other axis)."""
    held = AXES[axis][2]
    return next(name for col, name, _ in AXES.values() if col == held)


def _slope_text(value: float, se: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}" + (f" ± {se:.2f}" if np.isfinite(se) else "")


def slope_table(slope_frame: pd.DataFrame) -> pd.DataFrame:
    """The slopes as text: one row per method and line (axis, range, held value)."""
    rows = []
    for r in slope_frame.itertuples(index=False):
        name = AXES[r.axis][1]
        held_name = _held_name(r.axis)
        row = {
            "Method": r.label,
            "Along": f"{name} {r.start:,}-{r.stop:,}",
            "Held": f"{held_name} {r.held_value:,} ({r.dataset})",
            "Fits": str(r.points),
        }
        for q in SLOPED:
            row[QUANTITIES[q][1]] = _slope_text(getattr(r, q), getattr(r, f"{q}_se"))
        rows.append(row)
    return pd.DataFrame(rows)


def point_table(pts: pd.DataFrame) -> pd.DataFrame:
    """Every grid point as text: method, size, seeds and the quantities' medians."""

    def num(v: float, fmt: str = "sig") -> str:
        if not np.isfinite(v):
            return "n/a"
        return f"{int(round(v)):,}" if fmt == "int" else sig(v)

    rows = []
    for r in pts.sort_values(
        ["dataset", "method", "n_hidden", "n_train"], kind="stable"
    ).itertuples(index=False):
        rows.append(
            {
                "Method": r.label,
                "Data": r.dataset,
                "Rows": f"{r.n_train:,}",
                "Width": str(r.n_hidden),
                "Parameters": f"{r.n_params:,}",
                "Seeds": str(r.seeds),
                "Own diagnostics pass": f"{r.passes} of {r.seeds}",
                "Time (s)": num(r.total_s),
                "Gradients": num(r.grad_evals, "int"),
                "Iterations": num(r.iterations, "int"),
                "Gradients per draw": num(r.grad_per_draw),
                "Bulk ESS/s": num(r.ess_bulk_per_s),
                "RMSE to truth": "n/a" if not np.isfinite(r.truth_rmse) else f"{r.truth_rmse:.4f}",
            }
        )
    return pd.DataFrame(rows)


def scaling_figures(pts: pd.DataFrame, slope_frame: pd.DataFrame) -> list[Figure]:
    """One log-log figure per axis the grid varies: the line of most points per method."""
    styles = figs.method_styles(dict(zip(pts["method"], pts["label"], strict=True)))
    out = []
    for axis, (col, name, _) in AXES.items():
        lines = _lines(pts, axis)
        if not lines:
            continue
        # Several held values (a full product grid): draw the one with the most points.
        size: Counter[tuple] = Counter()
        for key, g in lines:
            size[key[:2]] += len(g)
        dataset, held_value = size.most_common(1)[0][0]
        chosen = {k[2]: g for k, g in lines if k[:2] == (dataset, held_value)}
        own = slope_frame[
            (slope_frame["axis"] == axis)
            & (slope_frame["dataset"] == dataset)
            & (slope_frame["held_value"] == held_value)
        ]
        fitted = {(r["method"], q): r[q] for _, r in own.iterrows() for q in SLOPED}
        panels = [(q, t) for q, t in PANELS if pts[q].notna().any()]
        held_name = _held_name(axis)
        fig = figs.growth_figure(chosen, col, name, panels, fitted, styles)
        out.append(
            Figure(
                SCALING_FIGURE_FILES[axis],
                f"Growth with {name}",
                f"Median over seeds against {name} on {dataset} data at {held_name} "
                f"{held_value:,}, both axes logarithmic; the legend gives each method's fitted "
                "slope (the exponent of the growth). ESS per second applies to MCMC only; the "
                "RMSE to the true probabilities needs the teacher data.",
                figs.png_bytes(fig),
                "scaling",
            )
        )
    return out


@dataclass
class Scaling:
    """A sweep's cost-growth report as data: the frames, figures and notes."""

    title: str
    header: list[tuple[str, str]]
    frame: pd.DataFrame
    points: pd.DataFrame
    slopes: pd.DataFrame
    figures: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = "scaling"  # what it holds, and the report's file name: scaling, shift, ...
    cells: list[str] = field(default_factory=list)  # each cell's folder, with its own report
    minibatch: pd.DataFrame | None = None  # where minibatching pays (report.minibatch)


#: A sweep's report files are named by what the sweep holds (:func:`sweep_kind`).
SWEEP_KINDS = ("scaling", "shift", "coverage", "sweep")


def sweep_kind(frame: pd.DataFrame, slope_frame: pd.DataFrame) -> str:
    """What a sweep holds, which names its report: ``scaling`` (an axis with growth
    slopes), ``shift`` (dataset shifts), ``coverage`` (true probabilities) or ``sweep``."""
    if not slope_frame.empty:
        return "scaling"
    if frame["shift"].notna().any():
        return "shift"
    if frame["coverage_90"].notna().any():
        return "coverage"
    return "sweep"


def _commits(index: dict, cells: dict[str, dict]) -> str:
    """The commit the cells' fits ran at; where a cell was fitted again at another commit
    (its own ``metrics.json`` says so), each commit with the cells it made."""
    by_commit: dict[str, list[str]] = {}
    for name, doc in cells.items():
        by_commit.setdefault(str(doc["run"].get("commit", index.get("commit"))), []).append(name)
    if len(by_commit) == 1:
        return next(iter(by_commit))
    return "; ".join(f"{c} ({', '.join(names)})" for c, names in by_commit.items())


def _settings_text(overrides: dict[str, dict]) -> str:
    """The grid's settings over the methods' defaults (its ``[set.METHOD]`` tables).

    >>> _settings_text({})
    "the methods' defaults"
    >>> _settings_text({"fullrank_advi": {"max_iter": 80000}})
    "the methods' defaults, but fullrank_advi max_iter=80000"
    """
    changed = [
        f"{method} " + ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
        for method, values in sorted(overrides.items())
        if values
    ]
    return "the methods' defaults" + (", but " + "; ".join(changed) if changed else "")


def _header(index: dict, cells: dict[str, dict]) -> list[tuple[str, str]]:
    first = next(iter(cells.values()))["run"]
    grid = index.get("grid", {})
    return [
        ("Sweep", str(index.get("command") or "(library call)")),
        ("Commit", _commits(index, cells)),
        ("Created", str(index.get("created"))),
        ("Cells", ", ".join(cells)),
        ("Methods", ", ".join(first["methods"])),
        ("Seeds", ", ".join(str(s) for s in first["seeds"])),
        ("Profile", first["profile"] + (" (quick settings)" if grid.get("quick") else "")),
        ("Settings", _settings_text(first.get("overrides") or {})),
        ("Machine", f"{first['machine']['cpu']}, {first['machine']['cpu_count']} cores"),
    ]


def _title(frame: pd.DataFrame, slope_frame: pd.DataFrame) -> str:
    """The report's title, by what it holds: growth, coverage of the truth, or shifts."""
    if not slope_frame.empty:
        return "bnn-bench: cost growth with training rows and hidden width"
    n = frame["cell"].nunique()
    if frame["shift"].notna().any():
        shifts = ", ".join(dict.fromkeys(frame["shift"].dropna()))
        return f"bnn-bench: uncertainty under dataset shift ({shifts})"
    if frame["coverage_90"].notna().any():
        return f"bnn-bench: coverage of the true probabilities over {n} dataset{'s' * (n != 1)}"
    return f"bnn-bench: sweep of {n} cell{'s' * (n != 1)}"


def _notes(frame: pd.DataFrame, slope_frame: pd.DataFrame, cells: dict[str, dict]) -> list[str]:
    notes = (
        []
        if slope_frame.empty
        else [
            "Each point is the median over seeds of one method at one grid point; the slope is "
            "the least-squares line through log10(quantity) against log10(axis): time growing "
            "as rows^1 has slope 1. The standard error needs three points or more.",
            "End-to-end time covers compiling, warm-up or optimisation, sampling and the test-set "
            "predictions; gradient evaluations and gradients per draw are counted by the sampler "
            "or optimiser, so they do not depend on the machine's load.",
        ]
    )
    failed = [
        f"{f['method']} seed {f['seed']} in {cell} ({f['status']})"
        for cell, doc in cells.items()
        for f in doc["fits"]
        if f["status"] != "ok"
    ]
    if failed:
        notes.append("Not in the figures (not ok): " + "; ".join(failed) + ".")
    if frame["truth_rmse"].isna().all() and frame["shift"].isna().all():
        notes.append("No true probabilities in these data: quality is not shown (use teacher).")
    if slope_frame.empty:
        notes.append(
            "No axis of this sweep (training rows, hidden width) has two points: no growth "
            "slopes. Times are per cell as measured; compare them within one cell only."
        )
    return notes


def build_scaling(sweep_dir: str | Path, *, figures: bool = True) -> Scaling:
    """The cost-growth report of a sweep folder (``sweep.json`` and its cells).

    Raises
    ------
    ResultsError
        A missing or invalid sweep index or cell (the message names the file), or a sweep
        without one successful fit.
    """
    index, cells = load_sweep(sweep_dir)
    frame = scaling_frame(cells)
    if frame.empty:
        raise ResultsError(f"{Path(sweep_dir) / 'sweep.json'}: no cell has a successful fit")
    pts = points(frame)
    slope_frame = slopes(frame)  # every seed a point: the errors hold the seeds' spread
    rep = Scaling(
        title=_title(frame, slope_frame),
        header=_header(index, cells),
        frame=frame,
        points=pts,
        slopes=slope_frame,
        notes=_notes(frame, slope_frame, cells),
        kind=sweep_kind(frame, slope_frame),
        cells=list(cells),
        minibatch=minibatch_pays(frame, batch_sizes(cells)),
    )
    if figures:
        rep.figures = scaling_figures(pts, slope_frame)
    return rep
