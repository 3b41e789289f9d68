"""The runner: fit each method and seed, measure, and save results atomically.

The results folder holds ``metrics.json`` (schema below) and ``fits/<method>-s<seed>.nc``
(one DataTree per fit). ``metrics.json`` is rewritten, atomically, after every fit, so
a killed run keeps every fit that finished; ``resume=True`` skips fits whose config
hash matches a finished one. The fits are :class:`~bnn_models.tasks.Task` objects run by
an executor (:mod:`bnn_models.executor`: this process, or a dask cluster); this process
writes each outcome as it arrives.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from types import FrameType
from typing import Any

from bnn_models.data import Dataset
from bnn_models.errors import BadInput, check_seconds, check_seed
from bnn_models.executor import Executor, SchedulerLost, SerialExecutor
from bnn_models.inference import Settings, get_method, resolve_methods
from bnn_models.io import atomic_path, write_json, writing
from bnn_models.lock import folder_lock
from bnn_models.provenance import (
    git_commit,
    library_versions,
    machine_info,
    pytensor_numerics,
)
from bnn_models.reference import Reference
from bnn_models.schema import (
    NOT_APPLICABLE,
    NOT_RUN,
    SCHEMA,
    SCHEMA_VERSION,
    load_metrics,
    summarise_seeds,
)
from bnn_models.tasks import (
    Task,
    raise_is_lost,
    retried_raises_unprinted,
    running_deadline,
    skipped_entry,
)

__all__ = [
    "Interrupted",
    "RunPlan",
    "check_seeds",
    "execute_plans",
    "fit_settings",
    "plan_run",
    "run_benchmark",
    "signals_raise",
]


class Interrupted(BaseException):  # noqa: N818 - mirrors KeyboardInterrupt
    """Raised by SIGINT/SIGTERM during a run.

    A BaseException that is not KeyboardInterrupt: ``pm.fit`` swallows
    KeyboardInterrupt and would return a half-fitted approximation as if finished.
    """


def fit_settings(
    methods: list[str], *, quick: bool = False, overrides: dict | None = None
) -> dict[str, Settings]:
    """Each method's settings: defaults, then the quick profile, then ``overrides``.

    Raises
    ------
    BadInput
        Overrides of a method not in ``methods``, an unknown setting or a bad value.
    """
    overrides = overrides or {}
    for name in overrides:
        if name not in methods:
            raise BadInput(f"--set: method {name!r} is not among --methods {','.join(methods)}")
    return {m: get_method(m).configure(quick=quick, overrides=overrides.get(m)) for m in methods}


def check_seeds(seeds: Iterable[int], name: str = "--seeds") -> list[int]:
    """The seeds of a run, checked: at least one, none repeated, each in [0, 2**32 - 1].

    Raises
    ------
    BadInput
        An empty list, a repeated seed, or a seed out of range; naming ``name``.
    """
    seeds = list(seeds)
    if not seeds:
        raise BadInput(f"{name}: empty list of seeds")
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"{name}: {seeds} repeats a seed")
    for seed in seeds:
        check_seed(name, seed)
    return seeds


def _config_hash(method: str, seed: int, settings: Settings, dataset: Dataset) -> str:
    key = {
        "method": method,
        "seed": seed,
        "config": settings.as_config(),
        "data": dataset.describe()["sha256"],
        "n_train": len(dataset.y_train),
        "rebalanced": dataset.rebalanced,
    }
    if dataset.test_shifted is not None:  # two shifts cut the same files differently
        key["shift"] = dataset.info["shift"]
    blob = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM end the run with :class:`Interrupted`, delivered until it has ended.

    A raise can be lost: inside a ctypes callback (numba compiling, an engine's progress
    callback) it is printed and dropped, and the run would go on. So every signal is sent
    again each second until the run has left this block; a fit that checks its deadline
    gets it at its next check instead (raised inside PyTensor's compiled step, it crashed
    the process). Nor is it raised inside an atomic write (:func:`bnn_models.io.writing`),
    where it could leave the write's temporary file: the next delivery, after the write,
    raises it.
    """
    received: list[int] = []  # signals of this run, until it has stopped

    def again(signum: int) -> None:
        def kill() -> None:
            if received:
                os.kill(os.getpid(), signum)

        timer = threading.Timer(1.0, kill)
        timer.daemon = True
        timer.start()

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        again(signum)
        exc = Interrupted(f"received {signal.Signals(signum).name}")
        if raise_is_lost(frame):
            return  # the next delivery may land where the raise reaches the run
        if writing():
            return  # a raise could leave the write's temporary file: the next delivery
        deadline = running_deadline()
        if deadline is not None:
            deadline.interrupted = exc
        if deadline is not None and deadline.cooperative:
            deadline.interrupt(exc)
            return
        if deadline is not None:
            deadline.pending = None
        raise exc

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with retried_raises_unprinted(Interrupted):
            yield
    finally:
        received.clear()
        for s, h in old.items():
            signal.signal(s, h)


