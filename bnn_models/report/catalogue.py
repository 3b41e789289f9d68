"""Reference pages generated from what the code knows: the methods, metrics and datasets.

The docs' reference pages (``docs/reference/``) are written by :func:`write_pages` when
the docs are built, from the registries themselves (:data:`bnn_models.inference.METHODS`,
:data:`bnn_models.metrics.METRICS`, :data:`bnn_models.data.DATASETS`), so a method,
metric or dataset registered anywhere appears on them with nothing copied by hand.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

from bnn_models.data import DATASETS
from bnn_models.inference import ACCELERATIONS, FAMILIES, METHOD_SETS, METHODS, Method
from bnn_models.io import write_text
from bnn_models.metrics import GATES, METRICS
from bnn_models.report.render import _env

__all__ = [
    "PAGES",
    "datasets_page",
    "methods_page",
    "metrics_page",
    "setting_docs",
    "study_page",
    "write_pages",
    "write_studies",
]

_FIELD = re.compile(r"^\s*(\w+)\s*:[^=]*(=|$)")
_ATTRIBUTE = re.compile(r"^(\w+(?:\s*,\s*\w+)*)\s*:")
#: A Sphinx role in a docstring (``:func:`~a.b```): shown as the code it names.
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _numpydoc_attributes(doc: str | None) -> dict[str, str]:
    """``name -> text`` of a numpydoc ``Attributes`` section."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes") + 2
    except StopIteration:
        return out
    names: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            match = _ATTRIBUTE.match(line)
            if not match:  # the next section
                break
            names = [n.strip() for n in match.group(1).split(",")]  # "draws, tune : int"
            out.update(dict.fromkeys(names, ""))
        elif names and line.strip():
            for name in names:
                out[name] = f"{out[name]} {line.strip()}".strip()
    return out


def _comment_docs(cls: type) -> dict[str, str]:
    """``name -> text`` of the ``#:`` comments above the fields in ``cls``'s own source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # defined in a notebook or by exec
        return {}
    out: dict[str, str] = {}
    comment: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        match = _FIELD.match(line)
        if comment and match:
            out[match.group(1)] = " ".join(comment)
        comment = []
    return out


def setting_docs(settings: type) -> dict[str, str]:
    """What each field of a settings dataclass means, from its documentation: the
    numpydoc ``Attributes`` of each class of its hierarchy, or the ``#:`` comment above
    the field (a subclass's text wins over its base's)."""
    out: dict[str, str] = {}
    for cls in reversed(settings.__mro__):
        out.update(_numpydoc_attributes(cls.__doc__))
        out.update(_comment_docs(cls))
    return {name: _ROLE.sub(r"`\1`", text) for name, text in out.items()}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _method_context(method: Method) -> dict[str, Any]:
    docs = setting_docs(method.settings)
    quick = dict(method.quick)
    settings = [
        {
            "name": f.name,
            "default": _value(f.default) if f.default is not dataclasses.MISSING else "",
            "quick": _value(quick[f.name]) if f.name in quick else "",
            "doc": docs.get(f.name, ""),
        }
        for f in dataclasses.fields(method.settings)
    ]
    return {
        "name": method.name,
        "label": method.label,
        "family": method.family,
        "engine": method.engine,
        "description": method.description,
        "defaults_from": method.defaults_from,
        "settings": settings,
        "accelerations": [ACCELERATIONS[a] for a in method.accelerations],
        "sets": [s for s, names in METHOD_SETS.items() if method.name in names],
    }


def methods_page() -> str:
    """The methods reference page (MyST Markdown): every registered method, its family,
    engine, sets, opt-in accelerations and every setting with its default, quick-profile
    value and meaning."""
    return (
        _env()
        .get_template("catalogue_methods.md.j2")
        .render(
            methods=[_method_context(m) for m in METHODS.values()],
            families=FAMILIES,
            sets=METHOD_SETS,
            accelerations=ACCELERATIONS,
        )
    )


def metrics_page() -> str:
    """The metrics reference page: every metric of the table, where it sits in
    ``metrics.json``, its unit and direction, how it is gated, its asv track and whether
    it is a report column."""
    rows = [
        {
            "name": m.name,
            "path": m.path,
            "label": m.label,
            "unit": m.unit,
            "direction": m.direction,
            "gate": m.gate or "",
            "track": f"{m.track.suite}.track_{m.track.name}" if m.track else "",
            "column": "yes" if m.column else "",
            "description": m.description,
        }
        for m in METRICS.values()
    ]
    return _env().get_template("catalogue_metrics.md.j2").render(metrics=rows, gates=GATES)


def datasets_page() -> str:
    """The datasets reference page: every registered dataset and the options it takes."""
    return _env().get_template("catalogue_datasets.md.j2").render(datasets=DATASETS.values())


#: The generated pages: file name -> the function that writes it.
PAGES = {"methods.md": methods_page, "metrics.md": metrics_page, "datasets.md": datasets_page}


def write_pages(folder: str | Path) -> list[Path]:
    """Write every page of :data:`PAGES` into ``folder`` (atomically); return the paths."""
    folder = Path(folder)
    return [write_text(folder / name, page()) for name, page in PAGES.items()]


#: A Markdown link or image: ``[text](target)`` or ``![text](target)`` (a title after the
#: target is kept).
_LINK = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?P<rest>[^)]*)\)")


def study_page(readme: str | Path) -> str:
    """A study's page (``studies/<name>/README.md``) as the docs show it, at
    ``docs/studies/<name>.md``: its links to files beside it pointed at them from there,
    its links to another study's page at that study's docs page."""
    readme = Path(readme)
    name = readme.parent.name

    def point(match: re.Match) -> str:
        image, text, target, rest = match.group("image", "text", "target", "rest")
        if re.match(r"^[a-z]+:|^#|^/", target):  # a URL, an anchor, an absolute path
            return match.group(0)
        other = re.fullmatch(r"\.\./(\w+)/README\.md(#.*)?", target)
        if other:  # another study's page
            return f"[{text}]({other.group(1)}.md{other.group(2) or ''}{rest})"
        path = f"../../studies/{name}/{target}"
        if image:  # Sphinx copies the image
            return f"![{text}]({path}{rest})"
        return f"[{text}](path:{path}{rest})"  # a file beside the study: a download link

    return _LINK.sub(point, readme.read_text())


def write_studies(studies: str | Path, folder: str | Path) -> list[Path]:
    """Write each study's page (:func:`study_page`) and an index of them into ``folder``;
    a study is a folder of ``studies`` with a ``README.md``. Returns the paths."""
    readmes = sorted(Path(studies).glob("*/README.md"))
    rows = []
    for readme in readmes:
        text = readme.read_text()
        title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "")
        rows.append({"name": readme.parent.name, "title": title or readme.parent.name})
    folder = Path(folder)
    paths = [
        write_text(folder / f"{r['name']}.md", study_page(p))
        for r, p in zip(rows, readmes, strict=True)
    ]
    index = _env().get_template("catalogue_studies.md.j2").render(studies=rows)
    return [write_text(folder / "index.md", index), *paths]
