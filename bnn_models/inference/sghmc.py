"""Stochastic-gradient Hamiltonian Monte Carlo (Chen et al. 2014): BlackJAX's ``sghmc``
on minibatch gradients of PyMC's JAX log density (:mod:`bnn_models.inference._sgmcmc`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bnn_models.data import Dataset
from bnn_models.inference._method import Method, require
from bnn_models.inference._result import FitResult
from bnn_models.inference._sgmcmc import fit_sgmcmc
from bnn_models.inference.context import FitContext
from bnn_models.inference.sgld import QUICK, SWEEP, SGLDSettings

__all__ = ["METHOD", "SGHMCSettings", "fit_sghmc"]


@dataclass(frozen=True)
class SGHMCSettings(SGLDSettings):
    """:class:`~bnn_models.inference.sgld.SGLDSettings` (the same decaying step size) with
    BlackJAX's SGHMC step.

    One step draws a fresh momentum and one minibatch, then takes
    ``num_integration_steps`` steps of the SGHMC diffusion on that minibatch
    (``x += eps p``; ``p = (1 - friction eps) p + eps g + sqrt(2 friction eps) noise``):
    ``num_integration_steps`` gradients per step, which the gradient count includes. The
    step ``eps`` is ``step_size / sqrt(rows)``: it moves the weights by about its square
    times the gradient, as SGLD's ``step_size / rows`` does. The burn-in and thinning are SGLD's divided by the integration
    steps: the same 76,800 full-data gradients per fit on the rupture data. The default
    ``step_size``, 0.2 (a time step of 0.2 / 40 on 1,600 rows), is the step of its grid
    that brings SGHMC closest to the reference posterior (``studies/sgmcmc_step_size``,
    whose README quotes the numbers from its results).

    Attributes
    ----------
    num_integration_steps : int
        Steps of the diffusion per minibatch and momentum draw (BlackJAX's default 10).
    friction : float
        The friction ``alpha``: the momentum loses ``friction * step_size`` of itself per
        integration step, and the injected noise balances it.
    """

    thin: int = 10
    burn_in: int = 4000
    decay_steps: int = 400
    step_size: float = 0.2
    num_integration_steps: int = 10
    friction: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.num_integration_steps >= 1,
            "num_integration_steps",
            self.num_integration_steps,
            ">= 1",
        )
        require(self.friction >= 0, "friction", self.friction, ">= 0")

    def row_scale(self, rows: int) -> float:
        """``1 / sqrt(rows)``: SGHMC's step is a time step, its moves its square."""
        return rows**-0.5

    @property
    def grads_per_step(self) -> int:
        return self.num_integration_steps

    def kernel(self, grad_estimator: Callable) -> Callable:
        import blackjax

        return blackjax.sghmc(
            grad_estimator, num_integration_steps=self.num_integration_steps, alpha=self.friction
        ).step


def fit_sghmc(
    *,
    dataset: Dataset,
    settings: SGHMCSettings = SGHMCSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN with SGHMC on minibatch gradients (BlackJAX)."""
    return fit_sgmcmc(dataset=dataset, settings=settings, seed=seed, context=context, name="sghmc")


METHOD = Method(
    name="sghmc",
    label="SGHMC (BlackJAX)",
    family="mcmc",
    fit=fit_sghmc,
    settings=SGHMCSettings,
    quick={**QUICK, "thin": 1, "burn_in": 50, "decay_steps": 5, "num_integration_steps": 5},
    engine="blackjax",
    description="stochastic-gradient HMC on minibatches (friction, 10 steps per minibatch)",
    recorded_facts=("chain_method",),
    defaults_from=SWEEP,
)
