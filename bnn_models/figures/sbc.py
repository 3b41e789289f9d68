"""Simulation-based calibration: PIT-ECDF differences with the uniformity test (arviz-plots)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bnn_models.figures._style import _style

__all__ = ["sbc_figure"]


def sbc_figure(pit: np.ndarray, quantities: list[str], label: str) -> Figure:
    """One method, one panel per test quantity: the ECDF of the PIT values minus the
    uniform CDF (``plot_ecdf_pit``), with the p-value of its uniformity test (pot_c) and the
    points that contribute most to a departure marked. (Its envelope method fails in
    arviz-plots 1.3.2: ``np.linspace`` is handed a DataArray.) One figure per method, so
    that each uses all of its own simulations (methods differ in how many they have).

    Parameters
    ----------
    pit : numpy.ndarray, shape (simulations, quantities)
        The randomised PIT values of the method's ranks.
    quantities : list of str
        Names of the quantities (columns).
    label : str
        The method's readable label.
    """
    import arviz_plots as azp

    da = xr.DataArray(
        np.asarray(pit)[None, None, :, :],
        dims=("method", "chain", "draw", "quantity"),
        coords={"method": [f"{label}, n={len(pit)}"], "quantity": quantities},
        name="PIT",
    )
    with _style():
        pc = azp.plot_ecdf_pit(
            xr.DataTree.from_dict({"prior_sbc": da.to_dataset()}),
            backend="matplotlib",
            figure_kwargs={"figsize": (3.4 * len(quantities), 2.8), "sharey": False},
            col_wrap=len(quantities),
        )
        fig = pc.viz["figure"].item()
        fig.set_layout_engine("constrained")
    return fig
