"""Regression gate: compare a run's quality metrics with a committed, multi-seed baseline.

A baseline (``results/baseline_quick.json``) holds, per method and gated metric, the mean
and sd over the seeds of ``bnn-bench run`` folders; a check compares a run's mean with it.
Methods skipped in a run (engine not installed) are noted, not gated.

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

A code change that alters the numerics (library versions, a reordered sum) is, for these
metrics, a new seed: the rule is sized for it. Unchanged code reproduces each seed
exactly. Timings are not gated: they drift with load (compare with ``asv continuous``).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import pandas as pd
from scipy import stats

from bnn_models.data import load_dataset
from bnn_models.errors import BadInput, ResultsError
from bnn_models.inference import METHODS
from bnn_models.io import write_json
from bnn_models.metrics import METRICS, TableView
from bnn_models.runner import run_benchmark
from bnn_models.schema import NOT_RUN, load_metrics

__all__ = [
    "ALPHA",
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMA_VERSION",
    "GATED",
    "REL_FLOOR",
    "CheckResult",
    "check",
    "compare",
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

#: Gated metrics of ``metrics.json`` (``section.key``) -> the better direction: ``lower``,
#: ``higher``, or ``none`` (a move either way regresses): the metrics of
#: :data:`bnn_models.metrics.METRICS` with a ``gate``. A method is gated on those its
#: fits have (an MCMC fit has no ELBO, a VI fit no R-hat: the entry's value is None).
GATED: Mapping[str, str] = TableView(
    lambda: {m.path: m.direction for m in METRICS.values() if m.gate is not None}
)


def _per_row(path: str) -> bool:
    """Whether a gated metric is counted in test rows: its tolerance is at least one row's."""
    return any(m.path == path and m.gate == "t_per_row" for m in METRICS.values())


def _rule() -> str:
    """The tolerance rule in words, as a baseline records it."""
    per_row = [m.key for m in METRICS.values() if m.gate == "t_per_row"]
    return (
        "tol = max(t(1 - alpha, k - 1) * sd * sqrt(1/k + 1/n), rel_floor * |mean|, abs_floor): "
        "one-sided Student-t prediction bound for the mean of n new seeds given k baseline "
        "seeds (two-sided, t(1 - alpha/2), for direction 'none'); abs_floor is one test row "
        f"(1/n_test) for {' and '.join(per_row) or 'no metric'}, else 0. A metric regresses "
        "when the run's mean is worse than the baseline mean by more than tol."
    )


#: Columns of :func:`compare`'s table, in order.
_COLUMNS = "method metric better baseline sd k now n tolerance limit excess verdict detail".split()
#: The columns ``bnn-bench check`` shows.
SHOWN = [c for c in _COLUMNS if c not in ("k", "n")]
#: What a baseline keeps of each run's provenance.
_SOURCE = ("path", "commit", "created", "command", "machine", "versions")


class _Dataset(msgspec.Struct):
    name: str
    n_train: int
    n_test: int
    sha256: dict[str, str]
    shift: str | None = None


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
    failures: dict[str, dict[str, str]] = {}


class _Stat(msgspec.Struct):
    direction: Literal["lower", "higher", "none"]
    mean: float
    sd: Annotated[float, msgspec.Meta(ge=0)]
    k: Annotated[int, msgspec.Meta(ge=2)]
    abs_floor: Annotated[float, msgspec.Meta(ge=0)]


def _convert(obj: object, struct: type, path: Path, prefix: str = "") -> None:
    """``msgspec.convert``, its error in this project's words: ``field 'seeds' missing``."""
    try:
        msgspec.convert(obj, struct)
    except msgspec.ValidationError as err:
        text, _, at = str(err).partition(" - at `$")
        at = at.rstrip("`").replace("[...]", ".*")  # msgspec hides dict keys
        text = re.sub(r"`([^`]*)`", r"\1", text).replace("Invalid enum value", "unknown value")
        if missing := re.fullmatch(r"Object missing required field (\S+)", text):
            at, text = f"{at}.{missing.group(1)}", "missing"
        field = f"{prefix}{at}".lstrip(".")
        why = text if text == "missing" else f"is invalid: {text[0].lower()}{text[1:]}"
        raise ResultsError(f"{path}: field {field!r} {why}") from None


