"""The dense ReLU layer and the Bernoulli likelihood as custom PyTensor Ops (opt-in).

:func:`fused_loglik` is the (rows,) Bernoulli log-likelihood of the network's logit
``sum_h W1[h] relu(X[i] @ W0[:, h] + b0[h]) + b1`` as one Op, :class:`BNNLogLik`; its
gradient with respect to ``W0``, ``b0``, ``W1`` and ``b1`` is a second Op,
:class:`BNNLogLikGrad`. Where a graph holds both and the output gradient does not
depend on the log-likelihoods (a log density and its gradient, as NUTS and ADVI
compile), a rewrite (``specialize``) replaces the pair by :class:`BNNLogLikValueGrad`,
which computes both in one pass. Where the graph only sums the log-likelihoods and the
cotangent is one number for every row (a log density: PyMC sums each term), a second
rewrite (:func:`sum_bnn_loglik`) makes these Ops ``summed``: the value is the sum, and
the shape's kernel takes one ``log`` per block of rows, ``log(prod(1 + exp(-|z|)))``,
instead of a ``log1p`` per row (``studies/nutpie_cost/results/nutpie_cost.md``: the Op inside nutpie).
Each pass walks the rows once, in blocks of 128 rows: no (rows, hidden) temporaries,
unlike PyTensor's own graph of the same function.

``perform`` is NumPy (C and Python modes); the numba kernel is registered with
PyTensor's numba dispatcher (the default mode, and nutpie's numba backend) with a cache
key that changes with this file. Where the graph knows the weights' shape (PyMC's
model does: ``W0`` is (features, hidden)), the kernel is compiled for that shape
(:func:`_shape_kernel`): the counts are constants of its code, so that LLVM unrolls the
loops over the features, each pre-activation is summed in a register and each hidden
unit's backward pass is one pass over the rows (``studies/upstream_repros/results/fused_repro.md``).
``build_bnn(..., fused=True)`` uses these Ops; the default model never does. There is
no JAX implementation and no second derivative.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.graph.traversal import variable_depends_on
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key
from pytensor.tensor.basic import Alloc
from pytensor.tensor.elemwise import CAReduce
from pytensor.tensor.rewriting.basic import register_specialize
from pytensor.tensor.type import TensorType
from pytensor.tensor.variable import TensorConstant

from bnn_models.accel.fused_kernels import (
    _KERNEL_VERSION,
    _kernel,
    _numpy_value_grad,
    _shape_kernel,
)

__all__ = ["BNNLogLik", "BNNLogLikGrad", "BNNLogLikValueGrad", "fused_loglik"]


def _as_float(x: Any, ndim: int, name: str) -> Variable:
    var = pt.as_tensor_variable(x)
    if var.ndim != ndim:
        raise TypeError(f"fused_loglik: {name} must have {ndim} dims, got {var.ndim}")
    return var.astype("float64")


def _inputs(args: Sequence[Any], cotangent: bool, summed: bool) -> list[Variable]:
    """``(X, y, W0, b0, W1, b1)`` and, with ``cotangent``, ``g`` (a scalar where
    ``summed``), as tensors (floats float64)."""
    names = ("X", "y", "W0", "b0", "W1", "b1", "g")[: 7 if cotangent else 6]
    if len(args) != len(names):
        raise TypeError(f"fused_loglik: expected inputs {', '.join(names)}, got {len(args)}")
    y = pt.as_tensor_variable(args[1])
    if y.ndim != 1:
        raise TypeError(f"fused_loglik: y must have 1 dim, got {y.ndim}")
    dims = {"X": 2, "W0": 2, "b0": 1, "W1": 1, "b1": 0, "g": 0 if summed else 1}
    return [
        y if name == "y" else _as_float(arg, dims[name], name)
        for name, arg in zip(names, args, strict=True)
    ]


def _no_second_derivative(op: Op, inputs: Sequence[Variable]) -> list[Variable]:
    return [
        grad_not_implemented(op, k, inp, "fused_loglik has no second derivative")
        for k, inp in enumerate(inputs)
    ]


class _Summable(Op):
    """``summed``: the Op's log-likelihood output is the sum over the rows (a scalar) and
    its cotangent ``g`` one scalar for every row (:func:`sum_bnn_loglik` builds these)."""

    __props__: tuple[str, ...] = ("summed",)

    def __init__(self, summed: bool = False) -> None:
        self.summed = bool(summed)

    def _loglik_type(self, inputs: Sequence[Variable]) -> TensorType:
        return TensorType("float64", shape=() if self.summed else (inputs[0].type.shape[0],))

    def _loglik_shape(self, input_shapes) -> tuple:
        return () if self.summed else (input_shapes[0][0],)


class BNNLogLik(_Summable):
    """(rows,) Bernoulli log-likelihood of the one-hidden-layer ReLU network (its sum
    with ``summed``).

    Inputs ``(X, y, W0, b0, W1, b1)``: ``X`` (rows, features), ``y`` (rows,) labels,
    ``W0`` (features, hidden), ``b0`` and ``W1`` (hidden,), ``b1`` a scalar; floats are
    cast to float64. The gradient (:class:`BNNLogLikGrad`) is with respect to the weights
    and biases only: ``y`` is discrete and disconnected; ``X`` is data, and asking for
    its gradient raises (``grad_not_implemented``).
    """

    def make_node(self, *args: Any) -> Apply:
        inputs = _inputs(args, cotangent=False, summed=self.summed)
        return Apply(self, inputs, [self._loglik_type(inputs)()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        output_storage[0][0] = _numpy_value_grad(*inputs, summed=self.summed)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return [self._loglik_shape(input_shapes)]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [False], [True], [True], [True], [True]]

    def pullback(self, inputs, outputs, cotangents):
        grads = BNNLogLikGrad(self.summed)(*inputs, cotangents[0])
        x_grad = grad_not_implemented(self, 0, inputs[0], "fused_loglik: X is data")
        return [x_grad, disconnected_type(), *grads]


class BNNLogLikGrad(_Summable):
    """Gradient of :class:`BNNLogLik`: ``(X, y, W0, b0, W1, b1, g) -> (gW0, gb0, gW1, gb1)``.

    ``g`` (rows,) is the gradient of the cost with respect to the log-likelihoods (with
    ``summed``: a scalar, the same for every row); each output is ``sum_i g[i] d loglik_i
    / d theta``. It has no gradient of its own.
    """

    def make_node(self, *args: Any) -> Apply:
        inputs = _inputs(args, cotangent=True, summed=self.summed)
        return Apply(self, inputs, [inp.type() for inp in inputs[2:6]])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        grads = _numpy_value_grad(*inputs, summed=self.summed)[1]
        for storage, value in zip(output_storage, grads, strict=True):
            storage[0] = value

    def infer_shape(self, fgraph, node, input_shapes):
        return list(input_shapes[2:6])

    def pullback(self, inputs, outputs, cotangents):
        return _no_second_derivative(self, inputs)


class BNNLogLikValueGrad(_Summable):
    """:class:`BNNLogLik` and :class:`BNNLogLikGrad` of the same inputs, in one pass.

    ``(X, y, W0, b0, W1, b1, g) -> (loglik, gW0, gb0, gW1, gb1)``; only the
    ``specialize`` rewrite builds it, where ``g`` does not depend on ``loglik``.
    """

    def make_node(self, *args: Any) -> Apply:
        inputs = _inputs(args, cotangent=True, summed=self.summed)
        loglik = self._loglik_type(inputs)()
        return Apply(self, inputs, [loglik, *(inp.type() for inp in inputs[2:6])])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        loglik, grads = _numpy_value_grad(*inputs, summed=self.summed)
        for storage, value in zip(output_storage, (loglik, *grads), strict=True):
            storage[0] = value

    def infer_shape(self, fgraph, node, input_shapes):
        return [self._loglik_shape(input_shapes), *input_shapes[2:6]]

    def pullback(self, inputs, outputs, cotangents):
        return _no_second_derivative(self, inputs)


def fused_loglik(X: Any, y: Any, W0: Any, b0: Any, W1: Any, b1: Any) -> pt.TensorVariable:
    """(rows,) Bernoulli log-likelihood of the ReLU network, as one Op (:class:`BNNLogLik`).

    Parameters
    ----------
    X : tensor-like, shape (rows, features)
        Inputs (data: no gradient).
    y : tensor-like, shape (rows,)
        Labels; 1 counts as 1, anything else as 0.
    W0, b0, W1, b1 : tensor-like
        Weights (features, hidden), (hidden,), (hidden,) and the output bias (scalar).

    Returns
    -------
    TensorVariable, shape (rows,)

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((3, 2)), np.array([0, 1, 1])
    >>> fused_loglik(X, y, np.ones((2, 4)), np.zeros(4), np.ones(4), 0.0).eval().round(4)
    array([-0.6931, -0.6931, -0.6931])
    """
    return BNNLogLik()(X, y, W0, b0, W1, b1)  # type: ignore[return-value]


def _partner(fgraph, node: Apply) -> Apply | None:
    """The :class:`BNNLogLik` of a :class:`BNNLogLikGrad` node's inputs (same ``summed``),
    or the other way round, where the graph has one."""
    data, want = node.inputs[:6], (BNNLogLikGrad if isinstance(node.op, BNNLogLik) else BNNLogLik)
    for client, _ in fgraph.clients[data[0]]:
        op = getattr(client, "op", None)
        if op == want(node.op.summed) and client.inputs[:6] == data:
            return client
    return None


@register_specialize
@node_rewriter([BNNLogLikGrad])
def fuse_bnn_loglik_value_grad(fgraph, node):
    """Replace a :class:`BNNLogLik` and its :class:`BNNLogLikGrad` (both summed, or
    neither) by one :class:`BNNLogLikValueGrad`, unless the output gradient depends on
    the value."""
    *inputs, g = node.inputs
    client = _partner(fgraph, node)
    if client is None:
        return None
    (loglik,) = client.outputs
    if variable_depends_on(g, loglik):
        return None
    new = BNNLogLikValueGrad(node.op.summed)(*inputs, g)
    return dict(zip([loglik, *node.outputs], new, strict=True))


def _full_sums(fgraph, loglik: Variable) -> list[Variable] | None:
    """The outputs of the full sums that are all of ``loglik``'s clients (None otherwise)."""
    sums = []
    for client, _ in fgraph.clients[loglik]:
        op = getattr(client, "op", None)  # the graph's output is a client without an op
        if not (
            isinstance(op, CAReduce)
            and isinstance(op.scalar_op, ps.Add)
            and op.axis in (None, (0,))
            and client.outputs[0].type.dtype == "float64"
        ):
            return None
        sums.append(client.outputs[0])
    return sums


