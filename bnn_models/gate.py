"""Regression gate: compare a run's quality metrics with a committed, multi-seed baseline.

A baseline (``results/baseline_quick.json``) holds, for every method and gated metric,
the mean and sd over the seeds of one or several ``bnn-bench run`` folders. A check
compares the mean over a run's seeds with it, metric by metric.

Tolerance rule
--------------
With ``k`` baseline seeds of mean ``m`` and sd ``s`` (``ddof=1``) and ``n`` seeds in the
checked run, a metric may move, in its worse direction, by::

    tol = max(t(1 - alpha, k - 1) * s * sqrt(1/k + 1/n),  rel_floor * |m|,  abs_floor)

the half-width of a one-sided Student-t prediction interval for the mean of ``n`` new
seeds (two-sided, ``t(1 - alpha/2)``, for metrics with no better direction: the mean
predictive sd). ``alpha = 0.001`` per metric: with ~25 gated metrics a run whose only
change is its seeds fails less than 3% of the time (Bonferroni bound), while a real
loss of several seed-sds fails. ``rel_floor`` (1%) and ``abs_floor`` (one test row for
rates) keep a metric whose seeds happened to agree from gating on rounding noise.

A code change that alters the numerics (new library versions, a reordered sum, another
BLAS) is, for these metrics, a new seed: the rule is sized for it. Unchanged code on
the same versions reproduces each seed exactly, so it passes whatever the machine load.
Timings are not gated here: absolute times drift with machine load; compare them side
by side with ``asv continuous``.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bnn_models._io import write_json
from bnn_models.bench import load_metrics, run_benchmark
from bnn_models.inference import METHODS

__all__ = [
    "ALPHA",
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMA_VERSION",
    "GATED",
    "REL_FLOOR",
    "check_main",
    "compare",
    "load_baseline",
    "make_baseline",
    "tolerance",
    "write_baseline_main",
]

BASELINE_SCHEMA = "bnn-bench/baseline"
BASELINE_SCHEMA_VERSION = 1

#: Per-metric false-alarm probability of the prediction interval.
ALPHA = 0.001
#: Smallest tolerance, relative to the baseline mean.
REL_FLOOR = 0.01
#: Fewest baseline seeds per method: fewer cannot estimate a spread.
MIN_BASELINE_SEEDS = 3

#: Gated metrics of ``metrics.json`` (``section.key``) -> the better direction:
#: ``lower``, ``higher``, or ``none`` (a move either way is a regression).
GATED: dict[str, str] = {
    "elbo.neg_final_elbo": "lower",
    "calibration.ece": "lower",
    "calibration.brier": "lower",
    "calibration.log_loss": "lower",
    "calibration.error_rate": "lower",
    "calibration.one_minus_f1_weighted": "lower",
    "calibration.roc_auc": "higher",
    "spread.pred_sd_mean": "none",
    "diagnostics.rhat_max_pred": "lower",
    "diagnostics.ess_bulk_min_pred": "higher",
}

#: Metrics counted in test rows: their tolerance is at least one row's worth.
_PER_ROW = ("calibration.error_rate", "calibration.one_minus_f1_weighted")

_RULE = (
    "tol = max(t(1 - alpha, k - 1) * sd * sqrt(1/k + 1/n), rel_floor * |mean|, abs_floor): "
    "one-sided Student-t prediction bound for the mean of n new seeds given k baseline "
    "seeds (two-sided, t(1 - alpha/2), for direction 'none'); abs_floor is one test row "
    "(1/n_test) for error_rate and one_minus_f1_weighted, else 0. A metric regresses when "
    "the run's mean is worse than the baseline mean by more than tol."
)


def tolerance(
    sd: float,
    k: int,
    n: int,
    mean: float,
    *,
    direction: str = "lower",
    alpha: float = ALPHA,
    rel_floor: float = REL_FLOOR,
    abs_floor: float = 0.0,
) -> float:
    """Allowed move of a metric's mean over ``n`` seeds from a ``k``-seed baseline.

    Parameters
    ----------
    sd : float
        Seed-to-seed sd of the metric in the baseline (``ddof=1``).
    k : int
        Baseline seeds (>= 2).
    n : int
        Seeds averaged in the checked run (>= 1).
    mean : float
        Baseline mean (for the relative floor).
    direction : {"lower", "higher", "none"}
        ``none`` uses a two-sided interval.
    alpha : float
        False-alarm probability per metric.
    rel_floor, abs_floor : float
        Smallest tolerance, relative to ``|mean|`` and absolute.

    Returns
    -------
    float

    Examples
    --------
    >>> round(tolerance(1.0, 10, 1, 100.0), 3)  # t(0.999, 9) * sqrt(1.1)
    4.51
    """
    if k < 2 or n < 1:
        raise ValueError(f"tolerance: need k >= 2 baseline seeds and n >= 1, got k={k}, n={n}")
    q = 1 - alpha / 2 if direction == "none" else 1 - alpha
    stat = float(stats.t.ppf(q, k - 1)) * sd * math.sqrt(1 / k + 1 / n)
    return max(stat, rel_floor * abs(mean), abs_floor)


def _get(entry: dict, dotted: str) -> float | None:
    section, key = dotted.split(".", 1)
    value = (entry.get(section) or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pool(run_dirs: Sequence[Path]) -> tuple[list[dict], list[dict]]:
    """Fits and run metadata of one or several ``metrics.json``; one fit per method and seed."""
    fits: dict[tuple[str, int], dict] = {}
    runs = []
    for run_dir in run_dirs:
        doc = load_metrics(run_dir)
        runs.append({"path": str(run_dir), **doc["run"]})
        for fit in doc["fits"]:
            key = (fit["method"], fit["seed"])
            if key in fits:
                raise ValueError(
                    f"{run_dir}: {fit['method']} seed {fit['seed']} appears in two runs"
                )
            fits[key] = fit
    return list(fits.values()), runs


def _same_data(runs: list[dict], where: str) -> dict:
    first = runs[0]
    for run in runs[1:]:
        for field in ("profile",):
            if run.get(field) != first.get(field):
                raise ValueError(
                    f"{run['path']}: field 'run.{field}' is {run.get(field)!r}, "
                    f"{first['path']} has {first.get(field)!r} ({where})"
                )
        if run["dataset"]["sha256"] != first["dataset"]["sha256"]:
            raise ValueError(
                f"{run['path']}: field 'run.dataset.sha256' differs from {first['path']} ({where})"
            )
    return first


def _config(fit: dict) -> dict:
    return {k: v for k, v in (fit.get("config") or {}).items() if k != "seed"}


def make_baseline(
    run_dirs: Sequence[str | Path], *, alpha: float = ALPHA, rel_floor: float = REL_FLOOR
) -> dict:
    """Build a baseline document from the fits of one or several runs.

    Parameters
    ----------
    run_dirs : list of path
        ``bnn-bench run`` folders (or their ``metrics.json``) of one profile and dataset,
        together at least 3 seeds per method, e.g. ``bnn-bench run --quick --seeds 10``.
    alpha, rel_floor : float
        Parameters of the tolerance rule, stored in the baseline.

    Returns
    -------
    dict
        The baseline: provenance, rule, and per method and metric the seeds' ``mean``,
        ``sd``, ``k``, ``min``, ``max``, ``direction`` and the 1-seed ``tolerance``.

    Raises
    ------
    ValueError
        A failed fit, too few seeds, or runs of different profiles or data.
    """
    if not run_dirs:
        raise ValueError("--write-baseline: name the runs to build it from with --run DIR")
    paths = [Path(p) for p in run_dirs]
    fits, runs = _pool(paths)
    first = _same_data(runs, "a baseline pools runs of one profile and dataset")
    failed = [
        f"{f['method']} seed {f['seed']}: {f.get('error')}" for f in fits if f["status"] != "ok"
    ]
    if failed:
        raise ValueError(
            "baseline runs hold failed fits (rerun or drop them): " + "; ".join(failed)
        )
    n_test = int(first["dataset"]["n_test"])
    by_method: dict[str, list[dict]] = {}
    for fit in fits:
        by_method.setdefault(fit["method"], []).append(fit)
    metrics: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    for method, entries in sorted(by_method.items()):
        entries.sort(key=lambda f: f["seed"])
        if len(entries) < MIN_BASELINE_SEEDS:
            raise ValueError(
                f"{method}: {len(entries)} seed(s) in the runs, a baseline needs at "
                f"least {MIN_BASELINE_SEEDS} to measure the seed-to-seed spread"
            )
        configs[method] = _config(entries[0])
        metrics[method] = {}
        for name, direction in GATED.items():
            values = [_get(f, name) for f in entries]
            if any(v is None for v in values):
                continue  # not defined for this method (ELBO of NUTS, R-hat of VI)
            arr = np.asarray(values, dtype=float)
            mean, sd, k = float(arr.mean()), float(arr.std(ddof=1)), int(arr.size)
            floor = 1 / n_test if name in _PER_ROW else 0.0
            metrics[method][name] = {
                "direction": direction,
                "mean": mean,
                "sd": sd,
                "k": k,
                "min": float(arr.min()),
                "max": float(arr.max()),
                "abs_floor": floor,
                "tolerance": tolerance(
                    sd,
                    k,
                    1,
                    mean,
                    direction=direction,
                    alpha=alpha,
                    rel_floor=rel_floor,
                    abs_floor=floor,
                ),
            }
    return {
        "schema": BASELINE_SCHEMA,
        "schema_version": BASELINE_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rule": _RULE,
        "alpha": alpha,
        "rel_floor": rel_floor,
        "note": "'tolerance' is for a 1-seed run; bnn-bench check recomputes it for n seeds.",
        "profile": first["profile"],
        "dataset": {k: first["dataset"][k] for k in ("name", "n_train", "n_test", "sha256")},
        "seeds": sorted({f["seed"] for f in fits}),
        "configs": configs,
        "sources": [
            {k: r.get(k) for k in ("path", "commit", "created", "command", "machine", "versions")}
            for r in runs
        ],
        "metrics": metrics,
    }


def load_baseline(path: str | Path) -> dict:
    """Read and validate a baseline file.

    Raises
    ------
    ValueError
        Missing, unreadable, corrupted, of another schema or schema version, or with a
        missing or non-numeric field; the message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{path}: no baseline file (create one with 'bnn-bench check "
            "--write-baseline --baseline FILE --run DIR')"
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: corrupted baseline JSON ({err})") from err
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a baseline is a JSON object, found {type(doc).__name__}")
    if doc.get("schema") != BASELINE_SCHEMA:
        raise ValueError(
            f"{path}: field 'schema' is {doc.get('schema')!r}, expected {BASELINE_SCHEMA!r}"
        )
    if doc.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise ValueError(
            f"{path}: field 'schema_version' is {doc.get('schema_version')!r}, this "
            f"bnn-bench reads version {BASELINE_SCHEMA_VERSION}"
        )
    for field, kind in (
        ("alpha", float),
        ("rel_floor", float),
        ("profile", str),
        ("dataset", dict),
        ("seeds", list),
        ("configs", dict),
        ("metrics", dict),
    ):
        value = doc.get(field)
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool)
            if kind is float
            else isinstance(value, kind)
        )
        if not ok:
            raise ValueError(f"{path}: field {field!r} missing or not a {kind.__name__}")
    if not isinstance(doc["dataset"].get("sha256"), dict):
        raise ValueError(f"{path}: field 'dataset.sha256' missing")
    if not doc["seeds"] or not all(isinstance(s, int) for s in doc["seeds"]):
        raise ValueError(f"{path}: field 'seeds' must be a non-empty list of integers")
    for method, entries in doc["metrics"].items():
        if not isinstance(entries, dict) or not entries:
            raise ValueError(f"{path}: field 'metrics.{method}' must map metrics to statistics")
        for name, st in entries.items():
            where = f"{path}: field 'metrics.{method}.{name}"
            if name not in GATED:
                raise ValueError(f"{where}': unknown metric; gated are {sorted(GATED)}")
            if not isinstance(st, dict):
                raise ValueError(f"{where}' must be an object")
            if st.get("direction") not in ("lower", "higher", "none"):
                raise ValueError(f"{where}.direction' is {st.get('direction')!r}")
            for key in ("mean", "sd", "k", "abs_floor"):
                v = st.get(key)
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise ValueError(f"{where}.{key}' missing or not a finite number")
            if st["k"] < 2 or st["sd"] < 0:
                raise ValueError(
                    f"{where}': needs k >= 2 and sd >= 0, got k={st['k']}, sd={st['sd']}"
                )
    return doc


