"""The one definition of the Bayesian neural network used by every method."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.model.fgraph import fgraph_from_model, model_from_fgraph, model_observed_rv
from pymc.variational.minibatch_rv import create_minibatch_rv
from pytensor.graph.replace import graph_replace

from bnn_models.errors import BadInput

__all__ = [
    "N_HIDDEN",
    "PARAMS",
    "PRIOR_SIGMA",
    "bernoulli_logit_logp",
    "build_bnn",
    "minibatch_bnn",
    "set_inputs",
]

#: Weight and bias names, the same in every method's posterior.
PARAMS = ("W0", "b0", "W1", "b1")
#: Hidden units of the published network (arXiv 1911.09660): the default everywhere.
N_HIDDEN = 12
#: Prior sd of every weight and bias: the default everywhere.
PRIOR_SIGMA = 1.0


def bernoulli_logit_logp(value: pt.TensorVariable, logit: pt.TensorVariable) -> pt.TensorVariable:
    """Bernoulli log-probability of ``value`` (0/1) on the logit scale: ``-softplus(-s logit)``.

    The same function as ``pm.Bernoulli(logit_p=...)``, whose gradient is not finite
    everywhere: PyMC (6.3) computes ``log1p(-sigmoid(logit))``; the forward pass is
    rewritten to ``-softplus(logit)``, but the gradient keeps ``-s (1 - s) / (1 - s)``,
    0/0 once ``sigmoid(logit)`` rounds to 1 (logit > ~37 on a 0 label). Any point with
    such a row has a NaN gradient: SVGD's particles (100 started at prior scale) always
    held one. Here the gradient is ``value - sigmoid(logit)``, finite for every logit.

    The label enters as a sign, ``s = +1`` for a 1 and ``-1`` otherwise, so each row
    costs one softplus and, in the gradient, one sigmoid. Written as a switch between
    ``-softplus(-logit)`` and ``-softplus(logit)`` (this function until issue 13), the
    gradient evaluates both branches' softplus and sigmoid on every row: the same
    values to the last bit (negating a float is exact; tested), and 18-29% more time per
    log density and gradient of the rupture model (``studies/upstream_repros/results/fused_repro.md``,
    ``nutpie_cost.md`` and ``summary.md``).

    Examples
    --------
    >>> import numpy as np
    >>> lp = bernoulli_logit_logp(pt.as_tensor(np.array([1, 0])), pt.as_tensor([0.0, 0.0]))
    >>> np.allclose(lp.eval(), np.log([0.5, 0.5]))
    True
    """
    sign = pt.switch(pt.eq(value, 1), 1, -1).astype(logit.dtype)
    return -pt.softplus(-sign * logit)


def _bernoulli_logit(logit: pt.TensorVariable, size: pt.TensorVariable) -> pt.TensorVariable:
    return pm.Bernoulli.dist(logit_p=logit, size=size)


def _fused_bernoulli(logit: pt.TensorVariable, *rest: pt.TensorVariable) -> pt.TensorVariable:
    # rest: X, W0, b0, W1, b1 (for the fused log density), then the size
    return _bernoulli_logit(logit, rest[-1])


def _fused_logp(
    value: pt.TensorVariable,
    logit: pt.TensorVariable,
    X: pt.TensorVariable,
    W0: pt.TensorVariable,
    b0: pt.TensorVariable,
    W1: pt.TensorVariable,
    b1: pt.TensorVariable,
) -> pt.TensorVariable:
    # logit only for draws: the Op recomputes it, so the log density never builds it
    from bnn_models.accel.fused import fused_loglik  # numba's dispatcher: ~1 s, only when used

    return fused_loglik(X, value, W0, b0, W1, b1)


# The reference posterior's cache key hashes this function's source, docstring included
# (bnn_models.reference): the committed references match it only while the text stays as
# it was built. The fused Op it names now lives in bnn_models.accel.fused.
def build_bnn(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_hidden: int = N_HIDDEN,
    prior_sigma: float = PRIOR_SIGMA,
    feature_names: tuple[str, ...] | None = None,
    fused: bool = False,
) -> pm.Model:
    """Build the ``features``-``n_hidden``-1 ReLU network with Normal priors.

    The network of arXiv 1911.09660: one hidden ReLU layer, a sigmoid output, and
    Normal(0, ``prior_sigma``) priors on every weight and bias. The likelihood is
    Bernoulli on the logit scale (:func:`bernoulli_logit_logp`, whose gradient is finite
    for every logit); ``p`` is the predicted
    probability, a deterministic of the inputs, so swapping the inputs with
    :func:`set_inputs` predicts new rows with the same model.

    Parameters
    ----------
    X : numpy.ndarray, shape (rows, features)
        Standardised inputs.
    y : numpy.ndarray, shape (rows,)
        0/1 labels.
    n_hidden : int
        Hidden units.
    prior_sigma : float
        Prior sd of every weight and bias.
    feature_names : tuple of str, optional
        Coordinates of the ``feature`` dim.
    fused : bool
        Opt-in, never the default: the likelihood's log-density (and its gradient) is
        one custom PyTensor Op, :func:`bnn_models.fused.fused_loglik`, instead of
        PyTensor's graph of the dense layer; the same variables, priors and function.

    Returns
    -------
    pymc.Model
        Free variables ``W0`` (feature, hidden), ``b0`` (hidden), ``W1`` (hidden),
        ``b1`` (scalar); data ``X``, ``y``; deterministic ``p`` (obs).

    Examples
    --------
    >>> import numpy as np
    >>> model = build_bnn(np.zeros((4, 2)), np.array([0, 1, 0, 1]), n_hidden=3)
    >>> sorted(v.name for v in model.free_RVs)
    ['W0', 'W1', 'b0', 'b1']
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise BadInput(
            f"build_bnn: X must be (rows, features) and y (rows,), got {X.shape}, {y.shape}"
        )
    if n_hidden < 1:
        raise BadInput(f"build_bnn: n_hidden must be >= 1, got {n_hidden}")
    if not prior_sigma > 0:
        raise BadInput(f"build_bnn: prior_sigma must be > 0, got {prior_sigma}")
    names = feature_names or tuple(f"x{j}" for j in range(X.shape[1]))
    coords = {
        "feature": list(names),
        "hidden": list(range(n_hidden)),
        "obs": list(range(X.shape[0])),
    }
    with pm.Model(coords=coords) as model:
        X_data = pm.Data("X", X, dims=("obs", "feature"))
        y_data = pm.Data("y", y.astype(np.int64), dims="obs")
        W0 = pm.Normal("W0", 0.0, prior_sigma, dims=("feature", "hidden"))
        b0 = pm.Normal("b0", 0.0, prior_sigma, dims="hidden")
        W1 = pm.Normal("W1", 0.0, prior_sigma, dims="hidden")
        b1 = pm.Normal("b1", 0.0, prior_sigma)
        hidden = pt.maximum(X_data @ W0 + b0, 0.0)
        logit = hidden @ W1 + b1
        pm.Deterministic("p", pm.math.sigmoid(logit), dims="obs")
        if fused:
            pm.CustomDist(
                "y_obs",
                logit,
                X_data,
                W0,
                b0,
                W1,
                b1,
                dist=_fused_bernoulli,
                logp=_fused_logp,
                observed=y_data,
                dims="obs",
            )
        else:
            pm.CustomDist(
                "y_obs",
                logit,
                dist=_bernoulli_logit,
                logp=bernoulli_logit_logp,
                observed=y_data,
                dims="obs",
            )
    return model


