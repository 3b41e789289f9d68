"""The opt-in fused likelihood (bnn_models.accel.fused): the same function as the plain model."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest
from pytensor.gradient import DisconnectedInputError

from bnn_models.accel.fused import BNNLogLik, BNNLogLikGrad, BNNLogLikValueGrad, fused_loglik
from bnn_models.errors import BadInput
from bnn_models.inference import METHODS
from bnn_models.model import build_bnn
from tests.conftest import tiny

N_ROWS, N_FEATURES, N_HIDDEN = 300, 3, 4
# Numba's default mode (the fused kernel), and the NumPy ``perform`` path unrewritten
# (FAST_COMPILE: the value and gradient Ops apart) and rewritten (CVM: one Op).
MODES = [
    None,
    "FAST_COMPILE",
    pytest.param(  # pip's PyTensor finds no BLAS to link its C code to: slower, as correct
        "CVM", marks=pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS")
    ),
]


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    y = rng.integers(0, 2, N_ROWS)
    return {fused: build_bnn(X, y, n_hidden=N_HIDDEN, fused=fused) for fused in (False, True)}


def _points(model: pm.Model) -> list[dict[str, np.ndarray]]:
    """Random points at prior scale and at 30x it, where most |logit| exceed 40."""
    rng = np.random.default_rng(7)
    start = model.initial_point()
    return [
        {name: scale * rng.normal(size=np.shape(value)) for name, value in start.items()}
        for scale in (0.3, 1.0, 1.0, 30.0)
    ]


def _logits(model: pm.Model, point: dict[str, np.ndarray]) -> np.ndarray:
    X = model["X"].get_value()
    hidden = np.maximum(X @ point["W0"] + point["b0"], 0.0)
    return hidden @ point["W1"] + point["b1"]


def _ops(fn) -> set[type]:  # type: ignore[no-untyped-def]
    return {type(node.op) for node in fn.maker.fgraph.apply_nodes}


def _op_set(fn) -> list:  # type: ignore[no-untyped-def]
    """The function's Ops (a list: PyTensor's Ops need not be hashable)."""
    return [node.op for node in fn.maker.fgraph.apply_nodes]


def test_large_logits_are_covered(models):
    logits = _logits(models[False], _points(models[False])[-1])
    assert np.mean(np.abs(logits) > 40) > 0.5


@pytest.mark.parametrize("mode", MODES)
def test_logp_and_gradient_equal_the_plain_model(models, mode):
    kwargs = {} if mode is None else {"mode": mode}
    fns = {f: m.logp_dlogp_function(ravel_inputs=True, **kwargs) for f, m in models.items()}
    logp = {f: m.compile_logp(**kwargs) for f, m in models.items()}
    dlogp = {f: m.compile_dlogp(**kwargs) for f, m in models.items()}
    fused_ops = _ops(fns[True]._pytensor_function)
    assert BNNLogLik not in _ops(fns[False]._pytensor_function)
    if mode == "FAST_COMPILE":
        assert {BNNLogLik, BNNLogLikGrad} <= fused_ops
    else:  # the specialize rewrites: value and gradient in one pass, of the summed rows
        assert BNNLogLikValueGrad in fused_ops and BNNLogLik not in fused_ops
        assert BNNLogLikValueGrad(summed=True) in _op_set(fns[True]._pytensor_function)
        assert BNNLogLik(summed=True) in _op_set(logp[True].f)
        assert BNNLogLikGrad(summed=True) in _op_set(dlogp[True].f)
    assert BNNLogLikGrad in _ops(dlogp[True].f) and BNNLogLik in _ops(logp[True].f)
    # the Op replaces the dense layer: no matrix product left in the fused log density
    assert not any("Dot" in op.__name__ or "Gemm" in op.__name__ for op in fused_ops)
    for point in _points(models[False]):
        flat = np.concatenate([point[v.name].ravel() for v in models[False].value_vars])
        (v0, g0), (v1, g1) = fns[False](flat), fns[True](flat)
        assert np.isfinite(v0) and np.all(np.isfinite(g0))
        np.testing.assert_allclose(v1, v0, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(g1, g0, rtol=1e-10, atol=1e-10 * np.abs(g0).max())
        np.testing.assert_allclose(logp[True](point), logp[False](point), rtol=1e-10)
        np.testing.assert_allclose(dlogp[True](point), g0, rtol=1e-10, atol=1e-10 * abs(g0).max())


@pytest.mark.parametrize("mode", [None, "FAST_COMPILE"])
def test_pointwise_log_likelihood_equals_the_plain_model(models, mode):
    kwargs = {} if mode is None else {"mode": mode}
    fns = {
        f: m.compile_fn(m.logp(vars=[m["y_obs"]], sum=False)[0], point_fn=True, **kwargs)
        for f, m in models.items()
    }
    for point in _points(models[False]):
        plain, fused = fns[False](point), fns[True](point)
        assert plain.shape == (N_ROWS,)  # rows that are not summed: the per-row Op
        assert BNNLogLik(summed=True) not in _op_set(fns[True].f)
        np.testing.assert_allclose(fused, plain, rtol=1e-10, atol=1e-12)


def test_draws_and_predictions_are_the_plain_models(models):
    """The fused model draws y_obs from the same logit, and p is the same deterministic."""
    draws = {
        f: pm.sample_prior_predictive(draws=20, model=m, random_seed=5, var_names=["y_obs", "p"])
        for f, m in models.items()
    }
    for name in ("y_obs", "p"):
        np.testing.assert_array_equal(
            draws[True]["prior_predictive" if name == "y_obs" else "prior"][name],
            draws[False]["prior_predictive" if name == "y_obs" else "prior"][name],
        )


def test_op_against_an_independent_formula():
    """Log-likelihood and its gradient by hand (NumPy), and by finite differences."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(50, 2)), rng.integers(0, 2, 50)
    W0, b0, W1, b1 = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=3), 0.2
    logit = np.maximum(X @ W0 + b0, 0.0) @ W1 + b1
    want = y * -np.logaddexp(0.0, -logit) + (1 - y) * -np.logaddexp(0.0, logit)
    np.testing.assert_allclose(fused_loglik(X, y, W0, b0, W1, b1).eval(), want, rtol=1e-12)
    params = [pytensor.shared(v) for v in (W0, b0, W1, np.asarray(b1))]
    weights = rng.normal(size=50)  # a cotangent other than ones
    cost = (fused_loglik(X, y, *params) * weights).sum()
    grads = pytensor.function([], pytensor.grad(cost, params))()
    f = pytensor.function([], cost)
    for param, grad in zip(params, grads, strict=True):
        base = param.get_value()
        flat = base.ravel().copy()
        for k in range(flat.size):
            diffs = []
            for step in (1e-6, -1e-6):
                moved = flat.copy()
                moved[k] += step
                param.set_value(moved.reshape(base.shape))
                diffs.append(f())
            param.set_value(base)
            np.testing.assert_allclose(grad.ravel()[k], (diffs[0] - diffs[1]) / 2e-6, rtol=1e-5)


