"""Full-rank ADVI's draw on the packed Cholesky factor, as one custom PyTensor Op (opt-in).

PyMC's full-rank group (``pymc.variational.approximations.FullRankGroup``) stores the
Cholesky factor ``L`` of its covariance as the ``d (d + 1) / 2`` entries of its lower
triangle (``L_tril``, NumPy's ``tril_indices`` order: row by row), the diagonal through
a softplus. Every step it builds the dense ``d x d`` factor from them by advanced
indexing (zeros, a scatter of the entries, a second one for the diagonal), draws
``z = mu + L eps``, and its gradient goes back the same way: a dense outer product
``g eps^T`` and a gather of its lower triangle. For this network (``d = 121``: 7,381
entries, a 14,641-entry dense factor) that indexing is most of what full-rank ADVI's
step costs beyond mean-field ADVI's.

:class:`PackedTril` computes ``(eps L^T, log det L)`` from the packed entries in one pass,
its gradient with respect to them (:class:`PackedTrilGradL`) as a second, each a loop
over the rows of the triangle with no dense factor, no index arrays and no
temporaries; the draws' gradient (:class:`PackedTrilGradEps`, ``g L``) is a third,
which the ELBO's gradient never needs (the draws do not depend on the parameters) and
PyTensor leaves out. :class:`PackedFullRankGroup` is PyMC's group with its draw and its
``log q`` through these Ops, and nothing else changed: the same parameters, start,
optimizer and random draws, the same losses to ~1e-11 (rounding: the sums run in
another order; ``tests/test_packed_factor.py``). Its ``L``, ``cov`` and ``std`` (what
a fitted approximation reports) are PyMC's.

``perform`` is NumPy (C and Python modes); numba kernels are registered with PyTensor's
numba dispatcher, with a cache key that changes with this file. No JAX implementation
(:class:`~bnn_models.inference.fullrank_advi.FullRankADVISettings` refuses the pair).
Chosen by ``FullRankADVISettings(packed_factor=True)``, never by default: what a PyMC
user gets is PyMC's own group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
from pymc.variational.approximations import FullRankGroup, SingleGroupApproximation
from pymc.variational.inference import FullRankADVI, KLqp
from pymc.variational.opvi import node_property
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

__all__ = [
    "PackedFullRankADVI",
    "PackedFullRankGroup",
    "PackedTril",
    "PackedTrilGradEps",
    "PackedTrilGradL",
    "packed_tril",
]

#: Fast-math flags of the kernels: reassociation lets LLVM vectorise the sums over a
#: row; no approximate functions, so exp, log and log1p are exact.
_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

#: Part of the numba cache key: a hash of this file (no stale kernel from the disk cache).
_VERSION = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


# --- numba kernels: the triangle row by row, entry k of row r at r (r + 1) / 2 + c ---


@numba.njit(fastmath=_FASTMATH)
def _diagonal(tril: np.ndarray, d: int) -> tuple[np.ndarray, float]:
    """softplus of the diagonal entries, and the sum of their logs (log det L)."""
    sd = np.empty(d)
    logdet = 0.0
    k = 0
    for r in range(d):
        rho = tril[k + r]
        sd[r] = max(rho, 0.0) + np.log1p(np.exp(-abs(rho)))
        logdet += np.log(sd[r])
        k += r + 1
    return sd, logdet


@numba.njit(fastmath=_FASTMATH)
def _forward(tril: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, d = eps.shape
    if tril.shape[0] != d * (d + 1) // 2:
        raise ValueError("packed_tril: L_tril does not hold the lower triangle of eps's size")
    sd, logdet = _diagonal(tril, d)
    z = np.empty((n, d))
    for i in range(n):
        e = eps[i]
        k = 0
        for r in range(d):
            acc = sd[r] * e[r]
            for c in range(r):
                acc += tril[k + c] * e[c]
            z[i, r] = acc
            k += r + 1
    return z, np.asarray(logdet)


@numba.njit(fastmath=_FASTMATH)
def _grad_tril(
    tril: np.ndarray, eps: np.ndarray, gz: np.ndarray, glogdet: np.ndarray
) -> np.ndarray:
    n, d = eps.shape
    if tril.shape[0] != d * (d + 1) // 2 or gz.shape != eps.shape:
        raise ValueError("packed_tril: the shapes of L_tril, eps and the cotangent disagree")
    out = np.zeros(tril.shape[0])
    for i in range(n):
        e = eps[i]
        k = 0
        for r in range(d):
            g = gz[i, r]
            for c in range(r + 1):
                out[k + c] += g * e[c]
            k += r + 1
    # Diagonal: d/d rho of softplus(rho) is sigmoid(rho); of log softplus(rho), over it.
    g_logdet = glogdet[()]
    k = 0
    for r in range(d):
        rho = tril[k + r]
        e = np.exp(-abs(rho))
        sd = max(rho, 0.0) + np.log1p(e)
        sig = 1.0 / (1.0 + e) if rho >= 0.0 else e / (1.0 + e)
        out[k + r] = (out[k + r] + g_logdet / sd) * sig
        k += r + 1
    return out


@numba.njit(fastmath=_FASTMATH)
def _grad_eps(tril: np.ndarray, eps: np.ndarray, gz: np.ndarray) -> np.ndarray:
    n, d = eps.shape
    if tril.shape[0] != d * (d + 1) // 2 or gz.shape != eps.shape:
        raise ValueError("packed_tril: the shapes of L_tril, eps and the cotangent disagree")
    sd, _ = _diagonal(tril, d)
    out = np.zeros((n, d))
    for i in range(n):
        k = 0
        for r in range(d):
            g = gz[i, r]
            for c in range(r):
                out[i, c] += g * tril[k + c]
            out[i, r] += g * sd[r]
            k += r + 1
    return out


# --- NumPy, the same functions (perform) ---


def _dense(tril: np.ndarray, d: int) -> np.ndarray:
    """The dense factor, as PyMC builds it: the triangle, softplus on the diagonal."""
    if tril.shape != (d * (d + 1) // 2,):
        raise ValueError(f"packed_tril: L_tril has shape {tril.shape}, not ({d * (d + 1) // 2},)")
    L = np.zeros((d, d))
    L[np.tril_indices(d)] = tril
    i = np.arange(d)
    L[i, i] = np.logaddexp(0.0, L[i, i])
    return L


def _numpy_forward(tril: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    L = _dense(tril, eps.shape[1])
    return eps @ L.T, np.asarray(np.log(np.diag(L)).sum())


def _numpy_grad_tril(tril, eps, gz, glogdet) -> np.ndarray:
    d = eps.shape[1]
    L = _dense(tril, d)
    rows, cols = np.tril_indices(d)
    out = (gz.T @ eps)[rows, cols]
    on = rows == cols
    sd = np.diag(L)
    out[on] = (out[on] + glogdet / sd) / (1.0 + np.exp(-tril[on]))
    return out


def _numpy_grad_eps(tril, eps, gz) -> np.ndarray:
    return gz @ _dense(tril, eps.shape[1])


# --- the Ops ---


def _inputs(op: str, args: Sequence[Any], dims: Sequence[int]) -> list[Variable]:
    names = ("L_tril", "eps", "g_z", "g_logdet")[: len(dims)]
    if len(args) != len(dims):
        raise TypeError(f"{op}: expected inputs {', '.join(names)}, got {len(args)}")
    out = []
    for name, arg, ndim in zip(names, args, dims, strict=True):
        var = pt.as_tensor_variable(arg)
        if var.ndim != ndim:
            raise TypeError(f"{op}: {name} must have {ndim} dims, got {var.ndim}")
        out.append(var.astype("float64"))
    n_entries, d = out[0].type.shape[0], out[1].type.shape[1]
    if n_entries is not None and d is not None and n_entries != d * (d + 1) // 2:
        raise ValueError(f"{op}: L_tril has {n_entries} entries, not d (d + 1) / 2 for d = {d}")
    return out


class PackedTril(Op):
    """``(L_tril, eps) -> (eps @ L.T, log det L)``.

    ``L_tril`` (d (d + 1) / 2,): the lower triangle of ``L`` row by row, its diagonal
    entries before a softplus (PyMC's full-rank parametrisation); ``eps`` (n, d).
    """

    __props__ = ()

    def make_node(self, *args: Any) -> Apply:
        tril, eps = _inputs("packed_tril", args, (1, 2))
        return Apply(self, [tril, eps], [eps.type(), pt.scalar(dtype="float64")])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        z, logdet = _numpy_forward(*inputs)
        output_storage[0][0], output_storage[1][0] = z, logdet

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1], ()]

    def pullback(self, inputs, outputs, cotangents):
        tril, eps = inputs
        gz, glogdet = (
            pt.zeros_like(out) if isinstance(cot.type, DisconnectedType) else cot
            for out, cot in zip(outputs, cotangents, strict=True)
        )
        return [PackedTrilGradL()(tril, eps, gz, glogdet), PackedTrilGradEps()(tril, eps, gz)]


class _PackedTrilGrad(Op):
    """One of :class:`PackedTril`'s two gradients: ``label`` and the inputs' dims for
    make_node's checks, ``like`` the input whose type and shape the output has,
    ``numpy_fn`` the NumPy ``perform``. No second derivative."""

    __props__ = ()
    label: str
    dims: tuple[int, ...]
    like: int
    numpy_fn: Callable[..., np.ndarray]

    def make_node(self, *args: Any) -> Apply:
        inputs = _inputs(self.label, args, self.dims)
        return Apply(self, inputs, [inputs[self.like].type()])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        output_storage[0][0] = type(self).numpy_fn(*inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[self.like]]

    def pullback(self, inputs, outputs, cotangents):
        return [
            grad_not_implemented(self, k, inp, "packed_tril has no second derivative")
            for k, inp in enumerate(inputs)
        ]


class PackedTrilGradL(_PackedTrilGrad):
    """Gradient of :class:`PackedTril` with respect to ``L_tril``:
    ``(L_tril, eps, g_z, g_logdet) -> sum_i g_z[i] d z_i / d L_tril + g_logdet d logdet / d L_tril``."""

    label, dims, like, numpy_fn = "packed_tril_grad_l", (1, 2, 2, 0), 0, _numpy_grad_tril


class PackedTrilGradEps(_PackedTrilGrad):
    """Gradient of :class:`PackedTril` with respect to ``eps``: ``(L_tril, eps, g_z) -> g_z @ L``."""

    label, dims, like, numpy_fn = "packed_tril_grad_eps", (1, 2, 2), 1, _numpy_grad_eps


def packed_tril(tril: Any, eps: Any) -> tuple[Variable, Variable]:
    """``(eps @ L.T, log det L)`` for ``L`` packed as PyMC's full-rank ``L_tril``
    (:class:`PackedTril`)."""
    z, logdet = PackedTril().make_node(tril, eps).outputs
    return z, logdet


def _packed_tril_entry(tril, eps):
    return _forward(tril, eps)


def _packed_tril_grad_l_entry(tril, eps, gz, glogdet):
    return _grad_tril(tril, eps, gz, glogdet)


def _packed_tril_grad_eps_entry(tril, eps, gz):
    return _grad_eps(tril, eps, gz)


#: Each Op's numba entry (a Python function that calls its kernel: PyTensor's numba
#: linker compiles it under its own name).
_KERNELS: dict[type[Op], Callable] = {
    PackedTril: _packed_tril_entry,
    PackedTrilGradL: _packed_tril_grad_l_entry,
    PackedTrilGradEps: _packed_tril_grad_eps_entry,
}


def _numba_entry(op: Op, node: Apply | None = None, **kwargs: Any) -> tuple[Callable, int]:
    return numba_njit(_KERNELS[type(op)]), _VERSION


for _op_type in _KERNELS:
    register_funcify_default_op_cache_key(_op_type)(_numba_entry)


class PackedFullRankGroup(FullRankGroup):  # type: ignore[misc]
    """PyMC's full-rank group, its draw and ``log q`` through :class:`PackedTril`.

    Parameters, start and every other property are PyMC's (``L`` included); one draw
    ``z0`` of the standard normal (s, d) per Monte Carlo sample, as PyMC's.
    """

    @node_property
    def _packed(self) -> tuple[Variable, Variable]:
        initial = self.symbolic_initial
        if initial.ndim != 2:
            raise NotImplementedError("the packed full-rank group is not batched")
        return packed_tril(self.params_dict["L_tril"], initial)

    @node_property
    def symbolic_random(self) -> Variable:
        return self._packed[0] + self.mean

    @node_property
    def symbolic_logq_not_scaled(self) -> Variable:
        z0 = self.symbolic_initial
        quaddist = -0.5 * z0**2 - np.log((2 * np.pi) ** 0.5)
        return quaddist.sum(axis=1) - self._packed[1]


class _PackedFullRank(SingleGroupApproximation):  # type: ignore[misc]
    _group_class = PackedFullRankGroup


class PackedFullRankADVI(FullRankADVI):  # type: ignore[misc]
    """``pm.FullRankADVI`` whose group is :class:`PackedFullRankGroup`: the same fit
    (``pm.fit``, optimizers, callbacks), the packed Ops in its step."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        KLqp.__init__(self, _PackedFullRank(*args, **kwargs))
