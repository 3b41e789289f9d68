"""Simulation-based calibration: PIT-ECDF differences with ArviZ's simultaneous band."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bnn_models.figures._style import Style, _figure, _style

__all__ = ["sbc_figure"]


def sbc_figure(
    pit: Mapping[str, np.ndarray],
    quantities: list[str],
    styles: Mapping[str, Style],
    prob: float = 0.95,
    n_simulations: int = 1000,
) -> Figure:
    """Methods down, quantities across: the ECDF of each method's PIT values minus the
    uniform CDF, inside the simultaneous ``prob`` band of a uniform sample of its size.

    The band is arviz-stats' (``arviz_stats.ecdf_utils.ecdf_pit``: the simulation method of
    Säilynoja, Bürkner and Vehtari 2022): a uniform sample's whole ECDF stays inside it with
    probability ``prob``, so a curve that leaves it anywhere rejects uniformity at that
    level. Each row uses all of its method's simulations (methods may have different
    numbers, so their bands differ); each column shares its y-axis across methods, so that a
    method that passes does not look worse for being drawn at a finer scale.

    Parameters
    ----------
    pit : mapping of str to numpy.ndarray, shape (simulations, quantities)
        Method -> the randomised PIT values of its ranks.
    quantities : list of str
        Names of the quantities (columns).
    styles : mapping of str to Style
        Method -> its colour, marker and label.
    prob : float
        Simultaneous coverage of the band.
    n_simulations : int
        Simulations arviz-stats uses to calibrate the band (seeded: the same every time).
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    methods = list(pit)
    nq = len(quantities)
    with _style():
        fig = _figure((2.6 * nq + 0.6, 2.0 * len(methods) + 0.8))
        axes = fig.subplots(len(methods), nq, sharex=True, sharey="col", squeeze=False)
        for r, method in enumerate(methods):
            values, st = np.asarray(pit[method]), styles[method]
            for c, name in enumerate(quantities):
                x, ecdf, lower, upper = ecdf_pit(
                    values[:, c], prob, n_simulations, rng=np.random.default_rng(c)
                )
                ax = axes[r, c]
                ax.fill_between(x, lower - x, upper - x, step="post", color="0.6", alpha=0.35)
                ax.step(x, ecdf - x, where="post", color=st.color, lw=1.6)
                ax.axhline(0, color="0.3", lw=0.8)
                outside = np.flatnonzero((ecdf < lower) | (ecdf > upper))
                ax.plot(x[outside], (ecdf - x)[outside], "o", color="black", ms=3)
                if r == 0:
                    ax.set_title(name)
                if c == 0:
                    ax.set_ylabel(f"{st.label}\nn={len(values)}", color=st.color)
                if r == len(methods) - 1:
                    ax.set_xlabel("PIT")
        handles = [
            Patch(color="0.6", alpha=0.35, label=f"simultaneous {prob:.0%} band (uniform PIT)"),
            Line2D([], [], color="0.3", lw=1.6, label="ECDF - uniform CDF"),
            Line2D([], [], marker="o", ls="", color="black", ms=3, label="outside the band"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig
