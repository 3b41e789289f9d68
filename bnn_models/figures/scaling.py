"""Cost growth: log-log panels of a quantity against training rows or hidden width."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bnn_models.figures._style import Style, _figure, _log_ticks, _style

__all__ = ["growth_figure"]


def growth_figure(
    lines: Mapping[str, pd.DataFrame],
    x: str,
    xlabel: str,
    panels: Sequence[tuple[str, str]],
    slopes: Mapping[tuple[str, str], float],
    styles: Mapping[str, Style],
) -> Figure:
    """One log-log panel per quantity, one line per method.

    Parameters
    ----------
    lines : mapping of str to DataFrame
        Method -> its points (column ``x`` and the panels' columns), sorted along ``x``.
    x, xlabel : str
        The axis column and its label.
    panels : sequence of (column, title)
        The quantities, one panel each; a method without values in one is left out of it.
    slopes : mapping of (method, column) to float
        The fitted log-log slope, shown in the panel's legend (NaN: not shown).
    styles : mapping of str to Style
        Colour, marker and label per method.
    """
    with _style():
        fig = _figure((3.6 * len(panels), 3.6))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (col, title) in zip(axes, panels, strict=True):
            drawn = False
            for method, g in lines.items():
                ok = g[col].notna() & (g[col] > 0)
                if not ok.any():
                    continue
                st = styles[method]
                slope = slopes.get((method, col), np.nan)
                label = st.label + (f" (slope {slope:.2f})" if np.isfinite(slope) else "")
                ax.plot(
                    g.loc[ok, x],
                    g.loc[ok, col],
                    color=st.color,
                    marker=st.marker,
                    label=label,
                    linewidth=1.5,
                )
                drawn = True
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            if not drawn:
                ax.text(0.5, 0.5, "no method has it", ha="center", transform=ax.transAxes)
                continue
            ax.set_xscale("log")
            ax.set_yscale("log")
            _log_ticks(ax)
            ax.legend(loc="best", fontsize=8, frameon=False)
    return fig
