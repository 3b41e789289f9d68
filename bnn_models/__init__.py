"""bnn-bench: inference methods compared on one PyMC Bayesian neural network.

Layers import one way: ``data -> model -> inference -> (posterior, reference) ->
metrics/fidelity -> runner -> report/gate -> api -> cli``; ``errors``, ``provenance``,
``schema`` and ``io`` are leaves that all may import. The notebook entry points,
:func:`compare` and :func:`load_dataset`, are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Comparison", "compare", "load_dataset"]


def __getattr__(name: str) -> Any:
    # Lazy: importing a low layer (bnn_models.data) must not import PyMC and the report.
    if name in ("compare", "Comparison"):
        from bnn_models import api

        return getattr(api, name)
    if name == "load_dataset":
        from bnn_models.data import load_dataset

        return load_dataset
    raise AttributeError(f"module 'bnn_models' has no attribute {name!r}")
