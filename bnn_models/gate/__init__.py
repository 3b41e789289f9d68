"""Regression gate: compare a run's quality metrics with a committed, multi-seed baseline.

A baseline (``results/baseline_quick.json``) holds, per method and gated metric, the mean
and sd over the seeds of ``bnn-bench run`` folders; a check compares a run's mean with it.
Methods skipped in a run (engine not installed) are noted, not gated. Timings are not
gated: they drift with load (compare with ``asv continuous``).

One job per module: :mod:`~bnn_models.gate.rule` (the tolerance rule and the gated
metrics), :mod:`~bnn_models.gate.baseline` (the baseline file: schema, reading, building,
writing), :mod:`~bnn_models.gate.verdict` (a run compared with a baseline, and the check);
``_runs`` reads the fits of run folders for both.
"""

from __future__ import annotations

from bnn_models.gate.baseline import (
    BASELINE_SCHEMA,
    BASELINE_SCHEMA_VERSION,
    MIN_BASELINE_SEEDS,
    load_baseline,
    make_baseline,
    write_baseline,
)
from bnn_models.gate.rule import ALPHA, GATED, REL_FLOOR, tolerance
from bnn_models.gate.verdict import SHOWN, CheckResult, check, compare

__all__ = [
    "ALPHA",
    "BASELINE_SCHEMA",
    "BASELINE_SCHEMA_VERSION",
    "GATED",
    "MIN_BASELINE_SEEDS",
    "REL_FLOOR",
    "SHOWN",
    "CheckResult",
    "check",
    "compare",
    "load_baseline",
    "make_baseline",
    "tolerance",
    "write_baseline",
]
