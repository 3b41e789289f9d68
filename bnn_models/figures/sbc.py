"""Simulation-based calibration: PIT-ECDF differences with the uniformity test (arviz-plots)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bnn_models.figures._style import _style

__all__ = ["sbc_figure"]


def sbc_figure(pit: dict[str, np.ndarray], quantities: list[str], labels: dict[str, str]) -> Figure:
    """One panel per method and test quantity: the ECDF of the PIT values minus the uniform
    CDF (``plot_ecdf_pit``), with the p-value of its uniformity test (pot_c) and the points
    that contribute most to a departure marked. (Its envelope method fails in
    arviz-plots 1.3.2: ``np.linspace`` is handed a DataArray.)

    Parameters
    ----------
    pit : mapping of str to numpy.ndarray, shape (simulations, quantities)
        Per method, the randomised PIT values of its ranks.
    quantities : list of str
        Names of the quantities (columns).
    labels : mapping of str to str
        Method -> readable label.
    """
    import arviz_plots as azp

    n = min(len(v) for v in pit.values())
    data = np.stack([pit[m][:n] for m in pit])  # (method, simulation, quantity)
    da = xr.DataArray(
        data[:, None, :, :],
        dims=("method", "chain", "draw", "quantity"),
        coords={"method": [labels[m] for m in pit], "quantity": quantities},
        name="PIT",
    )
    with _style():
        pc = azp.plot_ecdf_pit(
            xr.DataTree.from_dict({"prior_sbc": da.to_dataset()}),
            backend="matplotlib",
            figure_kwargs={
                "figsize": (2.6 * len(quantities), 2.3 * len(pit) + 0.5),
                "sharey": False,
            },
            col_wrap=len(quantities),
        )
        fig = pc.viz["figure"].item()
        fig.set_layout_engine("constrained")
    return fig
