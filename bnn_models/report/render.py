"""The report as Markdown and as one HTML page; both show the figures from ``figures/``.

Layout lives in Jinja2 templates (``templates/report.md.j2``, ``report.html.j2``, the
cell macros of ``cells.html.j2``) and the page's CSS in ``templates/report.css``; every
table goes through pandas (``DataFrame.to_markdown``, and ``DataFrame.to_html`` with
MultiIndex columns for the grouped headers). HTML escapes everything the run provides.
Pages reference the PNG files by a relative path (each figure is stored once), so they
work when opened from disk beside their ``figures/``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from bnn_models.report.content import Report
from bnn_models.report.figures import Figure
from bnn_models.report.minibatch import minibatch_table
from bnn_models.report.navigation import contents, link_html, link_markdown
from bnn_models.report.run import Row
from bnn_models.report.scaling import (
    Scaling,
    coverage_table,
    point_table,
    shift_table,
    slope_table,
)
from bnn_models.report.sections import PUBLISHED_HEADER
from bnn_models.sbc import TAIL

__all__ = [
    "render_html",
    "render_markdown",
    "render_scaling_html",
    "render_scaling_markdown",
    "render_sbc",
    "summary_markdown",
]

#: " [lo, hi]" after a value: the interval over seeds, set on its own line in HTML.
_INTERVAL = re.compile(r" (\[[^\]]*\])")


@functools.cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("bnn_models.report", "templates"),
        # The templates are named *.html.j2: "html" alone would match only *.html.
        autoescape=select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _cells() -> Any:
    """The cell macros of ``cells.html.j2`` (method, value, failed), callable from here."""
    return _env().get_template("cells.html.j2").module


# --------------------------------------------------------------------------- markdown tables


def _md_text(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(frame: pd.DataFrame, headers: list[str] | None = None) -> str:
    """A pipe table; every cell kept as written (no number parsing), pipes escaped."""
    frame = frame.map(_md_text)
    return frame.to_markdown(
        index=False,
        headers=[_md_text(h) for h in (headers if headers is not None else frame.columns)],
        disable_numparse=True,
    )


def _md_key_values(pairs: list[tuple[str, str]]) -> str:
    frame = pd.DataFrame([[f"**{k}**", v] for k, v in pairs], columns=["key", "value"])
    return _markdown(frame, headers=["", ""])


def _md_methods(columns: list[str], rows: list[Row]) -> str:
    data = []
    for r in rows:
        name = f"{r.label} ({r.seeds})"
        if r.cells is None:
            data.append([name, r.failure or "failed"] + [""] * (len(columns) - 1))
        else:
            data.append([name + (f"; {r.failure}" if r.failure else ""), *r.cells])
    return _markdown(pd.DataFrame(data, columns=["Method", *columns]))


def _flat_headers(groups: list[tuple[str, int]], columns: list[str]) -> list[str]:
    """Column headers prefixed with their group ("Weights: sd ratio"), for flat tables."""
    names = [g for g, n in groups for _ in range(n)]
    return [f"{g}: {c}" for g, c in zip(names, columns, strict=True)]


def summary_markdown(rep: Report) -> str:
    """The summary table alone, as Markdown (e.g. for the README)."""
    return _md_methods(rep.columns, rep.rows)


# --------------------------------------------------------------------------- html tables


def _html(frame: pd.DataFrame, cls: str, table_id: str | None = None, **kwargs: Any) -> Markup:
    html = frame.to_html(border=0, classes=cls, table_id=table_id, **kwargs)
    return Markup(html)  # safe: pandas escaped the cells, or the cell macros did


def _html_key_values(pairs: list[tuple[str, str]], table_id: str) -> Markup:
    frame = pd.DataFrame({"value": [v for _, v in pairs]}, index=[k for k, _ in pairs])
    return _html(frame, "header", table_id, header=False)


def _html_table(header: list[str], rows: list[list[str]], cls: str) -> Markup:
    return _html(pd.DataFrame(rows, columns=header), cls, index=False)


def _html_methods(
    groups: list[tuple[str, int]], columns: list[str], rows: list[Row], table_id: str
) -> Markup:
    """Grouped headers (MultiIndex columns), one row per method; each cell from a macro."""
    cells = _cells()
    names = [g for g, n in groups for _ in range(n)]
    header = pd.MultiIndex.from_tuples(
        [("", "Method")] + [(escape(g), escape(c)) for g, c in zip(names, columns, strict=True)]
    )
    data = []
    for r in rows:
        method = cells.method(r.label, r.seeds, r.color, r.failure if r.cells else None)
        if r.cells is None:
            values = [cells.failed(r.failure or "failed")] + [""] * (len(columns) - 1)
        else:
            values = [cells.value(_INTERVAL.split(c)) for c in r.cells]
        data.append([method, *values])
    frame = pd.DataFrame(data, columns=header)
    return _html(frame, "summary", table_id, index=False, escape=False)


def _md_decision(rep: Report) -> str | None:
    d = rep.decision
    if d is None:
        return None
    frame = pd.DataFrame(
        [[family, label, *cells] for family, label, _, cells in d.rows],
        columns=["Family", "Method", *d.header],
    )
    return _markdown(frame)


def _md_engines(rep: Report) -> str | None:
    e = rep.engines
    if e is None:
        return None
    frame = pd.DataFrame(
        [[label, *cells] for label, _, cells in e.rows], columns=["Engine", *e.header]
    )
    return _markdown(frame)


def _html_decision(rep: Report) -> Markup | None:
    """Rows grouped by family (a MultiIndex: pandas spans the family cell)."""
    d = rep.decision
    if d is None:
        return None
    cells = _cells()
    index = pd.MultiIndex.from_tuples(
        [
            (escape(family), cells.method(label, "", color, None))
            for family, label, color, _ in d.rows
        ],
        names=["Family", "Method"],
    )
    frame = pd.DataFrame(
        [[escape(c) for c in row[3]] for row in d.rows],
        index=index,
        columns=[escape(h) for h in d.header],
    )
    return _html(frame, "decision", "decision-table", escape=False)


def _html_engines(rep: Report) -> Markup | None:
    e = rep.engines
    if e is None:
        return None
    cells = _cells()
    frame = pd.DataFrame(
        [
            [cells.method(label, "", color, None), *[escape(c) for c in row]]
            for label, color, row in e.rows
        ],
        columns=["Engine", *[escape(h) for h in e.header]],
    )
    return _html(frame, "engines", "engines-table", index=False, escape=False)


# --------------------------------------------------------------------------- pages


def _numbered(rep: Report) -> dict[str, list[tuple[int, Figure]]]:
    """Figures by section, numbered in the order they appear in the report."""
    out: dict[str, list[tuple[int, Figure]]] = {"shift": [], "figures": [], "fidelity": []}
    i = 0
    for section in ("shift", "figures", "fidelity"):  # the order the sections appear in
        if (section == "fidelity" and rep.fidelity is None) or (
            section == "shift" and rep.shift is None
        ):
            continue
        for f in rep.figures:
            if f.section == section:
                i += 1
                out[section].append((i, f))
    return out


def _figures(rep: Report, figure_dir: str) -> dict[str, list[dict]]:
    """Per section: number, title, caption, anchor and image (its path from the page)."""
    out: dict[str, list[dict]] = {}
    for section, figures in _numbered(rep).items():
        out[section] = [
            {
                "number": i,
                "title": f.title,
                "caption": f.caption,
                "anchor": "fig-" + f.name.removesuffix(".png"),
                "src": f"{figure_dir}/{f.name}" if f.png is not None else None,
            }
            for i, f in figures
        ]
    return out


def render_markdown(rep: Report, figure_dir: str = "figures") -> str:
    """The report as Markdown; figures are linked from ``figure_dir``."""
    fid = rep.fidelity
    tables = {
        "header": _md_key_values(rep.header),
        "summary": summary_markdown(rep),
        "decision": _md_decision(rep),
        "engines": _md_engines(rep),
        "published": _markdown(pd.DataFrame(rep.published, columns=PUBLISHED_HEADER))
        if rep.published
        else None,
        "details": [
            (title, _markdown(pd.DataFrame(rows, columns=header)))
            for title, header, rows in rep.details
        ],
    }
    tables["shift"] = None
    if rep.shift is not None:
        sh = rep.shift
        tables["shift"] = _md_methods(_flat_headers(sh.groups, sh.columns), sh.rows)
    if fid is not None:
        tables["reference"] = _md_key_values(fid.reference)
        tables["diagnostics"] = _markdown(
            pd.DataFrame(fid.diagnostics, columns=fid.diagnostics_header)
        )
        tables["fidelity"] = _md_methods(_flat_headers(fid.groups, fid.columns), fid.rows)
    rec = rep.recommendation
    tables["recommendation"] = (
        _markdown(pd.DataFrame(rec.rows, columns=rec.header)) if rec is not None else None
    )
    text = (
        _env()
        .get_template("report.md.j2")
        .render(rep=rep, tables=tables, figures=_figures(rep, figure_dir), contents=contents(rep))
    )
    return link_markdown(text, rep.links)


def render_html(rep: Report, figure_dir: str = "figures") -> str:
    """The report as one HTML page; figures are shown from ``figure_dir`` (relative path)."""
    env = _env()
    fid = rep.fidelity
    tables = {
        "header": _html_key_values(rep.header, "run-header"),
        "summary": _html_methods(rep.groups, rep.columns, rep.rows, "summary-table"),
        "decision": _html_decision(rep),
        "engines": _html_engines(rep),
        "published": _html_table(PUBLISHED_HEADER, rep.published, "published")
        if rep.published
        else None,
        "details": [
            (title, _html_table(header, rows, "details")) for title, header, rows in rep.details
        ],
    }
    tables["shift"] = None
    if rep.shift is not None:
        sh = rep.shift
        tables["shift"] = _html_methods(sh.groups, sh.columns, sh.rows, "shift-table")
    if fid is not None:
        tables["reference"] = _html_key_values(fid.reference, "reference-header")
        tables["diagnostics"] = _html_table(fid.diagnostics_header, fid.diagnostics, "details")
        tables["fidelity"] = _html_methods(fid.groups, fid.columns, fid.rows, "fidelity-table")
    rec = rep.recommendation
    tables["recommendation"] = (
        _html_table(rec.header, rec.rows, "recommendation") if rec is not None else None
    )
    css = env.loader.get_source(env, "report.css")[0] if env.loader is not None else ""
    page = env.get_template("report.html.j2").render(
        rep=rep,
        tables=tables,
        figures=_figures(rep, figure_dir),
        contents=contents(rep),
        css=Markup(css),  # the package's own file
    )
    return link_html(page, rep.links)


# --------------------------------------------------------------------------- sweep: scaling


def _optional(frame: pd.DataFrame | None, render: Any) -> Any:
    return None if frame is None else render(frame)


def _pays(rep: Scaling) -> pd.DataFrame | None:
    return None if rep.minibatch is None else minibatch_table(rep.minibatch)


def _scaling_figures(rep: Scaling, figure_dir: str) -> list[dict]:
    return [
        {
            "number": i,
            "title": f.title,
            "caption": f.caption,
            "anchor": "fig-" + f.name.removesuffix(".png"),
            "src": f"{figure_dir}/{f.name}",
        }
        for i, f in enumerate(rep.figures, start=1)
    ]


def render_scaling_markdown(rep: Scaling, figure_dir: str = "figures") -> str:
    """A sweep's report as Markdown; figures are linked from ``figure_dir``."""
    tables = {
        "header": _md_key_values(rep.header),
        "slopes": _markdown(slope_table(rep.slopes)) if not rep.slopes.empty else None,
        "points": _markdown(point_table(rep.points)),
        "coverage": _optional(coverage_table(rep.frame), _markdown),
        "shift": _optional(shift_table(rep.frame), _markdown),
        "minibatch": _optional(_pays(rep), _markdown),
    }
    text = (
        _env()
        .get_template("scaling.md.j2")
        .render(rep=rep, tables=tables, figures=_scaling_figures(rep, figure_dir))
    )
    return link_markdown(text, [(c, f"{c}/report.md") for c in rep.cells])


def render_scaling_html(rep: Scaling, figure_dir: str = "figures") -> str:
    """A sweep's report as one HTML page; figures are shown from ``figure_dir``."""
    env = _env()
    tables = {
        "header": _html_key_values(rep.header, "sweep-header"),
        "slopes": _html(slope_table(rep.slopes), "details", index=False)
        if not rep.slopes.empty
        else None,
        "points": _html(point_table(rep.points), "details", index=False),
        "coverage": _optional(
            coverage_table(rep.frame), lambda f: _html(f, "details", index=False)
        ),
        "shift": _optional(shift_table(rep.frame), lambda f: _html(f, "details", index=False)),
        "minibatch": _optional(_pays(rep), lambda f: _html(f, "details", index=False)),
    }
    css = env.loader.get_source(env, "report.css")[0] if env.loader is not None else ""
    page = env.get_template("scaling.html.j2").render(
        rep=rep, tables=tables, figures=_scaling_figures(rep, figure_dir), css=Markup(css)
    )
    return link_html(page, [(c, f"{c}/report.html") for c in rep.cells])


# --------------------------------------------------------------------------- sbc


def render_sbc(
    doc: dict,
    tables: tuple[pd.DataFrame, pd.DataFrame],
    notes: list[str],
    figure: str | None,
) -> tuple[str, str]:
    """The SBC report as Markdown and as HTML, both showing ``figure`` (a relative path, or
    None when not drawn); ``tables``: the uniformity table and the tail table."""
    table, tails = tables
    env = _env()
    header = [
        ("Command", str(doc.get("command") or "(library call)")),
        ("Commit", str(doc.get("commit"))),
        ("Created", str(doc.get("created"))),
        ("Methods", ", ".join(doc["methods"])),
        (
            "Simulations",
            ", ".join(
                f"{m} {sum(e['method'] == m for e in doc['simulations'])} of {n}"
                for m, n in doc["n_sims"].items()
            )
            + f" run (seed {doc['seed']})",
        ),
        ("Settings", "quick" if doc.get("quick") else "default"),
    ]
    common = {"doc": doc, "notes": notes, "tail": round(100 * TAIL)}
    md = env.get_template("sbc.md.j2").render(
        header=_md_key_values(header),
        table=_markdown(table),
        tails=_markdown(tails),
        figure=figure,
        **common,
    )
    css = env.loader.get_source(env, "report.css")[0] if env.loader is not None else ""
    html = env.get_template("sbc.html.j2").render(
        header=_html_key_values(header, "sbc-header"),
        table=_html(table, "details", index=False),
        tails=_html(tails, "details", index=False),
        figure=figure,
        css=Markup(css),
        **common,
    )
    return md, html
