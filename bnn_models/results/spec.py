"""The pipeline file (``results/pipeline.toml``): every committed result, the question it
answers and the commands that make it, in the order they depend on each other.

Each ``[[step]]`` names the folders it writes, the question they answer and its commands.
A command is a command line that starts with ``bnn-bench`` (run as this checkout's CLI) or
``python`` (this interpreter: a study's script). ``ok_exit`` lists the exit statuses that
count as done (default ``[0]``; ``[0, 1]`` where a run's expected failure, such as
Laplace's at an indefinite Hessian, is part of the result). The ``[historical]`` table maps
a folder to the reason it is kept as it was made, not regenerated (the check then leaves it
alone, and the index says why).
"""

from __future__ import annotations

import os
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bnn_models.errors import BadInput

__all__ = ["DEFAULT_PIPELINE", "PROGRAMS", "Pipeline", "Step", "load_pipeline"]

#: Where the pipeline file lives, from the project's root.
DEFAULT_PIPELINE = Path("results") / "pipeline.toml"

#: The programs a command may start with.
PROGRAMS = ("bnn-bench", "python")

_STEP_KEYS = {"name", "folders", "question", "commands", "ok_exit"}


@dataclass(frozen=True)
class Step:
    """One step: the folders it writes and the commands that write them.

    Attributes
    ----------
    name : str
        Unique; ``bnn-bench results run --only NAME`` runs it alone.
    folders : tuple of str
        Folders (or files) under the project's root that the step writes.
    question : str
        What they answer, for the index.
    commands : tuple of tuple of str
        Each command's words; the first is one of :data:`PROGRAMS`.
    ok_exit : frozenset of int
        Exit statuses that count as done.
    """

    name: str
    folders: tuple[str, ...]
    question: str
    commands: tuple[tuple[str, ...], ...]
    ok_exit: frozenset[int] = frozenset({0})


@dataclass(frozen=True)
class Pipeline:
    """The steps in order, and the folders kept as they are (folder -> reason)."""

    path: Path
    steps: tuple[Step, ...]
    historical: dict[str, str]

    def step(self, name: str) -> Step:
        """The step called ``name`` (:class:`BadInput` naming the known ones otherwise)."""
        for s in self.steps:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.steps)
        raise BadInput(f"{self.path}: no step {name!r} (steps: {known})")

    def folders(self) -> list[str]:
        """Every folder a step writes, in step order."""
        return [f for s in self.steps for f in s.folders]


def _text(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{path}: {where} must be a non-empty string, got {value!r}")
    return value.strip()


def _step(path: Path, i: int, raw: object) -> Step:
    where = f"step[{i}]"
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: {where} must be a table, got {raw!r}")
    unknown = sorted(set(raw) - _STEP_KEYS)
    if unknown:
        raise BadInput(f"{path}: {where}: unknown key {unknown[0]!r} (keys: {sorted(_STEP_KEYS)})")
    name = _text(path, f"{where}.name", raw.get("name"))
    where = f"step {name!r}"
    folders = raw.get("folders")
    if not isinstance(folders, list) or not folders:
        raise BadInput(f"{path}: {where}.folders must be a non-empty list, got {folders!r}")
    for folder in folders:
        text = _text(path, f"{where}.folders", folder)
        if Path(text).is_absolute() or ".." in Path(text).parts:
            raise BadInput(f"{path}: {where}.folders: {text!r} must lie inside the project")
    commands = raw.get("commands")
    if not isinstance(commands, list) or not commands:
        raise BadInput(f"{path}: {where}.commands must be a non-empty list, got {commands!r}")
    words = []
    for command in commands:
        try:
            argv = tuple(shlex.split(_text(path, f"{where}.commands", command)))
        except ValueError as err:
            raise BadInput(f"{path}: {where}.commands: {command!r}: {err}") from err
        if argv[0] not in PROGRAMS:
            raise BadInput(
                f"{path}: {where}.commands: {command!r} must start with one of {list(PROGRAMS)}"
            )
        words.append(argv)
    ok_exit = raw.get("ok_exit", [0])
    if not isinstance(ok_exit, list) or not all(type(c) is int for c in ok_exit):
        raise BadInput(f"{path}: {where}.ok_exit must be a list of integers, got {ok_exit!r}")
    return Step(
        name=name,
        folders=tuple(f.strip() for f in folders),
        question=_text(path, f"{where}.question", raw.get("question")),
        commands=tuple(words),
        ok_exit=frozenset(ok_exit),
    )


def load_pipeline(path: str | os.PathLike = DEFAULT_PIPELINE) -> Pipeline:
    """Read and check the pipeline file.

    Raises
    ------
    BadInput
        A missing or unreadable file, or a field of the wrong kind: the message names the
        file, the step and the field.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "p.toml"
    >>> _ = f.write_text('[[step]]\\nname = "a"\\nfolders = ["results/a"]\\n'
    ...                  'question = "Why?"\\ncommands = ["bnn-bench run --out results/a"]\\n')
    >>> load_pipeline(f).steps[0].commands
    (('bnn-bench', 'run', '--out', 'results/a'),)
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as err:
        raise BadInput(f"{path}: cannot read the pipeline file ({err})") from err
    except tomllib.TOMLDecodeError as err:
        raise BadInput(f"{path}: not valid TOML ({err})") from err
    unknown = sorted(set(raw) - {"step", "historical"})
    if unknown:
        raise BadInput(f"{path}: unknown table {unknown[0]!r} (tables: step, historical)")
    steps_raw = raw.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise BadInput(f"{path}: needs at least one [[step]]")
    steps = tuple(_step(path, i, s) for i, s in enumerate(steps_raw))
    names = [s.name for s in steps]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise BadInput(f"{path}: step name {dup[0]!r} is used twice")
    historical = raw.get("historical", {})
    if not isinstance(historical, dict):
        raise BadInput(f"{path}: [historical] must be a table of folder = reason")
    for folder, reason in historical.items():
        _text(path, f"historical.{folder!r}", reason)
    return Pipeline(
        path=path, steps=steps, historical={k: v.strip() for k, v in historical.items()}
    )
