"""Machinery shared by mean-field and full-rank ADVI: settings, optimizer, convergence rule.

ADVI and full-rank ADVI differ only in PyMC's inference class and in their settings'
defaults (:class:`GaussianVISettings` subclasses in their own modules).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._importance import gaussian_importance
from bnn_models.inference._method import Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult, pytensor_backend, rule_converged
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = [
    "ANYTIME_STEPS",
    "OPTIMIZERS",
    "ELBOConvergence",
    "GaussianVISettings",
    "Objective",
    "fit_gaussian_vi",
    "start_at_mean_field",
]

#: Optimizers a user may name; each takes ``learning_rate``.
OPTIMIZERS = {
    "adam": pm.adam,
    "adamax": pm.adamax,
    "adagrad_window": pm.adagrad_window,
    "adagrad": pm.adagrad,
    "rmsprop": pm.rmsprop,
    "sgd": pm.sgd,
}


#: Backends ``pm.fit`` compiles a step to (``backend=``), and the PyTensor mode of each.
#: ``numba_positional``: numba behind a positional entry point, the step's normal draw made
#: in NumPy (this project's opt-in workaround,
#: :mod:`bnn_models.accel.numba_positional`; the same numbers).
#: (``NUMBA_POSITIONAL`` is registered with PyTensor by :mod:`bnn_models.accel.numba_positional`,
#: imported when a setting asks for it: :func:`bnn_models.inference.accelerations.load`.)
VI_BACKENDS = {
    "numba": "NUMBA",
    "c": "CVM",
    "jax": "JAX",
    "numba_positional": "NUMBA_POSITIONAL",
}


@dataclass(frozen=True)
class Objective:
    """What the optimiser climbs: the ELBO of ``model``, each step's gradient computed on
    ``share`` of the training rows (1: all of them; a minibatch: batch / rows).

    Gradients are counted as full-data equivalents, ``round(steps x obj_n_mc x share)``;
    ``facts`` (e.g. the batch size and rows) go to the fit's ``convergence["minibatch"]``
    beside the raw count of steps x ``obj_n_mc``.
    """

    model: pm.Model
    share: float = 1.0
    facts: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class GaussianVISettings(Settings):
    """Settings of a Gaussian approximation fitted by maximising the ELBO.

    Attributes
    ----------
    max_iter : int
        Most optimisation steps.
    optimizer, learning_rate : str, float
        A name from :data:`OPTIMIZERS` and its rate.
    draws : int
        Draws from the fitted approximation.
    window, tol : int, float
        Convergence rule (:class:`ELBOConvergence`).
    stop_on_convergence : bool
        End the fit when the rule fires (else run ``max_iter`` and only record it).
    grad_norm_clip : float, optional
        Bound on the gradient's total norm.
    obj_n_mc : int
        Monte Carlo samples per gradient of the ELBO.
    backend : {"numba", "c", "jax", "numba_positional"}, optional
        What ``pm.fit`` compiles the optimisation step to (its ``backend`` argument).
        Default (None): PyTensor's default mode, as a PyMC user gets it.
        ``numba_positional``: PyTensor's numba code behind a positional entry point, with
        the step's normal draw made in NumPy, the same steps to the last bit at under half
        the cost per step (opt-in; see :mod:`bnn_models.accel.numba_positional`).
    """

    max_iter: int = 30_000
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    draws: int = 1000
    window: int = 5000
    tol: float = 1e-3
    stop_on_convergence: bool = True
    grad_norm_clip: float | None = None
    obj_n_mc: int = 1
    backend: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_iter", "draws", "window", "obj_n_mc"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(
            self.optimizer in OPTIMIZERS,
            "optimizer",
            self.optimizer,
            f"one of {sorted(OPTIMIZERS)}",
        )
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        require(self.tol > 0, "tol", self.tol, "> 0")
        require(
            self.backend is None or self.backend in VI_BACKENDS,
            "backend",
            self.backend,
            f"one of {', '.join(VI_BACKENDS)} (or unset: PyTensor's default mode)",
        )
        require(
            not (self.fused and self.backend == "jax"),
            "fused",
            self.fused,
            "false with backend 'jax' (the fused likelihood has no JAX implementation)",
        )

    def vi_class(self) -> type:
        """The inference class these settings fit (PyMC's ``inference_class``; a
        subclass may choose another by its settings)."""
        return self.inference_class  # type: ignore[attr-defined, no-any-return]

    def objective(self, dataset: Dataset, model: pm.Model) -> Objective:
        """The model whose ELBO is maximised: ``model`` itself (:meth:`build`'s, all
        rows; a minibatch method returns its own). Draws, predictions and ``vi_importance``
        always use ``model``."""
        return Objective(model)


@dataclass
class ELBOConvergence:
    """Stop VI when the windowed mean loss stops moving.

    Every ``window`` iterations (from ``2 * window`` on), compares the mean loss of the
    last window with the window before it; fires when
    ``|mean_last - mean_prev| / |mean_last| < tol``. A PyMC ``pm.fit`` callback: it
    raises ``StopIteration`` when fired and ``stop`` is true, which ends the fit.

    Attributes
    ----------
    fired_at : int or None
        Iteration (1-based) at which the rule fired.
    """

    window: int = 5000
    tol: float = 1e-3
    stop: bool = True
    fired_at: int | None = None
    last_rel_change: float | None = None
    first_call_s: float | None = field(default=None, repr=False)

    def __call__(self, approx: object, losses: np.ndarray, i: int) -> None:
        if self.first_call_s is None:
            # Time of the first finished step: everything before it was compilation.
            self.first_call_s = time.perf_counter()
        if i < 2 * self.window or i % self.window or self.fired_at is not None:
            return
        last = float(np.mean(losses[i - self.window : i]))
        prev = float(np.mean(losses[i - 2 * self.window : i - self.window]))
        self.last_rel_change = abs(last - prev) / max(abs(last), 1e-12)
        if self.last_rel_change < self.tol:
            self.fired_at = i
            if self.stop:
                raise StopIteration(f"ELBO converged at iteration {i}")


#: Steps of each optimisation stage at which the approximation is kept, to be scored later
#: as a state of the fit (:mod:`bnn_models.anytime`): roughly geometric, so that short and
#: long fits both get a curve. Not a setting: the fit's numbers do not depend on it.
ANYTIME_STEPS = (100, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)


@dataclass
class _Snapshots:
    """A ``pm.fit`` callback keeping a copy of the approximation's parameters at
    :data:`ANYTIME_STEPS` (a copy only: drawing and predicting wait until the fit ends)."""

    rule: ELBOConvergence
    kept: list[tuple[int, float, list[np.ndarray]]] = field(default_factory=list)

    def __call__(self, approx: object, losses: np.ndarray, i: int) -> None:
        if i in ANYTIME_STEPS:
            now = time.perf_counter()
            params = [p.get_value(borrow=False) for p in approx.params]  # type: ignore[attr-defined]
            start = self.rule.first_call_s or now
            self.kept.append((i, now - start, params))


@dataclass
class _Stage:
    """One ``pm.fit`` call: its inference, loss trace, rule, and where its time went."""

    inference: pm.ADVI | pm.FullRankADVI
    loss: np.ndarray
    rule: ELBOConvergence
    compile_s: float
    fit_s: float
    snapshots: list[tuple[int, float, list[np.ndarray]]] = field(default_factory=list)


def _optimise(
    inference_class: type[pm.ADVI] | type[pm.FullRankADVI],
    model: pm.Model,
    s: GaussianVISettings,
    seed: int,
    context: FitContext,
    start: pm.ADVI | None = None,
) -> _Stage:
    """``pm.fit`` of ``inference_class`` under ``s``; ``start``: a fitted mean-field ADVI
    whose mean and sds the (full-rank) approximation starts from, no correlation."""
    rule = ELBOConvergence(window=s.window, tol=s.tol, stop=s.stop_on_convergence)
    snapshots = _Snapshots(rule)
    t0 = time.perf_counter()
    with model:
        inference = inference_class(random_seed=seed)
        # PyMC divides a minibatch model's ELBO by rows / batch by default; unscaled, the
        # loss is minus the full-data ELBO's estimate, in the nats of a full-batch fit
        # (Adam's steps do not depend on the scale; a full-data model's factor is 1)
        inference.approx.scale_cost_to_minibatch = False
        if start is not None:
            _start_from_mean_field(inference.approx.groups[0], start.approx.groups[0])
        inference.fit(
            s.max_iter,
            obj_optimizer=OPTIMIZERS[s.optimizer](learning_rate=s.learning_rate),
            callbacks=[rule, snapshots, context.check],
            progressbar=context.progressbar,
            total_grad_norm_constraint=s.grad_norm_clip,
            obj_n_mc=s.obj_n_mc,
            backend=s.backend,
        )
    t2 = time.perf_counter()
    t1 = rule.first_call_s or t2
    loss = np.asarray(inference.hist, dtype=float)
    # A snapshot at the last step is the final state itself: the fit scores that one.
    kept = [k for k in snapshots.kept if k[0] < loss.size]
    return _Stage(inference, loss, rule, compile_s=t1 - t0, fit_s=t2 - t1, snapshots=kept)


def _anytime_group(
    stages: list[_Stage],
    settings: list[GaussianVISettings],
    model: pm.Model,
    dataset: Dataset,
    seed: int,
    converged_at: int | None,
    share: float = 1.0,
) -> xr.Dataset | None:
    """The kept states of every stage, each scored with ``draws`` draws of its
    approximation (the ``anytime`` group of :mod:`bnn_models.anytime`); None without any.

    Every state's draws are predicted in one call (a state per chain). ``converged_at``:
    the cumulative step at which the final stage's rule fired (states before it have not
    converged; a warm start's states never count as converged). ``share``: the
    :class:`Objective`'s, gradients counted as full-data equivalents.
    """
    rows, draws = [], []
    done_s, done_steps, done_grads = 0.0, 0, 0.0
    n_draws = settings[-1].draws  # every state scored with the final fit's number of draws
    for k, (st, s) in enumerate(zip(stages, settings, strict=True)):
        approx = st.inference.approx
        final = [p.get_value(borrow=False) for p in approx.params]
        for step, elapsed, params in st.snapshots:
            for p, value in zip(approx.params, params, strict=True):
                p.set_value(value)
            with model:
                trace = approx.sample(n_draws, random_seed=seed)
            draws.append(trace["posterior"].to_dataset()[list(PARAMS)])
            is_last = k == len(stages) - 1
            rows.append(
                (
                    f"step {done_steps + step:,}",
                    done_s + elapsed,
                    round(done_grads + step * s.obj_n_mc * share),
                    n_draws,
                    bool(
                        is_last and converged_at is not None and done_steps + step >= converged_at
                    ),
                )
            )
        for p, value in zip(approx.params, final, strict=True):
            p.set_value(value)
        done_s += st.fit_s
        done_steps += int(st.loss.size)
        done_grads += int(st.loss.size) * s.obj_n_mc * share
    if not rows:
        return None
    n = min(d.sizes["draw"] for d in draws)
    posterior = xr.concat([d.isel(draw=slice(0, n)) for d in draws], dim="chain")
    posterior = posterior.assign_coords(chain=np.arange(len(draws)))
    tree = xr.DataTree()
    tree["posterior"] = posterior
    p = predict_test(model, tree, dataset.X_test, seed=seed)["predictions"]["p"]
    p = p.transpose("chain", "draw", "obs").values
    labels, seconds, grads, counts, converged = zip(*rows, strict=True)
    return xr.Dataset(
        {
            "p_mean": (("stage", "obs"), p.mean(axis=1)),
            "p_sd": (("stage", "obs"), p.std(axis=1)),
            "seconds": ("stage", np.asarray(seconds, dtype=float)),
            "grad_evals": ("stage", np.asarray(grads, dtype=np.int64)),
            "n_draws": ("stage", np.asarray(counts, dtype=np.int64)),
            "converged": ("stage", np.asarray(converged, dtype=bool)),
        },
        coords={"stage_label": ("stage", list(labels))},
    )


def _start_from_mean_field(group: object, mean_field: object) -> None:
    """Set a full-rank group to a fitted mean-field one (:func:`start_at_mean_field`)."""
    params = mean_field.params_dict  # type: ignore[attr-defined]
    start_at_mean_field(group, params["mu"].get_value(), params["rho"].get_value())


def start_at_mean_field(group: object, mu: np.ndarray, rho: np.ndarray) -> None:
    """Set a Gaussian group to a mean-field solution: mean ``mu``, sds ``softplus(rho)``,
    no correlation. By what the group holds: a Cholesky factor (PyMC's full-rank
    ``L_tril``: both groups map the diagonal through the same softplus) gets ``rho`` on
    its diagonal, a mean-field group its ``rho``; both order the model's variables the
    same way."""
    params = group.params_dict  # type: ignore[attr-defined]
    params["mu"].set_value(np.asarray(mu))
    if "L_tril" in params:
        rows, cols = np.tril_indices(np.size(mu))
        tril = np.zeros(rows.size, dtype=np.asarray(mu).dtype)
        tril[rows == cols] = rho
        params["L_tril"].set_value(tril)
    else:
        params["rho"].set_value(np.asarray(rho))


def _sampler(inference_class: type) -> str:
    """``pymc.ADVI 6.3.2``; a class of this project's: its name, on which PyMC."""
    name, pymc_version = inference_class.__name__, library_versions()["pymc"]
    if inference_class.__module__.split(".")[0] == "pymc":
        return f"pymc.{name} {pymc_version}"
    return f"{inference_class.__module__}.{name} (on pymc {pymc_version})"


