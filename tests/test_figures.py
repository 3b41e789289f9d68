"""Figures readable at the page's width, and one colour per method in every report."""

from __future__ import annotations

import dataclasses
import io
import itertools

import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bnn_models import figures as figs
from bnn_models.figures._style import DISPLAY_WIDTH_PX, MAX_COLUMNS, MIN_TEXT_PX
from bnn_models.inference import METHODS, FitResult, register, unregister

#: Smallest CIE 1976 delta-E between any two palette colours. About 2.3 is a just
#: noticeable difference between large patches side by side; method colours are read off
#: thin lines and small markers, apart, so they need an order of magnitude more. The former
#: palette's nearest pair (#009E73 / #44AA99, two greens, delta-E 18.6) was the one readers
#: mixed up; 25 keeps every pair clearly further apart than that.
MIN_DELTA_E = 25.0

#: 13 methods not in the registry, named as a run with many methods would name them.
FAKE = {f"fake_{i}": f"Fake method number {i}" for i in range(13)}


def _png(fig):
    png = figs.png_bytes(fig)
    return png, mpimg.imread(io.BytesIO(png), format="png").shape[:2]


def _fit(method: str, rng: np.random.Generator) -> FitResult:
    shapes = {"W0": (4, 3), "b0": (3,), "W1": (3,), "b1": ()}
    post = xr.Dataset(
        {
            v: (
                ("chain", "draw", *[f"{v}_{i}" for i in range(len(s))]),
                rng.normal(size=(2, 20, *s)),
            )
            for v, s in shapes.items()
        }
    )
    tree = xr.DataTree.from_dict({"posterior": post})
    return FitResult(method, tree, None, {}, None, {}, {}, "fake")


def _figures(styles: dict[str, figs.Style]) -> dict[str, object]:
    """Every figure that draws one panel, bar or row per method, for ``styles``' methods."""
    rng = np.random.default_rng(0)
    names = list(styles)
    x = np.linspace(0, 1, 30)
    rel = {
        m: {"forecast": x, "cep": x, "band_low": x - 0.1, "band_high": x + 0.1, "ci_prob": 0.95}
        for m in names
    }
    cal = {m: {"ece": 0.04, "brier": 0.1} for m in names}
    ref_sd = rng.uniform(0.01, 0.2, size=40)
    fid = {"pred_sd_ratio_median": 0.9, "pred_sd_ratio_q05": 0.5, "pred_sd_ratio_q95": 1.5}
    stat = {"mean": 0.1, "lo": 0.08, "hi": 0.12, "values": [0.08, 0.1, 0.12]}
    runtime = {
        m: {"compile_s": 1.0, "fit_s": 10.0 * (i + 1), "draw_s": 0.5, "predict_s": 0.2}
        for i, m in enumerate(names)
    }
    for rt in runtime.values():
        rt["total_s"] = sum(rt.values())
    return {
        "reliability": lambda: figs.reliability_figure(rel, cal, styles),
        "fidelity_sd": lambda: figs.fidelity_sd_figure(
            {m: ref_sd * rng.uniform(0.5, 2, 40) for m in names},
            ref_sd,
            {m: fid for m in names},
            styles,
        ),
        "weight_sd": lambda: figs.weight_sd_figure(
            {m: figs.weight_sds(_fit(m, rng)) for m in names}, styles, reference=names[0]
        ),
        "khat": lambda: figs.khat_figure({m: {0: 0.5, 1: 0.9} for m in names}, styles),
        "seed_intervals": lambda: figs.seed_interval_figure(
            [{"title": f"metric {k}", "methods": {m: stat for m in names}} for k in range(7)],
            styles,
        ),
        "runtime": lambda: figs.runtime_figure(runtime, styles, reference=names[0]),
        "predictive_sd": lambda: figs.predictive_sd_figure(
            {m: {"pred_mean": x, "pred_sd": x / 5, "pred_sd_mean": 0.1} for m in names}, styles
        ),
        "accuracy_coverage": lambda: figs.accuracy_coverage_figure(
            {m: (x[1:], 0.8 + 0.2 * x[1:]) for m in names}, styles
        ),
    }


