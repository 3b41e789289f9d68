"""What each second buys: one fit's fidelity and test log loss as functions of its cost.

A fit is scored not only where it ended but at cheaper states it passed through, each
charged with the seconds and gradient evaluations it needed:

- MCMC (family ``mcmc``): prefixes of the kept draws (50, 100, 250, 500,
  1,000, ... per chain) of the first 1, 2, 4, ... chains, each charged with the warm-up of
  its chains;
- any method whose fit recorded intermediate states (an ``anytime`` group: VI snapshots
  during optimisation, the ensemble's first k members, ...), each as recorded;
- every fit: its final state.

Each point holds the fidelity to the reference posterior (:func:`~bnn_models.fidelity.
function_space`: mean ``|dp|``, predictive-sd ratio, class agreement), the test log loss of its
mean probability, and whether the fit's own diagnostics pass there (MCMC: function-space
R-hat <= 1.01 and bulk ESS >= 400; a VI rule: fired, with steps to spare).

Seconds are wall-clock seconds on the machine that ran the fit. An MCMC point of ``c`` of
``C`` chains and ``d`` of ``D`` draws is charged the fit's seconds outside sampling
(compile, prediction: its total minus its sampling seconds) plus the
sampling run's seconds times the share of its gradients that the point used, scaled to ``c``
chains on the same cores (chains run ``min(C, cores)`` at a time: fewer chains than cores
leave cores idle, so one chain costs the wall time of a round, not a fraction of it).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.fidelity import function_space
from bnn_models.inference import FitResult
from bnn_models.reference import Reference
from bnn_models.refsummary import ACCEPT_ESS_BULK, ACCEPT_RHAT
from bnn_models.scores import calibration

__all__ = [
    "ANYTIME_CHAINS",
    "ANYTIME_DRAWS",
    "FIDELITY_KEYS",
    "anytime",
    "envelope",
    "mcmc_checks",
    "score_point",
]

#: Kept draws per chain at which an MCMC fit is scored (and its own length).
ANYTIME_DRAWS = (50, 100, 250, 500, 1000, 2000, 4000)
#: Chains at which an MCMC fit is scored (and its own count).
ANYTIME_CHAINS = (1, 2, 4, 8)
#: The fidelity numbers of every point (the keys of :func:`function_space` kept).
FIDELITY_KEYS = ("pred_tv_mean", "pred_sd_ratio_gmean", "class_agreement")


def score_point(
    mean: np.ndarray, sd: np.ndarray, y: np.ndarray, reference: Reference | None
) -> dict:
    """Test log loss of ``mean`` and, with a reference, its fidelity (:data:`FIDELITY_KEYS`).

    Examples
    --------
    >>> score_point(np.array([0.5, 0.5]), np.zeros(2), np.array([0, 1]), None)["log_loss"]
    0.6931...
    """
    out: dict = {"log_loss": calibration(np.clip(mean, 0.0, 1.0), y)["log_loss"]}
    out.update(dict.fromkeys(FIDELITY_KEYS))
    if reference is not None:
        fs = function_space(mean, sd, reference.pred_mean, reference.pred_sd)
        out.update({k: fs[k] for k in FIDELITY_KEYS})
    return out


def mcmc_checks(p: np.ndarray) -> dict:
    """Largest R-hat and smallest bulk ESS over the test probabilities ``p`` (chain, draw, obs).

    One chain is split in two halves first (ArviZ's R-hat needs two chains): R-hat then
    compares its halves.
    """
    if p.shape[0] == 1:
        half = p.shape[1] // 2
        p = np.stack([p[0, :half], p[0, half : 2 * half]])
    ds = xr.Dataset({"p": (("chain", "draw", "obs"), p)})
    import arviz as az  # noqa: PLC0415 - heavy; only MCMC points need it

    rhat = float(np.nanmax(az.rhat(ds)["p"].values))
    ess = float(np.nanmin(az.ess(ds, method="bulk")["p"].values))
    return {
        "rhat_max_pred": rhat,
        "ess_bulk_min_pred": ess,
        "converged": bool(rhat <= ACCEPT_RHAT and ess >= ACCEPT_ESS_BULK),
    }


def _fixed_seconds(timings: dict) -> float:
    """What every state of a fit pays besides the fit itself: its total minus the fit's
    seconds (compile, drawing, predicting and the overhead between them)."""
    return float(timings.get("total_s", 0.0) - timings.get("fit_s", 0.0))


def _grid(full: int, steps: tuple[int, ...]) -> list[int]:
    return sorted({s for s in steps if s < full} | {full})


def _mcmc_points(result: FitResult, y: np.ndarray, reference: Reference | None) -> list[dict]:
    p = result.idata["predictions"]["p"].transpose("chain", "draw", "obs").values
    n_chains, n_draws = p.shape[:2]
    stats = result.idata["sample_stats"]
    t = result.timings
    fixed = _fixed_seconds(t)
    warm = float(result.counts.get("grad_evals_warmup") or 0)
    if "n_steps" in stats:
        steps = stats["n_steps"].transpose("chain", "draw").values.astype(float)
    else:  # no per-draw count: every draw costs the same
        sampling = float(result.counts.get("grad_evals_sampling") or p.shape[0] * p.shape[1])
        steps = np.full((n_chains, n_draws), sampling / (n_chains * n_draws))
    total = warm + steps.sum()
    cores = max(1, min(int(result.config.get("cores") or n_chains), n_chains))
    points = []
    for c in _grid(n_chains, ANYTIME_CHAINS):
        for d in _grid(n_draws, ANYTIME_DRAWS):
            grads = warm * c / n_chains + steps[:c, :d].sum()
            rounds = np.ceil(c / cores) / np.ceil(n_chains / cores)
            # The run's wall time, for the point's share of each round's gradients.
            share = grads / total * (n_chains / c) * rounds if total else 1.0
            sub = p[:c, :d]
            flat = sub.reshape(-1, sub.shape[-1])
            point = {
                "stage": f"{c} chain{'s' * (c > 1)} x {d:,} draws",
                "seconds": float(fixed + t.get("fit_s", 0.0) * share),
                "grad_evals": int(round(grads)),
                "n_draws": int(c * d),
                "final": c == n_chains and d == n_draws,
                **mcmc_checks(sub),
                **score_point(flat.mean(axis=0), flat.std(axis=0), y, reference),
            }
            points.append(point)
    return points


def _recorded_points(result: FitResult, y: np.ndarray, reference: Reference | None) -> list[dict]:
    """The stages the fit recorded (its ``anytime`` group), then its final state."""
    t = result.timings
    fixed = _fixed_seconds(t)
    points = []
    if result.idata is not None and "anytime" in result.idata.children:
        ds = result.idata["anytime"].to_dataset()
        labels = ds["stage_label"].values if "stage_label" in ds.coords else None
        for i in range(ds.sizes["stage"]):
            converged = bool(ds["converged"].values[i]) if "converged" in ds else None
            points.append(
                {
                    "stage": str(labels[i]) if labels is not None else f"stage {i + 1}",
                    "seconds": float(fixed + ds["seconds"].values[i]),
                    "grad_evals": int(ds["grad_evals"].values[i]),
                    "n_draws": int(ds["n_draws"].values[i]),
                    "final": False,
                    "converged": converged,
                    **score_point(ds["p_mean"].values[i], ds["p_sd"].values[i], y, reference),
                }
            )
    p = result.p_test
    rule = result.convergence.get("converged") if result.convergence else None
    points.append(
        {
            "stage": "full run",
            "seconds": float(t.get("total_s", 0.0)),
            "grad_evals": result.n_grad_evals,
            "n_draws": int(p.shape[0]),
            "final": True,
            "converged": None if rule is None else bool(rule),
            **score_point(p.mean(axis=0), p.std(axis=0), y, reference),
        }
    )
    return points


def anytime(result: FitResult, dataset: Dataset, reference: Reference | None = None) -> dict:
    """The anytime curve of one successful fit: a point per state, cheapest first.

    Parameters
    ----------
    result : FitResult
    dataset : Dataset
        Its data (the test labels).
    reference : Reference, optional
        Without one (or of other data), the points hold the log loss alone.

    Returns
    -------
    dict
        ``points``: list of dicts with ``stage`` (what was scored), ``seconds``,
        ``grad_evals``, ``n_draws``, ``final``, ``converged`` (the fit's own diagnostics
        pass at that point; None: the method has none), for MCMC ``rhat_max_pred`` and
        ``ess_bulk_min_pred``, ``log_loss`` and :data:`FIDELITY_KEYS` (None without a
        reference), sorted by seconds.
    """
    if reference is not None and reference.mismatch(dataset, result.config) is not None:
        reference = None
    y = dataset.y_test
    if result.family == "mcmc" and "sample_stats" in result.idata.children:
        points = _mcmc_points(result, y, reference)
    else:
        points = _recorded_points(result, y, reference)
    points.sort(key=lambda q: q["seconds"])
    return {"points": points}


def envelope(
    points: list[dict], budgets: np.ndarray, key: str, *, passing: bool = True
) -> np.ndarray:
    """Best (lowest) ``key`` reachable within each budget of seconds: NaN where no point is.

    Parameters
    ----------
    points : list of dict
        One fit's anytime points.
    budgets : numpy.ndarray
        Seconds.
    key : str
        A point's number where lower is better (``pred_tv_mean``, ``log_loss``).
    passing : bool
        Only points whose diagnostics pass (``converged`` not False).

    Examples
    --------
    >>> pts = [{"seconds": 1, "x": 3.0}, {"seconds": 5, "x": 1.0, "converged": False}]
    >>> envelope(pts, np.array([0.5, 2, 10]), "x").tolist()
    [nan, 3.0, 3.0]
    """
    use = [
        p
        for p in points
        if p.get(key) is not None and not (passing and p.get("converged") is False)
    ]
    out = np.full(len(budgets), np.nan)
    for p in sorted(use, key=lambda q: q["seconds"]):
        reach = budgets >= p["seconds"]
        out[reach] = np.fmin(out[reach], p[key])
    return out
