"""Getting around a report: its table of contents, and links wherever it names a file.

HTML headings carry short ids (``#decision``); Markdown headings get GitHub's anchors
(``#decision-table``), so the same contents list works on a rendered page and on GitHub.
"""

from __future__ import annotations

import re

from markupsafe import escape

from bnn_models.report.content import Report

__all__ = ["contents", "link_html", "link_markdown"]


def _file_pattern(links: list[tuple[str, str]]) -> re.Pattern | None:
    """A file name as the text writes it: not part of a longer path, not already linked."""
    if not links:
        return None
    names = sorted({name for name, _ in links}, key=len, reverse=True)
    return re.compile(r"(?<![\w/.\-\[(])(" + "|".join(map(re.escape, names)) + r")(?![\w/\-])")


def link_markdown(text: str, links: list[tuple[str, str]]) -> str:
    """Every file name the Markdown names, as a link (``[name](href)``)."""
    pattern, href = _file_pattern(links), dict(links)
    if pattern is None:
        return text
    return pattern.sub(lambda m: f"[{m[1]}]({href[m[1]]})", text)


#: An HTML tag, an existing link, or the page's head: text inside them keeps its names.
_HTML_SKIP = re.compile(r"(<a\b.*?</a>|<head>.*?</head>|<[^>]+>)", re.S)


def link_html(page: str, links: list[tuple[str, str]]) -> str:
    """Every file name in the page's text (not in tags, links or the head), as a link."""
    pattern, href = _file_pattern(links), dict(links)
    if pattern is None:
        return page
    parts = _HTML_SKIP.split(page)
    for i in range(0, len(parts), 2):  # the even parts are text between tags
        parts[i] = pattern.sub(lambda m: f'<a href="{escape(href[m[1]])}">{m[1]}</a>', parts[i])
    return "".join(parts)


def _github_anchor(title: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped,
    spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def contents(rep: Report) -> list[dict]:
    """The report's sections in order: HTML id, GitHub anchor and title of each h2."""
    sections = [
        ("what-to-use", "What to use", rep.recommendation is not None),
        ("decision", "Decision table", rep.decision is not None),
        ("run", "The run", True),
        ("summary", "Summary", True),
        ("engines", "Which NUTS engine", rep.engines is not None),
        ("shift", "Under dataset shift", rep.shift is not None),
        ("published", "Against the published study", True),
        ("figures", "Figures", True),
        ("fidelity", "Fidelity to the reference", rep.fidelity is not None),
        ("asv", "Benchmarks over time", rep.asv is not None),
        ("details", "Details", True),
    ]
    return [
        {"id": i, "anchor": _github_anchor(title), "title": title}
        for i, title, shown in sections
        if shown
    ]
