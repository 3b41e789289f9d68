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

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numba
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

__all__ = ["BNNLogLik", "BNNLogLikGrad", "BNNLogLikValueGrad", "fused_loglik"]


#: Fast-math flags of the kernel: reassociation lets LLVM vectorise the sums over rows;
#: no approximate functions ("afn"), so exp and log1p are exact.
_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}
#: Rows per block: the kernel's buffers are (features + hidden + 2, _BLOCK) doubles. At
#: most 1,023: a summed shape kernel multiplies one factor in (1, 2] per row of a block.
_BLOCK = 128


@numba.njit(fastmath=_FASTMATH)
def _kernel(X, y, W0, b0, W1, b1, g, out, gW0, gb0, gW1, value, grad, summed):
    """One pass over the rows: log-likelihoods into ``out`` (``value``) and/or
    ``sum_i g[i] d loglik_i / d theta`` added to ``gW0``, ``gb0``, ``gW1`` (``grad``);
    returns the gradient of ``b1`` (0 without ``grad``). With ``summed``, their sum is
    added to ``out[0]`` and ``g`` is one number, ``g[0]``, for every row.

    Rows go in blocks of :data:`_BLOCK`, feature- and hidden-major, so that every inner
    loop runs over the rows of a block, contiguous (vectorised). A label equal to 1
    counts as 1, any other as 0, as in :func:`bnn_models.model.bernoulli_logit_logp`.
    With ``z = -logit`` (label 1) or ``logit`` (label 0), ``loglik = -softplus(z) =
    -(max(z, 0) + log1p(exp(-|z|)))`` and ``d loglik / d logit = sigmoid(z)`` (label 1)
    or ``-sigmoid(z)`` (label 0): finite for every logit.
    """
    n_rows, n_features = X.shape
    n_hidden = W0.shape[1]
    if (
        y.shape[0] != n_rows
        or W0.shape[0] != n_features
        or b0.shape[0] != n_hidden
        or W1.shape[0] != n_hidden
        or (grad and g.shape[0] != (1 if summed else n_rows))
    ):
        raise ValueError("fused_loglik: the shapes of X, y, W0, b0, W1 and g disagree")
    XT = np.empty((n_features, _BLOCK))
    act = np.empty((n_hidden, _BLOCK))  # activations, then d cost / d pre-activation
    logit = np.empty(_BLOCK)
    dlogit = np.empty(_BLOCK)
    bias = b1[()]
    gb1 = 0.0
    for start in range(0, n_rows, _BLOCK):
        m = min(_BLOCK, n_rows - start)
        for r in range(m):
            for j in range(n_features):
                XT[j, r] = X[start + r, j]
            logit[r] = bias
        for h in range(n_hidden):
            a = act[h]
            for r in range(m):
                a[r] = b0[h]
            for j in range(n_features):
                w, x = W0[j, h], XT[j]
                for r in range(m):
                    a[r] += x[r] * w
            for r in range(m):
                a[r] = max(a[r], 0.0)
                logit[r] += W1[h] * a[r]
        for r in range(m):
            one = y[start + r] == 1
            z = -logit[r] if one else logit[r]
            e = np.exp(-abs(z))
            if value:
                if summed:
                    out[0] -= max(z, 0.0) + np.log1p(e)
                else:
                    out[start + r] = -(max(z, 0.0) + np.log1p(e))
            if grad:
                s = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
                dlogit[r] = (g[0] if summed else g[start + r]) * (s if one else -s)
                gb1 += dlogit[r]
        if not grad:
            continue
        for h in range(n_hidden):
            a, w1 = act[h], W1[h]
            sum_w1, sum_b0 = 0.0, 0.0
            for r in range(m):
                sum_w1 += dlogit[r] * a[r]
                a[r] = dlogit[r] * w1 if a[r] > 0.0 else 0.0
                sum_b0 += a[r]
            gW1[h] += sum_w1
            gb0[h] += sum_b0
            for j in range(n_features):
                x = XT[j]
                sum_w0 = 0.0
                for r in range(m):
                    sum_w0 += x[r] * a[r]
                gW0[j, h] += sum_w0
    return gb1


def _numpy_value_grad(X, y, W0, b0, W1, b1, g=None, *, summed=False):
    """The same function in NumPy (``perform``): log-likelihoods, and gradients given g
    (``summed``: their sum, and a scalar g for every row)."""
    n_rows, n_features = X.shape
    n_hidden = W0.shape[1]
    if (
        y.shape != (n_rows,)
        or W0.shape[0] != n_features
        or b0.shape != (n_hidden,)
        or W1.shape != (n_hidden,)
        or (g is not None and g.shape != (() if summed else (n_rows,)))
    ):
        raise ValueError("fused_loglik: the shapes of X, y, W0, b0, W1 and g disagree")
    hidden = np.maximum(X @ W0 + b0, 0.0)
    logit = hidden @ W1 + b1
    one = y == 1
    z = np.where(one, -logit, logit)
    loglik = -(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))))
    if summed:
        loglik = np.asarray(loglik.sum())
    if g is None:
        return loglik, ()
    s = np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z)
    d = g * np.where(one, s, -s)
    d_hidden = np.outer(d, W1) * (hidden > 0)
    return loglik, (X.T @ d_hidden, d_hidden.sum(0), hidden.T @ d, np.asarray(d.sum()))


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