def _one_number(g: Variable) -> Variable | None:
    """The scalar of a cotangent ``g`` that is one number for every row (an ``Alloc`` of
    a value with one element, as the gradient of a sum is, or a constant whose entries
    are all equal, as it becomes where the rows are known), else None."""
    if isinstance(g, TensorConstant):
        data = np.asarray(g.data)
        if data.size and np.all(data == data.flat[0]):
            return pt.constant(float(data.flat[0]), dtype="float64")
        return None
    if g.owner is None or not isinstance(g.owner.op, Alloc):
        return None
    value = g.owner.inputs[0]
    if not all(value.type.broadcastable):
        return None
    return value.reshape(()).astype("float64") if value.ndim else value.astype("float64")


@register_specialize
@node_rewriter([BNNLogLik, BNNLogLikGrad, BNNLogLikValueGrad])
def sum_bnn_loglik(fgraph, node):
    """Summed Ops where the graph only sums the log-likelihoods and its cotangent is one
    number for every row (a log density and its gradient, as PyMC builds them), so that
    the kernel takes one ``log`` per block of rows, not a ``log1p`` per row."""
    if node.op.summed:
        return None
    has_value, has_grad = not isinstance(node.op, BNNLogLikGrad), len(node.inputs) == 7
    data = node.inputs[:6]
    if not (has_value and has_grad) and _partner(fgraph, node) is not None:
        return None  # the value and gradient Ops fuse first; the fused Op is then summed
    sums = _full_sums(fgraph, node.outputs[0]) if has_value else []
    g = _one_number(node.inputs[6]) if has_grad else None
    if sums is None or (has_grad and g is None):
        return None
    new = type(node.op)(summed=True)(*data, *([g] if has_grad else []))
    new = new if isinstance(new, list) else [new]
    replace = {total: new[0] for total in sums}  # every full sum is the summed value
    if has_grad:  # the gradients: the last four outputs of either Op
        replace.update(zip(node.outputs[-4:], new[-4:], strict=True))
    return replace


