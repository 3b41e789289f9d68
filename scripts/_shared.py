"""What the measuring scripts in ``scripts/`` share: a run's provenance and their templates.

Each script measures, writes its numbers with :func:`provenance` to a JSON file, and
renders its markdown from ``scripts/templates/`` with :func:`render_template`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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


def render_template(template: str, **context: Any) -> str:
    """``scripts/templates/<template>`` rendered with ``context`` (undefined names fail)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(ROOT / "scripts" / "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(template).render(**context)


def write_report(
    out: Path, stem: str, render: Callable[[dict], str], measure: Callable[[], dict] | None
) -> Path:
    """``out/<stem>.json`` from ``measure()`` (None: read back as it is, only redraw the
    markdown), then ``out/<stem>.md`` rendered from it; both written atomically. Returns
    the markdown's path."""
    from bnn_models._io import write_json, write_text

    path = out / f"{stem}.json"
    if measure is None:
        doc = json.loads(path.read_text())
    else:
        doc = measure()
        write_json(path, doc)
    return write_text(out / f"{stem}.md", render(doc))
