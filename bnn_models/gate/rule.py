"""The gate's tolerance rule: how far a metric's mean may move from its baseline's.

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

import math
from collections.abc import Mapping

from scipy import stats

from bnn_models.metrics import METRICS, TableView

__all__ = [
    "ALPHA",
    "GATED",
    "REL_FLOOR",
    "per_row",
    "rule_text",
    "stat_tolerance",
    "tolerance",
]

#: Per-metric false-alarm probability of the prediction interval.
ALPHA = 0.001
#: Smallest tolerance, relative to the baseline mean.
REL_FLOOR = 0.01

#: Gated metrics of ``metrics.json`` (``section.key``) -> the better direction: ``lower``,
#: ``higher``, or ``none`` (a move either way regresses): the metrics of
#: :data:`bnn_models.metrics.METRICS` with a ``gate``. A method is gated on those its
#: fits have (an MCMC fit has no ELBO, a VI fit no R-hat: the entry's value is None).
GATED: Mapping[str, str] = TableView(
    lambda: {m.path: m.direction for m in METRICS.values() if m.gate is not None}
)


def per_row(path: str) -> bool:
    """Whether a gated metric is counted in test rows: its tolerance is at least one row's."""
    return any(m.path == path and m.gate == "t_per_row" for m in METRICS.values())


def rule_text() -> str:
    """The tolerance rule in words, as a baseline records it."""
    rows = [m.key for m in METRICS.values() if m.gate == "t_per_row"]
    return (
        "tol = max(t(1 - alpha, k - 1) * sd * sqrt(1/k + 1/n), rel_floor * |mean|, abs_floor): "
        "one-sided Student-t prediction bound for the mean of n new seeds given k baseline "
        "seeds (two-sided, t(1 - alpha/2), for direction 'none'); abs_floor is one test row "
        f"(1/n_test) for {' and '.join(rows) or 'no metric'}, else 0. A metric regresses "
        "when the run's mean is worse than the baseline mean by more than tol."
    )


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


def stat_tolerance(st: dict, n: int, alpha: float, rel_floor: float) -> float:
    """:func:`tolerance` of a baseline statistic (``mean``, ``sd``, ``k``, ...) for ``n`` seeds."""
    sd, k, mean, direction, floor = (st[f] for f in ("sd", "k", "mean", "direction", "abs_floor"))
    return tolerance(
        sd, int(k), n, mean, direction=direction, alpha=alpha, rel_floor=rel_floor, abs_floor=floor
    )
