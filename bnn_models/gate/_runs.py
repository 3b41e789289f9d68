"""The fits of ``bnn-bench run`` folders as the gate reads them: pooled, by method, checked alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bnn_models.errors import ResultsError
from bnn_models.schema import NOT_RUN, load_metrics

__all__ = ["by_method", "pool", "same_data", "settings_of", "shift_name", "value"]


def value(entry: dict, dotted: str) -> float | None:
    """A fit's metric ``section.key`` as a finite float; None when absent or not finite."""
    section, key = dotted.split(".", 1)
    got = (entry.get(section) or {}).get(key)
    if isinstance(got, int | float) and not isinstance(got, bool) and math.isfinite(got):
        return float(got)
    return None


def pool(run_dirs: Sequence[Path]) -> tuple[list[dict], list[dict]]:
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


def same_data(runs: list[dict], where: str) -> dict:
    """The first of ``runs`` (or baselines), after checking that all share its profile and data.

    Raises
    ------
    ResultsError
        A run of another profile, data file or shift, naming the field; ``where`` says why
        they must agree.
    """
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
        if shift_name(run) != shift_name(first):
            raise ResultsError(
                f"{run['path']}: field 'run.dataset.shift' is {shift_name(run)!r}, "
                f"{first['path']} has {shift_name(first)!r} ({where})"
            )
    return first


def shift_name(run: dict) -> str | None:
    """The named shift a run's (or a baseline's) data were cut by (None: not shifted)."""
    shift = run["dataset"].get("shift")
    return shift["name"] if isinstance(shift, dict) else shift


def settings_of(fit: dict) -> dict:
    """A fit's configuration without its seed: what must match between seeds and runs."""
    return {k: v for k, v in (fit.get("config") or {}).items() if k != "seed"}


def by_method(fits: list[dict]) -> dict[str, list[dict]]:
    """Fits grouped by method, each group in seed order."""
    out: dict[str, list[dict]] = {}
    for fit in sorted(fits, key=lambda f: f["seed"]):
        out.setdefault(fit["method"], []).append(fit)
    return out
