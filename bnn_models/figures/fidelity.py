"""Fidelity figures: predictive sd against the reference, PSIS k-hat, intervals across seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bnn_models.figures._style import (
    Style,
    _equal_log_axes,
    _figure,
    _outer_labels,
    _panel_grid,
    _style,
)


def fidelity_sd_figure(
    pred_sd: Mapping[str, Any],
    ref_sd: Any,
    fidelity: Mapping[str, dict],
    styles: Mapping[str, Style],
) -> Figure:
    """Predictive sd of every test point under each method against the reference's.

    Parameters
    ----------
    pred_sd : mapping of str to array-like
        Method -> predictive sd per test point (the ``spread`` section's ``pred_sd``).
    ref_sd : array-like
        The reference posterior's predictive sd per test point, in the same order.
    fidelity : mapping of str to dict
        Method -> its ``fidelity`` section; ``pred_sd_ratio_gmean``, ``_q05`` and
        ``_q95`` are printed in each panel.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).

    Returns
    -------
    matplotlib.figure.Figure
        One log-log panel per method, shared axes, with the line of equal sd and the
        lines of half and twice the reference's sd.
    """
    x = np.asarray(ref_sd, dtype=float)
    ys = {m: np.asarray(v, dtype=float) for m, v in pred_sd.items()}
    both = np.concatenate([x, *ys.values()])
    both = both[both > 0]
    lim = (both.min() / 1.3, both.max() * 1.3)
    with _style():
        fig, axes = _panel_grid(len(ys), (3.2, 3.3), sharex=True, sharey=True)
        for ax, (method, y) in zip(axes, ys.items(), strict=True):
            st = styles[method]
            grid = np.array(lim)
            ax.plot(grid, grid, color="0.3", ls="-", lw=1.0, label="equal sd")
            for factor in (0.5, 2.0):
                ax.plot(grid, factor * grid, color="0.55", ls=":", lw=1.0)
            ax.scatter(x, y, s=12, marker=st.marker, color=st.color, alpha=0.5, lw=0)
            fid = fidelity.get(method) or {}
            if fid.get("pred_sd_ratio_gmean") is not None:
                ax.text(
                    0.03,
                    0.97,
                    f"sd / reference sd per point:\ngeometric mean {fid['pred_sd_ratio_gmean']:.2f}, "
                    f"5-95%: {fid['pred_sd_ratio_q05']:.2f}-{fid['pred_sd_ratio_q95']:.2f}",
                    transform=ax.transAxes,
                    va="top",
                    ha="left",
                    fontsize=9,
                    bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
                )
            _equal_log_axes(ax, lim, st, "")
        _outer_labels(axes, "predictive sd under the reference", "predictive sd under the method")
        handles = [
            Line2D([], [], color="0.3", lw=1.0, label="equal sd"),
            Line2D([], [], color="0.55", ls=":", lw=1.0, label="half / twice the reference's sd"),
        ]
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False
        )
    return fig


def khat_figure(
    khat: Mapping[str, Mapping[int, float]], styles: Mapping[str, Style], threshold: float = 0.7
) -> Figure:
    """Pareto k-hat of the importance ratios p / q of every VI fit, one point per seed.

    Parameters
    ----------
    khat : mapping of str to mapping of int to float
        Method -> seed -> k-hat (:func:`bnn_models.fidelity.psis_diagnostics`).
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).
    threshold : float
        Above it, importance sampling from the approximation is not reliable.

    Returns
    -------
    matplotlib.figure.Figure
        Methods along x, k-hat on y, seeds spread sideways; the threshold as a line.
    """
    methods = list(khat)
    values = [v for per in khat.values() for v in per.values()]
    top = max([threshold, *values])
    with _style():
        # 1.4 in a method, up to the page's width; beyond 5 methods the labels lean.
        fig = _figure(figsize=(min(max(1.4 * len(methods) + 2.0, 6.0), 13.0), 4.2))
        ax = fig.subplots()
        ax.grid(axis="x", visible=False)
        ax.axhspan(threshold, top * 1.15, color="#D55E00", alpha=0.07, lw=0)
        ax.axhline(threshold, color="#D55E00", ls="--", lw=1.3)
        ax.text(
            -0.55,
            threshold,
            f"{threshold:g}: above it, importance sampling from the approximation is unreliable",
            va="bottom",
            ha="left",
            fontsize=8.5,
            color="#A04000",
        )
        for i, method in enumerate(methods):
            st, per = styles[method], khat[method]
            seeds = sorted(per)
            offsets = np.linspace(-0.22, 0.22, len(seeds)) if len(seeds) > 1 else [0.0]
            for off, seed in zip(offsets, seeds, strict=True):
                ax.plot(i + off, per[seed], st.marker, color=st.color, ms=9, alpha=0.85)
                if len(seeds) <= 5:
                    ax.annotate(
                        f"{per[seed]:.2f}" + (f"\nseed {seed}" if len(seeds) > 1 else ""),
                        (i + off, per[seed]),
                        xytext=(0, 7),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                    )
        ax.set_xticks(range(len(methods)), [styles[m].label for m in methods])
        for tick, method in zip(ax.get_xticklabels(), methods, strict=True):
            tick.set_color(styles[method].color)
            tick.set_fontweight("bold")
            if len(methods) > 5:
                tick.set_rotation(25)
                tick.set_horizontalalignment("right")
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_ylim(0, top * 1.15)
        ax.set_ylabel("Pareto k-hat of p(θ, y) / q(θ)")
        n_seeds = max(len(per) for per in khat.values())
        ax.set_title("PSIS k-hat per VI fit" + (f" ({n_seeds} seeds each)" if n_seeds > 1 else ""))
    return fig


def seed_interval_figure(panels: list[dict], styles: Mapping[str, Style], ncols: int = 4) -> Figure:
    """Small multiples: per metric, each method's mean, interval and seeds.

    Parameters
    ----------
    panels : list of dict
        One per metric: ``title``; ``methods``, a mapping method -> ``{"mean", "lo",
        "hi", "values"}`` (the seeds' values); optional ``line`` (value, label), a
        vertical line such as a threshold or the reference's value; optional
        ``fmt``, a format for the mean (default ``"{:.3g}"``).
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).
    ncols : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        Methods down each panel: a dot at the mean, a bar over the interval, and the
        seeds as small open marks.
    """
    methods: list[str] = []
    for panel in panels:
        methods += [m for m in panel["methods"] if m not in methods]
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    with _style():
        fig = _figure(figsize=(3.0 * ncols + 1.6, (0.45 * len(methods) + 1.3) * nrows + 0.5))
        axes = np.atleast_2d(fig.subplots(nrows, ncols, sharey=True, squeeze=False))
        for ax, panel in zip(axes.flat, panels, strict=False):
            ax.grid(axis="y", visible=False)
            fmt = panel.get("fmt", "{:.3g}")
            for row, method in enumerate(methods):
                stat = panel["methods"].get(method)
                if stat is None:
                    continue
                st = styles[method]
                ax.plot(  # the seeds just above the row (the y-axis runs downwards)
                    stat["values"],
                    np.full(len(stat["values"]), row - 0.25),
                    "|",
                    color=st.color,
                    ms=7,
                    alpha=0.8,
                )
                ax.plot([stat["lo"], stat["hi"]], [row, row], color=st.color, lw=2.5)
                ax.plot(stat["mean"], row, st.marker, color=st.color, ms=7)
                ax.annotate(
                    fmt.format(stat["mean"]),
                    (stat["mean"], row),
                    xytext=(0, -6),
                    textcoords="offset points",
                    ha="center",
                    va="top",
                    fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
                )
            if panel.get("line") is not None:
                value, label = panel["line"]
                ax.axvline(value, color="0.35", ls="--", lw=1.1)
                ax.text(
                    value,
                    0.99,
                    f" {label}",
                    transform=ax.get_xaxis_transform(),
                    ha="left",
                    va="top",
                    fontsize=8,
                    color="0.3",
                )
            ax.margins(x=0.15)
            ax.set_title(panel["title"], fontsize=10)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_yticks(range(len(methods)), [styles[m].label for m in methods])
            for tick, method in zip(ax.get_yticklabels(), methods, strict=True):
                tick.set_color(styles[method].color)
                tick.set_fontweight("bold")
            ax.set_ylim(len(methods) - 0.4, -0.85)
        handles = [
            Line2D(
                [], [], marker="o", ls="-", color="0.35", lw=2.5, ms=7, label="mean and interval"
            ),
            Line2D([], [], marker="|", ls="", color="0.35", ms=7, label="each seed"),
        ]
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False
        )
    return fig