@pytest.mark.parametrize("name", list(_figures(figs.method_styles(FAKE))))
def test_13_methods_draw_a_grid_legible_at_the_page_width(name):
    """No figure of 13 methods is a strip: at most 4 panels a row, and its smallest text
    at least 9 px once the page scales it to its 1,200 px."""
    fig = _figures(figs.method_styles(FAKE))[name]()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    assert len(columns) <= MAX_COLUMNS
    png, (height, width) = _png(fig)
    px = figs.smallest_text_px(fig, png)
    assert px >= MIN_TEXT_PX, f"{name}: smallest text {px:.1f} px ({width} x {height} px)"
    # Not a strip: no wider than about 1.6x the page, so the scale stays above 0.6.
    assert width <= 1.6 * DISPLAY_WIDTH_PX


def test_panel_grid_has_4_columns_and_hides_the_rest():
    styles = figs.method_styles(FAKE)
    fig = _figures(styles)["reliability"]()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 13
    # 4 columns, 4 rows: 13 panels, 3 slots hidden.
    assert len({round(ax.get_position().x0, 3) for ax in shown}) == 4
    assert len({round(ax.get_position().y0, 3) for ax in shown}) == 4
    assert len(fig.axes) == 16
    # Each panel titled with its method, in order.
    assert [ax.get_title() for ax in shown] == list(FAKE.values())


def test_smallest_text_px_scales_wide_figures_down():
    """A 10 pt text in a figure rendered 2,400 px wide shows at half its size."""
    fig = Figure(figsize=(2400 / 110, 2.0))
    fig.text(0.5, 0.5, "x", fontsize=10)
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=110)
    assert figs.smallest_text_px(fig, buf.getvalue()) == pytest.approx(10 * 110 / 72 / 2, rel=0.01)


# --------------------------------------------------------------------------- colours


def test_a_method_keeps_its_colour_whatever_the_run_order():
    names = list(METHODS)
    one = figs.method_styles({n: n for n in names})
    two = figs.method_styles({n: n for n in reversed(names)})
    three = figs.method_styles({n: n for n in names[7:9]})  # a design-card style subset
    for n in names:
        assert one[n] == two[n]
    for n in names[7:9]:
        assert three[n] == one[n]
    # Methods not registered (an old saved run) get a stable colour, the same in every run,
    # from the palette entries no registered method uses.
    old = figs.method_style("retired_method", "Retired")
    assert old == figs.method_styles({"x": "X", "retired_method": "Retired"})["retired_method"]
    assert old.color not in {s.color for s in one.values()}


def test_palette_colours_are_far_apart_in_cielab():
    """Every pair of palette colours at least MIN_DELTA_E apart (CIE 1976)."""
    colours = [c for c, _ in figs.PALETTE]
    nearest = min((figs.delta_e(a, b), a, b) for a, b in itertools.combinations(colours, 2))
    assert nearest[0] >= MIN_DELTA_E, f"{nearest[1]} and {nearest[2]}: delta-E {nearest[0]:.1f}"
    assert len(figs.PALETTE) >= 16
    # Known answers for the conversion: black to white is 100, a colour to itself 0.
    assert figs.delta_e("#000000", "#ffffff") == pytest.approx(100.0, abs=0.01)
    assert figs.delta_e("#0072B2", "#0072b2") == 0.0
    # The former palette's two greens fail the threshold: the test can fail.
    assert figs.delta_e("#009E73", "#44AA99") < MIN_DELTA_E


def test_a_newly_registered_method_gets_a_colour_of_its_own():
    method = register(dataclasses.replace(METHODS["advi"], name="my_method", label="Mine"))
    try:
        styles = figs.method_styles({n: m.label for n, m in METHODS.items()})
        mine = styles.pop("my_method")
        assert mine.color not in {s.color for s in styles.values()}
        assert mine.marker not in {s.marker for s in styles.values()}
    finally:
        unregister(method.name)
