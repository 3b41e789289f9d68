"""The fused likelihood's kernels: one pass over the rows, in numba and in NumPy.

:func:`_kernel` is the generic numba kernel, :func:`_shape_kernel` the same kernel
compiled for one shape of weights (the counts written in as constants, so that LLVM
unrolls the loops over the features), and :func:`_numpy_value_grad` the same function in
NumPy (the Ops' ``perform``). The Ops that call them, and the rewrites that choose
between them, are in :mod:`bnn_models.accel.fused`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

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


#: Part of the numba cache key: a hash of this file and of the Ops' entry points
#: (:mod:`bnn_models.accel.fused`), so that PyTensor's on-disk numba cache never serves a
#: kernel older than the source.
_KERNEL_VERSION = int(
    hashlib.sha256(
        Path(__file__).read_bytes() + Path(__file__).with_name("fused.py").read_bytes()
    ).hexdigest()[:12],
    16,
)


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
