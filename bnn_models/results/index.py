"""``results/INDEX.md``: every committed result, the question it answers, the command that
made it, its commit, date, wall time and library versions, and whether its settings are
today's defaults. Generated (``bnn-bench results index``) from the pipeline file, its record
(``results/pipeline.json``) and the result files themselves; the layout is the template
``report/templates/results_index.md.j2``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from bnn_models.io import write_text
from bnn_models.report.sections import PUBLISHED
from bnn_models.results.check import Problem, check_results, historical_reason
from bnn_models.results.pipeline import RECORD, STOPPED_EXIT
from bnn_models.results.records import ResultFile, result_files
from bnn_models.results.spec import Pipeline

__all__ = ["FolderRow", "build_index", "index_problem", "render_index", "write_index"]

#: The libraries the index shows in its table (every file records all of them).
SHOWN_LIBRARIES = ("pymc", "pytensor", "arviz", "nutpie", "numpyro", "blackjax", "pystan")


@dataclass
class FolderRow:
    """One folder of the index."""

    folder: str
    question: str
    step: str | None
    commands: list[str]
    historical: str | None = None
    files: list[ResultFile] = field(default_factory=list)
    wall_s: float | None = None
    other_cpu_s: float | None = None
    #: Attempts stopped by a signal before the pipeline waited for their commands' workers,
    #: left out of ``other_cpu_s``
    stopped_attempts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def commits(self) -> list[str]:
        """The commits its files name, short, in order of appearance."""
        return list(
            dict.fromkeys(
                c[:12] + ("-dirty" if c.endswith("-dirty") else "")
                for f in self.files
                for c in f.commits
            )
        )

    @property
    def settings_unrecorded(self) -> bool:
        """Whether none of its files records its methods' settings (a study's own files),
        so that nothing can say whether they are today's defaults."""
        return bool(self.files) and not any(f.settings_recorded for f in self.files)

    @property
    def commit_text(self) -> str:
        """Its commits as Markdown code, or '-' when it names none."""
        return ", ".join(f"`{c}`" for c in self.commits) or "-"

    @property
    def dates(self) -> str:
        """The first and last date its files were made."""
        days = sorted({f.created[:10] for f in self.files if f.created})
        return "-" if not days else days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"

    @property
    def versions(self) -> dict[str, str]:
        """Each shown library's version(s), ' / '-joined where its files differ."""
        out = {}
        for lib in SHOWN_LIBRARIES:
            seen = list(dict.fromkeys(f.versions[lib] for f in self.files if lib in f.versions))
            if seen:
                out[lib] = " / ".join(seen)
        return out


def _record(pipeline: Pipeline, root: Path) -> dict | None:
    path = root / pipeline.path.parent / RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _unreaped(attempt: dict) -> bool:
    """Whether an attempt was stopped by a signal before the pipeline waited for what
    outlives a command: its workers (Stan's) were never reaped, and their CPU reads as
    "other"."""
    return attempt.get("exit") == STOPPED_EXIT and not attempt.get("descendants_waited")


def build_index(pipeline: Pipeline, root: str | Path = ".") -> dict:
    """What the index shows: one row per step folder and per historical folder, the
    regeneration on record and the check's problems per folder."""
    root = Path(root).resolve()
    record = _record(pipeline, root)
    problems: dict[str, list[str]] = {}
    for p in check_results(pipeline, root):
        problems.setdefault(p.folder, []).append(str(p))
    rows = []
    for step in pipeline.steps:
        entry = (record or {}).get("steps", {}).get(step.name)
        attempts = [a for c in (entry or {}).get("commands", []) for a in c["attempts"]]
        stopped = [a for a in attempts if _unreaped(a)]
        others = [
            a["other_cpu_s"]
            for a in attempts
            if a.get("other_cpu_s") is not None and not _unreaped(a)
        ]
        for folder in step.folders:
            path = root / folder
            rows.append(
                FolderRow(
                    folder=folder,
                    question=step.question,
                    step=step.name,
                    commands=[shlex.join(c) for c in step.commands],
                    historical=historical_reason(pipeline, folder),
                    files=list(result_files(path)) if path.exists() else [],
                    wall_s=entry["wall_s"] if entry and entry.get("done") else None,
                    other_cpu_s=round(sum(others), 1) if others else None,
                    stopped_attempts=len(stopped),
                    problems=problems.get(folder, []),
                )
            )
    for folder, reason in pipeline.historical.items():
        if any(r.folder == folder for r in rows):
            continue
        path = root / folder
        rows.append(
            FolderRow(
                folder=folder,
                question="",
                step=None,
                commands=[],
                historical=reason,
                files=list(result_files(path)) if path.exists() else [],
            )
        )
    versions: dict[str, set[str]] = {}
    data: dict[tuple[str, str, str], None] = {}
    for row in rows:
        if row.historical is None:
            for f in row.files:
                for lib, v in f.versions.items():
                    versions.setdefault(lib, set()).add(v)
                data.update(dict.fromkeys(f.data))
    return {
        "pipeline": str(pipeline.path),
        "record": record,
        "rows": rows,
        "versions": {lib: sorted(v) for lib, v in sorted(versions.items())},
        "data": sorted(data),
        "published": PUBLISHED,
        "n_problems": sum(len(v) for v in problems.values()),
        "n_killed": sum(
            1
            for entry in (record or {}).get("steps", {}).values()
            for c in entry["commands"]
            for a in c["attempts"]
            if a.get("killed")
        ),
    }


def render_index(index: dict) -> str:
    """The index as Markdown (template ``results_index.md.j2``)."""
    env = Environment(
        loader=PackageLoader("bnn_models.report", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("results_index.md.j2").render(**index)


def write_index(pipeline: Pipeline, root: str | Path = ".") -> Path:
    """Write ``INDEX.md`` beside the pipeline file (atomically); its path."""
    root = Path(root).resolve()
    path = root / pipeline.path.parent / "INDEX.md"
    write_text(path, render_index(build_index(pipeline, root)))
    return path


def index_problem(pipeline: Pipeline, root: str | Path = ".") -> Problem | None:
    """A :class:`Problem` when ``INDEX.md`` is missing or differs from what the pipeline
    file, its record and the result files give today; None when it is current."""
    root = Path(root).resolve()
    path = root / pipeline.path.parent / "INDEX.md"
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    want = render_index(build_index(pipeline, root))
    try:
        have = path.read_text()
    except OSError:
        return Problem(name, name, "missing: write it with bnn-bench results index")
    if have != want:
        return Problem(name, name, "out of date: rewrite it with bnn-bench results index")
    return None
