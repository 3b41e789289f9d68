"""Short, repeatable operations on the rupture data (1,600 training rows, 8-12-1 network).

What a commit of ``bnn_models`` may predate (the VI steps, the backends, the fused
likelihood) is looked up in ``setup`` (:func:`benchmarks.common.required`): over history,
an older commit skips those benchmarks and still times the rest.
"""

from __future__ import annotations

import inspect
import timeit

import numpy as np
import pymc as pm

from benchmarks.common import (
    FIT_SEED,
    PACKED_FACTOR_METHODS,
    VI_STEP_METHODS,
    backend_params,
    initial_vector,
    installed,
    one_blas_thread,
    required,
    rupture,
    vi_step_function,
)
from bnn_models.inference._predict import predict_test
from bnn_models.model import PARAMS, build_bnn


def _model() -> pm.Model:
    data = rupture()
    return build_bnn(data.X_train, data.y_train, feature_names=data.feature_names)


class BuildModel:
    """Building the PyMC model (graph construction; no compilation)."""

    timer = timeit.default_timer
    timeout = 120

    def setup(self) -> None:
        self.blas = one_blas_thread()
        self.data = rupture()

    def time_build_bnn(self) -> None:
        build_bnn(self.data.X_train, self.data.y_train, feature_names=self.data.feature_names)


class LogpGrad:
    """One evaluation of the log density and its gradient (PyMC's compiled function)."""

    timer = timeit.default_timer
    timeout = 120

    def setup(self) -> None:
        self.blas = one_blas_thread()
        model = _model()
        self.fn = model.logp_dlogp_function(ravel_inputs=True)
        self.x = initial_vector(model)
        self.fn(self.x)

    def time_logp_dlogp(self) -> None:
        self.fn(self.x)


class LogpGradFused:
    """One log density + gradient of the plain model against the opt-in fused likelihood
    (``build_bnn(fused=True)``: one custom Op for the dense ReLU layer and the Bernoulli
    log-likelihood), on PyTensor's default mode: the headroom left in PyTensor's code."""

    params = (["plain", "fused"],)
    param_names = ["likelihood"]
    timer = timeit.default_timer
    timeout = 120

    def setup(self, likelihood: str) -> None:
        if "fused" not in inspect.signature(build_bnn).parameters:
            raise NotImplementedError("build_bnn(fused=...): not in this commit")  # asv: skipped
        self.blas = one_blas_thread()
        data = rupture()
        model = build_bnn(
            data.X_train,
            data.y_train,
            feature_names=data.feature_names,
            fused=likelihood == "fused",
        )
        self.fn = model.logp_dlogp_function(ravel_inputs=True)
        self.x = initial_vector(model)
        self.fn(self.x)

    def time_logp_dlogp(self, likelihood: str) -> None:
        self.fn(self.x)


class LogpGradBackend:
    """One log density + gradient evaluation compiled to each backend a PyMC user can pick
    (``model.logp_dlogp_function(mode=...)``; numba is PyTensor's default mode)."""

    params = backend_params("ops.LogpGradBackend")
    param_names = ["backend"]
    timer = timeit.default_timer
    timeout = 300

    def setup(self, backend: str) -> None:
        backend_mode = required("bnn_models.inference.steps:backend_mode")
        refused = installed("bnn_models.errors:AccelerationUnavailable") or ()
        self.blas = one_blas_thread()
        model = _model()
        try:
            mode = backend_mode(backend)
        except refused as err:  # an opt-in backend refusing untested PyMC/PyTensor versions
            raise NotImplementedError(f"{backend}: {err}") from err
        self.fn = model.logp_dlogp_function(ravel_inputs=True, mode=mode)
        self.x = initial_vector(model)
        self.fn(self.x)

    def time_logp_dlogp(self, backend: str) -> None:
        # np.asarray: the JAX backend returns a device array; wait for its values
        np.asarray(self.fn(self.x)[1])


class VIStepBackend:
    """One optimisation step of each VI method compiled to each backend
    (``pm.fit(backend=...)``). A backend that cannot compile the step is skipped with
    PyTensor's reason."""

    params = backend_params("ops.VIStepBackend", VI_STEP_METHODS)
    param_names = ["method", "backend"]
    timer = timeit.default_timer
    timeout = 300

    def setup(self, method: str, backend: str) -> None:
        self.blas = one_blas_thread()
        try:
            self.step = vi_step_function(_model(), method, backend)
            self.step()
        except NotImplementedError:  # the commit measured has no VI steps: its own reason
            raise
        except Exception as err:  # asv: NotImplementedError in setup = skipped
            raise NotImplementedError(f"{method} on {backend}: {type(err).__name__}") from err

    def time_vi_step(self, method: str, backend: str) -> None:
        self.step()


class VIStepPackedFactor:
    """Full-rank ADVI's step as PyMC builds it (``packed=False``) and with the opt-in
    packed factor (``packed=True``, :mod:`bnn_models.accel.packed_factor`), on the
    backends that compile it (JAX: skipped, no JAX implementation)."""

    params = backend_params("ops.VIStepPackedFactor", PACKED_FACTOR_METHODS, [False, True])
    param_names = ["method", "packed", "backend"]
    timer = timeit.default_timer
    timeout = 300

    def setup(self, method: str, packed: bool, backend: str) -> None:
        self.blas = one_blas_thread()
        try:
            self.step = vi_step_function(_model(), method, backend, packed_factor=packed)
            self.step()
        except NotImplementedError:  # the commit measured has no VI steps: its own reason
            raise
        except Exception as err:  # asv: NotImplementedError in setup = skipped
            raise NotImplementedError(f"{method} on {backend}: {type(err).__name__}") from err

    def time_vi_step(self, method: str, packed: bool, backend: str) -> None:
        self.step()


class VIStep:
    """One optimisation step of each VI method (its default settings; ``vi_step_function``)."""

    params = (VI_STEP_METHODS,)
    param_names = ["method"]
    timer = timeit.default_timer
    timeout = 120

    def setup(self, method: str) -> None:
        self.blas = one_blas_thread()
        self.step = vi_step_function(_model(), method)
        self.step()

    def time_advi_step(self, method: str) -> None:
        self.step()


class PredictTest:
    """Test-set probabilities from 200 posterior draws (``predict_test``, as every fit does).

    The draws come from the prior: the cost does not depend on where they are.
    """

    timer = timeit.default_timer
    timeout = 120

    def setup(self) -> None:
        self.blas = one_blas_thread()
        self.data = rupture()
        self.model = _model()
        with self.model:
            prior = pm.sample_prior_predictive(
                draws=200, var_names=list(PARAMS), random_seed=FIT_SEED
            )
        self.posterior = prior.copy()
        self.posterior["posterior"] = prior["prior"]
        del self.posterior["prior"]

    def time_predict_test(self) -> None:
        predict_test(self.model, self.posterior, self.data.X_test, seed=FIT_SEED)
