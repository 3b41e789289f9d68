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

The functions here return data (:class:`CheckResult`, the baseline document) and raise
:class:`~bnn_models.errors.ResultsError` or :class:`~bnn_models.errors.BadInput`;
:func:`format_check` and :func:`format_baseline` give the lines ``bnn-bench check``
prints, and the command picks the exit status from :attr:`CheckResult.passed`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import pandas as pd
from scipy import stats

from bnn_models._io import write_json
from bnn_models.errors import BadInput, ResultsError
from bnn_models.inference import METHODS
from bnn_models.runner import run_benchmark
from bnn_models.schema import load_metrics

__all__ = [
    "ALPHA",
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMA_VERSION",
    "GATED",
    "MIN_BASELINE_SEEDS",
    "REL_FLOOR",
    "CheckResult",
    "check",
    "compare",
    "format_baseline",
    "format_check",
    "load_baseline",
    "make_baseline",
    "tolerance",
    "write_baseline",
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
#: ``lower``, ``higher``, or ``none`` (a move either way is a regression). A metric a
#: method does not have (no ELBO for MCMC, no R-hat for VI: the entry's value is None)
#: is not gated for it.
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

#: Columns of :func:`compare`'s table, in order.
_COLUMNS = "method metric better baseline sd k now n tolerance limit excess verdict detail".split()
_SHOWN = [c for c in _COLUMNS if c not in ("k", "n")]


# -- the baseline file's schema ------------------------------------------------------


class _Dataset(msgspec.Struct):
    name: str
    n_train: int
    n_test: int
    sha256: dict[str, str]


class _Baseline(msgspec.Struct):
    schema: str
    schema_version: int
    rule: str
    alpha: Annotated[float, msgspec.Meta(gt=0, lt=1)]
    rel_floor: Annotated[float, msgspec.Meta(ge=0, le=1)]
    profile: str
    dataset: _Dataset
    seeds: Annotated[list[int], msgspec.Meta(min_length=1)]
    configs: dict[str, dict[str, Any]]
    metrics: Annotated[dict[str, Any], msgspec.Meta(min_length=1)]
    sources: list[dict[str, Any]] = []


class _Stat(msgspec.Struct):
    direction: Literal["lower", "higher", "none"]
    mean: float
    sd: float
    k: int
    abs_floor: float


def _field(err: msgspec.ValidationError) -> tuple[str, str]:
    """The dotted field and the reason of a msgspec error: ``("dataset.sha256", "...")``."""
    text, _, where = str(err).partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    text = re.sub(r"`([^`]*)`", r"\1", text)
    missing = re.fullmatch(r"Object missing required field (\S+)", text)
    if missing:
        return ".".join(filter(None, (where, missing.group(1)))), "missing"
    return where, text[0].lower() + text[1:]


def _validate(doc: object, path: Path) -> dict:
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: a baseline is a JSON object, found {type(doc).__name__}")
    if doc.get("schema") != BASELINE_SCHEMA:
        raise ResultsError(
            f"{path}: field 'schema' is {doc.get('schema')!r}, expected {BASELINE_SCHEMA!r}"
        )
    if doc.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: field 'schema_version' is {doc.get('schema_version')!r}, this "
            f"bnn-bench reads version {BASELINE_SCHEMA_VERSION}"
        )
    try:
        msgspec.convert(doc, _Baseline)
    except msgspec.ValidationError as err:
        field, why = _field(err)
        raise ResultsError(f"{path}: field {field!r} {why}") from None
    for method, entries in doc["metrics"].items():
        # msgspec's error paths hide dict keys ("metrics[...]"): convert per entry.
        if not isinstance(entries, dict) or not entries:
            raise ResultsError(f"{path}: field 'metrics.{method}' must map metrics to statistics")
        for name, st in entries.items():
            where = f"{path}: field 'metrics.{method}.{name}"
            if name not in GATED:
                raise ResultsError(f"{where}': unknown metric; gated are {sorted(GATED)}")
            if not isinstance(st, dict):
                raise ResultsError(f"{where}' must be an object")
            try:
                msgspec.convert(st, _Stat)
            except msgspec.ValidationError as err:
                key = _field(err)[0]
                if key == "direction":
                    raise ResultsError(f"{where}.direction' is {st.get('direction')!r}") from None
                raise ResultsError(f"{where}.{key}' missing or not a finite number") from None
            for key in ("mean", "sd", "abs_floor"):
                if not math.isfinite(st[key]):
                    raise ResultsError(f"{where}.{key}' missing or not a finite number")
            if st["k"] < 2 or st["sd"] < 0:
                raise ResultsError(
                    f"{where}': needs k >= 2 and sd >= 0, got k={st['k']}, sd={st['sd']}"
                )
    return doc


