"""Posterior predictive probabilities on the test rows, shared by every method."""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.model import set_inputs

__all__ = ["predict_test"]


def predict_test(
    model: pm.Model, posterior: xr.DataTree, X_test: np.ndarray, *, seed: int
) -> xr.DataTree:
    """Return ``posterior`` with a ``predictions`` group holding ``p`` on the test rows.

    Uses :func:`pymc.sample_posterior_predictive` on the deterministic ``p`` after
    swapping the model's inputs, so the probabilities come from the same graph that
    was fitted.
    """
    X_train = model["X"].get_value()
    y_train = model["y"].get_value()
    set_inputs(model, X_test)
    try:
        with model:
            pred = pm.sample_posterior_predictive(
                posterior,
                var_names=["p"],
                predictions=True,
                random_seed=seed,
                progressbar=False,
                return_inferencedata=True,
            )
    finally:
        set_inputs(model, X_train, y_train)
    out = posterior.copy()
    out["predictions"] = pred["predictions"]
    return out
