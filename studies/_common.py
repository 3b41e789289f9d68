"""What the studies share: a run's provenance, their templates and atomic result files.

Each study (``studies/<name>/``) measures, writes its numbers with :func:`provenance` to a
JSON file beside it, and renders its markdown from its own template with
:func:`render_template`. Studies use only the package's public API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDIES = Path(__file__).resolve().parent


def provenance(dataset: Any = None, extra: tuple[str, ...] = ()) -> dict:
    """Commit, machine and library versions of this run (``extra``: packages beyond the
    suite's list), and the data it measured on."""
    from bnn_models.provenance import git_commit, library_versions, machine_info

    doc: dict[str, Any] = {
        "commit": git_commit(),
        "machine": machine_info(),
        "versions": library_versions(extra) if extra else library_versions(),
    }
    if dataset is not None:
        from bnn_models.reference import data_hash

        doc["data"] = {
            "name": dataset.name,
            "n_train": len(dataset.y_train),
            "sha256": data_hash(dataset),
        }
    return doc


def render_template(template: str | Path, **context: Any) -> str:
    """``template`` (a path, or a name under ``studies/``: ``"svi_compare/template.md.j2"``)
    rendered with ``context`` (undefined names fail)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(STUDIES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    name = (
        Path(template).resolve().relative_to(STUDIES)
        if Path(template).is_absolute()
        else Path(template)
    )
    return env.get_template(name.as_posix()).render(**context)


def write_report(
    out: Path, stem: str, render: Callable[[dict], str], measure: Callable[[], dict] | None
) -> Path:
    """``out/<stem>.json`` from ``measure()`` (None: read back as it is, only redraw the
    markdown), then ``out/<stem>.md`` rendered from it; both written atomically. Returns
    the markdown's path."""
    from bnn_models.io import write_json, write_text

    path = out / f"{stem}.json"
    if measure is None:
        doc = json.loads(path.read_text())
    else:
        doc = measure()
        write_json(path, doc)
    return write_text(out / f"{stem}.md", render(doc))
