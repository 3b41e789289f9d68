"""Stochastic-gradient Langevin dynamics (Welling and Teh 2011): BlackJAX's ``sgld`` on
minibatch gradients of PyMC's JAX log density (:mod:`bnn_models.inference._sgmcmc`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bnn_models.data import Dataset
from bnn_models.inference._method import Method, require
from bnn_models.inference._result import FitResult
from bnn_models.inference._sgmcmc import SGMCMCSettings, fit_sgmcmc
from bnn_models.inference.context import FitContext

__all__ = ["METHOD", "SGLDSettings", "fit_sgld"]

#: Where the step sizes of sgld, sghmc and sgld_cyclical were chosen.
SWEEP = "studies/sgmcmc_step_size/results/sweep.md"


@dataclass(frozen=True)
class SGLDSettings(SGMCMCSettings):
    """:class:`~bnn_models.inference._sgmcmc.SGMCMCSettings` with a polynomially decaying
    step size.

    The step size at step ``t`` is ``step_size * (1 + t / decay_steps) ** -step_decay``
    over the burn-in (Welling and Teh's ``a (b + t) ** -gamma`` with ``b = decay_steps``,
    ``a = step_size * b ** gamma``), then stays at its value at the end of the burn-in
    while sampling, so that every kept draw comes from one transition kernel and R-hat
    and ESS compare like with like. With the defaults it decays by a factor
    ``(1 + 40,000 / 4,000) ** -0.55 = 0.27``.

    The budget: 40,000 burn-in steps and 2,000 draws x 100 steps per chain, 240,000
    steps of 128 rows: on the rupture data's 1,600 rows 19,200 full-data gradients per
    chain, 76,800 for the 4 chains, under 2% of the gradients NUTS' default spends there
    (``studies/sgmcmc_step_size`` checks it); what a sweep on a shared CPU affords, where a minibatch
    step of the 4 chains costs about as much time as a full-data gradient of one.
    ``step_size`` (per row), 0.3 (0.3 / 1,600 on 1,600 rows), is the step of the grid
    0.1, 0.3, 1, 3 that brings SGLD closest to the reference posterior
    (``studies/sgmcmc_step_size``, whose README quotes the numbers from its results).

    Attributes
    ----------
    step_decay : float
        The exponent gamma (0: a constant step size).
    decay_steps : int
        The offset b, in steps.
    """

    thin: int = 100
    burn_in: int = 40_000
    step_size: float = 0.3
    step_decay: float = 0.55
    decay_steps: int = 4000

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.step_decay >= 0, "step_decay", self.step_decay, ">= 0")
        require(self.decay_steps >= 1, "decay_steps", self.decay_steps, ">= 1")

    def step_size_at(self, t: Any) -> Any:
        import jax.numpy as jnp

        t = jnp.minimum(t, self.burn_in)
        return self.step_size * (1.0 + t / self.decay_steps) ** -self.step_decay

    def kernel(self, grad_estimator: Callable) -> Callable:
        import blackjax

        return blackjax.sgld(grad_estimator).step


def fit_sgld(
    *,
    dataset: Dataset,
    settings: SGLDSettings = SGLDSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN with SGLD on minibatch gradients (BlackJAX)."""
    return fit_sgmcmc(dataset=dataset, settings=settings, seed=seed, context=context, name="sgld")


#: Quick settings (seconds): also what the tests' tiny fits use.
QUICK = {"draws": 100, "thin": 5, "burn_in": 500, "chains": 2, "batch_size": 32}

METHOD = Method(
    name="sgld",
    label="SGLD (BlackJAX)",
    family="mcmc",
    fit=fit_sgld,
    settings=SGLDSettings,
    quick=QUICK,
    engine="blackjax",
    description="stochastic-gradient Langevin dynamics on minibatches, decaying step size",
    recorded_facts=("chain_method",),
    defaults_from=SWEEP,
)