def load_baseline(path: str | Path) -> dict:
    """Read and validate a baseline file.

    Returns
    -------
    dict
        The baseline document (:func:`make_baseline`).

    Raises
    ------
    ResultsError
        Missing, unreadable, corrupted, of another schema or schema version, or with a
        missing or ill-typed field; the message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ResultsError(
            f"{path}: no baseline file (create one with 'bnn-bench check "
            "--write-baseline --baseline FILE --run DIR')"
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: corrupted baseline JSON ({err})") from err
    return _validate(doc, path)


# -- the rule ------------------------------------------------------------------------


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


def _tol(st: dict, n: int, alpha: float, rel_floor: float) -> float:
    """:func:`tolerance` of a baseline statistic (``mean``, ``sd``, ``k``, ...) for ``n`` seeds."""
    return tolerance(
        st["sd"],
        int(st["k"]),
        n,
        st["mean"],
        direction=st["direction"],
        alpha=alpha,
        rel_floor=rel_floor,
        abs_floor=st["abs_floor"],
    )


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
                raise ResultsError(
                    f"{run_dir}: {fit['method']} seed {fit['seed']} appears in two runs"
                )
            fits[key] = fit
    return list(fits.values()), runs


def _same_data(runs: list[dict], where: str) -> dict:
    first = runs[0]
    for run in runs[1:]:
        if run.get("profile") != first.get("profile"):
            raise ResultsError(
                f"{run['path']}: field 'run.profile' is {run.get('profile')!r}, "
                f"{first['path']} has {first.get('profile')!r} ({where})"
            )
        if run["dataset"]["sha256"] != first["dataset"]["sha256"]:
            raise ResultsError(
                f"{run['path']}: field 'run.dataset.sha256' differs from {first['path']} ({where})"
            )
    return first


def _config(fit: dict) -> dict:
    return {k: v for k, v in (fit.get("config") or {}).items() if k != "seed"}


def _by_method(fits: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for fit in sorted(fits, key=lambda f: f["seed"]):
        out.setdefault(fit["method"], []).append(fit)
    return out


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
    BadInput
        No runs named.
    ResultsError
        A failed fit, too few seeds, or runs of different profiles or data.
    """
    if not run_dirs:
        raise BadInput("--write-baseline: name the runs to build it from with --run DIR")
    fits, runs = _pool([Path(p) for p in run_dirs])
    first = _same_data(runs, "a baseline pools runs of one profile and dataset")
    failed = [
        f"{f['method']} seed {f['seed']}: {f.get('error')}" for f in fits if f["status"] != "ok"
    ]
    if failed:
        raise ResultsError(
            "baseline runs hold failed fits (rerun or drop them): " + "; ".join(failed)
        )
    n_test = int(first["dataset"]["n_test"])
    metrics: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    for method, entries in sorted(_by_method(fits).items()):
        if len(entries) < MIN_BASELINE_SEEDS:
            raise ResultsError(
                f"{method}: {len(entries)} seed(s) in the runs, a baseline needs at "
                f"least {MIN_BASELINE_SEEDS} to measure the seed-to-seed spread"
            )
        configs[method] = _config(entries[0])
        metrics[method] = {}
        for name, direction in GATED.items():
            values = [_get(f, name) for f in entries]
            if any(v is None for v in values):
                continue  # a metric this method does not have
            arr = np.asarray(values, dtype=float)
            mean, sd, k = float(arr.mean()), float(arr.std(ddof=1)), int(arr.size)
            st = {"direction": direction, "mean": mean, "sd": sd, "k": k}
            st |= {"min": float(arr.min()), "max": float(arr.max())}
            st["abs_floor"] = 1 / n_test if name in _PER_ROW else 0.0
            st["tolerance"] = _tol(st, 1, alpha, rel_floor)
            metrics[method][name] = st
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