def test_gradient_of_X_and_y():
    X = pytensor.shared(np.ones((4, 2)))
    y = pytensor.shared(np.array([0, 1, 1, 0]))
    W0 = pytensor.shared(np.ones((2, 3)))
    cost = fused_loglik(X, y, W0, np.zeros(3), np.ones(3), 0.0).sum()
    assert pytensor.grad(cost, W0) is not None  # X and y unused: no error
    with pytest.raises(Exception, match="X is data"):
        pytensor.grad(cost, X)
    with pytest.raises(DisconnectedInputError):  # labels are discrete
        pytensor.grad(cost, y)
    zero = pytensor.grad(cost, y, disconnected_inputs="ignore").eval()
    np.testing.assert_array_equal(zero, 0.0)


def test_shapes_are_checked():
    X, y = np.zeros((4, 2)), np.zeros(4, dtype=int)
    with pytest.raises(TypeError, match="W0 must have 2 dims"):
        fused_loglik(X, y, np.zeros(3), np.zeros(3), np.zeros(3), 0.0)
    for mode in (None, "FAST_COMPILE"):
        with pytest.raises(ValueError, match="shapes of X, y, W0"):
            fused_loglik(X, y, np.zeros((3, 3)), np.zeros(3), np.zeros(3), 0.0).eval(mode=mode)


