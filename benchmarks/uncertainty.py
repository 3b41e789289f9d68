"""Uncertainty where it matters, per method: under dataset shift, and as coverage of the truth.

Two fit caches of their own (other data than the rupture split): the ``bump-height`` shift
of the rupture data (trained inside the central 80% of bump heights, tested inside and
outside), and the teacher data (1,600 rows, true probabilities known). Both fit
:data:`~benchmarks.common.UNCERTAINTY_METHODS` only (the MCMC reference and the VI
methods built on PyMC's variational classes), so that the suite stays within CI's time.
"""

from __future__ import annotations

import math
import timeit

from benchmarks.common import (
    FIT_SEED,
    FIT_TIMEOUT,
    PROFILE,
    UNCERTAINTY_METHODS,
    fit_all,
    fit_entry,
    teacher,
)
from bnn_models.data import load_rupture

#: The named shift the suite tracks.
SHIFT = "bump-height"


def _value(entry: dict, section: str, key: str) -> float:
    value = (entry.get(section) or {}).get(key)
    return math.nan if value is None else float(value)


class _ShiftFits:
    """One fit per method on the shifted split, shared by every shift track."""

    def setup_cache(self) -> dict:
        return fit_all(
            PROFILE, dataset=load_rupture(shift=SHIFT, seed=FIT_SEED), methods=UNCERTAINTY_METHODS
        )

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


class ShiftUncertainty(_ShiftFits):
    """Does each method's uncertainty flag the rows outside its training range?"""

    params = ([PROFILE], UNCERTAINTY_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_shift_auroc_sd_shortfall(self, cache: dict, profile: str, method: str) -> float:
        """1 - ROC AUC of telling shifted test rows from in-distribution ones by predictive
        sd (0: every shifted row more uncertain than every other; 0.5: chance).

        Direction: lower is better.
        """
        return 1.0 - _value(fit_entry(cache, profile, method), "shift", "auroc_sd")

    track_shift_auroc_sd_shortfall.unit = "1 - AUROC"

    def track_shifted_log_loss(self, cache: dict, profile: str, method: str) -> float:
        """Log loss on the shifted test rows (nats per row).

        Direction: lower is better.
        """
        return _value(fit_entry(cache, profile, method), "shift", "shifted_log_loss")

    track_shifted_log_loss.unit = "nats"


class _TeacherFits:
    """One fit per method on the teacher data, shared by every coverage track."""

    def setup_cache(self) -> dict:
        return fit_all(PROFILE, dataset=teacher(1600), methods=UNCERTAINTY_METHODS)

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


class TruthCoverage(_TeacherFits):
    """Do the central credible intervals cover the true probabilities as often as claimed?"""

    params = ([PROFILE], UNCERTAINTY_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_coverage_90_gap(self, cache: dict, profile: str, method: str) -> float:
        """|share of test rows whose true probability is in the central 90% interval - 0.9|.

        Direction: lower is better.
        """
        coverage = _value(fit_entry(cache, profile, method), "fidelity", "truth_coverage_90")
        return abs(coverage - 0.9)

    track_coverage_90_gap.unit = "share of test rows"

    def track_coverage_50_gap(self, cache: dict, profile: str, method: str) -> float:
        """|share of test rows whose true probability is in the central 50% interval - 0.5|.

        Direction: lower is better.
        """
        coverage = _value(fit_entry(cache, profile, method), "fidelity", "truth_coverage_50")
        return abs(coverage - 0.5)

    track_coverage_50_gap.unit = "share of test rows"