def minibatch_bnn(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    n_hidden: int = N_HIDDEN,
    prior_sigma: float = PRIOR_SIGMA,
    feature_names: tuple[str, ...] | None = None,
    fused: bool = False,
) -> pm.Model:
    """:func:`build_bnn`'s network whose likelihood sees ``batch_size`` random rows per
    evaluation, scaled to the whole data (PyMC's ``pm.Minibatch`` and ``total_size``).

    Derived from :func:`build_bnn`'s own model, so the network stays written once: the
    model is turned into a graph (:func:`pymc.model.fgraph.fgraph_from_model`), the
    observed variable ``y_obs`` is rebuilt on ``pm.Minibatch(X, y)`` rows (drawn with
    replacement, anew at every evaluation) and wrapped by
    :func:`pymc.variational.minibatch_rv.create_minibatch_rv` with ``total_size=rows``,
    which multiplies its log density by ``rows / batch_size``: an unbiased estimate of
    the full log likelihood. Priors, free variables, the data ``X``, ``y`` (all rows) and
    the deterministic ``p`` (on all rows) are :func:`build_bnn`'s; ``y_obs`` has no dims
    (its length is the batch's). The batches' generator is seeded where a function is
    compiled (``pm.fit``'s ``random_seed``; ``compile_logp(random_seed=...)``).

    ``batch_size >= rows`` returns :func:`build_bnn`'s model itself: every row once per
    evaluation, the exact log density (a minibatch of all rows drawn with replacement
    would repeat some rows and miss others).

    Parameters
    ----------
    X, y, n_hidden, prior_sigma, feature_names, fused
        As :func:`build_bnn`.
    batch_size : int
        Rows per evaluation of the likelihood.

    Returns
    -------
    pymc.Model

    Raises
    ------
    BadInput
        ``batch_size`` below 1, or what :func:`build_bnn` refuses.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((8, 2)), np.array([0, 1] * 4)
    >>> model = minibatch_bnn(X, y, 4, n_hidden=3)
    >>> float(model.compile_logp()(model.initial_point())) == float(  # all logits 0
    ...     build_bnn(X, y, n_hidden=3).compile_logp()(model.initial_point())
    ... )
    True
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise BadInput(f"minibatch_bnn: batch_size must be an integer, got {batch_size!r}")
    if batch_size < 1:
        raise BadInput(f"minibatch_bnn: batch_size must be >= 1, got {batch_size}")
    full = build_bnn(
        X,
        y,
        n_hidden=n_hidden,
        prior_sigma=prior_sigma,
        feature_names=feature_names,
        fused=fused,
    )
    rows = int(np.shape(X)[0])
    if batch_size >= rows:
        return full
    fgraph, memo = fgraph_from_model(full)
    # the graph's own copies of the data (fgraph_from_model copies shared variables)
    X_data, y_data = (memo[full[name]].owner.inputs[0] for name in ("X", "y"))
    observed = memo[full["y_obs"]]
    rv, value = observed.owner.inputs
    X_batch, y_batch = pm.Minibatch(X_data, y_data, batch_size=int(batch_size))
    n_obs = fgraph._dim_lengths["obs"]  # type: ignore[attr-defined]  # the draw's length
    # graph_replace clones only what lies between the replaced inputs and the outputs: the
    # free variables stay the model's own
    rv_batch, value_batch = graph_replace(
        [rv, value],
        {X_data: X_batch, y_data: y_batch, n_obs: pt.constant(batch_size, dtype=n_obs.dtype)},
    )
    scaled = create_minibatch_rv(rv_batch, total_size=rows)
    fgraph.replace(observed, model_observed_rv(scaled, value_batch, "y_obs"), import_missing=True)
    model = model_from_fgraph(fgraph, mutate_fgraph=True)
    # model_from_fgraph lists the free variables in its graph's order (b1 first); code
    # that passes a point by position (PyMC's NDArray trace, used by approx.sample under
    # build_bnn's model) needs build_bnn's order
    order = [rv.name for rv in full.free_RVs]
    model.free_RVs.sort(key=lambda rv: order.index(rv.name))
    return model


def set_inputs(model: pm.Model, X: np.ndarray, y: np.ndarray | None = None) -> None:
    """Swap the model's data for new rows (labels default to zeros: unused by ``p``)."""
    X = np.asarray(X, dtype=float)
    y = np.zeros(X.shape[0], dtype=np.int64) if y is None else np.asarray(y, dtype=np.int64)
    with model:
        pm.set_data({"X": X, "y": y}, coords={"obs": list(range(X.shape[0]))})
