"""Run the pipeline: every step's commands in order, each timed, resumable, at one commit.

The record ``results/pipeline.json`` (written before and after every command, atomically)
holds the commit, each command's attempts (start, wall seconds, exit status, the machine's
load average before and after and the CPU time other processes used: the evidence that
nothing else ran) and each step's total. Each command runs in a process group of its own;
what of it outlives the command (workers a stopped command leaves behind) is stopped and
waited for, so that its CPU time counts as the command's, not as other processes'. An
attempt a killed pipeline left open is closed on resume, its exit unknown and its wall time
counted to its command's last logged line. With ``resume``, commands already done at the
same commit are kept and the others run again; their own ``--resume`` (written in the
pipeline file) keeps the fits they had finished.

A step's folders are emptied when it first starts at a commit: nothing an older commit made
is kept by a command's ``--resume``. Commands may name ``{cache}``, the commit's own cache
folder (for intermediate runs, such as a gate baseline's). References are built into it
too (``$BNN_BENCH_CACHE`` = ``.bnn_cache/results/<commit>``), never reused from an older
commit's cache, so every reference the results name is rebuilt at the commit too.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bnn_models.errors import BadInput
from bnn_models.io import write_json
from bnn_models.provenance import git_commit, machine_info
from bnn_models.results.spec import Pipeline, Step

__all__ = [
    "PIPELINE_SCHEMA",
    "RECORD",
    "STOPPED_EXIT",
    "PipelineFailed",
    "cache_dir",
    "run_pipeline",
]

PIPELINE_SCHEMA = "bnn-bench/pipeline"

#: The record of the last regeneration, beside the pipeline file.
RECORD = "pipeline.json"

#: The exit status recorded for a command stopped by SIGTERM or SIGINT (128 + SIGINT).
STOPPED_EXIT = 130


class PipelineFailed(RuntimeError):
    """A command ended with an exit status its step does not accept."""


def cache_dir(root: Path, commit: str) -> Path:
    """The commit's own cache: references built for this regeneration, and the logs."""
    return root / ".bnn_cache" / "results" / commit[:12]


def _argv(words: Sequence[str]) -> list[str]:
    # bnn-bench: this checkout's CLI under this interpreter; python: this interpreter
    head = [sys.executable, "-m", "bnn_models.cli"] if words[0] == "bnn-bench" else [sys.executable]
    return [*head, *words[1:]]


def _clear(target: Path, root: Path) -> None:
    """Remove a step's output (a file or a folder) before its first command runs."""
    if not target.resolve().is_relative_to(root):
        raise BadInput(f"{target}: a step's folder must lie inside {root}")
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


def _busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _new_record(pipeline: Pipeline, commit: str, command: str | None) -> dict:
    return {
        "schema": PIPELINE_SCHEMA,
        "schema_version": 1,
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(),
        "pipeline": str(pipeline.path),
        "steps": {},
        "wall_s": 0.0,
    }


def _step_record(record: dict, step: Step) -> dict:
    entry = record["steps"].setdefault(step.name, {"commands": [], "done": False, "wall_s": 0.0})
    texts = [shlex.join(c) for c in step.commands]
    if [c["command"] for c in entry["commands"]] != texts:  # the step's commands changed
        entry.update(commands=[{"command": t, "attempts": [], "done": False} for t in texts])
        entry["done"] = False
    return entry


def _totals(record: dict) -> None:
    for entry in record["steps"].values():
        entry["wall_s"] = round(
            sum(a.get("wall_s", 0.0) for c in entry["commands"] for a in c["attempts"]), 1
        )
        entry["done"] = all(c["done"] for c in entry["commands"])
    record["wall_s"] = round(sum(e["wall_s"] for e in record["steps"].values()), 1)


def _close_killed(record: dict, cache: Path) -> None:
    """Attempts a killed pipeline left open (started, never recorded as ended): their exit
    is unknown, and their wall time runs to the last line their command logged."""
    for name, entry in record["steps"].items():
        for i, command in enumerate(entry["commands"]):
            for attempt in command["attempts"]:
                if "wall_s" in attempt:
                    continue
                started = datetime.fromisoformat(attempt["started"]).timestamp()
                log_file = cache / "logs" / f"{name}-{i}.log"
                last = log_file.stat().st_mtime if log_file.is_file() else started
                attempt.update(
                    wall_s=round(max(0.0, last - started), 1),
                    exit=None,
                    killed="the pipeline was killed while it ran: its wall time runs to "
                    "the last line its command logged",
                )
    _totals(record)


#: prctl(2) option: orphaned descendants are re-parented to this process, not to init.
_PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def _adopting_orphans() -> Iterator[None]:
    """While inside, this process adopts its commands' orphaned descendants (Linux; a no-op
    elsewhere), so that reaping them counts their CPU time as the command's, not "other"."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        yield
        return
    prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _reap_group(pgid: int, grace_s: float = 30.0) -> None:
    """Stop what is left of a finished command's process group (workers that outlived it,
    as Stan's do when the command is stopped) and wait for every member this process has
    adopted: their CPU time then counts in ``RUSAGE_CHILDREN``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return  # no member of the group is (any longer) this process's child
        if pid:
            continue
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)


