"""Figures of the comparison report, drawn from saved results with matplotlib and arviz-plots.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot's global
state (or closes the one arviz-plots opened once :func:`png_bytes` has rendered it).
Each method keeps one colour, marker and label in every figure: the caller builds them
once with :func:`method_styles` (by the method's position in the registry, so the same
in every report) and passes them in;
no function here knows any method by name. :func:`png_bytes` writes PNGs without a
timestamp or software tag, so the same results give the same bytes.

The modules, one job each: :mod:`~bnn_models.figures._style` (palette, styles, rc settings,
PNG output), :mod:`~bnn_models.figures.fits` (runtime, ELBO, reliability, predictive and
weight sd), :mod:`~bnn_models.figures.mcmc` (trace and rank plots),
:mod:`~bnn_models.figures.fidelity` (against the reference, k-hat, across seeds),
:mod:`~bnn_models.figures.scaling` (cost growth of a sweep, log-log),
:mod:`~bnn_models.figures.shift` (accuracy when abstaining, under dataset shift) and
:mod:`~bnn_models.figures.sbc` (simulation-based calibration).
"""

from __future__ import annotations

from bnn_models.figures._style import (
    PALETTE,
    RC,
    Style,
    delta_e,
    method_style,
    method_styles,
    png_bytes,
    smallest_text_px,
    stack_png,
)
from bnn_models.figures.anytime import anytime_figure
from bnn_models.figures.fidelity import fidelity_sd_figure, khat_figure, seed_interval_figure
from bnn_models.figures.fits import (
    elbo_figure,
    predictive_sd_figure,
    reliability_figure,
    runtime_figure,
    weight_sd_figure,
    weight_sds,
)
from bnn_models.figures.mcmc import pick_trace_variables, rank_figure, trace_figure
from bnn_models.figures.sbc import sbc_figure
from bnn_models.figures.scaling import growth_figure
from bnn_models.figures.shift import accuracy_coverage_figure

__all__ = [
    "PALETTE",
    "RC",
    "Style",
    "accuracy_coverage_figure",
    "anytime_figure",
    "elbo_figure",
    "fidelity_sd_figure",
    "growth_figure",
    "khat_figure",
    "delta_e",
    "method_style",
    "method_styles",
    "pick_trace_variables",
    "png_bytes",
    "smallest_text_px",
    "stack_png",
    "predictive_sd_figure",
    "rank_figure",
    "reliability_figure",
    "sbc_figure",
    "runtime_figure",
    "seed_interval_figure",
    "trace_figure",
    "weight_sd_figure",
    "weight_sds",
]