#: Part of the numba cache key: a hash of this file, so that PyTensor's on-disk numba
#: cache never serves a kernel older than the source.
_KERNEL_VERSION = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


def _shape_kernel_source(n_features: int, n_hidden: int) -> str:
    """Source of :func:`_kernel` for one shape: the same contract and arithmetic, the
    counts written in as constants, one named accumulator per feature (numba keeps
    scalars, not arrays, in registers)."""
    feats = range(n_features)
    pre = " + ".join(["bh", *(f"XT[{j}, r] * w0_{j}" for j in feats)])
    return "\n".join(
        [
            "def bnn_kernel(X, y, W0, b0, W1, b1, g, out, gW0, gb0, gW1, value, grad, summed):",
            "    n_rows = X.shape[0]",
            f"    if (X.shape[1] != {n_features} or y.shape[0] != n_rows"
            f" or W0.shape[0] != {n_features} or W0.shape[1] != {n_hidden}"
            f" or b0.shape[0] != {n_hidden} or W1.shape[0] != {n_hidden}"
            " or (grad and g.shape[0] != (1 if summed else n_rows))):",
            '        raise ValueError("fused_loglik: the shapes of X, y, W0, b0, W1 and g disagree")',
            f"    XT = np.empty(({n_features}, BLOCK))",
            f"    act = np.empty(({n_hidden}, BLOCK))",
            "    logit = np.empty(BLOCK)",
            "    dlogit = np.empty(BLOCK)",
            "    bias = b1[()]",
            "    gb1 = 0.0",
            "    for start in range(0, n_rows, BLOCK):",
            "        m = min(BLOCK, n_rows - start)",
            "        for r in range(m):",
            f"            for j in range({n_features}):",
            "                XT[j, r] = X[start + r, j]",
            "            logit[r] = bias",
            f"        for h in range({n_hidden}):",
            "            a = act[h]",
            "            bh = b0[h]",
            "            w1 = W1[h]",
            *(f"            w0_{j} = W0[{j}, h]" for j in feats),
            "            for r in range(m):",
            f"                a[r] = max({pre}, 0.0)",
            "                logit[r] += w1 * a[r]",
            # summed: one log per block, log(prod(1 + e)) (each factor in (1, 2]), not a
            # log1p per row
            "        hinge = 0.0",
            "        prod = 1.0",
            "        for r in range(m):",
            "            one = y[start + r] == 1",
            "            z = -logit[r] if one else logit[r]",
            "            e = np.exp(-abs(z))",
            "            if value:",
            "                if summed:",
            "                    hinge += max(z, 0.0)",
            "                    prod *= 1.0 + e",
            "                else:",
            "                    out[start + r] = -(max(z, 0.0) + np.log1p(e))",
            "            if grad:",
            "                s = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)",
            "                dlogit[r] = (g[0] if summed else g[start + r]) * (s if one else -s)",
            "                gb1 += dlogit[r]",
            "        if value and summed:",
            "            out[0] -= hinge + np.log(prod)",
            "        if not grad:",
            "            continue",
            f"        for h in range({n_hidden}):",
            "            a = act[h]",
            "            w1 = W1[h]",
            "            sum_w1 = 0.0",
            "            sum_b0 = 0.0",
            *(f"            sum_w0_{j} = 0.0" for j in feats),
            "            for r in range(m):",
            "                sum_w1 += dlogit[r] * a[r]",
            "                d = dlogit[r] * w1 if a[r] > 0.0 else 0.0",
            "                sum_b0 += d",
            *(f"                sum_w0_{j} += XT[{j}, r] * d" for j in feats),
            "            gW1[h] += sum_w1",
            "            gb0[h] += sum_b0",
            *(f"            gW0[{j}, h] += sum_w0_{j}" for j in feats),
            "    return gb1",
        ]
    )


@functools.cache
def _shape_kernel(n_features: int, n_hidden: int) -> Callable:
    """:func:`_kernel` compiled for ``n_features`` x ``n_hidden`` weights, in PyTensor's
    numba cache under a key of this file's version and the shape."""
    from pytensor.link.numba.cache import compile_numba_function_src

    # ``__name__``: numba rebuilds a cached function's environment by importing its module
    fn = compile_numba_function_src(
        _shape_kernel_source(n_features, n_hidden),
        function_name="bnn_kernel",
        global_env={"__name__": __name__, "np": np, "BLOCK": _BLOCK},
        cache_key=f"bnn_fused_kernel_{_KERNEL_VERSION}_{n_features}x{n_hidden}",
    )
    return numba.njit(fastmath=_FASTMATH, cache=True)(fn)


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
