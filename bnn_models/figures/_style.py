"""Shared look of every figure: the palette, method styles, rc settings, canvas and PNG output."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bnn_models.inference import FitResult

#: Colours and markers, handed out in the run's method order: Okabe-Ito's colour-blind
#: safe colours first, then Paul Tol's muted ones, so that a run of every registered
#: method (13) gives each its own colour, and each colour its own marker.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0072B2", "o"),
    ("#E69F00", "s"),
    ("#CC79A7", "^"),
    ("#009E73", "D"),
    ("#D55E00", "v"),
    ("#56B4E9", "P"),
    ("#000000", "X"),
    ("#332288", "<"),
    ("#999933", ">"),
    ("#882255", "h"),
    ("#44AA99", "p"),
    ("#AA4499", "*"),
    ("#117733", "d"),
    ("#888888", "8"),
)


class Style(NamedTuple):
    """How one method looks in every figure and table."""

    color: str
    marker: str
    label: str


#: matplotlib settings of every figure: readable sizes, and a fixed SVG hash salt.
RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "bnn-bench",
    "path.simplify": True,
}
_DPI = 110


def _style() -> contextlib.AbstractContextManager:
    return mpl.rc_context(RC)  # type: ignore[arg-type]  # stubs list only literal keys


def _tree(fit: FitResult) -> xr.DataTree:
    if fit.idata is None:
        raise ValueError(f"{fit.method}: a fit without draws (status {fit.status!r}) has no figure")
    return fit.idata


def method_styles(labels: Mapping[str, str]) -> dict[str, Style]:
    """One style per method, by its position in the run's method order.

    Parameters
    ----------
    labels : mapping of str to str
        Method -> its readable label, in the run's order.

    Returns
    -------
    dict of str to Style
        The i-th method gets the i-th colour and marker of :data:`PALETTE` (the palette
        starts again after its seventh entry).

    Examples
    --------
    >>> method_styles({"a": "A", "b": "B"})["b"]
    Style(color='#E69F00', marker='s', label='B')
    """
    return {
        method: Style(*PALETTE[i % len(PALETTE)], label)
        for i, (method, label) in enumerate(labels.items())
    }


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes with Agg (no timestamp, no software tag) and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    with _style():
        fig.savefig(
            buf,
            format="png",
            dpi=_DPI,
            metadata={"Software": None},
            bbox_inches="tight",
            facecolor="white",
        )
    plt.close(fig)
    return buf.getvalue()


def _figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _log_ticks(ax: Any) -> None:
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1-2-5 steps, not 10^k
        axis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(mpl.ticker.NullFormatter())


def _equal_log_axes(ax: Any, lim: tuple[float, float], style: Style, xlabel: str) -> None:
    """A square log-log panel over ``lim`` on both axes, titled with the method's label."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_ticks(ax)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_aspect("equal")
    ax.set_title(style.label, color=style.color, fontweight="bold")
    ax.set_xlabel(xlabel)


def stack_png(pngs: list[bytes]) -> bytes:
    """PNG images one above the other (narrower ones padded with white on the right)."""
    import matplotlib.image as mpimg

    images = [mpimg.imread(io.BytesIO(p), format="png") for p in pngs]
    width = max(im.shape[1] for im in images)
    padded = [
        np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=1.0) for im in images
    ]
    buf = io.BytesIO()
    # None drops the version tag, as in png_bytes (the stubs type values as str only)
    mpimg.imsave(buf, np.vstack(padded), format="png", metadata={"Software": None})  # type: ignore[dict-item]
    return buf.getvalue()
