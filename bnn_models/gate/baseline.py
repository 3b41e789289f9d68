"""Baseline files of the gate: their schema, reading and validating one, building and writing one.

A baseline (``results/baseline_quick.json``) holds, per method and gated metric, the mean
and sd over the seeds of ``bnn-bench run`` folders, the tolerance rule it was made under
(:mod:`bnn_models.gate.rule`), and the seeds whose fit failed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from bnn_models.errors import BadInput, ResultsError
from bnn_models.gate._runs import by_method, pool, same_data, settings_of, shift_name, value
from bnn_models.gate.rule import ALPHA, GATED, REL_FLOOR, per_row, rule_text, stat_tolerance
from bnn_models.io import write_json
from bnn_models.schema import NOT_APPLICABLE

__all__ = [
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMA_VERSION",
    "MIN_BASELINE_SEEDS",
    "load_baseline",
    "make_baseline",
    "write_baseline",
]

BASELINE_SCHEMA = "bnn-bench/baseline"
BASELINE_SCHEMA_VERSION = 1

#: Fewest baseline seeds per method: fewer cannot estimate a spread.
MIN_BASELINE_SEEDS = 3
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
    fits, runs = pool([Path(p) for p in run_dirs])
    first = same_data(runs, "a baseline pools runs of one profile and dataset")
    # A fit that fails on a seed fails there every time (same seed, same numbers): the
    # baseline records it, and a check expects that seed to fail, not the others.
    failures: dict[str, dict[str, str]] = {}
    for f in fits:
        if f["status"] in ("failed", NOT_APPLICABLE):
            failures.setdefault(f["method"], {})[str(f["seed"])] = str(f.get("error"))
    fits = [f for f in fits if f["status"] == "ok"]  # skipped: not installed, not gated
    n_test = int(first["dataset"]["n_test"])
    metrics: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    for method, entries in sorted(by_method(fits).items()):
        if len(entries) < MIN_BASELINE_SEEDS:
            lost = failures.get(method, {})
            why = f" ({len(lost)} more failed: {'; '.join(lost.values())})" if lost else ""
            raise ResultsError(
                f"{method}: {len(entries)} successful seed(s) in the runs{why}, a baseline "
                f"needs at least {MIN_BASELINE_SEEDS} to measure the seed-to-seed spread"
            )
        configs[method] = settings_of(entries[0])
        metrics[method] = {}
        for name, direction in GATED.items():
            values = [value(f, name) for f in entries]
            if any(v is None for v in values):
                continue  # a metric this method does not have
            arr = np.asarray(values, dtype=float)
            mean, sd, k = float(arr.mean()), float(arr.std(ddof=1)), int(arr.size)
            st = {"direction": direction, "mean": mean, "sd": sd, "k": k}
            st |= {"min": float(arr.min()), "max": float(arr.max())}
            st["abs_floor"] = 1 / n_test if per_row(name) else 0.0
            st["tolerance"] = stat_tolerance(st, 1, alpha, rel_floor)
            metrics[method][name] = st
    return {
        "schema": BASELINE_SCHEMA,
        "schema_version": BASELINE_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rule": rule_text(),
        "alpha": alpha,
        "rel_floor": rel_floor,
        "note": "'tolerance' is for a 1-seed run; bnn-bench check recomputes it for n seeds.",
        "profile": first["profile"],
        "dataset": {k: first["dataset"][k] for k in ("name", "n_train", "n_test", "sha256")}
        | {"shift": shift_name(first)},
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
