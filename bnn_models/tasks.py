"""One fit as a unit of work: a :class:`Task` in, an :class:`Outcome` out.

A task holds everything a fit needs (data, method, settings, seed, limits), so it runs the
same in this process or on a dask worker on another machine; its outcome holds the
``metrics.json`` entry and the fit file's bytes, so the process that collects outcomes
writes every file and workers need no shared file system (:mod:`bnn_models.executor`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.inference import FitResult, Settings, get_method, save_fit
from bnn_models.inference.context import Deadline, FitContext, FitTimeout
from bnn_models.metrics import compute_sections
from bnn_models.reference import Reference

__all__ = [
    "Outcome",
    "Task",
    "failed_outcome",
    "fit_context",
    "raise_is_lost",
    "retried_raises_unprinted",
    "run_task",
    "running_deadline",
    "skipped_entry",
]


@dataclass(frozen=True)
class Task:
    """One fit to run and measure.

    Attributes
    ----------
    key : str
        The fit's config hash: the same method, seed, settings and data give the same key
        (``--resume`` keeps finished keys; dask names the task by it).
    method, seed, settings
        What to fit.
    dataset : Dataset
        The data, carried with the task (workers need not reach the data files).
    fit_file : str
        Where the fit goes, relative to the results folder.
    time_limit_s : float or None
        Wall-clock limit of the fit.
    max_divergence_rate : float
        A larger share of divergent draws fails the fit.
    progressbar : bool
        The engine's progress bar (off on workers).
    reference : str or None
        Key of the reference posterior its fidelity is measured against (the executor
        holds the references, sent once to each worker).
    """

    key: str
    method: str
    seed: int
    settings: Settings
    dataset: Dataset
    fit_file: str
    time_limit_s: float | None = None
    max_divergence_rate: float = 0.05
    progressbar: bool = False
    reference: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a finished task hands back: its ``metrics.json`` entry and fit file bytes.

    ``fit_bytes`` is None for a failed fit (it has no draws). ``where`` names the process
    that ran it (``host:pid``), ``elapsed_s`` its wall time there.
    """

    key: str
    entry: dict
    fit_bytes: bytes | None
    elapsed_s: float
    where: str = ""

    @property
    def ok(self) -> bool:
        """Whether the fit succeeded."""
        return self.entry["status"] == "ok"


