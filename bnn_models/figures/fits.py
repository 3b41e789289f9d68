"""Figures of each fit: runtime, ELBO traces, reliability, predictive sd and weight sd."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bnn_models.figures._style import (
    Style,
    _equal_log_axes,
    _figure,
    _outer_labels,
    _panel_grid,
    _style,
    _tree,
)
from bnn_models.inference import FitResult
from bnn_models.model import PARAMS

_STAGES = (
    ("compile_s", "compile (build + compile model)", 0.35, "//"),
    ("fit_s", "fit (sample / optimise)", 1.0, ""),
    ("draw_s", "draw from the approximation", 0.6, "xx"),
    ("predict_s", "predict test set", 0.8, ".."),
)


def elbo_figure(
    losses: Mapping[str, np.ndarray], elbo: Mapping[str, dict], styles: Mapping[str, Style]
) -> Figure:
    """ELBO against iteration for every VI fit, with its convergence points marked.

    Parameters
    ----------
    losses : mapping of str to numpy.ndarray
        Method -> PyMC's loss history (negative ELBO per iteration).
    elbo : mapping of str to dict
        Method -> the ``elbo`` section of its metrics: ``window``, ``iter_to_1pct``,
        ``rule_fired_at``, ``final_elbo``, ``converged`` (False: the rule fired only at the
        step cap).
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).

    Returns
    -------
    matplotlib.figure.Figure
        Left: the whole run; right: its second half. Thin lines are the ELBO of every
        iteration, thick lines its running mean over the convergence window.
    """
    with _style():
        fig = _figure(figsize=(11, 4.4))
        ax_all, ax_zoom = fig.subplots(1, 2)
        lows, highs, zoom_lo, zoom_hi = [], [], [], []
        fired_any = False
        half = min(v.size for v in losses.values()) // 2
        step = 10 ** max(int(np.log10(max(half, 1))) - 1, 0)
        start = half // step * step  # a round number: 9,999 -> 9,900
        for method, loss in losses.items():
            st, info = styles[method], elbo[method]
            value = -np.asarray(loss, dtype=float)
            it = np.arange(1, value.size + 1)
            smooth = pd.Series(value).rolling(int(info["window"]), min_periods=1).mean().to_numpy()
            fired = info.get("rule_fired_at")
            fired_any = fired_any or bool(fired)
            if fired and not info.get("converged", True):
                rule = f"rule fired only at the step cap ({fired:,}): not converged"
            elif fired:
                rule = f"rule fired at {fired:,}"
            else:
                rule = f"rule not met in {value.size:,} iterations"
            label = f"{st.label}: final ELBO {info['final_elbo']:,.1f} nats; {rule}"
            for ax in (ax_all, ax_zoom):
                ax.plot(it, value, color=st.color, alpha=0.18, lw=0.5)
                ax.plot(it, smooth, color=st.color, lw=2, label=label)
                i1 = int(info["iter_to_1pct"])
                ax.plot(i1, smooth[i1 - 1], "o", ms=9, mfc="white", mec=st.color, mew=2.2, zorder=5)
                if fired:
                    ax.axvline(int(fired), color=st.color, ls="--", lw=1.5)
            lows.append(np.quantile(value, 0.02))
            highs.append(smooth.max())
            zoom_lo.append(np.quantile(value[start:], 0.01))
            zoom_hi.append(np.quantile(value[start:], 0.995))
        span = max(highs) - min(lows)
        ax_all.set_ylim(min(lows) - 0.03 * span, max(highs) + 0.05 * span)
        zspan = max(zoom_hi) - min(zoom_lo)
        ax_zoom.set_xlim(start, max(v.size for v in losses.values()) * 1.01)
        ax_zoom.set_ylim(min(zoom_lo) - 0.03 * zspan, max(zoom_hi) + 0.05 * zspan)
        ax_all.set_title("Whole run (y-axis cut at the 2nd percentile)")
        ax_zoom.set_title(f"Second half (from iteration {start:,})")
        for ax in (ax_all, ax_zoom):
            ax.set_xlabel("iteration")
            ax.set_ylabel("ELBO (nats; higher is better)")
            ax.xaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
        handles, _ = ax_all.get_legend_handles_labels()
        handles += [
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                ms=9,
                mfc="white",
                mec="0.3",
                mew=2.2,
                label="running mean within 1% of its final value from here on",
            ),
        ]
        if fired_any:
            handles.append(
                Line2D([], [], color="0.3", ls="--", label="convergence rule fired (fit stopped)")
            )
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False
        )
    return fig


def reliability_figure(
    reliability: Mapping[str, dict], calibration: Mapping[str, dict], styles: Mapping[str, Style]
) -> Figure:
    """PAV-adjusted reliability diagram per method (ArviZ's ``isotonic_fit`` data).

    Parameters
    ----------
    reliability : mapping of str to dict
        Method -> the ``reliability`` section: ``forecast``, ``cep``, ``band_low``,
        ``band_high``, ``ci_prob``.
    calibration : mapping of str to dict
        Method -> the ``calibration`` section (``ece``, ``brier`` are printed).
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    with _style():
        fig, axes = _panel_grid(len(reliability), (3.2, 3.4), sharex=True, sharey=True)
        for ax, (method, rel) in zip(axes, reliability.items(), strict=True):
            st = styles[method]
            x = np.asarray(rel["forecast"], dtype=float)
            ax.plot([0, 1], [0, 1], color="0.45", ls=":", lw=1.2, label="perfect calibration")
            ax.fill_between(
                x,
                rel["band_low"],
                rel["band_high"],
                color=st.color,
                alpha=0.25,
                lw=0,
                step="post",
                label=f"{rel['ci_prob']:.0%} consistency band",
            )
            ax.step(
                x,
                rel["cep"],
                where="post",
                color=st.color,
                lw=2,
                label="observed rate (PAV, CEP)",
            )
            ax.plot(
                x,
                np.full_like(x, -0.025),
                "|",
                color=st.color,
                ms=6,
                alpha=0.5,
                label="test-set predictions",
            )
            cal = calibration[method]
            ax.text(
                0.03,
                0.97,
                f"ECE {cal['ece']:.3f}\nBrier {cal['brier']:.3f}",
                transform=ax.transAxes,
                va="top",
                ha="left",
                bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
            )
            ax.set_title(st.label, color=st.color, fontweight="bold")
            ax.set_aspect("equal")
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.05, 1.02)
        _outer_labels(axes, "mean predicted probability", "conditional event probability")
        fig.legend(
            *axes[-1].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=4,
            frameon=False,
        )
    return fig


def predictive_sd_figure(spread: Mapping[str, dict], styles: Mapping[str, Style]) -> Figure:
    """Predictive sd against mean predicted probability on the test set, all methods.

    Parameters
    ----------
    spread : mapping of str to dict
        Method -> the ``spread`` section: per-point ``pred_mean`` and ``pred_sd``.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).

    Returns
    -------
    matplotlib.figure.Figure
        The published study's figure, every method overlaid, with the largest sd any
        distribution on [0, 1] with that mean can have, ``sqrt(p (1 - p))``, for scale.
    """
    with _style():
        fig = _figure(figsize=(7.5, 5.0))
        ax = fig.subplots()
        grid = np.linspace(0, 1, 201)
        ax.plot(
            grid,
            np.sqrt(grid * (1 - grid)),
            color="0.5",
            ls=":",
            lw=1.2,
            label=r"largest possible sd, $\sqrt{p(1-p)}$",
        )
        for method, sp in spread.items():
            st = styles[method]
            ax.scatter(
                sp["pred_mean"],
                sp["pred_sd"],
                s=16,
                marker=st.marker,
                color=st.color,
                alpha=0.55,
                lw=0,
                label=f"{st.label} (mean sd {sp['pred_sd_mean']:.3f})",
            )
        ax.set_xlabel("mean predicted probability of rupture (test row)")
        ax.set_ylabel("predictive sd of the probability")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(0, None)
        ax.legend(loc="upper left", framealpha=0.9, markerscale=1.6)
        ax.set_title("Uncertainty of each test prediction")
    return fig


