"""The reference's own noise floor: how far two independent reference runs lie apart.

Two reference posteriors of the same data, model and sampler settings, differing only in
their seed, disagree a little because each is a finite set of draws. Their disagreement on
each fidelity metric is the floor below which no method can be told apart from the
posterior: a method "at the floor" is as close to the reference as another reference is.

The floor is recorded in the primary reference's summary (``noise_floor``), with the other
run's key, seed and commit, so that every report of a run against that reference prints
it beside the fidelity numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bnn_models.errors import BadInput
from bnn_models.fidelity import function_space
from bnn_models.io import write_json
from bnn_models.refsummary import read_summary

__all__ = ["FLOOR_KEYS", "distance", "floor_text", "noise_floor", "record_noise_floor"]

#: Fidelity metrics with a floor, and how each becomes a distance from "identical" (0):
#: mean ``|dp|`` as it is, the sd ratio as ``|log ratio|``, class agreement as the disagreement.
FLOOR_KEYS = ("pred_tv_mean", "pred_sd_ratio_gmean", "class_agreement")


def distance(key: str, value: float) -> float:
    """How far ``value`` of fidelity metric ``key`` lies from a perfect match (0).

    Examples
    --------
    >>> distance("pred_tv_mean", 0.01), distance("class_agreement", 0.99)
    (0.01, 0.01...)
    >>> round(distance("pred_sd_ratio_gmean", 0.5), 3) == round(distance("pred_sd_ratio_gmean", 2.0), 3)
    True
    """
    if key == "pred_sd_ratio_gmean":
        return abs(math.log(value)) if value > 0 else math.inf
    if key == "class_agreement":
        return 1.0 - value
    return float(value)


def floor_text(key: str, value: float | None, floor: dict | None) -> str:
    """'at the floor', '3.2x the floor', or '' without a floor or a value."""
    if value is None or not floor or floor.get(key) is None:
        return ""
    d, f = distance(key, value), distance(key, floor[key])
    if d <= f:
        return "at the floor"
    if f <= 0:
        return "above the floor (0)"
    return f"{d / f:.1f}x the floor"


def _comparable(a: dict, b: dict, where: str) -> None:
    for field in ("data_hash", "model"):
        if a.get(field) != b.get(field):
            raise BadInput(f"{where}: {field} differs between the two references")
    ca = {k: v for k, v in a["config"].items() if k != "seed"}
    cb = {k: v for k, v in b["config"].items() if k != "seed"}
    if ca != cb:
        raise BadInput(f"{where}: config differs beyond the seed ({ca} against {cb})")
    if a["config"].get("seed") == b["config"].get("seed"):
        raise BadInput(f"{where}: config.seed {a['config'].get('seed')} is the same in both")


def noise_floor(summary: dict, other: dict, *, other_file: str | None = None) -> dict:
    """The floor from two reference summaries of the same settings and different seeds.

    Returns
    -------
    dict
        :data:`FLOOR_KEYS` (``other`` scored against ``summary``, as a method would be)
        plus ``pred_tv_max``; ``runs``: key, seed, commit and created of both.

    Raises
    ------
    BadInput
        Other data, model or sampler settings, or the same seed.
    """
    _comparable(summary, other, "noise floor")
    fs = function_space(
        np.asarray(other["pred_mean"]),
        np.asarray(other["pred_sd"]),
        np.asarray(summary["pred_mean"]),
        np.asarray(summary["pred_sd"]),
    )
    runs = []
    for s, name in ((summary, None), (other, other_file)):
        run = {k: s.get(k) for k in ("key", "commit", "created")}
        runs.append({**run, "seed": s["config"].get("seed"), "file": name})
    return {**{k: fs[k] for k in (*FLOOR_KEYS, "pred_tv_max")}, "runs": runs}


def record_noise_floor(primary: str | Path, other: str | Path) -> dict:
    """Write the floor of ``primary`` against ``other`` into ``primary``'s summary (atomically).

    Parameters
    ----------
    primary, other : path
        Reference summaries (``.json``) of the same data, model and settings, other seeds.

    Returns
    -------
    dict
        The floor (:func:`noise_floor`).
    """
    primary, other = Path(primary), Path(other)
    summary, second = read_summary(primary), read_summary(other)
    floor = noise_floor(summary, second, other_file=other.name)
    try:
        write_json(primary, {**summary, "noise_floor": floor})
    except OSError as err:  # pragma: no cover - the disk's doing
        raise BadInput(f"{primary}: cannot write the noise floor ({err})") from err
    return floor