def compare(baseline: dict, fits: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    """Compare fits (one or several seeds per method) with a baseline.

    Returns
    -------
    table : pandas.DataFrame
        One row per method and gated metric: ``better``, ``baseline`` (mean), ``sd``,
        ``k``, ``now`` (mean over the run's seeds), ``n``, ``tolerance``, ``limit``,
        ``excess`` (worse-direction move in tolerances) and ``verdict``
        (``ok``, ``REGRESSED``, ``better``).
    notes : list of str
        Failed or missing fits, config differences, metrics missing from the run.
    """
    rows: list[dict] = []
    notes: list[str] = []
    by_method: dict[str, list[dict]] = {}
    for fit in fits:
        by_method.setdefault(fit["method"], []).append(fit)
    for method, gated in baseline["metrics"].items():
        entries = by_method.get(method, [])
        failed = [f for f in entries if f["status"] != "ok"]
        if not entries or failed:
            why = (
                "; ".join(f"seed {f['seed']}: {f.get('error')}" for f in failed)
                or "no fit in the run"
            )
            rows.append(
                {
                    "method": method,
                    "metric": "status",
                    "better": "ok",
                    "now": float("nan"),
                    "verdict": "REGRESSED",
                    "detail": why,
                }
            )
            continue
        base_cfg = baseline["configs"].get(method, {})
        now_cfg = _config(entries[0])
        diff = [
            f"{k} {base_cfg.get(k)!r} -> {now_cfg.get(k)!r}"
            for k in sorted(set(base_cfg) | set(now_cfg))
            if base_cfg.get(k) != now_cfg.get(k)
        ]
        if diff:
            notes.append(f"{method}: settings differ from the baseline's: {', '.join(diff)}")
        for name, st in gated.items():
            got = [_get(f, name) for f in entries]
            values = [v for v in got if v is not None]
            if len(values) < len(got):
                rows.append(
                    {
                        "method": method,
                        "metric": name,
                        "better": st["direction"],
                        "baseline": st["mean"],
                        "now": float("nan"),
                        "verdict": "REGRESSED",
                        "detail": "missing or non-finite in the run",
                    }
                )
                continue
            now, n = float(np.mean(values)), len(values)
            tol = tolerance(
                st["sd"],
                int(st["k"]),
                n,
                st["mean"],
                direction=st["direction"],
                alpha=baseline["alpha"],
                rel_floor=baseline["rel_floor"],
                abs_floor=st["abs_floor"],
            )
            delta = now - st["mean"]
            worse = {"lower": delta, "higher": -delta, "none": abs(delta)}[st["direction"]]
            limit = {"lower": st["mean"] + tol, "higher": st["mean"] - tol, "none": float("nan")}[
                st["direction"]
            ]
            verdict = "REGRESSED" if worse > tol else ("better" if -worse > tol else "ok")
            rows.append(
                {
                    "method": method,
                    "metric": name,
                    "better": st["direction"],
                    "baseline": st["mean"],
                    "sd": st["sd"],
                    "k": int(st["k"]),
                    "now": now,
                    "n": n,
                    "tolerance": tol,
                    "limit": limit,
                    "excess": worse / tol,
                    "verdict": verdict,
                    "detail": "",
                }
            )
    extra = sorted(set(by_method) - set(baseline["metrics"]))
    if extra:
        notes.append(f"not in the baseline, not gated: {', '.join(extra)}")
    return pd.DataFrame(rows), notes


def _format(table: pd.DataFrame) -> str:
    cols = [
        c
        for c in (
            "method",
            "metric",
            "better",
            "baseline",
            "sd",
            "now",
            "tolerance",
            "limit",
            "excess",
            "verdict",
            "detail",
        )
        if c in table
    ]
    shown = table[cols].copy()
    if "detail" in shown and not shown["detail"].fillna("").astype(bool).any():
        shown = shown.drop(columns="detail")
    with pd.option_context(
        "display.width",
        250,
        "display.max_columns",
        20,
        "display.max_colwidth",
        80,
        "display.float_format",
        "{:.5g}".format,
    ):
        return shown.to_string(index=False, na_rep="")


def _short(commit: object) -> str:
    text = str(commit)
    return text[:12] + ("-dirty" if text.endswith("-dirty") else "")


def _fresh_run(baseline: dict, n_seeds: int, out: Path, log: Callable[[str], None]) -> None:
    from bnn_models.data import load_dataset

    name = baseline["dataset"]["name"]
    if name not in ("rupture", "teacher"):
        raise ValueError(
            f"baseline dataset {name!r}: a fresh run needs 'rupture' or 'teacher'; "
            "run 'bnn-bench run' yourself and pass --run DIR"
        )
    dataset = load_dataset(
        name, n_train=baseline["dataset"]["n_train"], n_test=baseline["dataset"]["n_test"]
    )
    if n_seeds < 1 or n_seeds > len(baseline["seeds"]):
        raise ValueError(
            f"--seeds: {n_seeds} is not between 1 and the baseline's {len(baseline['seeds'])} seeds"
        )
    seeds = baseline["seeds"][:n_seeds]
    order = list(METHODS)
    methods = sorted(
        baseline["metrics"], key=lambda m: order.index(m) if m in order else len(order)
    )
    log(
        f"bnn-bench check: fresh {baseline['profile']} run of {', '.join(methods)} "
        f"on {name}, seeds {seeds} -> {out}"
    )
    run_benchmark(
        dataset,
        out,
        methods=methods,
        seeds=seeds,
        quick=baseline["profile"] == "quick",
        progressbar=False,
        log=log,
        command=f"bnn-bench check (fresh run, seeds {seeds})",
    )


def check_main(
    baseline: Path,
    run_dir: Path | Sequence[Path] | None = None,
    seeds: int | None = None,
    *,
    show_all: bool = False,
    log: Callable[[str], None] = print,
) -> int:
    """Gate a run on a baseline; print the verdict and a table.

    Parameters
    ----------
    baseline : path
        Baseline file (:func:`make_baseline`).
    run_dir : path or list of path, optional
        Results folder(s) of ``bnn-bench run`` to check. Default: run the baseline's
        profile and methods now, on its first ``seeds`` seeds, in a temporary folder.
    seeds : int, optional
        Seeds of the fresh run (default 1: the baseline's first seed).
    show_all : bool
        Print every gated metric, not only those that regressed.
    log : callable
        Where lines go.

    Returns
    -------
    int
        0 when every gated metric is within tolerance, 1 when one regressed.

    Raises
    ------
    ValueError
        Bad baseline or run (the message names file and field), or a run of another
        profile or dataset than the baseline's.
    """
    base = load_baseline(baseline)
    with tempfile.TemporaryDirectory(prefix="bnn-bench-check-") as tmp:
        if run_dir is None:
            out = Path(tmp) / "run"
            _fresh_run(base, seeds or 1, out, log)
            run_dirs = [out]
        else:
            run_dirs = (
                [Path(run_dir)] if isinstance(run_dir, str | Path) else [Path(p) for p in run_dir]
            )
        fits, runs = _pool(run_dirs)
    first = _same_data(runs, "a check pools runs of one profile and dataset")
    if first["profile"] != base["profile"]:
        raise ValueError(
            f"{first['path']}: field 'run.profile' is {first['profile']!r}, the "
            f"baseline {baseline} is {base['profile']!r}: compare like with like"
        )
    if first["dataset"]["sha256"] != base["dataset"]["sha256"]:
        raise ValueError(
            f"{first['path']}: field 'run.dataset.sha256' differs from the baseline "
            f"{baseline}'s: another dataset"
        )
    table, notes = compare(base, fits)
    run_seeds = sorted({f["seed"] for f in fits})
    commits = sorted({str(r.get("commit")) for r in runs})
    src = base.get("sources") or [{}]
    log(
        f"bnn-bench check: run {', '.join(r['path'] for r in runs)} (profile {first['profile']}, "
        f"seeds {run_seeds}, commit {', '.join(_short(c) for c in commits)}) vs baseline "
        f"{baseline} ({len(base['seeds'])} seeds, commit {_short(src[0].get('commit'))})"
    )
    for note in notes:
        log(f"note: {note}")
    bad = table[table["verdict"] == "REGRESSED"]
    better = table[table["verdict"] == "better"]
    if show_all:
        log(_format(table))
    if len(better):
        log(
            f"note: {len(better)} metric(s) better than the baseline by more than their "
            "tolerance: "
            + ", ".join(f"{r.method} {r.metric}" for r in better.itertuples())
            + " (refresh the baseline if intended)"
        )
    if len(bad):
        if not show_all:
            log(_format(bad))
        log(f"tolerance rule (baseline): {base['rule']}")
        log(f"FAILED: {len(bad)} of {len(table)} gated metrics regressed")
        return 1
    worst = table.dropna(subset=["excess"]).sort_values("excess").iloc[-1]
    log(
        f"PASSED: {len(table)} gated metrics within tolerance (closest: {worst.method} "
        f"{worst.metric} at {worst.excess:.2f} of its tolerance)"
    )
    return 0


def write_baseline_main(
    baseline: Path, run_dirs: Sequence[Path], *, log: Callable[[str], None] = print
) -> int:
    """Write a baseline file from runs (:func:`make_baseline`) and print what it holds."""
    doc = make_baseline(run_dirs)
    write_json(baseline, doc)
    log(f"bnn-bench check: wrote {baseline}: profile {doc['profile']}, seeds {doc['seeds']}")
    rows = [
        {
            "method": m,
            "metric": name,
            "better": st["direction"],
            "mean": st["mean"],
            "sd": st["sd"],
            "k": st["k"],
            "tolerance (1 seed)": st["tolerance"],
        }
        for m, entries in doc["metrics"].items()
        for name, st in entries.items()
    ]
    with pd.option_context("display.width", 200, "display.float_format", "{:.5g}".format):
        log(pd.DataFrame(rows).to_string(index=False))
    return 0
