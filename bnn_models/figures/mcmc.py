"""MCMC diagnostics figures: picking the worst-mixed variables, trace and rank plots."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bnn_models.figures._style import Style, _style, _tree
from bnn_models.inference import FitResult


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
