"""What each second buys: fidelity and log loss against wall seconds, one line per method."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from bnn_models.figures._style import Style, _figure, _log_ticks, _style

__all__ = ["anytime_figure"]


def _median(vals: np.ndarray) -> np.ndarray:
    """Median over seeds where every seed reaches the budget (NaN elsewhere): a line starts
    where the recommendation could name the method, which needs every seed."""
    return np.median(vals, axis=0)


def anytime_figure(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    budgets: np.ndarray,
    styles: Mapping[str, Style],
    *,
    floor: float | None = None,
    panels: tuple[tuple[str, str], ...] = (
        ("pred_tv_mean", "mean |dp| against the reference"),
        ("log_loss", "test log loss (nats)"),
    ),
) -> Figure:
    """One panel per quantity: per method, the median over seeds of the best value reached
    within each budget (line) and the seeds' range (band), on log seconds, drawn from the
    budget at which every seed has reached a value.

    Parameters
    ----------
    curves : mapping
        Method -> quantity key -> array (seeds, budgets), NaN where not reached: ``key``
        over the states whose diagnostics pass (solid line, band), ``key + ":all"`` over
        every state (dotted line).
    budgets : numpy.ndarray
        Seconds (the x axis).
    styles : mapping of str to Style
    floor : float, optional
        The reference's noise floor of the first quantity, drawn as a grey band.
    panels : tuple of (key, axis label)
        Quantities drawn; a quantity no method has is left out.
    """
    keep = [(k, lab) for k, lab in panels if any(k in c for c in curves.values())]
    with _style():
        fig = _figure((5.6 * len(keep), 4.2))
        axes = fig.subplots(1, len(keep), squeeze=False)[0]
        for ax, (key, label) in zip(axes, keep, strict=True):
            for method, by_key in curves.items():
                st = styles[method]
                vals = by_key.get(key)
                passing = vals is not None and not np.all(np.isnan(vals))
                every = by_key.get(f"{key}:all")
                if every is not None and not np.all(np.isnan(every)):
                    failing = f"{st.label} (diagnostics fail)"
                    ax.plot(
                        budgets,
                        _median(every),
                        color=st.color,
                        lw=1.2,
                        ls=":",
                        label=None if passing else failing,
                    )
                if not passing or vals is None:
                    continue
                ax.plot(budgets, _median(vals), color=st.color, lw=2.2, label=st.label)
                if vals.shape[0] > 1:
                    lo, hi = np.min(vals, axis=0), np.max(vals, axis=0)
                    ax.fill_between(budgets, lo, hi, color=st.color, alpha=0.18, lw=0)
            if key == "pred_tv_mean":
                ax.set_yscale("log")
                if floor is not None:
                    low = min(ax.get_ylim()[0], floor / 2)
                    ax.axhspan(
                        low, floor, color="0.55", alpha=0.3, lw=0, label="reference noise floor"
                    )
                    ax.set_ylim(bottom=low)
            ax.set_xscale("log")
            if key == "pred_tv_mean":
                _log_ticks(ax)  # plain numbers at 1-2-5 steps on both log axes
            else:
                ax.xaxis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
            ax.set_xlabel("wall seconds on this machine (compile included)")
            ax.set_ylabel(label)
        handles, labels = axes[0].get_legend_handles_labels()
        handles.append(mpl.lines.Line2D([], [], color="0.3", lw=1, ls=":"))
        labels.append("every state, diagnostics failing included")
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=min(4, max(1, len(labels))),
            frameon=False,
        )
    return fig