def weight_sds(fit: FitResult) -> dict[str, np.ndarray]:
    """Posterior sd (over chains and draws) of each weight and bias array of a fit."""
    sd = _tree(fit)["posterior"].to_dataset()[list(PARAMS)].std(dim=("chain", "draw"))
    return {v: np.asarray(sd[v].values) for v in PARAMS}


def weight_sd_figure(
    sds: Mapping[str, Mapping[str, np.ndarray]], styles: Mapping[str, Style], reference: str
) -> Figure:
    """Posterior sd of every weight and bias, each method against the reference method.

    Parameters
    ----------
    sds : mapping of str to mapping of str to numpy.ndarray
        Method -> parameter (``W0``, ``b0``, ``W1``, ``b1``) -> its posterior sds
        (:func:`weight_sds`); must hold ``reference`` and at least one other method.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).
    reference : str
        The method on the x-axis (the report's MCMC baseline).

    Returns
    -------
    matplotlib.figure.Figure
        One log-log panel per other method with the diagonal and the median of its sd
        over the reference's.
    """
    ref = sds[reference]
    others = [m for m in sds if m != reference]
    markers = {"W0": "o", "b0": "s", "W1": "^", "b1": "D"}
    with _style():
        fig, axes = _panel_grid(len(others), (3.2, 3.3), sharex=True, sharey=True)
        x_all = np.concatenate([np.ravel(ref[v]) for v in PARAMS])
        y_all = np.concatenate([np.ravel(sds[m][v]) for m in others for v in PARAMS])
        both = np.concatenate([x_all, y_all])
        both = both[both > 0]
        lim = (both.min() / 1.4, both.max() * 1.4)
        for ax, method in zip(axes, others, strict=True):
            st = styles[method]
            ax.plot(lim, lim, color="0.45", ls=":", lw=1.2, label="equal sd")
            for v in PARAMS:
                ax.scatter(
                    np.ravel(ref[v]),
                    np.ravel(sds[method][v]),
                    s=22,
                    marker=markers[v],
                    color=st.color,
                    alpha=0.7,
                    lw=0,
                )
            y = np.concatenate([np.ravel(sds[method][v]) for v in PARAMS])
            ratio = float(np.median(y / x_all))
            ax.text(
                0.03,
                0.97,
                f"median sd ratio to\n{styles[reference].label}: {ratio:.2f}",
                transform=ax.transAxes,
                va="top",
                ha="left",
                fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
            )
            _equal_log_axes(ax, lim, st, "")
        _outer_labels(
            axes, f"posterior sd under {styles[reference].label}", "posterior sd (panel's method)"
        )
        # One legend for both panels, below them, where it hides no point.
        handles = [Line2D([], [], color="0.45", ls=":", lw=1.2, label="equal sd")] + [
            Line2D(
                [],
                [],
                marker=markers[v],
                ls="",
                color="0.35",
                ms=7,
                label=f"{v} ({ref[v].size} values)",
            )
            for v in PARAMS
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=5, frameon=False)
    return fig


