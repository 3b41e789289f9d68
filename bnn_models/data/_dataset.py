"""The ``Dataset`` container and the preparation of its arrays: standardisation, class checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.utils import resample

from bnn_models.errors import BadInput


@dataclass(frozen=True)
class Dataset:
    """A standardised binary-classification split.

    Attributes
    ----------
    name : str
        ``"rupture"``, ``"teacher"`` or the user file's name.
    X_train, y_train, X_test, y_test : numpy.ndarray
        Standardised features (training statistics only) and 0/1 labels.
    feature_names : tuple of str
        One name per feature column.
    sha256 : dict
        SHA256 of every source file (or of the generating parameters for ``teacher``).
    rebalanced : bool
        Whether the minority class of the training set was upsampled.
    p_test_true : numpy.ndarray or None
        The true probability of label 1 for every test row, where known (teacher data).
    test_shifted : numpy.ndarray or None
        Boolean, per test row: outside the training range of a named shift's feature
        (``load_rupture(shift=...)``); None without a shift.
    info : dict
        Provenance: source, seeds, standardisation statistics.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    sha256: dict[str, str]
    rebalanced: bool = False
    p_test_true: np.ndarray | None = None
    test_shifted: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.X_train.shape[1]

    def describe(self) -> dict:
        """Plain-JSON description for results metadata."""
        return {
            "name": self.name,
            "n_train": int(self.X_train.shape[0]),
            "n_test": int(self.X_test.shape[0]),
            "n_features": self.n_features,
            "feature_names": list(self.feature_names),
            "train_positive_rate": float(self.y_train.mean()),
            "test_positive_rate": float(self.y_test.mean()),
            "rebalanced": self.rebalanced,
            "sha256": dict(self.sha256),
            **self.info,
        }

    def array_hash(self) -> str:
        """SHA256 of the arrays a fit sees: training rows and labels, test rows and labels.

        Each array's dtype and shape are hashed before its bytes (C order), so equal
        values in a different dtype or shape give a different hash.

        Returns
        -------
        str
            The hex digest.
        """
        digest = hashlib.sha256()
        for arr in (self.X_train, self.y_train, self.X_test, self.y_test):
            a = np.ascontiguousarray(arr)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()


#: Locates cell ``(row, column)`` of a feature matrix in its file, for messages.
_Where = Callable[[int, int], str]


def _standardise(
    X_train: np.ndarray,
    X_test: np.ndarray,
    names: tuple[str, ...],
    source: str,
    where_train: _Where,
    where_test: _Where,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Standardise both parts with the training rows' mean and population sd.

    StandardScaler gives the same bits as ``(X - X_train.mean(0)) / X_train.std(0)`` on
    the rupture split (checked when this moved to scikit-learn); its near-constant
    columns (whose scale it silently sets to 1) and overflowing columns are refused here.
    """
    scaler = StandardScaler()
    with np.errstate(over="ignore", invalid="ignore"):
        scaler.fit(X_train)
        mean = np.asarray(scaler.mean_, dtype=np.float64)
        sd = np.sqrt(np.asarray(scaler.var_, dtype=np.float64))
        # A mean or sd that overflows, or a mean whose square does (scikit-learn's test
        # for near-constant columns squares it): the column would silently turn to zeros.
        huge = ~np.isfinite(mean) | ~np.isfinite(sd) | ~np.isfinite(mean * mean)
    if huge.any():
        j = int(np.flatnonzero(huge)[0])
        i = int(np.argmax(np.abs(X_train[:, j])))  # the largest value is the culprit
        part = "sd" if np.isfinite(mean[j]) and not np.isfinite(sd[j]) else "mean or sd"
        raise BadInput(
            f"{where_train(i, j)} is too large to standardise (the column's {part} overflows)"
        )
    # scikit-learn sets the scale of a (near-)constant column to 1 instead of failing.
    constant = np.asarray(scaler.scale_) != sd
    if constant.any():
        j = int(np.flatnonzero(constant)[0])
        col = X_train[:, j]
        if col.min() == col.max():
            raise BadInput(
                f"{source}: column {names[j]!r} is constant in the training rows "
                f"(value {col[0]:g}, sd 0): it cannot be standardised"
            )
        raise BadInput(
            f"{source}: column {names[j]!r} is constant in the training rows up to rounding "
            f"(values {col.min():g} to {col.max():g}, sd {sd[j]:g}): it cannot be standardised"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        Z_train = scaler.transform(X_train)
        Z_test = scaler.transform(X_test)
    for Z, where in ((Z_train, where_train), (Z_test, where_test)):
        bad = np.argwhere(~np.isfinite(Z))
        if bad.size:
            i, j = (int(k) for k in bad[0])
            raise BadInput(
                f"{where(i, j)} is too large to standardise (with the training rows' mean "
                f"{mean[j]:g} and sd {sd[j]:g} it overflows)"
            )
    stats = {"standardisation": {"mean": mean.tolist(), "sd": sd.tolist()}}
    return Z_train, Z_test, stats


def _check_two_classes(y: np.ndarray, source: str) -> None:
    classes = np.unique(y)
    if classes.size == 0:
        raise BadInput(f"{source}: no training rows")
    if classes.size < 2:
        raise BadInput(
            f"{source}: training labels hold one class only (all {int(classes[0])}): "
            "a classifier needs both 0 and 1"
        )


def _upsample(y: np.ndarray, seed: int) -> np.ndarray:
    """Row indices that upsample the minority class to parity: all rows, then draws."""
    counts = np.bincount(y, minlength=2)
    minority = int(np.argmin(counts))
    keep = np.arange(y.size)
    n_extra = int(counts.max() - counts.min())
    if n_extra == 0:
        return keep
    extra = resample(
        np.flatnonzero(y == minority), replace=True, n_samples=n_extra, random_state=seed
    )
    return np.concatenate([keep, extra])