def test_settings_field_and_conversion(teacher_small):
    nuts = METHODS["nuts"]
    assert nuts.configure().fused is False  # opt-in, never the default
    assert nuts.configure(overrides={"fused": "true"}).fused is True
    assert METHODS["advi"].configure(overrides={"fused": "yes"}).fused is True
    with pytest.raises(BadInput, match="nuts.fused: expected bool"):
        nuts.configure(overrides={"fused": "maybe"})
    model = nuts.configure(overrides={"fused": "1", "n_hidden": "3"}).build(teacher_small)
    assert model["W0"].eval().shape == (teacher_small.X_train.shape[1], 3)
    graph = pytensor.graph.traversal.ancestors([model.logp(vars=[model["y_obs"]])])
    assert any(v.owner is not None and isinstance(v.owner.op, BNNLogLik) for v in graph)


def test_tiny_nutpie_fit_with_the_fused_model(teacher_small):
    result = METHODS["nuts"](
        dataset=teacher_small, seed=1, progressbar=False, **tiny("nuts"), fused=True
    )
    assert result.ok, result.error
    assert result.config["fused"] is True
    p = result.idata["predictions"]["p"]
    assert p.sizes["obs"] == len(teacher_small.y_test) and np.all((p >= 0) & (p <= 1))


def _kernel_inputs() -> tuple:
    """300 rows (two full blocks and a partial one), 8 features x 12 hidden units, logits
    up to ~40, and a cotangent that is not all ones."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(300, 8)), rng.integers(0, 2, 300)
    W0, b0, W1 = 2 * rng.normal(size=(8, 12)), rng.normal(size=12), 2 * rng.normal(size=12)
    return X, y, W0, b0, W1, np.array(0.3), rng.uniform(0.5, 2.0, 300)


def _call(kernel, inputs: tuple, g: np.ndarray, value: bool, grad: bool, summed: bool) -> list:
    """The kernel's log-likelihood buffer and gradients (gW0, gb0, gW1, gb1)."""
    out = np.zeros(1 if summed else inputs[0].shape[0])
    grads = (np.zeros((8, 12)), np.zeros(12), np.zeros(12))
    gb1 = kernel(*inputs[:6], g, out, *grads, value, grad, summed)
    return [out, *grads, gb1]


@pytest.mark.parametrize(("value", "grad"), [(True, True), (True, False), (False, True)])
def test_the_kernel_compiled_for_a_shape_computes_what_the_generic_one_does(value, grad):
    """The shape's kernel (constants, unrolled features) against the generic kernel:
    the same values and gradients."""
    from bnn_models.accel.fused_kernels import _kernel, _shape_kernel

    inputs = _kernel_inputs()
    results = [
        _call(k, inputs, inputs[6], value, grad, False) for k in (_kernel, _shape_kernel(8, 12))
    ]
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if value:
        assert np.all(results[0][0] < 0)
    if grad:
        assert np.abs(results[0][1]).max() > 1.0  # the gradient was computed


@pytest.mark.parametrize(("value", "grad"), [(True, True), (True, False), (False, True)])
def test_summed_kernels_give_the_sum_and_the_gradient_of_one_cotangent(value, grad):
    """``summed``: both kernels give the sum of the rows' log-likelihoods (the shape's
    kernel by one log per block) and, for a cotangent of 0.7 on every row, the per-row
    kernel's gradients with that cotangent."""
    from bnn_models.accel.fused_kernels import _kernel, _shape_kernel

    inputs = _kernel_inputs()
    want = _call(_kernel, inputs, np.full(300, 0.7), value, grad, False)
    want[0] = want[0].sum(keepdims=True)
    for kernel in (_kernel, _shape_kernel(8, 12)):
        got = _call(kernel, inputs, np.array([0.7]), value, grad, True)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    if value:
        assert want[0][0] < -10.0  # 300 rows of log-likelihood, not one


def test_the_model_gets_the_kernel_of_its_shape_and_a_wrong_shape_is_refused(models):
    from bnn_models.accel.fused import _kernel_for
    from bnn_models.accel.fused_kernels import _kernel, _shape_kernel

    fn = models[True].logp_dlogp_function(ravel_inputs=True)._pytensor_function
    [node] = [n for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, BNNLogLikValueGrad)]
    kernel, salt = _kernel_for(node)
    assert kernel is _shape_kernel(N_FEATURES, N_HIDDEN) and kernel is not _kernel
    assert salt != _kernel_for(None)[1]
    empty = np.empty(0)
    with pytest.raises(ValueError, match="shapes of X, y, W0"):
        kernel(
            np.zeros((5, N_FEATURES + 1)),
            np.zeros(5),
            np.zeros((N_FEATURES + 1, N_HIDDEN)),
            np.zeros(N_HIDDEN),
            np.zeros(N_HIDDEN),
            np.array(0.0),
            empty,
            np.zeros(5),
            np.zeros((N_FEATURES + 1, N_HIDDEN)),
            np.zeros(N_HIDDEN),
            np.zeros(N_HIDDEN),
            True,
            False,
            False,
        )


