"""One virtual environment per version set: built once, reused, never the user's own.

An environment holds the libraries only: the suite runs the project's code from its
checkout (``PYTHONPATH``), so what differs between two sets is the libraries, not
bnn-bench. Each environment lives under ``ENVS/<key>``, where the key hashes the Python
version and the exact requirements, and is reused while ``ENVS/<key>/bnn-bench-env.json``
(written last) says it was built and imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bnn_models.io import write_json, write_text
from bnn_models.provenance import LIBRARIES
from bnn_models.versions.spec import VersionSet, is_artifact, requirement, requirements_for

__all__ = ["Env", "EnvUnavailable", "build_env", "env_key", "installer_message"]

#: Written last into a built environment: its versions, and that it imports.
_READY = "bnn-bench-env.json"
#: What each environment must import for the suite to run at all.
_IMPORTS = ("pymc", "pytensor", "arviz", "numpy")
#: Most lines of an installer's output kept in a report.
_MESSAGE_LINES = 25

#: The commands that build an environment (tests swap them for stand-ins):
#: ``venv(python, path)``, ``pip(env_python, args)``.
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


class EnvUnavailable(Exception):  # noqa: N818 - reads as what happened
    """A version set could not be installed or imported: ``stage`` and the tool's message."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


@dataclass(frozen=True)
class Env:
    """A built environment: its Python, the versions it holds, and how long it took."""

    path: Path
    python: Path
    versions: dict[str, str | None]
    build_s: float
    reused: bool
    requirements: str = field(repr=False, default="")
    #: ``pip check``'s findings (a ``no_deps`` install breaks a dependent's declared range).
    pip_check: str = ""


def env_key(python_version: str, requirements: str, no_deps: dict[str, str]) -> str:
    """The environment's folder name: a hash of what was installed, and with which Python
    (a local wheel or archive by its content, so a rebuilt one is installed again)."""
    named = [*requirements.split(), *no_deps.values()]
    contents = [_sha256(Path(v)) for v in named if is_artifact(v) and Path(v).is_file()]
    contents += [_sha256(Path(u.removeprefix("file://"))) for u in named if u.startswith("file://")]
    text = json.dumps([python_version, requirements, sorted(no_deps.items()), contents])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installer_message(output: str) -> str:
    """What an installer said about its failure: from its first ``ERROR`` line on.

    pip prints its conflict explanation after the first ``ERROR:``; the lines before it
    are downloads. Without an ``ERROR`` line, the output's last lines.

    Examples
    --------
    >>> installer_message("Collecting x\\nERROR: No matching distribution found for x==9\\n")
    'ERROR: No matching distribution found for x==9'
    """
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(_NOISE)]
    first = next((i for i, ln in enumerate(lines) if ln.startswith("ERROR")), None)
    kept = lines[first:] if first is not None else lines[-_MESSAGE_LINES:]
    return "\n".join(_cut(ln) for ln in kept[:_MESSAGE_LINES])


#: pip's lines that say nothing about this failure: a local index's missing folders, and
#: the releases of every package that need another Python.
_NOISE = ("WARNING: Location", "ERROR: Ignored the following versions")
#: Longest line kept (pip lists every release of a package it could not match).
_LINE = 300


def _cut(line: str) -> str:
    return line if len(line) <= _LINE else line[: _LINE - 5] + " ...)"


def _text(proc: subprocess.CompletedProcess) -> str:
    """A finished command's output (stderr folded into stdout by :func:`_run`)."""
    return (proc.stdout or "") + (proc.stderr or "")


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    # One stream, in the order written: pip explains a conflict on stdout ("The conflict
    # is caused by: ...") between the ERROR lines it writes to stderr.
    return subprocess.run(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )


def _probe_code() -> str:
    libs = list(dict.fromkeys((*_IMPORTS, *LIBRARIES)))
    return (
        "import importlib, json, platform\n"
        "from importlib import metadata\n"
        f"for m in {list(_IMPORTS)!r}: importlib.import_module(m)\n"
        "out = {'python': platform.python_version()}\n"
        f"for lib in {libs!r}:\n"
        "    try: out[lib] = metadata.version(lib)\n"
        "    except metadata.PackageNotFoundError: out[lib] = None\n"
        "print(json.dumps(out))\n"
    )


def build_env(
    vset: VersionSet,
    requirements: str,
    root: Path,
    *,
    python: str = sys.executable,
    log: Callable[[str], None] = lambda line: None,
    run: Runner = _run,
) -> Env:
    """Build (or reuse) the environment of ``vset`` under ``root``.

    Parameters
    ----------
    vset : VersionSet
        Pins over ``requirements`` (the project's ``requirements.txt`` text).
    root : path
        Where environments live (``.bnn_cache/envs``).
    python : str
        The interpreter the environment is made from (``python -m venv``).
    run : callable
        Runs a command and returns the completed process (tests pass a stand-in).

    Raises
    ------
    EnvUnavailable
        The environment could not be created, its requirements installed (the message is
        pip's), or its libraries imported; a half-built environment is removed.
    """
    reqs = requirements_for(vset, requirements)
    version = run([python, "-c", "import platform; print(platform.python_version())"])
    if version.returncode != 0:
        raise EnvUnavailable("python", installer_message(_text(version)))
    key = env_key(version.stdout.strip(), reqs, dict(vset.no_deps))
    path = Path(root) / key
    env_python = path / "bin" / "python"
    ready = path / _READY
    if ready.is_file():
        doc = json.loads(ready.read_text())
        log(f"[{vset.name}] reusing {path}")
        versions, build_s = doc["versions"], float(doc["build_s"])
        return Env(path, env_python, versions, build_s, True, reqs, doc["pip_check"])
    if path.exists():
        shutil.rmtree(path)  # a build that was interrupted: start again
    t0 = time.perf_counter()
    log(f"[{vset.name}] building {path} ({vset.changes()})")
    steps: list[tuple[str, list[str]]] = [("venv", [python, "-m", "venv", str(path)])]
    req_file = path / "requirements.txt"
    pip = [str(env_python), "-m", "pip", "install", "--disable-pip-version-check"]
    # Not quiet: with -q pip leaves out why a resolution is impossible ("The conflict is
    # caused by: ..."), the one part of its message a report needs.
    steps.append(("pip install -r requirements.txt", [*pip, "-r", str(req_file)]))
    if vset.no_deps:
        pinned = [requirement(k, v) for k, v in vset.no_deps.items()]
        steps.append(("pip install --no-deps", [*pip, "--no-deps", *pinned]))
    for stage, cmd in steps:
        proc = run(cmd)
        if proc.returncode != 0:
            shutil.rmtree(path, ignore_errors=True)
            raise EnvUnavailable(stage, installer_message(_text(proc)))
        if stage == "venv":
            write_text(req_file, reqs)
    probe = run([str(env_python), "-c", _probe_code()])
    if probe.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        raise EnvUnavailable("import", installer_message(_text(probe)))
    versions = json.loads(probe.stdout.strip().splitlines()[-1])
    check = run([str(env_python), "-m", "pip", "check"])
    build_s = time.perf_counter() - t0
    doc = {
        "set": vset.name,
        "versions": versions,
        "build_s": build_s,
        "pip_check": (_text(check)).strip(),
        "python": os.fspath(python),
    }
    write_json(ready, doc)
    log(f"[{vset.name}] built in {build_s:.0f} s")
    return Env(path, env_python, versions, build_s, False, reqs, doc["pip_check"])
