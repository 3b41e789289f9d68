"""Uncertainty where it matters, per method: under dataset shift, and as coverage of the truth.

Two fit caches of their own (other data than the rupture split): the ``bump-height`` shift
of the rupture data (trained inside the central 80% of bump heights, tested inside and
outside), and the teacher data (1,600 rows, true probabilities known). Both fit
:data:`~benchmarks.common.UNCERTAINTY_METHODS` only (the design card's set of
:data:`bnn_models.inference.METHOD_SETS`), so that the suite stays within CI's time.
Their ``track_`` benchmarks are generated from the metric table (the metrics whose ``asv``
track names ``ShiftUncertainty`` or ``TruthCoverage``).
"""

from __future__ import annotations

import timeit

from benchmarks.common import (
    FIT_SEED,
    FIT_TIMEOUT,
    PROFILE,
    UNCERTAINTY_METHODS,
    fit_all,
    metric_tracks,
    teacher,
)
from bnn_models.data import load_rupture

#: The named shift the suite tracks.
SHIFT = "bump-height"


class _ShiftFits:
    """One fit per method on the shifted split, shared by every shift track."""

    def setup_cache(self) -> dict:
        return fit_all(
            PROFILE, dataset=load_rupture(shift=SHIFT, seed=FIT_SEED), methods=UNCERTAINTY_METHODS
        )

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


@metric_tracks
class ShiftUncertainty(_ShiftFits):
    """Does each method's uncertainty flag the rows outside its training range?"""

    params = ([PROFILE], UNCERTAINTY_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1


class _TeacherFits:
    """One fit per method on the teacher data, shared by every coverage track."""

    def setup_cache(self) -> dict:
        return fit_all(PROFILE, dataset=teacher(1600), methods=UNCERTAINTY_METHODS)

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


@metric_tracks
class TruthCoverage(_TeacherFits):
    """Do the central credible intervals cover the true probabilities as often as claimed?"""

    params = ([PROFILE], UNCERTAINTY_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1