def fit_gaussian_vi(
    inference_class: type[pm.ADVI] | type[pm.FullRankADVI],
    *,
    dataset: Dataset,
    settings: GaussianVISettings,
    seed: int,
    context: FitContext | None = None,
    warm: GaussianVISettings | None = None,
) -> FitResult:
    """Fit PyMC's ``inference_class`` with ``settings`` and draw from the approximation.

    ``warm``: first fit mean-field ADVI with these settings on the same model and seed,
    and start from its solution (full-rank only). Its steps are part of the fit: its
    time counts in ``fit_s`` (``warm_start_s`` of it; its compilation in ``compile_s``),
    its loss trace comes first in ``loss``, its steps in the gradient count, and
    ``convergence`` records its steps and rule.

    The ELBO climbed is ``settings.objective``'s (:class:`Objective`: by default
    :meth:`~bnn_models.inference.Settings.build`'s model, all rows); the draws, the
    test-set predictions and ``vi_importance`` (log p of all rows) use
    :meth:`~bnn_models.inference.Settings.build`'s model.
    """
    context = context or FitContext()
    s = settings
    config = {"seed": seed, **s.as_config()}
    t0 = time.perf_counter()
    model = s.build(dataset)
    objective = s.objective(dataset, model)
    build_s = time.perf_counter() - t0
    fit_model = objective.model
    stages = [] if warm is None else [_optimise(pm.ADVI, fit_model, warm, seed, context)]
    start = stages[0].inference if stages else None
    stages.append(_optimise(inference_class, fit_model, s, seed, context, start=start))
    last = stages[-1]
    rule, approx = last.rule, last.inference.approx
    loss = np.concatenate([st.loss for st in stages])
    offset = len(loss) - len(last.loss)
    with model:
        t2 = time.perf_counter()
        # The approximation's sampler compiles on first use: keep that out of draw time.
        approx.sample(1, random_seed=seed, return_inferencedata=False)
        t3 = time.perf_counter()
        trace = approx.sample(s.draws, random_seed=seed)
        t4 = time.perf_counter()
    idata = xr.DataTree()
    idata["posterior"] = trace["posterior"].to_dataset()[list(PARAMS)]
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t5 = time.perf_counter()
    # A diagnostic of the fit, not part of the method: kept out of the timings.
    group = approx.groups[0]
    factor = getattr(group, "L", None)  # full-rank: its Cholesky factor; mean-field: none
    idata["vi_importance"] = gaussian_importance(
        model,
        idata["posterior"].to_dataset(),
        mean=group.mean.eval(),
        chol=factor.eval() if factor is not None else np.diag(group.std.eval()),
        order=[(name, slc) for name, slc, _, _ in group.ordering.values()],
    )
    # The rule fired before the step cap: with steps to spare (firing on the last step is
    # the cap, not convergence).
    converged = rule.fired_at is not None and rule.fired_at < s.max_iter
    fired_total = None if rule.fired_at is None else offset + rule.fired_at
    anytime = _anytime_group(
        stages,
        ([warm] if warm is not None else []) + [s],
        model,
        dataset,
        seed,
        fired_total if converged else None,
        objective.share,
    )
    if anytime is not None:
        idata["anytime"] = anytime
    timings = {
        "compile_s": build_s + sum(st.compile_s for st in stages) + (t3 - t2),
        "fit_s": sum(st.fit_s for st in stages),
        "draw_s": t4 - t3,
        "predict_s": t5 - t4,
        "total_s": t5 - t0,
    }
    if warm is not None:  # the mean-field stage's share of fit_s (a time: not in convergence)
        timings["warm_start_s"] = stages[0].fit_s
    status, error = "ok", None
    if not np.all(np.isfinite(loss)):
        status, error = (
            "failed",
            f"non-finite ELBO at iteration {int(np.argmin(np.isfinite(loss))) + 1}",
        )
    convergence = {
        "rule": f"|mean(loss[-{s.window}:]) - mean(previous {s.window})| / |mean| < {s.tol}",
        "window": s.window,
        "tol": s.tol,
        "fired_at": fired_total,
        "last_rel_change": rule.last_rel_change,
        "iterations": int(loss.size),
        "max_iter": s.max_iter,
        # the final stage's cap, numbered as fired_at (after the warm-start stage's steps)
        "cap": offset + s.max_iter,
    }
    convergence["converged"] = rule_converged(convergence)
    if warm is not None:
        first = stages[0]
        convergence["warm_start"] = {
            "method": "mean-field ADVI",
            "iterations": int(first.loss.size),
            "fired_at": first.rule.fired_at,
            "final_loss": float(np.mean(first.loss[-min(first.loss.size, s.window) :])),
        }
    raw = int(last.loss.size) * s.obj_n_mc
    if warm is not None:
        raw += int(stages[0].loss.size) * warm.obj_n_mc
    n_grad = round(raw * objective.share)  # full-data equivalents
    if objective.facts:
        convergence["minibatch"] = {**objective.facts, "grad_evals_minibatch": raw}
    warnings: tuple[str, ...] = ()
    if rule.fired_at is None:
        warnings = (
            f"ELBO did not meet the convergence rule within {s.max_iter} iterations: "
            "compare with care",
        )
    elif not convergence["converged"]:
        warnings = (
            f"ELBO met the convergence rule only at the step cap ({s.max_iter} iterations): "
            "not converged, compare with care",
        )
    return FitResult(
        method=inference_class.__name__,
        idata=idata,
        loss=loss,
        timings=timings,
        n_grad_evals=n_grad,
        convergence=convergence,
        config=config,
        sampler=_sampler(inference_class),
        backend=pytensor_backend(None if s.backend is None else VI_BACKENDS[s.backend]),
        status=status,
        error=error,
        family="vi",
        warnings=warnings,
    )