def load_baseline(path: str | Path) -> dict:
    """Read and validate a baseline file.

    Raises
    ------
    ResultsError
        Missing, corrupted, of another schema or version, or with a missing or invalid
        field; the message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        how = "bnn-bench check --write-baseline --baseline FILE --run DIR"
        raise ResultsError(f"{path}: no baseline file (create one with '{how}')")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: corrupted baseline JSON ({err})") from err
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: a baseline is a JSON object, found {type(doc).__name__}")
    for field, want in (("schema", BASELINE_SCHEMA), ("schema_version", BASELINE_SCHEMA_VERSION)):
        if doc.get(field) != want:
            raise ResultsError(
                f"{path}: field {field!r} is {doc.get(field)!r}, this bnn-bench reads {want!r}"
            )
    _convert(doc, _Baseline, path)
    for method, entries in doc["metrics"].items():
        # msgspec's error paths hide dict keys ("metrics[...]"): one entry at a time.
        if not isinstance(entries, dict) or not entries:
            raise ResultsError(f"{path}: field 'metrics.{method}' must map metrics to statistics")
        for name, st in entries.items():
            where = f"{path}: field 'metrics.{method}.{name}"
            if name not in GATED:
                raise ResultsError(f"{where}': unknown metric; gated are {sorted(GATED)}")
            _convert(st, _Stat, path, f"metrics.{method}.{name}")
            for key in ("mean", "sd", "abs_floor"):
                if not math.isfinite(st[key]):
                    raise ResultsError(f"{where}.{key}' is {st[key]}, not a finite number")
    return doc


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
    sd, k, mean : float, int, float
        Seed-to-seed sd (``ddof=1``), number (>= 2) and mean of the baseline's seeds.
    n : int
        Seeds averaged in the checked run (>= 1).
    direction : {"lower", "higher", "none"}
        ``none`` uses a two-sided interval.
    alpha, rel_floor, abs_floor : float
        False-alarm probability per metric; smallest tolerance, relative to ``|mean|``
        and absolute.

    Examples
    --------
    >>> round(tolerance(1.0, 10, 1, 100.0), 2)  # t(0.999, 9) * sqrt(1 + 1/10)
    4.51
    """
    if k < 2 or n < 1:
        raise ValueError(f"tolerance: need k >= 2 baseline seeds and n >= 1, got k={k}, n={n}")
    q = 1 - alpha / 2 if direction == "none" else 1 - alpha
    stat = float(stats.t.ppf(q, k - 1)) * sd * math.sqrt(1 / k + 1 / n)
    return max(stat, rel_floor * abs(mean), abs_floor)


def _tol(st: dict, n: int, alpha: float, rel_floor: float) -> float:
    """:func:`tolerance` of a baseline statistic (``mean``, ``sd``, ``k``, ...) for ``n`` seeds."""
    sd, k, mean, direction, floor = (st[f] for f in ("sd", "k", "mean", "direction", "abs_floor"))
    return tolerance(
        sd, int(k), n, mean, direction=direction, alpha=alpha, rel_floor=rel_floor, abs_floor=floor
    )


def _get(entry: dict, dotted: str) -> float | None:
    section, key = dotted.split(".", 1)
    value = (entry.get(section) or {}).get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _pool(run_dirs: Sequence[Path]) -> tuple[list[dict], list[dict]]:
    """Fits and run metadata of one or several ``metrics.json``; one fit per method and seed."""
    fits: dict[tuple[str, int], dict] = {}
    runs = []
    for run_dir in run_dirs:
        doc = load_metrics(run_dir)
        runs.append({"path": str(run_dir), **doc["run"]})
        for fit in doc["fits"]:
            if fit["status"] == NOT_RUN:
                continue  # the run lost its scheduler: absent, not a failure of the method
            if (key := (fit["method"], fit["seed"])) in fits:
                raise ResultsError(f"{run_dir}: {key[0]} seed {key[1]} appears in two runs")
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
        if _shift(run) != _shift(first):
            raise ResultsError(
                f"{run['path']}: field 'run.dataset.shift' is {_shift(run)!r}, "
                f"{first['path']} has {_shift(first)!r} ({where})"
            )
    return first


def _shift(run: dict) -> str | None:
    """The named shift a run's (or a baseline's) data were cut by (None: not shifted)."""
    shift = run["dataset"].get("shift")
    return shift["name"] if isinstance(shift, dict) else shift


