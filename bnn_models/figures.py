"""Figures of the comparison report, drawn from saved results with matplotlib and arviz-plots.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot's global
state (or closes the one arviz-plots opened once :func:`png_bytes` has rendered it).
Each method keeps one colour, marker and label in every figure: the caller builds them
once with :func:`method_styles` (by the method's position in the run) and passes them in;
no function here knows any method by name. :func:`png_bytes` writes PNGs without a
timestamp or software tag, so the same results give the same bytes.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bnn_models.inference import FitResult
from bnn_models.model import PARAMS

__all__ = [
    "PALETTE",
    "RC",
    "Style",
    "elbo_figure",
    "fidelity_sd_figure",
    "khat_figure",
    "method_styles",
    "pick_trace_variables",
    "png_bytes",
    "predictive_sd_figure",
    "rank_figure",
    "reliability_figure",
    "runtime_figure",
    "seed_interval_figure",
    "trace_figure",
    "weight_sd_figure",
]

#: Colours (Okabe-Ito, colour-blind safe) and markers, handed out in the run's method order.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0072B2", "o"),
    ("#E69F00", "s"),
    ("#CC79A7", "^"),
    ("#009E73", "D"),
    ("#D55E00", "v"),
    ("#56B4E9", "P"),
    ("#000000", "X"),
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
_STAGES = (
    ("compile_s", "compile (build + compile model)", 0.35, "//"),
    ("fit_s", "fit (sample / optimise)", 1.0, ""),
    ("draw_s", "draw from the approximation", 0.6, "xx"),
    ("predict_s", "predict test set", 0.8, ".."),
)


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
        ``rule_fired_at``, ``final_elbo``.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`method_styles`).

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
            label = f"{st.label}: final ELBO {info['final_elbo']:,.1f} nats; " + (
                f"rule fired at {fired:,}"
                if fired
                else f"rule not met in {value.size:,} iterations"
            )
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
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
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
        Method -> its colour, marker and label (:func:`method_styles`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(reliability)
    with _style():
        fig = _figure(figsize=(3.9 * n + 0.4, 4.4))
        axes = np.atleast_1d(fig.subplots(1, n, sharex=True, sharey=True))
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
            ax.set_xlabel("mean predicted probability")
            ax.set_aspect("equal")
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.05, 1.02)
        axes[0].set_ylabel("conditional event probability")
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
        Method -> its colour, marker and label (:func:`method_styles`).

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


def _weight_sd(fit: FitResult) -> xr.Dataset:
    return _tree(fit)["posterior"].to_dataset()[list(PARAMS)].std(dim=("chain", "draw"))


def weight_sd_figure(
    fits: Mapping[str, FitResult], styles: Mapping[str, Style], reference: str
) -> Figure:
    """Posterior sd of every weight and bias, each method against the reference method.

    Parameters
    ----------
    fits : mapping of str to FitResult
        Method -> its fit; must hold ``reference`` and at least one other method.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`method_styles`).
    reference : str
        The method on the x-axis (the report's MCMC baseline).

    Returns
    -------
    matplotlib.figure.Figure
        One log-log panel per other method with the diagonal and the median of its sd
        over the reference's.
    """
    ref = _weight_sd(fits[reference])
    others = [m for m in fits if m != reference]
    markers = {"W0": "o", "b0": "s", "W1": "^", "b1": "D"}
    with _style():
        fig = _figure(figsize=(4.6 * len(others) + 0.4, 4.8))
        axes = np.atleast_1d(fig.subplots(1, len(others), sharex=True, sharey=True))
        x_all = np.concatenate([ref[v].values.ravel() for v in PARAMS])
        sds = {m: _weight_sd(fits[m]) for m in others}
        y_all = np.concatenate([sds[m][v].values.ravel() for m in others for v in PARAMS])
        both = np.concatenate([x_all, y_all])
        both = both[both > 0]
        lim = (both.min() / 1.4, both.max() * 1.4)
        for ax, method in zip(axes, others, strict=True):
            st = styles[method]
            ax.plot(lim, lim, color="0.45", ls=":", lw=1.2, label="equal sd")
            for v in PARAMS:
                ax.scatter(
                    ref[v].values.ravel(),
                    sds[method][v].values.ravel(),
                    s=22,
                    marker=markers[v],
                    color=st.color,
                    alpha=0.7,
                    lw=0,
                )
            y = np.concatenate([sds[method][v].values.ravel() for v in PARAMS])
            ratio = float(np.median(y / x_all))
            ax.text(
                0.03,
                0.97,
                f"median sd ratio {st.label} / {styles[reference].label}: {ratio:.2f}",
                transform=ax.transAxes,
                va="top",
                ha="left",
                fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
            )
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1-2-5 steps, not 10^k
                axis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(mpl.ticker.NullFormatter())
            ax.set_xlim(lim)
            ax.set_ylim(lim)
            ax.set_aspect("equal")
            ax.set_title(st.label, color=st.color, fontweight="bold")
            ax.set_xlabel(f"posterior sd under {styles[reference].label}")
            ax.set_ylabel(f"posterior sd under {st.label}")
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
        Method -> its colour, marker and label (:func:`method_styles`).
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
        ax.legend(
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
            loc="lower right",
            framealpha=0.95,
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
        ax_log.legend(unique.values(), unique.keys(), loc="lower right", framealpha=0.95)
        ax_log.set_xscale("log")
        ax_log.set_yticks(range(len(_STAGES)), [lab.split(" (")[0] for _, lab, *_ in _STAGES])
        ax_log.set_ylim(len(_STAGES) - 0.5, -0.5)
        ax_log.set_xlabel("wall-clock time (s, log scale)")
        ax_log.set_title("Each stage")
    return fig


def _seconds(x: float) -> str:
    return f"{x:,.0f} s" if x >= 100 else f"{x:.3g} s"


def pick_trace_variables(fit: FitResult, n_pred: int = 2) -> xr.Dataset:
    """A few scalar quantities of an MCMC fit, worst mixed first, for trace and rank plots.

    Picks ``b1``, the element of ``W1`` and of ``W0`` with the largest R-hat, the test
    probability with the largest R-hat and the one with the largest predictive sd.
    Returns one Dataset of (chain, draw) variables named like ``W0[sxx,3]``.
    """
    import arviz as az

    tree = _tree(fit)
    post = tree["posterior"].to_dataset()
    pred = tree["predictions"].to_dataset()["p"]
    rhat = az.rhat(tree, var_names=["W0", "W1"])
    out = {"b1": post["b1"]}
    for name in ("W1", "W0"):
        r = rhat[name]
        idx = np.unravel_index(int(np.nanargmax(r.values)), r.shape)
        sel = {dim: r[dim].values[i] for dim, i in zip(r.dims, idx, strict=True)}
        label = f"{name}[{','.join(str(v) for v in sel.values())}]"
        out[label] = post[name].sel(sel, drop=True)
    r_pred = az.rhat(tree, group="predictions")["p"]
    obs = [int(r_pred["obs"].values[int(np.nanargmax(r_pred.values))])]
    sd = pred.std(dim=("chain", "draw"))
    for o in sd["obs"].values[np.argsort(-sd.values, kind="stable")]:
        if len(obs) >= n_pred:
            break
        if int(o) not in obs:
            obs.append(int(o))
    for o in obs:
        out[f"p[{o}]"] = pred.sel(obs=o, drop=True)
    return xr.Dataset(out)


def _chain_colors(n: int, color: str) -> list[str]:
    # Shades of the method's colour, from itself towards white, one per chain; at least
    # three because plot_trace_dist asks for one more than it uses.
    r, g, b = mpl.colors.to_rgb(color)
    shades = [
        mpl.colors.to_hex((r + w * (1 - r), g + w * (1 - g), b + w * (1 - b)))
        for w in np.linspace(0.0, 0.6, max(n, 2)).tolist()
    ]
    return [*shades, "0.5"]


def _rhat(chosen: xr.Dataset) -> dict[str, float]:
    import arviz as az

    r = az.rhat(xr.DataTree.from_dict({"posterior": chosen}))
    return {str(k): float(v) for k, v in r.data_vars.items()}


def _arviz_figure(pc: object) -> Figure:
    fig = pc.viz["figure"].item()  # type: ignore[attr-defined]
    fig.set_layout_engine("constrained")  # room for the suptitle and the longer labels
    return fig


def trace_figure(chosen: xr.Dataset, style: Style) -> Figure:
    """Trace and marginal density per chain (arviz-plots ``plot_trace_dist``).

    Parameters
    ----------
    chosen : xarray.Dataset
        (chain, draw) variables, e.g. from :func:`pick_trace_variables`.
    style : Style
        The MCMC method's style: its colour shades the chains, its label heads the figure.
    """
    import arviz_plots as azp

    n_chain = chosen.sizes["chain"]
    rhat = _rhat(chosen)
    with _style():
        pc = azp.plot_trace_dist(
            xr.DataTree.from_dict({"posterior": chosen}),
            backend="matplotlib",
            aes={"color": ["chain"], "linestyle": ["chain"]},
            color=_chain_colors(n_chain, style.color),
            # Solid, thin traces: dashes and thick lines turn long chains into a smear.
            aes_by_visuals={"trace": ["color"], "dist": ["color", "linestyle"]},
            visuals={"trace": {"width": 0.5 if chosen.sizes["draw"] >= 500 else 1.0}},
            figure_kwargs={"figsize": (11, 1.9 * len(chosen.data_vars) + 0.6)},
        )
        fig = _arviz_figure(pc)
        for ax in fig.axes:
            name = ax.get_ylabel()
            if name in rhat:
                ax.set_ylabel(f"{name}\nR-hat {rhat[name]:.3f}")
        fig.suptitle(
            f"{style.label}: density (left) and trace (right) of each of {n_chain} chains",
            fontsize=11,
        )
    return fig


def rank_figure(chosen: xr.Dataset, style: Style) -> Figure:
    """Fractional-rank Δ-ECDF per chain (arviz-plots ``plot_rank``).

    Parameters
    ----------
    chosen : xarray.Dataset
        (chain, draw) variables, e.g. from :func:`pick_trace_variables`.
    style : Style
        The MCMC method's style: its colour shades the chains, its label heads the figure.
    """
    import arviz_plots as azp

    n_chain = chosen.sizes["chain"]
    rhat = _rhat(chosen)
    with _style():
        pc = azp.plot_rank(
            xr.DataTree.from_dict({"posterior": chosen}),
            backend="matplotlib",
            aes={"color": ["chain"]},
            color=_chain_colors(n_chain, style.color),
            col_wrap=len(chosen.data_vars),
            figure_kwargs={"figsize": (2.5 * len(chosen.data_vars) + 0.5, 4.0)},
        )
        fig = _arviz_figure(pc)
        for ax in fig.axes:
            # Room above the curves for the p-value, which arviz-plots puts inside them.
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + 0.45 * (hi - lo))
            for text in ax.texts:
                p_value = text.get_text().split("(")[0].strip().replace("=", " = ")
                text.set_y(hi + 0.22 * (hi - lo))
                text.set_text(f"{p_value} (uniform ranks)")
            name = ax.get_title()
            if name in rhat:
                ax.set_title(f"{name}\nR-hat {rhat[name]:.3f}")
        fig.suptitle(
            f"{style.label}: rank plots (Δ-ECDF of fractional ranks per chain; black: where "
            "chains disagree)",
            fontsize=11,
        )
    return fig


def _log_ticks(ax: Any) -> None:
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1-2-5 steps, not 10^k
        axis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(mpl.ticker.NullFormatter())


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
        Method -> its ``fidelity`` section; ``pred_sd_ratio_median``, ``_q05`` and
        ``_q95`` are printed in each panel.
    styles : mapping of str to Style
        Method -> its colour, marker and label (:func:`method_styles`).

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
    n = len(ys)
    with _style():
        fig = _figure(figsize=(4.0 * n + 0.4, 4.6))
        axes = np.atleast_1d(fig.subplots(1, n, sharex=True, sharey=True))
        for ax, (method, y) in zip(axes, ys.items(), strict=True):
            st = styles[method]
            grid = np.array(lim)
            ax.plot(grid, grid, color="0.3", ls="-", lw=1.0, label="equal sd")
            for factor in (0.5, 2.0):
                ax.plot(grid, factor * grid, color="0.55", ls=":", lw=1.0)
            ax.scatter(x, y, s=12, marker=st.marker, color=st.color, alpha=0.5, lw=0)
            fid = fidelity.get(method) or {}
            if fid.get("pred_sd_ratio_median") is not None:
                ax.text(
                    0.03,
                    0.97,
                    f"sd / reference sd per point:\nmedian {fid['pred_sd_ratio_median']:.2f}, "
                    f"5-95%: {fid['pred_sd_ratio_q05']:.2f}-{fid['pred_sd_ratio_q95']:.2f}",
                    transform=ax.transAxes,
                    va="top",
                    ha="left",
                    fontsize=9,
                    bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            _log_ticks(ax)
            ax.set_xlim(lim)
            ax.set_ylim(lim)
            ax.set_aspect("equal")
            ax.set_title(st.label, color=st.color, fontweight="bold")
            ax.set_xlabel("predictive sd under the reference")
        axes[0].set_ylabel("predictive sd under the method")
        handles = [
            Line2D([], [], color="0.3", lw=1.0, label="equal sd"),
            Line2D([], [], color="0.55", ls=":", lw=1.0, label="half / twice the reference's sd"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
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
        Method -> its colour, marker and label (:func:`method_styles`).
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
        fig = _figure(figsize=(max(2.2 * len(methods) + 2.0, 6.0), 4.2))
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
        Method -> its colour, marker and label (:func:`method_styles`).
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
        fig = _figure(figsize=(3.3 * ncols + 1.2, (0.45 * len(methods) + 1.3) * nrows + 0.5))
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
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig
