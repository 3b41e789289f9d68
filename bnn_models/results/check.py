"""Whether the committed results are current: ``bnn-bench results check``.

A committed result fails the check when it names a dirty commit (its code cannot be checked
out), names no commit, or records settings that differ from today's defaults for its
profile (:mod:`bnn_models.report.stale`), unless its folder is marked historical in the
pipeline file with a reason. A folder under ``results/`` that no step makes and that is not
historical fails too. So changing a default fails CI until what it changes is regenerated,
in the same change, or declared historical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bnn_models.results.records import ResultFile, result_files
from bnn_models.results.spec import Pipeline

__all__ = ["Problem", "check_results", "historical_reason"]


@dataclass(frozen=True)
class Problem:
    """One reason a committed result is not current.

    Attributes
    ----------
    folder : str
        The pipeline folder it belongs to (what to regenerate).
    file : str
        The result file.
    message : str
        What is wrong, naming the method and the setting where a setting is stale.
    """

    folder: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def historical_reason(pipeline: Pipeline, path: str | Path) -> str | None:
    """The reason ``path`` is kept as made (it lies in a historical folder), or None."""
    parts = Path(path).parts
    for folder, reason in pipeline.historical.items():
        if parts[: len(Path(folder).parts)] == Path(folder).parts:
            return reason
    return None


def _problems(folder: str, record: ResultFile, root: Path) -> list[Problem]:
    name = str(record.path.relative_to(root))
    out = []
    if not record.commits:
        out.append(Problem(folder, name, "records no commit"))
    for commit in sorted({c for c in record.commits if c.endswith("-dirty")}):
        out.append(Problem(folder, name, f"made from a dirty tree ({commit[:12]}-dirty)"))
    for s in record.stale:
        out.append(
            Problem(
                folder,
                name,
                f"{s.method}: setting {s.setting} recorded {s.recorded}, today's default "
                f"{s.current}",
            )
        )
    return out


def check_results(pipeline: Pipeline, root: str | Path = ".") -> list[Problem]:
    """Every reason a committed result under the pipeline's folders is not current.

    Parameters
    ----------
    pipeline : Pipeline
        The pipeline file: its steps' folders are checked, its historical ones left alone.
    root : path
        The project's root.

    Returns
    -------
    list of Problem
        Empty when every result is current. A fix: regenerate the folder (``bnn-bench
        results run --only STEP``), or mark it historical with a reason.
    """
    root = Path(root).resolve()
    problems: list[Problem] = []
    for folder in pipeline.folders():
        if historical_reason(pipeline, folder) is not None:
            continue
        path = root / folder
        if not path.exists():
            problems.append(Problem(folder, folder, "missing: no step output on record"))
            continue
        for record in result_files(path):
            if historical_reason(pipeline, record.path.relative_to(root)) is None:
                problems += _problems(folder, record, root)
    # every folder of results/ is made by a step or kept as historical
    results = root / pipeline.path.parent  # an absolute path stays itself
    if results.is_dir():
        known = {Path(f).parts[:2] for f in [*pipeline.folders(), *pipeline.historical]}
        for child in sorted(results.iterdir()):
            rel = child.relative_to(root)
            if child.name.startswith(".") or child.name in {"INDEX.md", pipeline.path.name}:
                continue
            if child.name == "pipeline.json" or rel.parts[:2] in known:
                continue
            problems.append(
                Problem(str(rel), str(rel), "made by no step of the pipeline and not historical")
            )
    return problems