def _not_installed(method: str) -> str | None:
    """Why ``method`` cannot run here (its engine is not importable, or what it requires
    is missing: :meth:`~bnn_models.inference.Method.unavailable`), or None."""
    return get_method(method).unavailable()


@dataclass
class RunPlan:
    """One results folder's fits: what is kept from before, what is still to run.

    Attributes
    ----------
    out : Path
        The results folder.
    doc : dict
        Its ``metrics.json`` document (fits kept, skipped and finished so far).
    tasks : list of Task
        Fits still to run.
    order : dict
        ``(method, seed)`` -> position, for the fits' order in ``metrics.json``.
    reference : Reference or None
        What the fidelity metrics compare with.
    """

    out: Path
    doc: dict
    tasks: list[Task]
    order: dict[tuple[str, int], int]
    reference: Reference | None


def plan_run(
    dataset: Dataset,
    out_dir: str | Path,
    *,
    methods: list[str] | None = None,
    seeds: list[int] | None = None,
    quick: bool = False,
    overrides: dict | None = None,
    resume: bool = False,
    time_limit_s: float | None = None,
    max_divergence_rate: float = 0.05,
    progressbar: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
    reference: Reference | None = None,
) -> RunPlan:
    """The fits of :func:`run_benchmark` (same arguments), read-only: nothing is written."""
    methods = resolve_methods(methods)
    seeds = check_seeds(seeds if seeds is not None else [0])
    time_limit_s = check_seconds("--time-limit", time_limit_s)
    if not (isinstance(max_divergence_rate, int | float) and 0 <= max_divergence_rate <= 1):
        raise BadInput(f"max_divergence_rate: must be in [0, 1], got {max_divergence_rate!r}")
    configs = fit_settings(methods, quick=quick, overrides=overrides)
    out = Path(out_dir)
    metrics_path = out / "metrics.json"
    previous: dict[str, dict] = {}
    if resume and metrics_path.exists():
        for fit in load_metrics(metrics_path)["fits"]:
            if fit["status"] == "ok" and fit.get("fit_file") and (out / fit["fit_file"]).is_file():
                previous[fit["config_hash"]] = fit
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "command": command,
            "machine": machine_info(),
            "versions": library_versions(),
            "numerics": pytensor_numerics(),
            "dataset": dataset.describe(),
            "methods": methods,
            "seeds": seeds,
            "profile": "quick" if quick else "default",
            "overrides": overrides or {},
            "time_limit_s": time_limit_s,
            "reference": reference.describe() if reference is not None else None,
        },
        "fits": [],
    }
    order = {(m, seed): i for i, (seed, m) in enumerate(product(seeds, methods))}
    tasks: list[Task] = []
    for seed, method in product(seeds, methods):
        settings = configs[method]
        chash = _config_hash(method, seed, settings, dataset)
        if chash in previous:
            log(f"[{method} seed {seed}] resumed: finished fit {previous[chash]['fit_file']} kept")
            doc["fits"].append(previous[chash])
        elif (why := _not_installed(method)) is not None:
            log(f"[{method} seed {seed}] skipped: {why}")
            doc["fits"].append(skipped_entry(method, seed, settings, chash, why))
        else:
            tasks.append(
                Task(
                    key=chash,
                    method=method,
                    seed=seed,
                    settings=settings,
                    dataset=dataset,
                    fit_file=f"fits/{method}-s{seed}.nc",
                    time_limit_s=time_limit_s,
                    max_divergence_rate=max_divergence_rate,
                    progressbar=progressbar,
                    reference=reference.key if reference is not None else None,
                )
            )
    return RunPlan(out, doc, tasks, order, reference)


def _prepare_folder(out: Path) -> None:
    try:
        (out / "fits").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise BadInput(f"--out: output directory {out} is not writable ({err.strerror})") from err
    for stale in [*out.glob(".*.tmp"), *(out / "fits").glob(".*.tmp")]:
        stale.unlink()  # left by a process killed with SIGKILL mid-write