def _run_command(
    words: Sequence[str], root: Path, env: dict[str, str], log_file: Path, log: Callable
) -> int:
    """Run one command, its output to ``log_file`` and ``log`` line by line; its exit
    status. Ctrl-C or SIGTERM stops it with SIGTERM (so its fits end as not run), then is
    re-raised. The command runs in a process group of its own: whatever of that group
    outlives it is stopped and waited for before this returns."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as sink, _adopting_orphans():
        sink.write(f"\n$ {shlex.join(words)}\n")
        with subprocess.Popen(
            _argv(words),
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    sink.write(line)
                    sink.flush()
                    log(line.rstrip("\n"))
                return proc.wait()
            except BaseException:
                proc.terminate()  # SIGTERM: a bnn-bench run records its fits as not run
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
            finally:
                proc.wait()
                _reap_group(proc.pid)


def run_pipeline(
    pipeline: Pipeline,
    *,
    root: str | os.PathLike = ".",
    only: Sequence[str] | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict:
    """Run the pipeline's steps (or ``only`` those) in order at the checkout's commit.

    Parameters
    ----------
    pipeline : Pipeline
        From :func:`bnn_models.results.spec.load_pipeline`.
    root : path
        The project's root (a clean checkout).
    only : list of str, optional
        Names of the steps to run; the record keeps the others.
    resume : bool
        Keep the commands already done at this commit.
    log : callable
        Where the commands' output and the step timings go.
    command : str, optional
        The command line, recorded.

    Returns
    -------
    dict
        The record (also in ``results/pipeline.json``).

    Raises
    ------
    BadInput
        A tree with uncommitted changes to code, an unknown step, or a record of this
        commit without ``resume``.
    PipelineFailed
        A command's exit status is not one its step accepts (the record says which; rerun
        with ``resume`` after fixing the cause).
    """
    root = Path(root).resolve()
    commit = git_commit(root)
    if commit is None:
        raise BadInput(f"{root}: not a git checkout: the results must record a commit")
    if commit.endswith("-dirty"):
        raise BadInput(
            f"{root}: uncommitted changes to tracked files outside results/: commit them first "
            "(every result records the commit, so anyone can check it out and rerun it)"
        )
    steps = [pipeline.step(n) for n in only] if only else list(pipeline.steps)
    path = root / pipeline.path.parent / RECORD
    record: dict | None = None
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("commit") == commit:
            if not resume:
                raise BadInput(
                    f"{path}: a regeneration at this commit is on record: pass --resume to "
                    "keep what it finished"
                )
            record = old
    record = record or _new_record(pipeline, commit, command)
    cache = cache_dir(root, commit)
    env = {
        **os.environ,
        "BNN_BENCH_CACHE": str(cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    _close_killed(record, cache)
    with _stop_on_signals():
        _run_steps(steps, record, path, root, env, cache, log)
    log(f"[pipeline] {record['wall_s']:.0f} s in all steps on record")
    return record


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM (and SIGINT, which a background job ignores by default) stop the run as
    Ctrl-C does: the running command is stopped and recorded, then the run ends."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _run_steps(
    steps: list[Step], record: dict, path: Path, root: Path, env: dict, cache: Path, log: Callable
) -> None:
    for step in steps:
        entry = _step_record(record, step)
        log(f"[pipeline] step {step.name}: {len(step.commands)} command(s)")
        if not any(c["attempts"] for c in entry["commands"]):
            # The step's first start at this commit: what an older commit made goes, so
            # that no command's --resume keeps a fit of another commit.
            for folder in step.folders:
                _clear(root / folder, root)
        for i, (words, done) in enumerate(zip(step.commands, entry["commands"], strict=True)):
            if done["done"]:
                log(f"[pipeline] {step.name}: kept (done): {done['command']}")
                continue
            attempt: dict[str, object] = {
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_before": _load(),
            }
            done["attempts"].append(attempt)
            write_json(path, record)  # open: a kill leaves it started, never ended
            t0 = time.perf_counter()
            busy0, own0 = _busy_cpu_s(), _children_cpu_s()
            code: int | None = None
            try:
                argv = [w.replace("{cache}", str(cache.relative_to(root))) for w in words]
                code = _run_command(argv, root, env, cache / "logs" / f"{step.name}-{i}.log", log)
            finally:
                busy1 = _busy_cpu_s()
                attempt.update(
                    wall_s=round(time.perf_counter() - t0, 1),
                    exit=code if code is not None else STOPPED_EXIT,
                    load_after=_load(),
                    # CPU seconds the machine spent on anything but this command (and
                    # the pipeline itself): near 0 when nothing else ran beside it
                    other_cpu_s=None
                    if busy0 is None or busy1 is None
                    else round(busy1 - busy0 - (_children_cpu_s() - own0), 1),
                    # what outlived the command was stopped and waited for (its CPU is in
                    # the command's); records made before this say nothing
                    descendants_waited=True,
                )
                done["done"] = code in step.ok_exit
                _totals(record)
                write_json(path, record)
            if not done["done"]:
                raise PipelineFailed(
                    f"step {step.name}: {done['command']!r} exited {code} (accepted: "
                    f"{sorted(step.ok_exit)}); log: {cache / 'logs'}"
                )
        log(f"[pipeline] step {step.name} done: {entry['wall_s']:.0f} s")