def _defaults(method: str) -> dict:
    """The registered method's default settings (empty for an unknown method)."""
    return METHODS[method].settings().as_config() if method in METHODS else {}


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

    ``run_dirs`` are ``bnn-bench run`` folders (or their ``metrics.json``) of one profile
    and dataset, together at least 3 seeds per method (``bnn-bench run --quick --seeds
    10``); ``alpha`` and ``rel_floor`` parametrise the tolerance rule. The baseline holds
    provenance, the rule, and per method and metric the seeds' ``mean``, ``sd``, ``k``,
    ``min``, ``max``, ``direction`` and the 1-seed ``tolerance``, and under ``failures``
    the seeds whose fit failed, with the reason (a check expects them to fail again).

    Raises
    ------
    BadInput
        No runs named; :class:`ResultsError`: fewer than 3 successful seeds of a method,
        or runs of different profiles or data.
    """
    if not run_dirs:
        raise BadInput("--write-baseline: name the runs to build it from with --run DIR")
    fits, runs = _pool([Path(p) for p in run_dirs])
    first = _same_data(runs, "a baseline pools runs of one profile and dataset")
    # A fit that fails on a seed fails there every time (same seed, same numbers): the
    # baseline records it, and a check expects that seed to fail, not the others.
    failures: dict[str, dict[str, str]] = {}
    for f in fits:
        if f["status"] == "failed":
            failures.setdefault(f["method"], {})[str(f["seed"])] = str(f.get("error"))
    fits = [f for f in fits if f["status"] == "ok"]  # skipped: not installed, not gated
    n_test = int(first["dataset"]["n_test"])
    metrics: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    for method, entries in sorted(_by_method(fits).items()):
        if len(entries) < MIN_BASELINE_SEEDS:
            lost = failures.get(method, {})
            why = f" ({len(lost)} more failed: {'; '.join(lost.values())})" if lost else ""
            raise ResultsError(
                f"{method}: {len(entries)} successful seed(s) in the runs{why}, a baseline "
                f"needs at least {MIN_BASELINE_SEEDS} to measure the seed-to-seed spread"
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
            st["abs_floor"] = 1 / n_test if _per_row(name) else 0.0
            st["tolerance"] = _tol(st, 1, alpha, rel_floor)
            metrics[method][name] = st
    return {
        "schema": BASELINE_SCHEMA,
        "schema_version": BASELINE_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rule": _rule(),
        "alpha": alpha,
        "rel_floor": rel_floor,
        "note": "'tolerance' is for a 1-seed run; bnn-bench check recomputes it for n seeds.",
        "profile": first["profile"],
        "dataset": {k: first["dataset"][k] for k in ("name", "n_train", "n_test", "sha256")}
        | {"shift": _shift(first)},
        "seeds": sorted({f["seed"] for f in fits}),
        "configs": configs,
        "sources": [{k: r.get(k) for k in _SOURCE} for r in runs],
        "metrics": metrics,
        "failures": dict(sorted(failures.items())),
    }


def write_baseline(baseline: str | Path, run_dirs: Sequence[str | Path]) -> dict:
    """Build a baseline from runs (:func:`make_baseline`), write it atomically, return it."""
    doc = make_baseline(run_dirs)
    write_json(baseline, doc)
    return doc


def compare(baseline: dict, fits: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    """Compare fits (one or several seeds per method) with a baseline.

    Returns
    -------
    table : pandas.DataFrame
        One row per method and gated metric: ``better``, ``baseline`` (mean), ``sd``,
        ``k``, ``now`` (mean over the run's seeds), ``n``, ``tolerance``, ``limit``,
        ``excess`` (worse-direction move in tolerances) and ``verdict`` (``ok``,
        ``REGRESSED``, ``better``); a failed or missing fit is one ``status`` row,
        unless the baseline's fit of that seed failed too (then a note, not gated).
    notes : list of str
        Config differences; seeds that failed as in the baseline; methods of the run
        that the baseline does not gate.
    """
    rows: list[dict] = []
    notes: list[str] = []
    by_method = _by_method(fits)
    for method, gated in baseline["metrics"].items():
        entries = by_method.get(method, [])
        if entries and all(f["status"] == "skipped" for f in entries):
            notes.append(f"{method}: skipped ({entries[0].get('error')}), not gated")
            continue
        expected = baseline.get("failures", {}).get(method, {})
        failed = [f for f in entries if f["status"] != "ok"]
        if as_before := [f for f in failed if str(f["seed"]) in expected]:
            seeds = ", ".join(str(f["seed"]) for f in as_before)
            notes.append(f"{method}: seed(s) {seeds} failed, as in the baseline; not gated")
        failed = [f for f in failed if str(f["seed"]) not in expected]
        entries = [f for f in entries if f["status"] == "ok"]
        if failed or not (entries or as_before):
            why = "; ".join(f"seed {f['seed']}: {f.get('error')}" for f in failed)
            rows.append({"method": method, "metric": "status", "better": "ok"})
            rows[-1] |= {"verdict": "REGRESSED", "detail": why or "no fit in the run"}
            continue
        if not entries:
            continue
        base_cfg, now_cfg = baseline["configs"].get(method, {}), _config(entries[0])
        # A setting added after the baseline was made, left at its default, is no change.
        defaults = _defaults(method)
        if diff := [
            f"{k} {base_cfg.get(k)!r} -> {now_cfg.get(k)!r}"
            for k in sorted(set(base_cfg) | set(now_cfg))
            if base_cfg.get(k) != now_cfg.get(k)
            and not (k not in base_cfg and k in defaults and now_cfg[k] == defaults[k])
        ]:
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
            sign = {"lower": 1.0, "higher": -1.0, "none": math.nan}[st["direction"]]
            limit = st["mean"] + sign * tol  # none: no one-sided limit
            verdict = "REGRESSED" if worse > tol else ("better" if -worse > tol else "ok")
            # A metric constant over the baseline's seeds (a point estimate's zero spread) has
            # tolerance 0: any worsening is then infinitely far past it.
            excess = worse / tol if tol > 0 else (0.0 if worse <= 0 else math.inf)
            row |= {"now": now, "n": n, "tolerance": tol, "limit": limit, "excess": excess}
            rows.append(row | {"verdict": verdict, "detail": ""})
    extra = sorted(set(by_method) - set(baseline["metrics"]))
    if extra:
        notes.append(f"not in the baseline, not gated: {', '.join(extra)}")
    return pd.DataFrame(rows, columns=_COLUMNS), notes


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The verdict of :func:`check`.

    :func:`compare`'s ``table`` and ``notes``; the baseline's file and document; the
    checked run folders (a deleted temporary one for a fresh run), seeds and commits.
    """

    table: pd.DataFrame
    notes: list[str]
    baseline_path: Path
    baseline: dict
    runs: list[str]
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
        """True when no gated metric regressed."""
        return self.regressed.empty


def _fresh_run(baseline: dict, seeds: list[int], out: Path, log: Callable[[str], None]) -> None:
    data = baseline["dataset"]
    try:
        dataset = load_dataset(
            data["name"], n_train=data["n_train"], n_test=data["n_test"], shift=data.get("shift")
        )
    except BadInput as err:  # e.g. a user's data file: a fresh run cannot rebuild it
        raise BadInput(f"{err}; run 'bnn-bench run' yourself and pass --run DIR") from None
    methods = [m for m in METHODS if m in baseline["metrics"]]  # in registry order
    methods += sorted(set(baseline["metrics"]) - set(methods))
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
    methods: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> CheckResult:
    """Gate runs on a baseline.

    Parameters
    ----------
    baseline_path : path
        Baseline file (:func:`make_baseline`).
    run_dirs : path or list of path, optional
        Results folder(s) of ``bnn-bench run`` to check. Default: run the baseline's
        profile and methods now, on its first ``seeds`` seeds (default 1), in a
        temporary folder, sending progress lines to ``log`` (default: nowhere).
    methods : list of str, optional
        Gate only these of the baseline's methods (CI gates the cheap ones); the
        others are named in the notes as not gated by this check.

    Returns
    -------
    CheckResult
        ``passed`` is true when every gated metric is within tolerance.

    Raises
    ------
    ResultsError
        Bad baseline or run (naming file and field), or a run of another profile or
        dataset; :class:`BadInput`: ``seeds`` out of range.
    """
    base = load_baseline(baseline_path)
    left_out: list[str] = []
    if methods is not None:
        unknown = sorted(set(methods) - set(base["metrics"]))
        if unknown:
            raise BadInput(
                f"--methods: {', '.join(unknown)} not in the baseline {baseline_path} "
                f"(it gates {', '.join(base['metrics'])})"
            )
        left_out = [m for m in base["metrics"] if m not in methods]
        base = {**base, "metrics": {m: v for m, v in base["metrics"].items() if m in methods}}
    with tempfile.TemporaryDirectory(prefix="bnn-bench-check-") as tmp:
        if run_dirs is None:
            n = 1 if seeds is None else seeds
            if not 1 <= n <= len(base["seeds"]):
                raise BadInput(
                    f"--seeds: {n} is not between 1 and the baseline's {len(base['seeds'])} seeds"
                )
            out = Path(tmp) / "run"
            _fresh_run(base, base["seeds"][:n], out, log or (lambda line: None))
            paths: list[str | Path] = [out]
        else:
            paths = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
        if not paths:
            raise BadInput("--run: empty list of runs to check")
        fits, runs = _pool([Path(p) for p in paths])
    like = {"path": f"the baseline {baseline_path}", **base}
    _same_data([like, *runs], "a check compares like with like")
    table, notes = compare(base, fits)
    if left_out:
        notes.append(f"not gated by this check (--methods): {', '.join(left_out)}")
    return CheckResult(
        table=table,
        notes=notes,
        baseline_path=Path(baseline_path),
        baseline=base,
        runs=[r["path"] for r in runs],
        seeds=sorted({f["seed"] for f in fits}),
        commits=sorted({str(r.get("commit")) for r in runs}),
    )
