"""Point estimates from random starts: prior draws as initial values, and one compiled
log density with its gradient for scipy's optimizers (the ensemble's members)."""

from __future__ import annotations

import numpy as np
import pymc as pm
from pymc.blocking import DictToArrayBijection
from scipy.optimize import OptimizeResult, minimize

__all__ = ["PosteriorMode", "prior_start"]


def prior_start(model: pm.Model, seed: int | np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One draw of every free variable from its prior: a random start, as a network's
    weights are initialised at random (the BNN's weights are untransformed)."""
    seed = seed if isinstance(seed, int) else int(seed.generate_state(1)[0])
    values = pm.draw(model.free_RVs, random_seed=seed)
    return {v.name: np.asarray(x) for v, x in zip(model.free_RVs, values, strict=True)}


class PosteriorMode:
    """Find modes of ``model``'s log posterior with scipy's L-BFGS-B, compiling once.

    ``model.logp_dlogp_function`` compiles log p and its gradient on the flat vector of
    the value variables; each :meth:`fit` starts from a point and returns the mode as
    a dict, with scipy's result.
    """

    def __init__(self, model: pm.Model) -> None:
        self.model = model
        self._fn = model.logp_dlogp_function(ravel_inputs=True)
        self._fn.set_extra_values({})
        self._point = model.initial_point()

    def _neg(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        logp, grad = self._fn(x)
        return -float(logp), -np.asarray(grad, dtype=float)

    def fit(
        self, start: dict[str, np.ndarray], *, maxiter: int = 5000
    ) -> tuple[dict, OptimizeResult]:
        """The mode reached from ``start``, and scipy's ``OptimizeResult``."""
        point = {name: start.get(name, value) for name, value in self._point.items()}
        raveled = DictToArrayBijection.map(point)
        result = minimize(
            self._neg, raveled.data, jac=True, method="L-BFGS-B", options={"maxiter": maxiter}
        )
        mode = DictToArrayBijection.rmap(
            raveled.__class__(result.x, raveled.point_map_info), start_point=point
        )
        return {k: np.asarray(v) for k, v in mode.items()}, result