def _kernel_for(node: Apply | None) -> tuple[Callable, int]:
    """The kernel of a node, :func:`_shape_kernel` where the weights' shape is static
    (else :func:`_kernel`), and the integer PyTensor adds to the Op's cache key: the
    file's version, and the shape."""
    shape = None if node is None else node.inputs[2].type.shape
    if shape is None or None in shape:
        return _kernel, _KERNEL_VERSION
    n_features, n_hidden = (int(d) for d in shape)
    salt = int(
        hashlib.sha256(f"{_KERNEL_VERSION}-{n_features}x{n_hidden}".encode()).hexdigest()[:12], 16
    )
    return _shape_kernel(n_features, n_hidden), salt


#: The entry points of the three Ops: ``kernel`` is the node's (:func:`_kernel_for`);
#: its fields are filled in for the Op's ``summed`` (:data:`_SUMMED`).
_ENTRIES = {
    BNNLogLik: """def bnn_loglik(X, y, W0, b0, W1, b1):
    out, empty = {out}, np.empty(0)
    kernel(X, y, W0, b0, W1, b1, empty, out, np.empty((0, 0)), empty, empty, True, False, {summed})
    return {loglik}""",
    BNNLogLikGrad: """def bnn_loglik_grad(X, y, W0, b0, W1, b1, g):
    gW0, gb0, gW1 = np.zeros(W0.shape), np.zeros(b0.shape[0]), np.zeros(W1.shape[0])
    gb1 = kernel(X, y, W0, b0, W1, b1, {g}, np.empty(0), gW0, gb0, gW1, False, True, {summed})
    return gW0, gb0, gW1, np.asarray(gb1)""",
    BNNLogLikValueGrad: """def bnn_loglik_value_grad(X, y, W0, b0, W1, b1, g):
    out = {out}
    gW0, gb0, gW1 = np.zeros(W0.shape), np.zeros(b0.shape[0]), np.zeros(W1.shape[0])
    gb1 = kernel(X, y, W0, b0, W1, b1, {g}, out, gW0, gb0, gW1, True, True, {summed})
    return {loglik}, gW0, gb0, gW1, np.asarray(gb1)""",
}
#: summed -> the entries' fields: the kernel's output buffer, its cotangent and
#: the Op's log-likelihood output (a summed kernel adds into ``out[0]`` and reads
#: ``g[0]``).
_SUMMED = {
    False: {"out": "np.empty(X.shape[0])", "g": "g", "loglik": "out", "summed": "False"},
    True: {
        "out": "np.zeros(1)",
        "g": "np.full(1, g[()])",
        "loglik": "np.asarray(out[0])",
        "summed": "True",
    },
}


def _numba_entry(op: Op, node: Apply | None = None, **kwargs: Any) -> tuple[Callable, int]:
    from pytensor.link.numba.cache import compile_numba_function_src

    assert isinstance(op, _Summable)
    kernel, salt = _kernel_for(node)
    source = _ENTRIES[type(op)].format(**_SUMMED[op.summed])
    name = source.split("(", 1)[0].removeprefix("def ")
    fn = compile_numba_function_src(
        source, name, global_env={"__name__": __name__, "np": np, "kernel": kernel}
    )
    return numba_njit(fn), salt


for _op_type in _ENTRIES:
    register_funcify_default_op_cache_key(_op_type)(_numba_entry)