def raise_is_lost(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` would be swallowed, not reach the run.

    A signal handler runs in the frame it interrupts; in a ctypes callback (llvmlite's, while
    numba compiles) ctypes prints and drops the exception, and the run would go on.
    """
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("llvmlite")


@contextlib.contextmanager
def retried_raises_unprinted(*types: type[BaseException]) -> Iterator[None]:
    """Inside this block, a ``types`` exception Python cannot propagate is dropped unprinted.

    For signal handlers that raise ``types`` and deliver them again each second until the
    run has ended: where a handler lands in a finalizer (a weakref callback, ``__del__``),
    Python can only print the exception as unraisable ("Exception ignored in ...") and goes
    on, and the next delivery ends the fit. Every other unraisable exception reaches the
    hook that was installed before (pytest's, which fails the test).
    """
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, types):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


#: The deadline of the fit this thread is running (None between fits): where the run's
#: SIGINT/SIGTERM handler (:func:`bnn_models.runner.signals_raise`) finds a cooperating
#: fit to hand its interruption to. Signals reach a process, not a fit: fits themselves
#: get their deadline as an argument (:class:`~bnn_models.inference.FitContext`).
_RUNNING: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "bnn_bench_running_deadline", default=None
)


def running_deadline() -> Deadline | None:
    """The deadline of the fit running in this thread, or None between fits."""
    return _RUNNING.get()


@contextlib.contextmanager
def fit_context(seconds: float | None, *, progressbar: bool = False) -> Iterator[FitContext]:
    """A :class:`FitContext` whose deadline is ``seconds`` away, for one fit.

    In the main thread SIGALRM also ends fits that do not check the deadline themselves
    (elsewhere, e.g. a dask worker's thread, only cooperating fits stop).
    """
    deadline = Deadline.after(seconds)
    context = FitContext(progressbar=progressbar, deadline=deadline)
    token = _RUNNING.set(deadline)
    if not seconds or threading.current_thread() is not threading.main_thread():
        try:
            yield context
        finally:
            _RUNNING.reset(token)
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        # Fire again in a second until the fit ends: an exception raised inside a ctypes
        # callback (numba compiling through llvmlite) is swallowed, and a cooperating fit
        # may have moved on to a stage that does not check (drawing, predicting).
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        if raise_is_lost(frame):
            return  # try again in a second
        if not deadline.cooperative:
            raise deadline.error()
        deadline.cooperative = False

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with retried_raises_unprinted(FitTimeout):
            yield context
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        _RUNNING.reset(token)


def _divergence_failure(result: FitResult, max_rate: float) -> str | None:
    """Why a result with sample stats has too many divergent draws (None: it has not)."""
    if "sample_stats" not in result.idata.children:
        return None
    stats = result.idata["sample_stats"]
    if "diverging" not in stats:
        return None
    div, n = int(stats["diverging"].sum()), int(stats["diverging"].size)
    if div > max_rate * n:
        return f"{div} of {n} draws divergent (> {max_rate:.2%})"
    return None


def _first_lines(text: str, keep: int = 5) -> str:
    """An error's first ``keep`` lines (PyMC's NaN error repeats a line per weight)."""
    lines = text.splitlines()
    more = f"\n(+{len(lines) - keep} more lines)" if len(lines) > keep else ""
    return "\n".join(lines[:keep]) + more


def _failed(method: str, seed: int, settings: Settings, err: BaseException | str) -> FitResult:
    return FitResult(
        method=method,
        idata=xr.DataTree(),  # a failed fit has no draws
        loss=None,
        timings={},
        n_grad_evals=None,
        convergence={},
        config={"method": method, "seed": seed, **settings.as_config()},
        sampler="",
        status="failed",
        error=_first_lines(err if isinstance(err, str) else f"{type(err).__name__}: {err}"),
        family=get_method(method).family,
    )


def skipped_entry(
    method: str, seed: int, settings: Settings, key: str, why: str, status: str = "skipped"
) -> dict:
    """The entry of a fit that was not attempted: status ``skipped`` (or ``status``: e.g.
    :data:`~bnn_models.schema.NOT_RUN`) and the reason."""
    m = get_method(method)
    return {
        "method": method,
        "family": m.family,
        "label": m.label,
        "seed": seed,
        "status": status,
        "error": why,
        "config": {"method": method, "seed": seed, **settings.as_config()},
        "config_hash": key,
        "sampler": "",
        "backend": "",
        "convergence": {},
        "fit_file": None,
    }


def _entry(
    result: FitResult, task: Task, fit_file: str | None, reference: Reference | None
) -> dict:
    method = get_method(result.method)
    entry = {
        "method": result.method,
        "family": method.family,
        "label": method.label,
        "seed": task.seed,
        "status": result.status,
        "error": result.error,
        "config": result.config,
        "config_hash": task.key,
        "sampler": result.sampler,
        "backend": result.backend,
        "convergence": result.convergence,
        "fit_file": fit_file,
    }
    if result.ok:
        # every section of metrics.json, and the metric table's own metrics
        entry.update(compute_sections(result, task.dataset, seed=task.seed, reference=reference))
        if result.warnings:
            entry["warnings"] = list(result.warnings)
    return entry


def _fit_bytes(result: FitResult) -> bytes:
    with tempfile.TemporaryDirectory(prefix="bnn-bench-fit-") as tmp:
        path = save_fit(result, Path(tmp) / "fit.nc")
        return path.read_bytes()


def failed_outcome(task: Task, why: str, elapsed_s: float = 0.0, where: str = "") -> Outcome:
    """The outcome of a task that could not finish (e.g. it killed its workers)."""
    result = _failed(task.method, task.seed, task.settings, why)
    return Outcome(task.key, _entry(result, task, None, None), None, elapsed_s, where)


def run_task(task: Task, reference: Reference | None = None) -> Outcome:
    """Fit, judge and measure one task; a failing fit is an outcome, not an exception.

    Raises
    ------
    BadInput
        What the user gave cannot be used (not a failed fit).
    """
    t0 = time.perf_counter()
    context: FitContext | None = None
    try:
        with fit_context(task.time_limit_s, progressbar=task.progressbar) as context:
            result = get_method(task.method)(
                dataset=task.dataset, seed=task.seed, settings=task.settings, context=context
            )
    except BadInput:
        raise
    except Exception as err:  # a failed fit (FitTimeout too) must not stop the others
        if context is not None and context.deadline.interrupted is not None:
            # Stopped, not failed (an engine turned the interruption into its own error):
            # the fit stays not run, and --resume runs it.
            raise context.deadline.interrupted from err
        result = _failed(task.method, task.seed, task.settings, err)
    if result.ok and (why := _divergence_failure(result, task.max_divergence_rate)):
        result = _failed(task.method, task.seed, task.settings, f"RuntimeError: {why}")
    fit_file = task.fit_file if result.ok else None
    entry = _entry(result, task, fit_file, reference)
    data = _fit_bytes(result) if result.ok else None
    where = f"{socket.gethostname()}:{os.getpid()}"
    return Outcome(task.key, entry, data, time.perf_counter() - t0, where)
