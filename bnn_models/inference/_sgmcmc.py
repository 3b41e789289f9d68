"""What the stochastic-gradient MCMC methods share: settings, the minibatch gradient on
PyMC's JAX log density, the chains' loop, and how their work is counted.

Each method (``sgld``, ``sghmc``, ``sgld_cyclical``) is a :class:`SGMCMCSettings`
subclass that says four things: its step size at step ``t`` (:meth:`~SGMCMCSettings.
step_size_at`), how that step size scales with the training rows
(:meth:`~SGMCMCSettings.row_scale`), its plan of stages (:meth:`~SGMCMCSettings.plan`:
steps whose positions are dropped, and steps every ``thin``-th of whose positions are
kept), and its BlackJAX step (:meth:`~SGMCMCSettings.kernel`). :func:`fit_sgmcmc` runs
the plan.

**Step sizes per row.** The log density's curvature grows with the rows ``n`` (the
likelihood is a sum over them), and a step size that samples 1,600 rows well diverges
on 25,600. So ``step_size`` is given per row: the step BlackJAX takes is ``step_size /
n`` for the Langevin methods (the step of the *mean* log density, whose curvature does
not grow with ``n``; Welling and Teh's step sizes are of this order) and ``step_size /
sqrt(n)`` for SGHMC, whose step is a time step (its moves go as the step's square). One
default then serves the scaling grid's 400 to 25,600 rows; the step taken is recorded
per kept draw (``sample_stats.step_size``).

**The gradient.** BlackJAX's ``grad_estimator(log_prior, log_lik_row, rows)`` on PyMC's
own graph of the model (:func:`~bnn_models.inference._jax.jax_minibatch_density`): the
prior's gradient plus ``rows / batch_size`` times the likelihood's over a minibatch of
``batch_size`` training rows drawn uniformly with replacement at every step (an unbiased
estimate of the full-data gradient). A ``batch_size`` above the training rows is clamped
to the rows (full-batch gradients, no minibatch noise): the scaling grid's smallest data
sets then run the same method, and the fit says so in its warnings.

**Counting gradients.** ``n_grad_evals`` (``runtime.grad_evals``) is in full-data
equivalents, the convention the minibatch ADVI method shares, so that minibatch methods
compare with full-batch ones on one axis: one gradient on a minibatch of ``b`` of ``n``
rows counts ``b / n``; in all, ``round(chains x steps x k x batch_size / rows)``, where
``k`` is the gradients per step (SGHMC: its integration steps; else 1). The raw count of
minibatch gradients, the batch size used and the rows are in ``convergence``
(``minibatch_grads``, ``batch_size``, ``rows``), warm-up (``grad_evals_warmup``: the
steps whose positions are dropped) and sampling apart in ``counts``.

**What R-hat and ESS mean here.** There is no Metropolis correction: with a step size
that does not vanish and a noisy gradient, the chains' stationary distribution is not
the posterior but a biased approximation of it (wider or narrower depending on the step
and the minibatch noise). R-hat and ESS measure how well the chains mix around *that*
distribution, so an SG-MCMC fit with a high ESS can still be far from the posterior: its
fidelity to the reference posterior says how far. Draws are dependent, as in any MCMC,
so the family is ``mcmc``; there is no tree depth and there are no divergences (the
NUTS engine table does not list these methods).

A fit whose weights become non-finite (a step size too large for the data) raises
``RuntimeError`` with the step and the step size, which the runner records as a failed
fit with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._jax import (
    chain_map,
    chain_starts,
    jax_minibatch_density,
    unflatten_draws,
)
from bnn_models.inference._mcmc import mcmc_result, posterior_dataset
from bnn_models.inference._method import Settings, require
from bnn_models.inference._result import FitResult
from bnn_models.inference.context import FitContext
from bnn_models.provenance import library_versions

__all__ = ["SGMCMCSettings", "Stage", "fit_sgmcmc", "full_data_gradients"]

#: The gradient convention, as written into every fit's ``convergence``.
CONVENTION = "full-data equivalents: minibatch gradients x batch_size / rows"


class Stage(NamedTuple):
    """One stage of a plan: ``steps`` steps at ``temperature`` (1: Langevin noise as the
    posterior asks; 0: none, a stochastic-gradient optimiser), keeping every
    ``thin``-th position when ``keep`` (then ``steps`` is a multiple of ``thin``)."""

    steps: int
    temperature: float
    keep: bool
    thin: int = 1


@dataclass(frozen=True)
class SGMCMCSettings(Settings):
    """Settings every stochastic-gradient MCMC method shares.

    Attributes
    ----------
    chains, cores : int
        Chains (4, as NUTS), vectorised or run in parallel by JAX, and the cores they are
        meant to keep busy.
    draws : int
        Kept draws per chain (2,000, as NUTS).
    thin : int
        Steps per kept draw while sampling.
    burn_in : int
        Steps before the first kept draw (positions dropped; timed as warm-up).
    batch_size : int
        Training rows per minibatch gradient (clamped to the rows: see the module notes).
    step_size : float
        The step size per row (see the module notes); each method's schedule scales it
        over the steps (its docstring says how).
    """

    chains: int = 4
    cores: int = 2
    draws: int = 2000
    thin: int = 100
    burn_in: int = 50_000
    batch_size: int = 128
    step_size: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("chains", "cores", "draws", "thin", "batch_size"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(self.burn_in >= 0, "burn_in", self.burn_in, ">= 0")
        require(self.step_size > 0, "step_size", self.step_size, "> 0")

    @property
    def parallel(self) -> int:
        """Chains run at a time."""
        return min(self.chains, self.cores)

    @property
    def grads_per_step(self) -> int:
        """Minibatch gradients per step (SGHMC: its integration steps)."""
        return 1

    def row_scale(self, rows: int) -> float:
        """The factor from ``step_size`` (per row) to the step BlackJAX takes on ``rows``
        training rows: ``1 / rows`` (Langevin); SGHMC overrides it."""
        return 1.0 / rows

    def plan(self) -> list[Stage]:
        """The stages in order: the burn-in, then the kept draws."""
        plan = [Stage(self.burn_in, 1.0, False)] if self.burn_in else []
        return plan + [Stage(self.draws * self.thin, 1.0, True, self.thin)]

    def step_size_at(self, t: Any) -> Any:
        """The step size per row at step ``t`` (0-based, counted over the whole plan; a
        JAX or NumPy number). Here constant; methods override it."""
        return self.step_size + 0.0 * t

    def kernel(self, grad_estimator: Callable) -> Callable:
        """``step(key, position, minibatch, step_size, temperature) -> position``."""
        raise NotImplementedError


def full_data_gradients(minibatch_grads: int, batch_size: int, rows: int) -> int:
    """Minibatch gradients in full-data equivalents (the module's convention).

    Examples
    --------
    >>> full_data_gradients(1000, 128, 1600)
    80
    """
    return round(minibatch_grads * batch_size / rows)


def _stage_fn(settings: SGMCMCSettings, step: Callable, stage: Stage, rows: int, batch: int):
    """One stage for one chain: ``(key, position, t0, temperature, X, y) -> positions``,
    the kept positions (every ``thin``-th) or the last one."""
    import jax

    def advance(position, key_t, temperature, X, y):
        key, t = key_t
        batch_key, step_key = jax.random.split(key)
        rows_drawn = jax.random.randint(batch_key, (batch,), 0, rows)
        minibatch = (X[rows_drawn], y[rows_drawn])
        step_size = settings.step_size_at(t) * settings.row_scale(rows)
        return step(step_key, position, minibatch, step_size, temperature), None

    def run(key, position, t0, temperature, X, y, n):
        keys = jax.random.split(key, n)
        ts = t0 + jax.numpy.arange(n)
        position, _ = jax.lax.scan(
            lambda p, kt: advance(p, kt, temperature, X, y), position, (keys, ts)
        )
        return position

    if not stage.keep:
        return lambda key, position, t0, temperature, X, y: run(
            key, position, t0, temperature, X, y, stage.steps
        )

    def keep(key, position, t0, temperature, X, y):
        def one(p, kt):
            k, t = kt
            p = run(k, p, t, temperature, X, y, stage.thin)
            return p, p

        n = stage.steps // stage.thin
        ts = t0 + stage.thin * jax.numpy.arange(n)
        _, draws = jax.lax.scan(one, position, (jax.random.split(key, n), ts))
        return draws

    return keep


def _check_finite(
    position: list, names: list[str], t: int, settings: SGMCMCSettings, rows: int
) -> None:
    bad = [n for n, a in zip(names, position, strict=True) if not np.isfinite(np.asarray(a)).all()]
    if bad:
        size = float(settings.step_size_at(np.asarray(max(t - 1, 0)))) * settings.row_scale(rows)
        raise RuntimeError(
            f"non-finite weights ({', '.join(bad)}) by step {t}: the chains diverged at step "
            f"size {size:.3g} on {rows} rows (step_size={settings.step_size:g} per row); try "
            "a smaller step_size"
        )


def fit_sgmcmc(
    *,
    dataset: Dataset,
    settings: SGMCMCSettings,
    seed: int,
    context: FitContext | None,
    name: str,
) -> FitResult:
    """Run ``settings``' plan with its BlackJAX step on minibatch gradients (``name``:
    what the sampler string calls it) and return the MCMC result."""
    import blackjax
    import jax
    import pymc.sampling.jax  # noqa: F401 - lets XLA see one host device per chain

    context = context or FitContext()
    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    rows = len(dataset.y_train)
    batch = min(s.batch_size, rows)
    log_prior, log_lik_row, names = jax_minibatch_density(model)
    _, init = chain_starts(model, s.chains, seed)
    grad = blackjax.sgmcmc.gradients.grad_estimator(log_prior, log_lik_row, rows)
    step = s.kernel(grad)
    X = jax.numpy.asarray(dataset.X_train, dtype=model["X"].dtype)
    y = jax.numpy.asarray(dataset.y_train, dtype=model["y"].dtype)
    mapper = chain_map(s.chains)
    wrap = (lambda f: f) if mapper is jax.pmap else jax.jit
    plan = s.plan()
    keys = jax.random.split(jax.random.PRNGKey(seed), len(plan) * s.chains)
    position = [jax.numpy.asarray(a) for a in init]
    compiled: dict[Stage, Any] = {}
    for stage in plan:  # each distinct stage compiled once, before any runs
        if stage not in compiled:
            fn = mapper(
                _stage_fn(s, step, stage, rows, batch), in_axes=(0, 0, None, None, None, None)
            )
            args = (keys[: s.chains], position, 0, stage.temperature, X, y)
            compiled[stage] = wrap(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    warmup_s = sampling_s = 0.0
    t, warm_steps, kept, kept_steps = 0, 0, [], []
    for i, stage in enumerate(plan):
        context.check()
        start = time.perf_counter()
        out = compiled[stage](
            keys[i * s.chains : (i + 1) * s.chains], position, t, stage.temperature, X, y
        )
        jax.block_until_ready(out)
        if stage.keep:
            sampling_s += time.perf_counter() - start
            kept.append([np.asarray(a) for a in out])
            # a kept draw is the position after its thin steps
            kept_steps.append(t + stage.thin * np.arange(1, stage.steps // stage.thin + 1) - 1)
            position = [a[:, -1] for a in out]
        else:
            warmup_s += time.perf_counter() - start
            warm_steps += stage.steps
            position = list(out)
        t += stage.steps
        _check_finite(position, names, t, s, rows)
    draws = [np.concatenate(parts, axis=1) for parts in zip(*kept, strict=True)]
    posterior = posterior_dataset(model, unflatten_draws(names, draws))
    at = np.concatenate(kept_steps)
    taken = np.asarray(s.step_size_at(at)) * s.row_scale(rows)  # the step BlackJAX took
    stats = xr.Dataset({"step_size": (("chain", "draw"), np.tile(taken, (s.chains, 1)))})
    per_step = s.chains * s.grads_per_step
    raw = per_step * t
    method = "parallel" if mapper is jax.pmap else "vectorized"
    warnings: tuple[str, ...] = ()
    if batch < s.batch_size:
        warnings = (
            f"batch_size {s.batch_size} > {rows} training rows: clamped to {rows} "
            "(full-batch gradients)",
        )
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=posterior,
        sample_stats=stats.assign_coords(posterior[["chain", "draw"]].coords),
        seed=seed,
        t0=t0,
        compile_s=compile_s,
        warmup_s=warmup_s,
        sampling_s=sampling_s,
        grad_evals=(
            full_data_gradients(per_step * warm_steps, batch, rows),
            full_data_gradients(per_step * (t - warm_steps), batch, rows),
        ),
        config={"seed": seed, **s.as_config(), "chain_method": method},
        sampler=f"blackjax {library_versions()['blackjax']} {name} ({method} chains)",
        backend="jax",
        warnings=warnings,
        convergence={
            "gradient_convention": CONVENTION,
            "minibatch_grads": raw,
            "batch_size": batch,
            "rows": rows,
            "steps_per_chain": t,
        },
    )
