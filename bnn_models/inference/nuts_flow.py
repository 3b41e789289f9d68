"""nutpie NUTS with normalizing-flow adaptation (``adaptation="flow"``, Fisher HMC).

During warm-up nutpie fits a normalizing flow (flowjax: coupling layers, trained by
minimising the Fisher divergence between the draws' gradients and a standard normal's)
and samples in the flow's space, where the posterior is meant to be close to a standard
normal; after warm-up the flow is fixed and NUTS runs as usual. nutpie's documentation
calls it experimental (0.16).

Gradients counted: the leapfrog steps of warm-up and sampling, each one log density and
gradient. Training the flow evaluates no log density: it fits the positions and
gradients warm-up has already computed, so it adds seconds to warm-up but no gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bnn_models.inference._method import Method, NeedsModules, require
from bnn_models.inference.nuts import NUTSSettings, fit_nuts

__all__ = ["FLOW_UPDATE_EVERY", "METHOD", "FlowNUTSSettings"]

#: Draws between two flow updates in nutpie 0.16 (its ``transform_update_freq``, which
#: ``nutpie.sample`` does not let a caller set); before draw 100 it updates every 10.
FLOW_UPDATE_EVERY = 128


@dataclass(frozen=True)
class FlowNUTSSettings(NUTSSettings):
    """:class:`NUTSSettings` with nutpie's normalizing-flow adaptation.

    The flow's arguments are nutpie's own defaults (``make_transform_adapter``), except the
    width and depth, set to the values nutpie fills in for None, so that they are recorded.

    Attributes
    ----------
    tune : int
        1,500 warm-up steps per chain, not the suite's 400: nutpie's own default for the
        flow adaptation (its diagonal adaptation's is 400), and what its documentation
        asks for ("the number of warmup draws should be large enough to allow the flow to
        converge"). The flow is refitted every 128 draws from draw 257 (after
        ``flow_initial_skip`` draws and ``flow_diag_windows`` diagonal fits); 400 steps
        train it twice, on under 300 draws, fewer than one ``flow_window``; 1,500 train it
        ten times, the last on a full window of 600. Draws stay the suite's 2,000.
    adaptation, backend
        ``"flow"`` on ``"jax"`` (nutpie's flow needs JAX's log density and gradient).
    flow_layers : int
        Coupling layers of the flow (nutpie's ``num_layers``, default 8).
    flow_nn_width, flow_nn_depth : int
        Hidden units and hidden layers of each coupling layer's network (nutpie:
        32 and 1).
    flow_diag_windows : int
        Updates that fit a diagonal (affine) map before the flow is trained (nutpie's
        ``num_diag_windows``, 6).
    flow_window : int
        Latest draws each flow update trains on (nutpie's ``window_size``, 600).
    flow_initial_skip : int
        First warm-up draws never trained on (nutpie's ``initial_skip``, 120).
    flow_learning_rate : float
        AdamW learning rate of the flow's training (nutpie's default 5e-4).
    flow_max_epochs : int
        Epochs of each update's training at most, stopped earlier after 20 epochs
        without improvement (nutpie's ``max_epochs``, 200).
    """

    tune: int = 1500
    adaptation: str = "flow"
    backend: str = "jax"
    flow_layers: int = 8
    flow_nn_width: int = 32
    flow_nn_depth: int = 1
    flow_diag_windows: int = 6
    flow_window: int = 600
    flow_initial_skip: int = 120
    flow_learning_rate: float = 5e-4
    flow_max_epochs: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("flow_layers", "flow_nn_width", "flow_nn_depth", "flow_window"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        for name in ("flow_diag_windows", "flow_initial_skip", "flow_max_epochs"):
            require(getattr(self, name) >= 0, name, getattr(self, name), ">= 0")
        require(self.flow_learning_rate > 0, "flow_learning_rate", self.flow_learning_rate, "> 0")

    def transform_adapt(self) -> dict[str, Any]:
        """The flow's arguments, as nutpie's ``with_transform_adapt`` names them."""
        return {
            "num_layers": self.flow_layers,
            "nn_width": self.flow_nn_width,
            "nn_depth": self.flow_nn_depth,
            "num_diag_windows": self.flow_diag_windows,
            "window_size": self.flow_window,
            "initial_skip": self.flow_initial_skip,
            "learning_rate": self.flow_learning_rate,
            "max_epochs": self.flow_max_epochs,
        }


METHOD = Method(
    name="nuts_flow",
    label="NUTS flow (nutpie)",
    family="mcmc",
    fit=fit_nuts,
    settings=FlowNUTSSettings,
    # the flow starts training at the second update (draw 21, every 10 draws until 100,
    # then every 128): a small flow, trained briefly, in seconds
    quick={
        "draws": 150,
        "tune": 150,
        "chains": 2,
        "flow_layers": 2,
        "flow_nn_width": 8,
        "flow_diag_windows": 9,
        "flow_initial_skip": 0,
        "flow_max_epochs": 20,
    },
    engine="nutpie",
    requires=NeedsModules(("flowjax",), by="nutpie"),
    description="nutpie NUTS in the space of a normalizing flow (flowjax) trained during "
    "warm-up, on JAX's gradient; 1,500 warm-up steps (nutpie's default for the flow)",
)