def write_baseline(baseline: str | Path, run_dirs: Sequence[str | Path]) -> dict:
    """Build a baseline from runs (:func:`make_baseline`) and write it atomically.

    Returns
    -------
    dict
        The document written to ``baseline``.

    Raises
    ------
    BadInput, ResultsError
        As :func:`make_baseline`.
    """
    doc = make_baseline(run_dirs)
    write_json(baseline, doc)
    return doc


def _status_row(method: str, detail: str) -> dict:
    return dict(method=method, metric="status", better="ok", verdict="REGRESSED", detail=detail)


def compare(baseline: dict, fits: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    """Compare fits (one or several seeds per method) with a baseline.

    Returns
    -------
    table : pandas.DataFrame
        One row per method and gated metric: ``better``, ``baseline`` (mean), ``sd``,
        ``k``, ``now`` (mean over the run's seeds), ``n``, ``tolerance``, ``limit``,
        ``excess`` (worse-direction move in tolerances) and ``verdict``
        (``ok``, ``REGRESSED``, ``better``); a failed or missing fit is one ``status`` row.
    notes : list of str
        Config differences and methods of the run that the baseline does not gate.
    """
    rows: list[dict] = []
    notes: list[str] = []
    by_method = _by_method(fits)
    for method, gated in baseline["metrics"].items():
        entries = by_method.get(method, [])
        failed = [f for f in entries if f["status"] != "ok"]
        if not entries or failed:
            why = "; ".join(f"seed {f['seed']}: {f.get('error')}" for f in failed)
            rows.append(_status_row(method, why or "no fit in the run"))
            continue
        base_cfg, now_cfg = baseline["configs"].get(method, {}), _config(entries[0])
        diff = [
            f"{k} {base_cfg.get(k)!r} -> {now_cfg.get(k)!r}"
            for k in sorted(set(base_cfg) | set(now_cfg))
            if base_cfg.get(k) != now_cfg.get(k)
        ]
        if diff:
            notes.append(f"{method}: settings differ from the baseline's: {', '.join(diff)}")
        for name, st in gated.items():
            row = {"method": method, "metric": name, "better": st["direction"]}
            row |= {"baseline": st["mean"], "sd": st["sd"], "k": int(st["k"])}
            got = [_get(f, name) for f in entries]
            values = [v for v in got if v is not None]
            if len(values) < len(got):
                rows.append(
                    row | {"verdict": "REGRESSED", "detail": "missing or non-finite in the run"}
                )
                continue
            now, n = float(np.mean(values)), len(values)
            tol = _tol(st, n, baseline["alpha"], baseline["rel_floor"])
            delta = now - st["mean"]
            worse = {"lower": delta, "higher": -delta, "none": abs(delta)}[st["direction"]]
            limit = {"lower": st["mean"] + tol, "higher": st["mean"] - tol}.get(
                st["direction"], math.nan
            )
            verdict = "REGRESSED" if worse > tol else ("better" if -worse > tol else "ok")
            row |= {"now": now, "n": n, "tolerance": tol, "limit": limit, "excess": worse / tol}
            rows.append(row | {"verdict": verdict, "detail": ""})
    extra = sorted(set(by_method) - set(baseline["metrics"]))
    if extra:
        notes.append(f"not in the baseline, not gated: {', '.join(extra)}")
    return pd.DataFrame(rows, columns=_COLUMNS), notes


# -- check ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The verdict of :func:`check`.

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`compare`'s table: one row per method and gated metric.
    notes : list of str
        Config differences and ungated methods.
    baseline_path : pathlib.Path
        The baseline file.
    baseline : dict
        The baseline document (:func:`load_baseline`).
    runs : list of str
        The checked run folders (a temporary, deleted one for a fresh run).
    profile : str
        The runs' profile (the baseline's).
    seeds : list of int
        Seeds of the checked fits.
    commits : list of str
        Commits of the checked runs.
    """

    table: pd.DataFrame
    notes: list[str]
    baseline_path: Path
    baseline: dict
    runs: list[str]
    profile: str
    seeds: list[int]
    commits: list[str]

    @property
    def regressed(self) -> pd.DataFrame:
        """Rows whose verdict is ``REGRESSED``."""
        return self.table[self.table["verdict"] == "REGRESSED"]

    @property
    def better(self) -> pd.DataFrame:
        """Rows better than the baseline by more than their tolerance."""
        return self.table[self.table["verdict"] == "better"]

    @property
    def passed(self) -> bool:
        """True when no gated metric regressed (and there was one to gate)."""
        return len(self.table) > 0 and self.regressed.empty


def _fresh_run(baseline: dict, seeds: list[int], out: Path, log: Callable[[str], None]) -> None:
    from bnn_models.data import load_dataset

    data = baseline["dataset"]
    dataset = load_dataset(data["name"], n_train=data["n_train"], n_test=data["n_test"])
    order = list(METHODS)
    methods = sorted(
        baseline["metrics"], key=lambda m: order.index(m) if m in order else len(order)
    )
    log(
        f"bnn-bench check: fresh {baseline['profile']} run of {', '.join(methods)} "
        f"on {data['name']}, seeds {seeds} -> {out}"
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


def check(
    baseline_path: str | Path,
    run_dirs: str | Path | Sequence[str | Path] | None = None,
    seeds: int | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> CheckResult:
    """Gate runs on a baseline.

    Parameters
    ----------
    baseline_path : path
        Baseline file (:func:`make_baseline`).
    run_dirs : path or list of path, optional
        Results folder(s) of ``bnn-bench run`` to check. Default: run the baseline's
        profile and methods now, on its first ``seeds`` seeds, in a temporary folder.
    seeds : int, optional
        Seeds of the fresh run (default 1: the baseline's first seed).
    log : callable, optional
        Where the fresh run's progress lines go (default: nowhere).

    Returns
    -------
    CheckResult
        ``passed`` is true when every gated metric is within tolerance.

    Raises
    ------
    ResultsError
        Bad baseline or run (the message names file and field), or a run of another
        profile or dataset than the baseline's.
    BadInput
        ``seeds`` outside 1 .. the baseline's seeds.

    Examples
    --------
    >>> result = check("results/baseline_quick.json", ["results/quick"])  # doctest: +SKIP
    >>> print("\\n".join(format_check(result)))  # doctest: +SKIP
    """
    base = load_baseline(baseline_path)
    with tempfile.TemporaryDirectory(prefix="bnn-bench-check-") as tmp:
        if run_dirs is None:
            n = 1 if seeds is None else seeds
            if not 1 <= n <= len(base["seeds"]):
                raise BadInput(
                    f"--seeds: {n} is not between 1 and the baseline's {len(base['seeds'])} seeds"
                )
            out = Path(tmp) / "run"
            _fresh_run(base, base["seeds"][:n], out, log or (lambda line: None))
            paths = [out]
        else:
            paths = (
                [Path(run_dirs)]
                if isinstance(run_dirs, str | Path)
                else [Path(p) for p in run_dirs]
            )
        if not paths:
            raise BadInput("--run: empty list of runs to check")
        fits, runs = _pool(paths)
    first = _same_data(runs, "a check pools runs of one profile and dataset")
    if first["profile"] != base["profile"]:
        raise ResultsError(
            f"{first['path']}: field 'run.profile' is {first['profile']!r}, the "
            f"baseline {baseline_path} is {base['profile']!r}: compare like with like"
        )
    if first["dataset"]["sha256"] != base["dataset"]["sha256"]:
        raise ResultsError(
            f"{first['path']}: field 'run.dataset.sha256' differs from the baseline "
            f"{baseline_path}'s: another dataset"
        )
    table, notes = compare(base, fits)
    return CheckResult(
        table=table,
        notes=notes,
        baseline_path=Path(baseline_path),
        baseline=base,
        runs=[r["path"] for r in runs],
        profile=first["profile"],
        seeds=sorted({f["seed"] for f in fits}),
        commits=sorted({str(r.get("commit")) for r in runs}),
    )


# -- presentation --------------------------------------------------------------------


def _to_string(table: pd.DataFrame, width: int = 250) -> str:
    options = {"display.width": width, "display.max_columns": 20, "display.max_colwidth": 80}
    with pd.option_context(
        *itertools.chain(*options.items()), "display.float_format", "{:.5g}".format
    ):
        return table.to_string(index=False, na_rep="")


def _format_table(table: pd.DataFrame) -> str:
    shown = table[_SHOWN]
    if not shown["detail"].fillna("").astype(bool).any():
        shown = shown.drop(columns="detail")
    return _to_string(shown)


def _short(commit: object) -> str:
    text = str(commit)
    return text[:12] + ("-dirty" if text.endswith("-dirty") else "")


def format_check(result: CheckResult, show_all: bool = False) -> list[str]:
    """The lines ``bnn-bench check`` prints: header, notes, table and verdict.

    Parameters
    ----------
    result : CheckResult
        From :func:`check`.
    show_all : bool
        Show every gated metric, not only those that regressed.

    Returns
    -------
    list of str
        Ending in ``PASSED: ...`` or ``FAILED: k of N gated metrics regressed``.
    """
    base, table = result.baseline, result.table
    src = base.get("sources") or [{}]
    lines = [
        f"bnn-bench check: run {', '.join(result.runs)} (profile {result.profile}, "
        f"seeds {result.seeds}, commit {', '.join(_short(c) for c in result.commits)}) vs "
        f"baseline {result.baseline_path} ({len(base['seeds'])} seeds, commit "
        f"{_short(src[0].get('commit'))})"
    ]
    lines += [f"note: {note}" for note in result.notes]
    if show_all:
        lines.append(_format_table(table))
    if len(result.better):
        lines.append(
            f"note: {len(result.better)} metric(s) better than the baseline by more than their "
            "tolerance: "
            + ", ".join(f"{r.method} {r.metric}" for r in result.better.itertuples())
            + " (refresh the baseline if intended)"
        )
    bad = result.regressed
    if len(bad):
        if not show_all:
            lines.append(_format_table(bad))
        lines.append(f"tolerance rule (baseline): {base['rule']}")
        lines.append(f"FAILED: {len(bad)} of {len(table)} gated metrics regressed")
    elif table.empty:
        lines.append("FAILED: the baseline gates no metric of these runs")
    else:
        worst = table.sort_values("excess").iloc[-1]
        lines.append(
            f"PASSED: {len(table)} gated metrics within tolerance (closest: {worst.method} "
            f"{worst.metric} at {worst.excess:.2f} of its tolerance)"
        )
    return lines


def format_baseline(doc: dict, path: str | Path | None = None) -> list[str]:
    """The lines ``bnn-bench check --write-baseline`` prints: what the baseline holds.

    Parameters
    ----------
    doc : dict
        A baseline document (:func:`make_baseline`, :func:`load_baseline`).
    path : path, optional
        Where it was written, named in the first line.
    """
    where = f"wrote {path}: " if path is not None else "baseline: "
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
    return [
        f"bnn-bench check: {where}profile {doc['profile']}, seeds {doc['seeds']}",
        _to_string(pd.DataFrame(rows), width=200),
    ]