def execute_plans(
    plans: list[RunPlan],
    executor: Executor | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run every plan's tasks on one executor; write each outcome into its folder.

    Returns the plans' final ``metrics.json`` documents. Raises :class:`BadInput` (an
    unreachable scheduler, an unwritable folder) before anything is written, and
    :class:`~bnn_models.lock.FolderLocked` when another process writes one of the folders.
    """
    tasks = [t for plan in plans for t in plan.tasks]
    owner = {t.key: (plan, t) for plan in plans for t in plan.tasks}
    if len(owner) != len(tasks):
        raise BadInput("the grid repeats a fit (same method, seed, settings and data)")
    executor = executor or SerialExecutor()
    executor.start(tasks)  # an unreachable scheduler stops the run before anything is written
    with contextlib.ExitStack() as locks:
        for plan in plans:  # one writer per folder, for the run's whole life
            locks.enter_context(folder_lock(plan.out, command=plan.doc["run"]["command"]))
        return _execute(plans, executor, log)


def _execute(plans: list[RunPlan], executor: Executor, log: Callable[[str], None]) -> list[dict]:
    tasks = [t for plan in plans for t in plan.tasks]
    owner = {t.key: (plan, t) for plan in plans for t in plan.tasks}
    for plan in plans:
        plan.doc["run"]["executor"] = executor.description
        _prepare_folder(plan.out)
    for plan in plans:
        write_json(plan.out / "metrics.json", plan.doc)
    references = {p.reference.key: p.reference for p in plans if p.reference is not None}
    with signals_raise():
        if len(tasks) > 1:
            log(f"{len(tasks)} fits to run: {executor.description}")

        def started(task: Task) -> None:
            log(f"[{task.method} seed {task.seed}] fitting ...")

        try:
            for outcome in executor.map(tasks, references, started=started):
                plan, task = owner[outcome.key]
                if outcome.fit_bytes is not None:
                    with atomic_path(plan.out / task.fit_file) as tmp:
                        tmp.write_bytes(outcome.fit_bytes)
                _record(plan, outcome.entry)
                status = outcome.entry["status"]
                state = {"ok": "ok", NOT_APPLICABLE: "not applicable"}.get(status, "FAILED")
                if status != "ok":
                    state += f" ({outcome.entry['error']})"
                log(f"[{task.method} seed {task.seed}] {state} in {outcome.elapsed_s:.1f} s")
        except SchedulerLost as lost:
            # Not the methods' doing: the fits are recorded as not run, and --resume runs them.
            why = f"not run: the run lost the dask scheduler at {lost.address}"
            for task in lost.not_run:
                plan = owner[task.key][0]
                _record(
                    plan,
                    skipped_entry(task.method, task.seed, task.settings, task.key, why, NOT_RUN),
                )
            raise
    for plan in plans:
        if len(plan.doc["run"]["seeds"]) > 1:
            plan.doc["seed_summary"] = summarise_seeds(plan.doc["fits"])
        write_json(plan.out / "metrics.json", plan.doc)
    return [plan.doc for plan in plans]


def _record(plan: RunPlan, entry: dict) -> None:
    """Add a fit's entry to its plan's document, in run order, and write it."""
    fits = plan.doc["fits"]
    fits.append(entry)
    fits.sort(key=lambda f: plan.order.get((f["method"], f["seed"]), len(plan.order)))
    write_json(plan.out / "metrics.json", plan.doc)


def run_benchmark(
    dataset: Dataset,
    out_dir: str | Path,
    *,
    executor: Executor | None = None,
    log: Callable[[str], None] = print,
    **options: Any,
) -> dict:
    """Fit every method for every seed on ``dataset`` and write the results.

    Parameters
    ----------
    dataset : Dataset
        Data to fit and test.
    out_dir : path
        Results folder; ``metrics.json`` and ``fits/`` go there.
    methods : list of str, optional
        Registry names or families (``mcmc``, ``vi``, ...; default: all).
    seeds : list of int, optional
        One fit per method and seed (default ``[0]``).
    quick : bool
        Use each method's quick settings (:attr:`bnn_models.inference.Method.quick`).
    overrides : dict, optional
        ``{method: {setting: value}}`` over the settings (values may be strings).
    resume : bool
        Keep finished fits of an earlier run in ``out_dir`` whose config hash matches.
    time_limit_s : float, optional
        Per-fit wall-clock limit; a fit past it is recorded as failed.
    max_divergence_rate : float
        Fits whose sample stats record a larger share of divergent draws are recorded
        as failed.
    progressbar : bool
        Show the samplers' progress bars.
    log : callable
        Where progress lines go.
    command : str, optional
        The command line, recorded in the metadata.
    reference : Reference, optional
        Reference posterior (:mod:`bnn_models.reference`): every fit gets its
        ``fidelity`` metrics against it (:func:`bnn_models.fidelity.compute_fidelity`),
        and the run's metadata its description (``run.reference``).
    **options
        The keywords of :func:`plan_run` listed above (``methods`` to ``reference``).
    executor : Executor, optional
        Where the fits run (:mod:`bnn_models.executor`; default: one after another in
        this process). This process writes every result as it arrives.

    Returns
    -------
    dict
        The metrics document, as written to ``out_dir/metrics.json``. A method whose
        engine is not installed gets entries of status ``skipped`` with the reason.

    Raises
    ------
    BadInput
        An unknown method or setting, a bad value, no seeds, an unwritable folder.
    FolderLocked
        Another process is writing ``out_dir`` (a :class:`BadInput`; the message names
        its pid, host, command and start).
    SchedulerLost
        The dask scheduler went away: the fits it had not run are recorded with status
        ``not_run`` (:data:`bnn_models.schema.NOT_RUN`), the finished ones kept.
    """
    # Locked before planning: a --resume plan reads the folder as it is while no one writes.
    with folder_lock(out_dir, command=options.get("command")):
        plan = plan_run(dataset, out_dir, log=log, **options)
        return execute_plans([plan], executor, log)[0]
