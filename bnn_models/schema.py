"""The results schema: load and validate ``metrics.json``, flatten and summarise its metrics.

A leaf module: everything may import it, it imports nothing of the package but the
errors. ``metrics.json`` (schema :data:`SCHEMA`, version :data:`SCHEMA_VERSION`) holds
``run`` (provenance: commit, machine, versions, dataset, seeds, command) and ``fits``,
one entry per fit: ``method``, ``family``, ``label``, ``seed``, ``status`` (one of
:data:`STATUSES`), ``config``,
``config_hash`` and, for a successful fit, one dict of metrics per section
(``runtime``, ``elbo``, ``spread``, ``calibration``, ``diagnostics``, ``fidelity``, ...).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd

from bnn_models.errors import ResultsError

__all__ = [
    "NOT_METRICS",
    "NOT_APPLICABLE",
    "NOT_RUN",
    "STATUSES",
    "check_struct",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SEED_INTERVAL_PROB",
    "flatten_metrics",
    "load_metrics",
    "seed_table",
    "summarise_seeds",
    "validate",
]

SCHEMA = "bnn-bench/metrics"
#: Version 2 added ``family`` and ``label`` to every fit; version 1 files are upgraded
#: on load (family from what the entry holds, label = the method's name).
SCHEMA_VERSION = 2
_READS = (1, 2)

#: Central probability of the interval over seeds in every seed summary.
SEED_INTERVAL_PROB = 0.9

#: Keys of a fit entry that are not metric sections.
NOT_METRICS = frozenset(
    {
        "method",
        "family",
        "label",
        "seed",
        "status",
        "error",
        "config",
        "config_hash",
        "sampler",
        "backend",
        "convergence",
        "fit_file",
        "warnings",
        "reliability",
    }
)


#: A fit entry's ``status`` values and what they mean.
STATUSES: dict[str, str] = {
    "ok": "the fit finished and was measured",
    "failed": "the method failed on it (error: why): counts against the method",
    "skipped": "not attempted: the method's engine is not installed (error: why)",
    "not_applicable": "the method does not apply to this fit's problem (error: why, e.g. "
    "Laplace at a Hessian that is not positive definite, with its smallest eigenvalue): "
    "reported apart from failures, and it does not make the run exit 1",
    "not_run": "not run because the run lost its executor (a dask scheduler): not the "
    "method's doing, so reports and the gate treat it as absent; --resume runs it",
}

#: The status of a fit the run could not run (:data:`STATUSES`).
NOT_RUN = "not_run"
#: The status of a fit where the method does not apply (:data:`STATUSES`).
NOT_APPLICABLE = "not_applicable"


class _Fit(msgspec.Struct):
    method: str
    seed: int
    status: str
    config: dict[str, Any]
    config_hash: str


class _FitV2(_Fit):
    family: str
    label: str


class _Doc(msgspec.Struct):
    schema: str
    schema_version: int
    run: dict[str, Any]
    fits: list[dict[str, Any]]


def _message(err: msgspec.ValidationError) -> str:
    """msgspec's message in this project's words: "field 'seed' missing"."""
    text, _, where = str(err).partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    text = re.sub(r"`([^`]*)`", r"'\1'", text)
    missing = re.fullmatch(r"Object missing required field '([^']*)'", text)
    if missing:
        text = f"field {missing.group(1)!r} missing"
        return f"{where}: {text}" if where else text
    return f"field {where!r}: {text[0].lower()}{text[1:]}" if where else text


def check_struct(obj: object, struct: type, where: str) -> None:
    """Validate ``obj`` against a ``msgspec.Struct``; :class:`ResultsError` names the field."""
    try:
        msgspec.convert(obj, struct)
    except msgspec.ValidationError as err:
        raise ResultsError(f"{where}: {_message(err)}") from None


def _upgrade_v1(fit: dict) -> dict:
    """Version 1 entries lack family and label: the family follows from what they hold."""
    if fit.get("diagnostics") or "tune" in (fit.get("config") or {}):
        family = "mcmc"
    else:
        family = "vi"
    return {"family": family, "label": fit["method"], **fit}


def validate(doc: object, where: str = "metrics.json") -> dict:
    """Validate a metrics document (upgrading version 1); return it as a dict.

    Raises
    ------
    ResultsError
        Naming ``where`` and the field: a missing field, a value of the wrong type,
        another schema or an unreadable schema version.
    """
    if not isinstance(doc, dict):
        raise ResultsError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    for key in _Doc.__struct_fields__:
        if key not in doc:
            raise ResultsError(f"{where}: field {key!r} missing")
    if doc["schema"] != SCHEMA:
        raise ResultsError(f"{where}: field 'schema' is {doc['schema']!r}, expected {SCHEMA!r}")
    if doc["schema_version"] not in _READS:
        raise ResultsError(
            f"{where}: field 'schema_version' is {doc['schema_version']!r}, this bnn-bench "
            f"reads versions {', '.join(map(str, _READS))}"
        )
    check_struct(doc, _Doc, where)
    for i, fit in enumerate(doc["fits"]):
        check_struct(fit, _Fit, f"{where}: fits[{i}]")
    if doc["schema_version"] == 1:
        doc = {
            **doc,
            "schema_version": SCHEMA_VERSION,
            "fits": [_upgrade_v1(f) for f in doc["fits"]],
        }
    for i, fit in enumerate(doc["fits"]):
        check_struct(fit, _FitV2, f"{where}: fits[{i}]")
    return doc


def load_metrics(path: str | Path) -> dict:
    """Read and validate a ``metrics.json`` (or the one in folder ``path``).

    Raises
    ------
    ResultsError
        Missing, corrupted, or of another schema or version; the message names the file
        and the field.

    Examples
    --------
    >>> doc = load_metrics("results/rupture")  # doctest: +SKIP
    >>> sorted({f["family"] for f in doc["fits"]})  # doctest: +SKIP
    ['mcmc', 'vi']
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise ResultsError(f"{path}: no metrics file (was the run finished? see 'bnn-bench run')")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: corrupted JSON ({err})") from err
    return validate(doc, str(path))


