"""The comparison report of a results folder: ``report.html`` and ``report.md``.

Both pages show the figures from the PNG files in ``figures/`` (a relative path), so each
figure is stored once and the pages work when opened from disk.

Everything in the report is computed from the folder's ``metrics.json`` and the fit
files it names; the only numbers from elsewhere are the published study's, each shown
with its source (:data:`PUBLISHED`). The same results give the same bytes: the report
carries the run's time, not its own, and figures are PNGs without timestamps.

One job per module: :mod:`~bnn_models.report.run` (the run's methods, baseline, styles),
:mod:`~bnn_models.report.summary` (the summary table), :mod:`~bnn_models.report.content`
(the verdicts and the whole :class:`Report` as data), :mod:`~bnn_models.report.sections`
(header, published study, details), :mod:`~bnn_models.report.fidelity` (the fidelity
section), :mod:`~bnn_models.report.figures` (which figures, with what captions),
:mod:`~bnn_models.report.render` (Jinja2 templates and pandas tables). A sweep's
report (named by what it holds: ``scaling.html``, ``shift.html``, ``coverage.html``) is
:mod:`~bnn_models.report.scaling`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bnn_models.io import atomic_path, write_text
from bnn_models.report.content import Report, build_report, verdicts
from bnn_models.report.fidelity import Fidelity
from bnn_models.report.figure_data import FIGURE_DATA, save_figure_data
from bnn_models.report.figures import FIGURE_FILES, RETIRED_FIGURE_FILES
from bnn_models.report.render import (
    render_html,
    render_markdown,
    render_scaling_html,
    render_scaling_markdown,
    summary_markdown,
)
from bnn_models.report.scaling import SCALING_FIGURE_FILES, SWEEP_KINDS, Scaling, build_scaling
from bnn_models.report.sections import PUBLISHED
from bnn_models.report.summary import summary_rows, summary_table

__all__ = [
    "FIGURE_FILES",
    "PUBLISHED",
    "Fidelity",
    "Report",
    "Scaling",
    "build_scaling",
    "build_report",
    "render_html",
    "render_markdown",
    "summary_markdown",
    "summary_rows",
    "summary_table",
    "verdicts",
    "write_report",
    "write_scaling_report",
]


def write_report(out_dir: str | Path, *, figures: bool | None = None) -> list[Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into a results folder.

    Figures the results do not allow, and figure files of earlier versions, are deleted,
    so that no stale figure is left beside the report.

    Parameters
    ----------
    out_dir : path
        A folder written by ``bnn-bench run`` (``metrics.json`` and ``fits/``).
    figures : bool, optional
        Draw the figures. By default yes, except in a sweep's cell (its parent folder
        holds ``sweep.json``): a sweep's committed cells stay small, and the sweep's page
        draws what varies across them.

    Returns
    -------
    list of pathlib.Path
        The written files: the HTML, the Markdown, then the figures and, when a figure
        needed a fit, ``figures/figure_data.npz`` (what it plots: with it the report
        re-renders to the same bytes without ``fits/``).

    Raises
    ------
    bnn_models.errors.ResultsError
        When ``metrics.json`` is missing or invalid (a ``ValueError``).

    Examples
    --------
    >>> write_report("results/rupture")  # doctest: +SKIP
    [PosixPath('results/rupture/report.html'), PosixPath('results/rupture/report.md'), ...]
    """
    out = Path(out_dir)
    compact = (out.parent / "sweep.json").is_file() if figures is None else not figures
    rep = dataclasses.replace(build_report(out, figures=not compact), compact=compact)
    fig_dir = out / "figures"
    written = []
    for f in rep.figures:
        if f.png is None:
            continue
        with atomic_path(fig_dir / f.name) as tmp:
            tmp.write_bytes(f.png)
        written.append(fig_dir / f.name)
    drawn = {p.name for p in written}
    for name in (*FIGURE_FILES, *RETIRED_FIGURE_FILES):
        if name not in drawn:
            (fig_dir / name).unlink(missing_ok=True)
    data = rep.figure_data
    if data is not None and not data.empty():  # what the fit-based figures need, kept
        written.append(save_figure_data(fig_dir / FIGURE_DATA, data))
    else:
        (fig_dir / FIGURE_DATA).unlink(missing_ok=True)
    if fig_dir.is_dir() and not any(fig_dir.iterdir()):
        fig_dir.rmdir()
    html_path = write_text(out / "report.html", render_html(rep))
    md_path = write_text(out / "report.md", render_markdown(rep))
    return [html_path, md_path, *written]


def write_scaling_report(sweep_dir: str | Path) -> list[Path]:
    """Write a sweep's report, named by what it holds: ``KIND.html``, ``KIND.md`` (KIND:
    ``scaling``, ``shift``, ``coverage`` or ``sweep``; :func:`~bnn_models.report.scaling.sweep_kind`)
    and ``figures/``; a report of another kind left from before is removed.

    Parameters
    ----------
    sweep_dir : path
        A folder written by ``bnn-bench sweep`` (``sweep.json`` and one folder per cell).

    Returns
    -------
    list of pathlib.Path
        The HTML, the Markdown, then the figures.

    Raises
    ------
    bnn_models.errors.ResultsError
        No or an invalid ``sweep.json``, a cell without results, or no successful fit.
    """
    out = Path(sweep_dir)
    rep = build_scaling(out)
    written = []
    for f in rep.figures:
        with atomic_path(out / "figures" / f.name) as tmp:
            tmp.write_bytes(f.png or b"")
        written.append(out / "figures" / f.name)
    drawn = {p.name for p in written}
    for name in SCALING_FIGURE_FILES.values():
        if name not in drawn:
            (out / "figures" / name).unlink(missing_ok=True)
    for kind in SWEEP_KINDS:  # a report named by an earlier version or another kind
        if kind != rep.kind:
            for suffix in (".html", ".md"):
                (out / (kind + suffix)).unlink(missing_ok=True)
    html_path = write_text(out / f"{rep.kind}.html", render_scaling_html(rep))
    md_path = write_text(out / f"{rep.kind}.md", render_scaling_markdown(rep))
    return [html_path, md_path, *written]