_CACHED_RUN = """
import sys
import numpy as np
from bnn_models.accel.fused_kernels import _shape_kernel
from bnn_models.model import build_bnn
rng = np.random.default_rng(13)
X, y = rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
if sys.argv[1] == "kernel":  # called from Python: compiled, then cached
    W0, b0, W1, b1, g = np.ones((3, 4)), np.zeros(4), np.ones(4), np.array(0.0), np.ones(50)
    grads = np.zeros((3, 4)), np.zeros(4), np.zeros(4)
    print(_shape_kernel(3, 4)(X, y, W0, b0, W1, b1, g, np.zeros(50), *grads, True, True, False))
else:  # a graph's entry compiled anew: numba loads the cached kernel
    values = [
        build_bnn(X, y, n_hidden=4, fused=fused).logp_dlogp_function(ravel_inputs=True)(
            np.full(21, 0.2)
        )[0]
        for fused in (True, False)
    ]
    print(repr(float(values[0])), repr(float(values[1])))
"""


def test_a_second_process_loads_the_shape_kernel_from_the_cache(tmp_path):
    """The first process compiles the shape's kernel into a new PyTensor cache (called
    from Python), the second compiles a graph whose entry calls it, so numba loads the
    kernel from the cache: no error, and the fused log density is the plain model's.
    (A process that loaded such a kernel once failed in numba's rebuilding of its
    module environment, ``import_module(None)``, while the generated source had no
    ``__name__``; not reproduced here, the source has one now.)"""
    import os
    import subprocess
    import sys

    flags = ",".join(
        filter(None, [os.environ.get("PYTENSOR_FLAGS"), f"base_compiledir={tmp_path}"])
    )
    env = {**os.environ, "PYTENSOR_FLAGS": flags}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _CACHED_RUN, part],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        for part in ("kernel", "graph")
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    fused, plain = (float(v) for v in runs[1].stdout.split())
    assert fused == pytest.approx(plain, rel=1e-10)
    assert any(tmp_path.rglob("*.nbi"))  # numba's cache index: the kernel was cached


def test_rows_are_summed_in_the_op_only_where_the_graph_sums_them():
    """The sum rewrite: a full sum whose gradient is one number for every row gets the
    summed Ops; rows that are weighted, or also an output, keep the per-row Ops; the
    values and gradients are the NumPy formula's in every case."""
    from bnn_models.accel.fused_kernels import _numpy_value_grad

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    values = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4), np.array(0.1)]
    weights = rng.uniform(0.5, 2.0, 200)
    W0, b0, W1 = (
        pytensor.tensor.matrix("W0"),
        pytensor.tensor.vector("b0"),
        pytensor.tensor.vector("W1"),
    )
    b1 = pytensor.tensor.scalar("b1")
    params = [W0, b0, W1, b1]
    rows = fused_loglik(X, y, *params)
    cases = {  # name -> (outputs, whether summed Ops are expected)
        "sum": ([3.0 * rows.sum()], True),
        "weighted": ([(weights * rows).sum()], False),
        "rows too": ([rows.sum(), rows], False),
    }
    loglik, _ = _numpy_value_grad(X, y, *values)
    for name, (outputs, summed) in cases.items():
        cost = outputs[0]
        fn = pytensor.function(params, [*outputs, *pytensor.grad(cost, params)])
        ops = _op_set(fn)
        assert (BNNLogLikValueGrad(summed=True) in ops) == summed, name
        assert (BNNLogLikValueGrad(summed=False) in ops) == (not summed), name
        got = fn(*values)
        g = {"sum": np.full(200, 3.0), "weighted": weights, "rows too": np.ones(200)}[name]
        want_cost = float(g @ loglik)
        _, want_grads = _numpy_value_grad(X, y, *values, g)
        np.testing.assert_allclose(got[0], want_cost, rtol=1e-12)
        if name == "rows too":
            np.testing.assert_allclose(got[1], loglik, rtol=1e-12)
        for have, want in zip(got[len(outputs) :], want_grads, strict=True):
            np.testing.assert_allclose(have, want, rtol=1e-10, atol=1e-12)