def runtime_figure(
    runtime: Mapping[str, dict], styles: Mapping[str, Style], reference: str | None = None
) -> Figure:
    """Seconds per stage: stacked bars per method, and every stage on a log scale.

    Parameters
    ----------
    runtime : mapping of str to dict
        Method -> the ``runtime`` section (``compile_s``, ``fit_s``, ``draw_s``,
        ``predict_s``, ``total_s``).
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`~bnn_models.figures.method_styles`).
    reference : str, optional
        Speed-ups are ``total_s`` of this method over each method's; none without it.

    Returns
    -------
    matplotlib.figure.Figure
        Left: one stacked bar per method with its total and speed-up; right: each
        stage's seconds per method on a log axis, so short stages stay visible.
    """
    methods = list(runtime)
    with _style():
        fig = _figure(figsize=(12, 2.0 + 0.7 * max(len(methods), len(_STAGES))))
        ax, ax_log = fig.subplots(1, 2, width_ratios=[1.7, 1])
        ax.grid(axis="y", visible=False)
        longest = max(rt["total_s"] for rt in runtime.values())
        for row, method in enumerate(methods):
            st, rt = styles[method], runtime[method]
            left = 0.0
            for key, _, alpha, hatch in _STAGES:
                width = float(rt.get(key) or 0.0)
                ax.barh(
                    row,
                    width,
                    left=left,
                    height=0.6,
                    color=st.color,
                    alpha=alpha,
                    hatch=hatch,
                    edgecolor="white",
                    hatchcolor="0.2",
                    lw=0.8,
                )
                left += width
            text = f"{_seconds(rt['total_s'])}"
            if reference is not None and reference in runtime and method != reference:
                ratio = runtime[reference]["total_s"] / rt["total_s"]
                text += (
                    f"  ({ratio:.1f}x faster than"
                    if ratio >= 1
                    else f"  ({1 / ratio:.1f}x slower than"
                ) + f" {styles[reference].label})"
            ax.text(left + 0.01 * longest, row, text, va="center", ha="left", fontsize=9)
        ax.set_yticks(range(len(methods)), [styles[m].label for m in methods])
        for tick, method in zip(ax.get_yticklabels(), methods, strict=True):
            tick.set_color(styles[method].color)
            tick.set_fontweight("bold")
        ax.invert_yaxis()
        ax.set_xlim(0, longest * 1.5)
        ax.set_xlabel("wall-clock time (s)")
        ax.set_title("Total, stacked by stage")
        # Below the panels: inside the axes it covered the speed-up text of a bar.
        fig.legend(
            handles=[
                Patch(
                    facecolor="0.35",
                    alpha=a,
                    hatch=h,
                    edgecolor="white",
                    hatchcolor="0.2",
                    label=lab,
                )
                for _, lab, a, h in _STAGES
            ],
            loc="outside lower left",
            ncols=len(_STAGES),
            frameon=False,
            title="stage",
        )
        # Each stage on a log axis; a stage of 0 s (an MCMC fit draws nothing afterwards) is
        # left out.
        offsets = np.linspace(-0.2, 0.2, len(methods)) if len(methods) > 1 else [0.0]
        for off, method in zip(offsets, methods, strict=True):
            st, rt = styles[method], runtime[method]
            for row, (key, *_rest) in enumerate(_STAGES):
                value = float(rt.get(key) or 0.0)
                if value > 0:
                    ax_log.plot(
                        value,
                        row + off,
                        st.marker,
                        color=st.color,
                        ms=8,
                        label=st.label if row == 0 or key == "fit_s" else None,
                    )
        handles, labels = ax_log.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        # Beside the panels, not inside one: inside, it covered points and bar labels.
        fig.legend(
            unique.values(), unique.keys(), loc="outside right upper", frameon=False, title="method"
        )
        ax_log.set_xscale("log")
        ax_log.set_yticks(range(len(_STAGES)), [lab.split(" (")[0] for _, lab, *_ in _STAGES])
        ax_log.set_ylim(len(_STAGES) - 0.5, -0.5)
        ax_log.set_xlabel("wall-clock time (s, log scale)")
        ax_log.set_title("Each stage")
    return fig


def _seconds(x: float) -> str:
    return f"{x:,.0f} s" if x >= 100 else f"{x:.3g} s"
