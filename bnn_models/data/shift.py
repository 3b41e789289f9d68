"""Named dataset shifts of the rupture data: train inside a physical feature's central range,
test both inside it and outside it.

All 2,000 simulations are pooled (the published train, validate and test files, in that
order). The rows whose shift feature lies within its central ``central`` share (quantiles
of the pooled values, NumPy's linear interpolation) are in distribution; the others are
shifted. A seeded draw of as many in-distribution rows as there are shifted ones is the
in-distribution test part; the remaining in-distribution rows are the training set. The
test set is both parts, in-distribution rows first, with ``Dataset.test_shifted``
marking the shifted ones. Features are standardised with the training rows' statistics,
so the shifted rows lie beyond the training range of that feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnn_models.errors import BadInput

__all__ = ["SHIFTS", "Shift", "shift_rows"]


@dataclass(frozen=True)
class Shift:
    """A named shift: which feature, how much of its range is in distribution, and why."""

    name: str
    feature: str
    why: str
    central: float = 0.8


#: The named shifts (``bnn-bench run --shift NAME``). The rupture rates quoted are those of
#: the pooled 2,000 simulations inside and outside the central 80% of the feature.
SHIFTS: dict[str, Shift] = {
    s.name: s
    for s in (
        Shift(
            "bump-height",
            "height",
            "The height of the fault's Gaussian bump is the geometric barrier the rupture "
            "meets. Trained on the central 80% of heights, the network predicts the flattest "
            "and the tallest bumps: extrapolation in the fault's geometry at a nearly "
            "unchanged base rate (ruptures break through in 35% of rows inside, 37% below, "
            "28% above): a covariate shift with little label shift.",
        ),
        Shift(
            "normal-stress",
            "syy",
            "The initial fault-normal stress syy sets, with the friction coefficients, how "
            "strongly the fault is clamped. Trained on its central 80%, the network predicts "
            "the most and the least compressed faults, where the outcome differs most (62% "
            "break through below the range, 7% above, 34% inside): a covariate shift that "
            "moves the label's rate too.",
        ),
    )
}


def shift_rows(
    X: np.ndarray, names: tuple[str, ...], shift: Shift, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Cut pooled rows into training, in-distribution test and shifted test rows.

    Parameters
    ----------
    X : numpy.ndarray, shape (rows, features)
        The pooled raw (unstandardised) features.
    names : tuple of str
        The feature names (``shift.feature`` must be one).
    shift : Shift
    seed : int
        Seeds the draw of the in-distribution test rows.

    Returns
    -------
    train, test_in, test_shifted : numpy.ndarray
        Row indices into ``X`` (sorted), disjoint, covering every row.
    info : dict
        Name, feature, central share, the bounds and the counts, for the results' metadata.

    Raises
    ------
    BadInput
        An unknown feature, or too few rows on either side to cut.

    Examples
    --------
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> train, test_in, shifted, info = shift_rows(X, ("a", "b"), Shift("s", "a", ""))
    >>> shifted.tolist(), info["bounds"]
    ([0, 9], [1.8, 16.2])
    """
    if shift.feature not in names:
        raise BadInput(f"shift {shift.name!r}: no feature {shift.feature!r} (have {names})")
    x = X[:, names.index(shift.feature)]
    tail = (1 - shift.central) / 2
    lo, hi = np.quantile(x, [tail, 1 - tail])
    inside = np.flatnonzero((x >= lo) & (x <= hi))
    shifted = np.flatnonzero((x < lo) | (x > hi))
    if shifted.size == 0 or inside.size < 2 * shifted.size:
        raise BadInput(
            f"shift {shift.name!r}: {inside.size} rows inside and {shifted.size} outside the "
            f"central {shift.central:.0%} of {shift.feature!r}: too few to cut"
        )
    rng = np.random.default_rng(seed)
    test_in = np.sort(rng.choice(inside, size=shifted.size, replace=False))
    train = np.setdiff1d(inside, test_in)
    info = {
        "name": shift.name,
        "feature": shift.feature,
        "central": shift.central,
        "bounds": [float(lo), float(hi)],
        "n_train": int(train.size),
        "n_test_in": int(test_in.size),
        "n_test_shifted": int(shifted.size),
        "below": int((x < lo).sum()),
        "above": int((x > hi).sum()),
        "seed": seed,
    }
    return train, test_in, shifted, info
