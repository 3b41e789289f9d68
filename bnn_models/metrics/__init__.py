"""Metrics of one fit, and the metric table that the gate, asv and the report read.

- :mod:`bnn_models.metrics.table`: :class:`Metric`, :data:`METRICS`,
  :func:`register_metric`; the sections of ``metrics.json`` (:data:`SECTIONS`) and
  :func:`compute_sections`, which computes a fit's entry.
- :mod:`bnn_models.metrics.builtin`: the suite's own metrics, one entry each.
- :mod:`bnn_models.metrics.fit`: the section functions (runtime, ELBO, spread,
  diagnostics, reliability); the scores of probabilities are :mod:`bnn_models.scores`.

Every function takes a :class:`~bnn_models.inference.FitResult` (and the test labels
where needed) and returns plain JSON-ready numbers; units are in the key names
(``_s`` seconds, ``_per_s`` per second) or documented.
"""

from __future__ import annotations

import numpy as np

from bnn_models.inference import FitResult
from bnn_models.metrics.builtin import BUILTIN
from bnn_models.metrics.fit import (
    diagnostics,
    elbo,
    iterations_to_within,
    reliability,
    runtime,
    spread,
    us_per_gradient_per_core,
    us_per_step,
)
from bnn_models.metrics.table import (
    ASV_SUITES,
    DIRECTIONS,
    GATES,
    METRICS,
    SECTIONS,
    FitContext,
    Metric,
    Section,
    TableView,
    Track,
    compute_sections,
    get_metric,
    register_metric,
    unregister_metric,
)
from bnn_models.scores import N_ECE_BINS, calibration, ece

__all__ = [
    "ASV_SUITES",
    "DIRECTIONS",
    "GATES",
    "METRICS",
    "N_ECE_BINS",
    "SECTIONS",
    "FitContext",
    "Metric",
    "Section",
    "TableView",
    "Track",
    "calibration",
    "compute_metrics",
    "compute_sections",
    "diagnostics",
    "ece",
    "elbo",
    "get_metric",
    "iterations_to_within",
    "register_metric",
    "reliability",
    "runtime",
    "spread",
    "unregister_metric",
    "us_per_gradient_per_core",
    "us_per_step",
]

for _metric in BUILTIN:
    register_metric(_metric)


def compute_metrics(result: FitResult, y_test: np.ndarray, *, seed: int = 0) -> dict:
    """The fit's own sections (runtime, ELBO, spread, calibration, reliability,
    diagnostics) from the test labels alone: what needs no dataset or reference.

    A run computes every section, and the table's metrics, with :func:`compute_sections`.
    """
    diag = diagnostics(result)  # R-hat and ESS once: runtime's ESS per second reuses them
    return {
        "runtime": runtime(result, diag),
        "elbo": elbo(result),
        "spread": spread(result),
        "calibration": calibration(result.p_test.mean(axis=0), y_test),
        "reliability": reliability(result, y_test, seed=seed),
        "diagnostics": diag,
    }
