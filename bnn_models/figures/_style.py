"""Shared look of every figure: the palette, method styles, rc settings, canvas and PNG output."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Mapping
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bnn_models.inference import METHODS, FitResult

#: Colours and markers, one per registered method by its position in
#: :data:`bnn_models.inference.METHODS`: 20 hues from Okabe-Ito's, Paul Tol's, Kelly's and
#: Tableau's qualitative sets, chosen greedily for the largest smallest CIELAB distance
#: (every pair at least 26 delta-E 1976 apart, the first 16 at least 28: see
#: :func:`delta_e`), with lightness L* in [32, 75] so that each shows on white, and chroma >= 25 so that none passes for the grey and black of
#: reference lines. The order puts strong hues on the methods most reports show (the
#: first NUTS engine: blue, ADVI: orange, full-rank ADVI: magenta). Each colour has its own
#: marker, so that colour-blind readers can still tell methods apart.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0072B2", "o"),  # blue
    ("#44AA99", "s"),  # teal
    ("#654522", "^"),  # brown
    ("#8DB600", "D"),  # yellow-green
    ("#33BBEE", "v"),  # cyan
    ("#604E97", "P"),  # violet
    ("#C2B280", "X"),  # buff
    ("#E69F00", "<"),  # orange
    ("#EE3377", ">"),  # magenta
    ("#117733", "h"),  # green
    ("#CC3311", "p"),  # red
    ("#AA4499", "*"),  # purple
    ("#882D17", "d"),  # reddish brown
    ("#E68FAC", "8"),  # pink
    ("#F99379", "H"),  # salmon
    ("#CCBB44", "1"),  # olive yellow
    ("#00798C", "x"),  # petrol
    ("#994455", "+"),  # wine
    ("#FF7F0E", "2"),  # bright orange
    ("#8A5A00", "3"),  # ochre brown
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
#: The widest a report page shows a figure, in CSS px (``figure img`` in ``report.css``):
#: wider PNGs are scaled down, and their text with them.
DISPLAY_WIDTH_PX = 1200
#: The smallest text, in CSS px at display size, that every figure keeps.
MIN_TEXT_PX = 9.0
#: Most panels in one row of a figure that draws one panel per method: 4 panels of about
#: 3.2 in fit 1,200 px with their 8 pt text at 9 px or more.
MAX_COLUMNS = 4


def _style() -> contextlib.AbstractContextManager:
    return mpl.rc_context(RC)  # type: ignore[arg-type]  # stubs list only literal keys


def _tree(fit: FitResult) -> xr.DataTree:
    if fit.idata is None:
        raise ValueError(f"{fit.method}: a fit without draws (status {fit.status!r}) has no figure")
    return fit.idata


def _palette_index(method: str, registered: list[str]) -> int:
    """The palette slot of ``method``: its registration position, or for a method not
    registered (an old saved run, a method since removed) a slot after the registered
    ones chosen by a stable hash of its name (not Python's ``hash``, salted per process)."""
    if method in registered:
        return registered.index(method)
    digest = int.from_bytes(hashlib.sha256(method.encode()).digest()[:8], "big")
    spare = len(PALETTE) - len(registered)
    return len(registered) + digest % spare if spare > 0 else digest % len(PALETTE)


def method_style(method: str, label: str) -> Style:
    """Colour, marker and label of one method, fixed by the method registry.

    Parameters
    ----------
    method : str
        The method's registry name.
    label : str
        Its readable label.

    Returns
    -------
    Style
        The ``i``-th entry of :data:`PALETTE` for the ``i``-th method of
        :data:`bnn_models.inference.METHODS` (registration order), whatever run it is
        drawn from; past the palette's end the colours start again. A method not
        registered takes a palette entry no registered method uses, by its name's hash,
        and a marker by a second hash, so two such methods rarely share both.

    Examples
    --------
    >>> first = next(iter(METHODS.values()))
    >>> method_style(first.name, first.label).color == PALETTE[0][0]
    True
    """
    registered = list(METHODS)
    i = _palette_index(method, registered)
    color, marker = PALETTE[i % len(PALETTE)]
    if method not in registered:
        marker = PALETTE[_palette_index(method[::-1], [])][1]
    return Style(color, marker, label)


def method_styles(labels: Mapping[str, str]) -> dict[str, Style]:
    """One style per method, fixed by the registry (:func:`method_style`), not by the run.

    Parameters
    ----------
    labels : mapping of str to str
        Method -> its readable label.

    Returns
    -------
    dict of str to Style
        In the order of ``labels``; a method has the same colour and marker in every run.

    Examples
    --------
    >>> a, b = list(METHODS)[:2]
    >>> method_styles({a: "A", b: "B"})[b] == method_styles({b: "B", a: "A"})[b]
    True
    """
    return {method: method_style(method, label) for method, label in labels.items()}


def _lab(color: str) -> np.ndarray:
    """CIELAB (D65) coordinates of a colour: sRGB linearised, to XYZ, to L*a*b*."""
    rgb = np.asarray(mpl.colors.to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = _SRGB_TO_XYZ @ linear / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65 = np.array([0.95047, 1.0, 1.08883])


def delta_e(a: str, b: str) -> float:
    """CIE 1976 colour difference (Euclidean distance in CIELAB) between two colours.

    About 2.3 is a just-noticeable difference on large patches; thin lines and small
    markers need far more to be told apart at a glance.

    Examples
    --------
    >>> round(delta_e("#000000", "#FFFFFF"))
    100
    """
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes with Agg (no timestamp, no software tag) and close it.

    The image is stored with a palette of at most 256 colours (Pillow's median cut, no
    dithering): line and bar charts on white lose nothing visible, and the file is about
    2.5 times smaller than matplotlib's RGBA, which keeps the committed results small.
    Both steps are deterministic: the same figure gives the same bytes.
    """
    import matplotlib.pyplot as plt
    from PIL import Image

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
    rgb = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    palette = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _panel_grid(
    n: int,
    panel: tuple[float, float],
    extra: tuple[float, float] = (0.4, 0.7),
    **kwargs: Any,
) -> tuple[Figure, list[Any]]:
    """A figure with ``n`` panels of ``panel`` inches, at most :data:`MAX_COLUMNS` a row.

    ``extra`` is the room (inches) for labels and a legend beside and below the grid;
    ``kwargs`` go to ``Figure.subplots`` (``sharex``, ``sharey``). The slots past ``n`` in
    the last row are hidden, and the panels above them keep their x tick labels.
    """
    ncols = max(1, min(n, MAX_COLUMNS))
    nrows = -(-n // ncols)
    fig = _figure((panel[0] * ncols + extra[0], panel[1] * nrows + extra[1]))
    axes = list(fig.subplots(nrows, ncols, squeeze=False, **kwargs).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(0, n - ncols) : n]:  # the lowest panel of each column
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, axes[:n]


def _outer_labels(axes: list[Any], xlabel: str, ylabel: str) -> None:
    """An x label under the lowest panel of each column, a y label left of each row."""
    ncols = max(1, min(len(axes), MAX_COLUMNS))
    for i, ax in enumerate(axes):
        ax.set_xlabel(xlabel if i + ncols >= len(axes) else "")
        ax.set_ylabel(ylabel if i % ncols == 0 else "")


def smallest_text_px(fig: Figure, png: bytes, display_width: int = DISPLAY_WIDTH_PX) -> float:
    """The size, in px on the page, of the figure's smallest visible text.

    A PNG wider than ``display_width`` is shown scaled down to it, so a text of ``s`` pt
    takes ``s * dpi / 72 * min(1, display_width / width)`` px.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, drawn (e.g. by :func:`png_bytes`, which returned ``png``).
    png : bytes
        Its PNG, for the rendered width.
    display_width : int
        The page's widest figure, in CSS px.

    Returns
    -------
    float
        ``inf`` for a figure without text.
    """
    import matplotlib.image as mpimg
    from matplotlib.text import Text

    width = mpimg.imread(io.BytesIO(png), format="png").shape[1]
    scale = min(1.0, display_width / width) * _DPI / 72

    def shown(t: Text) -> bool:
        visible = t.get_visible() and bool(t.get_text().strip())
        return visible and (t.axes is None or t.axes.get_visible())

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if shown(t)]
    return min(sizes, default=float("inf")) * scale


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
