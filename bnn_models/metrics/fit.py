"""The section functions of a fit's metrics: runtime, ELBO convergence, spread, diagnostics.

Every function takes a :class:`~bnn_models.inference.FitResult` (and the test labels
where needed) and returns plain JSON-ready numbers; units are in the key names
(``_s`` seconds, ``_per_s`` per second) or documented.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.helper_stats import isotonic_fit

from bnn_models.inference import FitResult, rule_converged
from bnn_models.model import PARAMS
from bnn_models.posterior import rhat_ess

__all__ = [
    "diagnostics",
    "elbo",
    "iterations_to_within",
    "reliability",
    "runtime",
    "spread",
    "us_per_gradient_per_core",
    "us_per_step",
]


def reliability(result: FitResult, y: np.ndarray, *, seed: int = 0, ci_prob: float = 0.9) -> dict:
    """Data of a PAV-adjusted reliability diagram (ArviZ's ``isotonic_fit``).

    Replicated labels are drawn from every posterior draw of the test probabilities
    (the posterior predictive); ArviZ fits the isotonic (PAV) regression of the
    observed labels on the mean prediction (the conditional event probability, CEP)
    and of each replicate, whose spread gives the consistency band.

    Returns
    -------
    dict
        ``forecast`` (sorted mean predictions), ``cep``, ``band_low``, ``band_high``.
    """
    p = result.idata["predictions"].to_dataset()["p"]
    rng = np.random.default_rng(seed)
    y_rep = (rng.uniform(size=p.shape) < p.to_numpy()).astype(np.int64)
    tree = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset({"y": (p.dims, y_rep)}, coords=p.coords),
            "observed_data": xr.Dataset({"y": ("obs", np.asarray(y, dtype=np.int64))}),
        }
    )
    with warnings.catch_warnings():
        # ArviZ lays the curves on a "chain" axis and the rows on "draw": with fewer test
        # rows than curves it warns about a chain axis longer than the draws, wrongly here.
        warnings.filterwarnings("ignore", "Found chain dimension to be longer", UserWarning)
        fit = isotonic_fit(tree, var_names=["y"], group="posterior_predictive", ci_prob=ci_prob)
    fit = fit["y"]
    rows = {
        name: fit.sel(plot_axis=axis).values.tolist()
        for name, axis in (
            ("forecast", "x"),
            ("cep", "y"),
            ("band_low", "y_bottom"),
            ("band_high", "y_top"),
        )
    }
    return {"ci_prob": ci_prob, **rows}


def us_per_gradient_per_core(seconds: float, gradients: int, *, chains: int, cores: int) -> float:
    """Wall microseconds per gradient per core: ``seconds`` times the cores in use
    (``min(chains, cores)``) over every chain's ``gradients``: what one gradient costs the
    core that computes it, comparable across chain counts (the seconds over the gradients
    alone would count each gradient twice where 4 chains share 2 cores).

    The project's one cost per gradient: ``seconds`` and ``gradients`` are those of
    sampling, warm-up excluded (``runtime.us_per_grad_core``; warm-up adapts the step
    size, so its gradients cost differently from one run to the next). Every table of
    the project labelled "per gradient, per core" shows this.

    Examples
    --------
    >>> us_per_gradient_per_core(2.0, 100_000, chains=4, cores=2)
    40.0
    """
    return 1e6 * seconds * min(chains, cores) / gradients


def us_per_step(
    fit_s: float, steps: int, *, warm_start_s: float = 0.0, warm_steps: int = 0
) -> float | None:
    """Wall microseconds per optimisation step of the method's own optimiser: fitting
    seconds over steps, a warm start's seconds and steps left out (full-rank ADVI's
    mean-field stage costs less per step and is a different optimiser).

    The project's one cost per step (``runtime.us_per_iter``); None where no own step ran.

    Examples
    --------
    >>> us_per_step(3.0, 15_000, warm_start_s=1.0, warm_steps=10_000)
    400.0
    """
    own_s, own_steps = fit_s - warm_start_s, steps - warm_steps
    return 1e6 * own_s / own_steps if own_steps > 0 and own_s > 0 else None


def runtime(result: FitResult, diag: dict | None = None) -> dict:
    """Seconds per stage and throughput.

    Where the result holds MCMC sample stats: ``draws_per_s`` (kept draws of all chains
    per second of warm-up and sampling), ``ess_bulk_per_s`` (the smallest bulk ESS over
    the test-set probabilities, the symmetry-invariant quantity, per second of warm-up
    and sampling: the cost of getting it), ``ess_bulk_per_s_sampling`` (per second of
    sampling alone, where warm-up was timed apart), the same over the weights, and
    ``ess_bulk_per_grad`` (per gradient evaluation, warm-up included). Where the
    method counts its gradients by phase: ``grad_per_draw`` (sampling gradients per
    kept draw), ``us_per_grad`` (wall microseconds of sampling per gradient, all chains
    together) and, where the config says how many chains ran on how many cores,
    ``us_per_grad_core`` (the same times the cores in use, ``min(chains, cores)``: what
    one gradient costs the core that computes it, comparable across chain counts).
    Where it holds a loss trace: ``iter_per_s`` and ``us_per_iter`` (wall microseconds
    of fitting per optimisation step of the method itself: a warm start's steps and
    seconds, where the result records them, left out). ``grad_evals``: gradient evaluations of the log
    density. ``diag``: the result's :func:`diagnostics`, when already computed.
    """
    t = dict(result.timings)
    out: dict[str, float | int | None] = {k: float(v) for k, v in t.items()}
    post = result.idata["posterior"]
    n_draws = int(post.sizes["chain"] * post.sizes["draw"])
    if _has_chains(result) and t["fit_s"] > 0:
        diag = diag or diagnostics(result) or {}
        out["draws_per_s"] = n_draws / t["fit_s"]
        out["ess_bulk_per_s"] = diag["ess_bulk_min_pred"] / t["fit_s"]
        out["ess_bulk_weights_per_s"] = diag["ess_bulk_min_weights"] / t["fit_s"]
        if t.get("sampling_s"):
            out["ess_bulk_per_s_sampling"] = diag["ess_bulk_min_pred"] / t["sampling_s"]
        if result.n_grad_evals:
            out["ess_bulk_per_grad"] = diag["ess_bulk_min_pred"] / result.n_grad_evals
    sampling_grads = result.counts.get("grad_evals_sampling")
    if sampling_grads:
        out["grad_per_draw"] = sampling_grads / n_draws
        if t.get("sampling_s"):
            out["us_per_grad"] = 1e6 * t["sampling_s"] / sampling_grads
            chains, cores = result.config.get("chains"), result.config.get("cores")
            if chains and cores:
                out["us_per_grad_core"] = us_per_gradient_per_core(
                    t["sampling_s"], sampling_grads, chains=int(chains), cores=int(cores)
                )
    if result.loss is not None and len(result.loss) and t["fit_s"] > 0:
        out["iter_per_s"] = len(result.loss) / t["fit_s"]
        # The method's own steps: a warm start's steps and seconds (its own optimiser,
        # e.g. mean-field steps before full-rank ones) are not among them.
        warm = result.convergence.get("warm_start") or {}
        per_step = us_per_step(
            t["fit_s"],
            len(result.loss),
            warm_start_s=t.get("warm_start_s", 0.0),
            warm_steps=int(warm.get("iterations", 0)),
        )
        if per_step is not None:
            out["us_per_iter"] = per_step
    out["grad_evals"] = result.n_grad_evals
    return out


def _has_chains(result: FitResult) -> bool:
    """Whether the result holds MCMC sample stats over more than one chain."""
    return "sample_stats" in result.idata.children and result.idata["posterior"].sizes["chain"] > 1


def _smoothed(loss: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(loss).rolling(window, min_periods=1).mean().to_numpy()


def iterations_to_within(loss: np.ndarray, *, window: int, rel: float = 0.01) -> int:
    """The suite's one definition of "to 1% of the final loss".

    The first iteration (1-based) from which the loss, smoothed by a trailing mean over
    ``window`` iterations, stays within ``rel`` (relative) of its final smoothed value.
    Every report and study that quotes a time or a step count "to 1%" uses this.

    Parameters
    ----------
    loss : array_like
        The loss per iteration (PyMC's ``pm.fit`` history: minus the ELBO, in nats).
    window : int
        Iterations of the trailing mean (the convergence rule's window).
    rel : float
        Relative distance to the final smoothed loss.

    Returns
    -------
    int
        1 when the smoothed loss never leaves the band.

    Examples
    --------
    >>> iterations_to_within(np.r_[np.full(10, 200.0), np.full(30, 100.0)], window=4)
    14
    """
    loss = np.asarray(loss, dtype=float)
    smooth = _smoothed(loss, max(1, min(int(window), loss.size)))
    final = smooth[-1]
    outside = np.flatnonzero(np.abs(smooth - final) > rel * abs(final))
    return int(outside[-1] + 2) if outside.size else 1


def elbo(result: FitResult, *, rel: float = 0.01) -> dict | None:
    """ELBO convergence of a fit that holds a loss trace (None without one).

    ELBO is minus PyMC's loss, in nats. ``final_elbo`` and ``final_elbo_sd`` are the
    mean and sd over the last ``window`` iterations. ``iter_to_1pct`` is the first
    iteration from which the loss smoothed over ``window`` iterations stays within
    ``rel`` (1%) of its final smoothed value. ``rule_fired_at`` is the convergence
    rule's iteration (None: it never fired within ``max_iter``); ``converged`` is true only
    when it fired before the fit's step cap (:func:`bnn_models.inference.rule_converged`):
    a rule that fires at the cap does not count.
    """
    if result.loss is None or not len(result.loss):
        return None
    loss = np.asarray(result.loss, dtype=float)
    window = int(result.convergence.get("window") or loss.size)
    tail = loss[-window:]
    first_within = iterations_to_within(loss, window=window, rel=rel)
    return {
        "final_elbo": float(-tail.mean()),
        "final_elbo_sd": float(tail.std()),
        "neg_final_elbo": float(tail.mean()),
        "iterations": int(loss.size),
        "iter_to_1pct": first_within,
        "rule_fired_at": result.convergence.get("fired_at"),
        "converged": rule_converged(result.convergence),
        "window": window,
    }


def spread(result: FitResult) -> dict:
    """Posterior spread in weight space and in function space.

    ``param_sd``: mean (over elements) of each parameter's posterior sd, per layer.
    Pooled over chains, it is NOT invariant to the hidden units' permutation
    symmetry: NUTS chains in different modes inflate it. ``pred_sd_mean`` (and the
    per-point ``pred_sd``) is the sd of the test-set probabilities over draws, which
    the symmetry leaves unchanged: compare methods on it.
    """
    post = result.idata["posterior"]
    param_sd = {v: float(post[v].std(dim=("chain", "draw")).mean()) for v in PARAMS}
    p = result.p_test
    pred_sd = p.std(axis=0)
    return {
        "param_sd": param_sd,
        "pred_sd_mean": float(pred_sd.mean()),
        "pred_sd_median": float(np.median(pred_sd)),
        "pred_sd_max": float(pred_sd.max()),
        "pred_sd": pred_sd.tolist(),
        "pred_mean": p.mean(axis=0).tolist(),
    }


def diagnostics(result: FitResult) -> dict | None:
    """MCMC diagnostics from ArviZ, where the result holds sample stats of several chains.

    R-hat (rank-normalised) and bulk/tail ESS over every weight and over every
    test-set probability; divergences and mean tree depth where the sampler records
    them. None for a result without chains to compare (VI, point estimates).
    """
    if not _has_chains(result):
        return None
    idata = result.idata
    out: dict = {}
    for label, kw in (("weights", {"var_names": list(PARAMS)}), ("pred", {"group": "predictions"})):
        summary = rhat_ess(idata, **kw)
        out[f"rhat_max_{label}"] = summary["rhat_max"]
        out[f"ess_bulk_min_{label}"] = summary["ess_bulk_min"]
        out[f"ess_tail_min_{label}"] = summary["ess_tail_min"]
    stats = idata["sample_stats"]
    if "diverging" in stats:
        out["divergences"] = int(stats["diverging"].sum())
    for name in ("depth", "tree_depth"):
        if name in stats:
            out["tree_depth_mean"] = float(stats[name].mean())
            break
    return out