def flatten_metrics(entry: dict) -> dict[str, float]:
    """Numeric scalars of every metric section of a fit entry, keyed ``section.key``.

    Booleans, lists, nested dicts and None are left out.

    Examples
    --------
    >>> flatten_metrics({"method": "m", "runtime": {"fit_s": 2, "ok": True}, "elbo": None})
    {'runtime.fit_s': 2.0}
    """
    out = {}
    for section, values in entry.items():
        if section in NOT_METRICS or not isinstance(values, dict):
            continue
        for key, val in values.items():
            if isinstance(val, int | float) and not isinstance(val, bool):
                out[f"{section}.{key}"] = float(val)
    return out


def seed_table(fits: list[dict]) -> pd.DataFrame:
    """One row per successful fit (index: method, seed), one column per scalar metric."""
    rows = [
        {"method": f["method"], "seed": f["seed"], **flatten_metrics(f)}
        for f in fits
        if f["status"] == "ok"
    ]
    if not rows:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["method", "seed"]))
    return pd.DataFrame(rows).set_index(["method", "seed"])


def summarise_seeds(fits: list[dict], *, prob: float = SEED_INTERVAL_PROB) -> dict:
    """Mean, sd and central interval of every scalar metric across seeds, per method.

    The interval is the empirical ``prob`` quantile range over seeds (linear
    interpolation, as ``numpy.quantile``); ``sd`` uses ``ddof=1`` (0 for one seed).

    Returns
    -------
    dict
        ``{method: {"n_seeds": k, "interval_prob": prob, "metrics": {"calibration.ece":
        {"mean", "sd", "lo", "hi", "n"}, ...}}}`` (methods without a successful fit left
        out).

    Examples
    --------
    >>> fits = [{"method": "m", "seed": s, "status": "ok", "calibration": {"ece": e}}
    ...         for s, e in enumerate([0.1, 0.2, 0.3])]
    >>> summarise_seeds(fits)["m"]["metrics"]["calibration.ece"]["hi"]
    0.29
    """
    table = seed_table(fits)
    out: dict = {}
    for method, group in table.groupby(level="method", sort=False):
        stats: dict[str, dict] = {}
        for key in group.columns:
            values = group[key].dropna()
            if values.empty:
                continue
            n = int(values.size)
            stats[key] = {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if n > 1 else 0.0,
                "lo": float(values.quantile((1 - prob) / 2)),
                "hi": float(values.quantile((1 + prob) / 2)),
                "n": n,
            }
        out[str(method)] = {"n_seeds": len(group), "interval_prob": prob, "metrics": stats}
    return out
