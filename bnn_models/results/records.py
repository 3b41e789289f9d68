"""What each committed result file records: its commit, date, command, library versions and
whether its settings are today's defaults.

A result file is a JSON document with a ``bnn-bench/...`` schema (a run's ``metrics.json``,
a sweep's ``sweep.json``, ``sbc.json``, a reference summary, a gate baseline, a release
check's ``versions.json``) or, in a study's ``results/`` folder, any JSON document that
records a ``commit``. Settings are compared with today's defaults where the file records
them: each fit's ``config`` (runs and sweep cells), each method's settings (SBC, baselines)
and the reference's sampler settings.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bnn_models.reference import ReferenceSettings
from bnn_models.report.stale import StaleSetting, stale_configs

__all__ = ["ResultFile", "read_result", "result_files"]

#: What a schema's document is called in the index.
KINDS = {
    "bnn-bench/metrics": "run",
    "bnn-bench/sweep": "sweep",
    "bnn-bench/sbc": "SBC",
    "bnn-bench/reference": "reference",
    "bnn-bench/baseline": "gate baseline",
    "bnn-bench/versions": "release check",
}

# the reference's sampler settings a summary records beside its seed
_REFERENCE_KEYS = ("chains", "draws", "tune", "target_accept")


@dataclass(frozen=True)
class ResultFile:
    """One result file and what it records.

    Attributes
    ----------
    path : Path
        The file.
    kind : str
        run, sweep, SBC, reference, gate baseline, release check or study.
    commits : tuple of str
        Every commit it names (a baseline names one per source run); empty if none.
    created : str or None
        When it was made (ISO 8601).
    command : str or None
        The command that made it.
    versions : dict
        Library versions it records.
    stale : tuple of StaleSetting
        Recorded settings that differ from today's defaults for its profile.
    settings_recorded : bool
        Whether the file records the settings its methods ran with, so that ``stale`` is
        a comparison: a study's own file records at most its overrides.
    data : tuple of (str, str, str)
        ``(source address, file, sha256)`` of each downloaded data file it read.
    """

    path: Path
    kind: str
    commits: tuple[str, ...]
    created: str | None
    command: str | None
    versions: dict[str, str]
    stale: tuple[StaleSetting, ...] = ()
    settings_recorded: bool = True
    data: tuple[tuple[str, str, str], ...] = ()

    @property
    def dirty(self) -> bool:
        """Whether it names a commit with uncommitted changes."""
        return any(c.endswith("-dirty") for c in self.commits)


def _grid_changes(doc: dict, path: Path) -> list[StaleSetting]:
    """The keys of a sweep's grid file that changed since the sweep recorded it (a grid's
    seeds or sizes are its defaults: the sweep would run another grid today)."""
    words = shlex.split(doc.get("command") or "")
    grids = (
        [w for w in words[words.index("sweep") + 1 :] if w.endswith(".toml")][:1]
        if ("sweep" in words)
        else []
    )
    root = next((p.parent for p in path.parents if p.name == "results"), None)
    if not grids or root is None or not (root / grids[0]).is_file():
        return []
    try:
        today = tomllib.loads((root / grids[0]).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return [StaleSetting(f"grid {grids[0]}", "(file)", "recorded", "unreadable today")]
    recorded = doc.get("grid") or {}
    return [
        StaleSetting(
            f"grid {grids[0]}",
            key,
            json.dumps(recorded.get(key), sort_keys=True),
            json.dumps(today.get(key), sort_keys=True),
        )
        for key in sorted(set(recorded) | set(today))
        if recorded.get(key) != today.get(key)
    ]


def _stale(doc: dict, kind: str, path: Path) -> list[StaleSetting]:
    if kind == "run":
        run = doc.get("run") or {}
        configs: dict[str, list] = {}
        for fit in doc.get("fits") or []:
            configs.setdefault(fit["method"], []).append(fit.get("config"))
        return stale_configs(
            configs, quick=run.get("profile") == "quick", overrides=run.get("overrides") or {}
        )
    if kind == "SBC":
        recorded = doc.get("configs")
        if not isinstance(recorded, dict):  # made before SBC recorded them
            return [StaleSetting(m, "(all)", "not recorded", "-") for m in doc.get("methods", [])]
        return stale_configs(
            {m: [c] for m, c in recorded.items()},
            quick=bool(doc.get("quick")),
            overrides=doc.get("overrides") or {},
        )
    if kind == "gate baseline":
        return stale_configs(
            {m: [c] for m, c in (doc.get("configs") or {}).items()},
            quick=doc.get("profile") == "quick",
        )
    if kind == "sweep":
        return _grid_changes(doc, path)
    if kind == "reference":
        today = dataclasses.asdict(ReferenceSettings())
        config = doc.get("config") or {}
        return [
            StaleSetting("reference", key, json.dumps(config.get(key)), json.dumps(today[key]))
            for key in _REFERENCE_KEYS
            if config.get(key) != today[key]
        ]
    return []


def _data_files(doc: dict) -> list[tuple[str, str, str]]:
    """``(source, file, sha256)`` of the downloaded files a result read: its run's or its
    own ``dataset`` where that records a source address (generated data record the
    parameters that make them as their source instead)."""
    datasets = [(doc.get("run") or {}).get("dataset"), doc.get("dataset")]
    out = []
    for ds in datasets:
        if (
            isinstance(ds, dict)
            and "://" in str(ds.get("source"))
            and isinstance(ds.get("sha256"), dict)
        ):
            out += [(str(ds["source"]), str(f), str(h)) for f, h in sorted(ds["sha256"].items())]
    return out


def read_result(path: str | Path) -> ResultFile | None:
    """The record of one result file, or None for a JSON file that is no result."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    schema = doc.get("schema")
    kind = KINDS.get(schema) if isinstance(schema, str) else None
    if kind is None:
        if schema is not None or "commit" not in doc:
            return None  # another file (the pipeline's record, a figure's data)
        kind = "study"
    run: dict = doc["run"] if isinstance(doc.get("run"), dict) else doc
    commits = [run.get("commit")]
    if kind == "gate baseline":
        commits = [s.get("commit") for s in doc.get("sources") or []]
    versions = run.get("versions") or {}
    if kind == "gate baseline" and doc.get("sources"):
        versions = doc["sources"][0].get("versions") or {}
    return ResultFile(
        path=path,
        kind=kind,
        commits=tuple(str(c) for c in commits if c),
        created=run.get("created") or doc.get("created"),
        command=run.get("command"),
        versions={str(k): str(v) for k, v in versions.items()},
        stale=tuple(_stale(doc, kind, path)),
        settings_recorded=kind != "study",
        data=tuple(dict.fromkeys(_data_files(doc))),
    )


def result_files(folder: str | Path) -> Iterator[ResultFile]:
    """Every result file in ``folder`` (a file, or a folder searched recursively, fits and
    hidden folders apart), in path order."""
    folder = Path(folder)
    paths = [folder] if folder.is_file() else sorted(folder.rglob("*.json"))
    for path in paths:
        if any(part.startswith(".") or part == "fits" for part in path.parts[len(folder.parts) :]):
            continue
        if (record := read_result(path)) is not None:
            yield record
