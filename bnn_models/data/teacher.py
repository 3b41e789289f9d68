"""Synthetic data from a fixed random ReLU teacher network, with the true probabilities."""

from __future__ import annotations

import hashlib

import numpy as np

from bnn_models.data._dataset import Dataset, _check_two_classes
from bnn_models.errors import BadInput

__all__ = ["make_teacher"]


def make_teacher(
    n_train: int = 1600,
    n_test: int = 400,
    *,
    n_features: int = 8,
    n_hidden: int = 12,
    seed: int = 0,
    weight_scale: float = 1.0,
) -> Dataset:
    """Synthetic data from a fixed random ``n_features``-``n_hidden``-1 ReLU network.

    Features are standard normal; the teacher's weights are Normal(0, ``weight_scale``)
    drawn from ``seed``; each label is Bernoulli(sigmoid(teacher(x))). The true
    probability of every test row is returned in ``p_test_true``.

    Parameters
    ----------
    n_train, n_test : int
        Rows in each part.
    n_features, n_hidden : int
        Shape of the teacher network.
    seed : int
        Seeds the teacher's weights, the features and the labels.
    weight_scale : float
        Sd of the teacher's weights.

    Returns
    -------
    Dataset
    """
    if min(n_train, n_test, n_features, n_hidden) < 1:
        raise BadInput(
            f"teacher: sizes must be >= 1, got n_train={n_train}, n_test={n_test}, "
            f"n_features={n_features}, n_hidden={n_hidden}"
        )
    rng = np.random.default_rng(seed)
    W0 = rng.normal(0, weight_scale, (n_features, n_hidden))
    b0 = rng.normal(0, weight_scale, n_hidden)
    W1 = rng.normal(0, weight_scale * 2, n_hidden)
    b1 = rng.normal(0, weight_scale)
    X = rng.normal(size=(n_train + n_test, n_features))
    logit = np.maximum(X @ W0 + b0, 0) @ W1 + b1
    # Not scipy.special.expit: it differs from this formula in the last bit (up to 2.2e-16)
    # and the teacher's probabilities and labels are kept bit-identical to earlier runs.
    p = 1 / (1 + np.exp(-logit))
    y = (rng.uniform(size=p.size) < p).astype(np.int64)
    names = tuple(f"x{j}" for j in range(n_features))
    _check_two_classes(y[:n_train], "teacher")
    # The features are already standard normal: keep the teacher's function exact.
    params = f"teacher:{n_train}:{n_test}:{n_features}:{n_hidden}:{seed}:{weight_scale}"
    return Dataset(
        name="teacher",
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_test=X[n_train:],
        y_test=y[n_train:],
        feature_names=names,
        sha256={"teacher": hashlib.sha256(params.encode()).hexdigest()},
        p_test_true=p[n_train:],
        info={"source": params, "teacher_seed": seed},
    )
