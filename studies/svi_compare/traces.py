"""What one loss trace says: its final loss, when it came within 1% of it, when the rule fired.

"Within 1% of the final loss" is the package's one definition,
:func:`bnn_models.metrics.iterations_to_within` (the report's ``iter_to_1pct``), over the
convergence rule's window; the rule is the package's :class:`ELBOConvergence`, called as
``pm.fit`` calls it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnn_models.inference import ELBOConvergence
from bnn_models.metrics import iterations_to_within

__all__ = ["FINAL", "SMOOTH", "THIN", "WITHIN", "final_loss", "rule_step", "summarise_run"]

#: Steps of the final loss; the band around it ("within 1%").
FINAL, WITHIN = 1000, 0.01
#: Steps of the rolling mean drawn in the figure, and every THIN-th value of it kept in
#: the JSON (display only: the step counts come from :func:`summarise_run`).
SMOOTH, THIN = 500, 10


def final_loss(loss: np.ndarray, last: int = FINAL) -> float:
    """Mean of the last ``last`` losses (all of them when there are fewer).

    Examples
    --------
    >>> final_loss(np.r_[np.full(10, 200.0), np.full(30, 100.0)], 10)
    100.0
    """
    loss = np.asarray(loss, dtype=float)
    return float(np.mean(loss[-min(last, loss.size) :]))


def rule_step(loss: np.ndarray, *, window: int, tol: float) -> int | None:
    """Step at which the suite's convergence rule fires on ``loss``: the package's
    :class:`ELBOConvergence`, called after every step with the losses so far, as
    ``pm.fit`` calls its callbacks (for a trace made outside ``pm.fit``: NumPyro's).
    None: it does not fire within the trace."""
    loss = np.asarray(loss, dtype=float)
    rule = ELBOConvergence(window=window, tol=tol, stop=False)
    for i in range(1, loss.size + 1):
        rule(None, loss[:i], i)
    return rule.fired_at


def summarise_run(loss: np.ndarray, s_per_step: float, *, window: int, rule: int | None) -> dict:
    """The numbers of one loss trace: final loss, steps and seconds to 1% (over the rule's
    ``window``) and to the rule (``rule``: the step it fired at, or None)."""
    loss = np.asarray(loss, dtype=float)
    to_1pct = iterations_to_within(loss, window=window, rel=WITHIN)
    smooth = pd.Series(loss).rolling(min(SMOOTH, loss.size)).mean().dropna().to_numpy()
    return {
        "steps": int(loss.size),
        "us_per_step": 1e6 * s_per_step,
        "final_loss": final_loss(loss),
        "first_loss": float(loss[0]),
        "to_1pct_step": to_1pct,
        "to_1pct_s": to_1pct * s_per_step,
        "rule_step": rule,
        "rule_s": None if rule is None else rule * s_per_step,
        "smooth_trace": [round(float(v), 3) for v in smooth[::THIN]],
    }
