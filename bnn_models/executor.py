"""Where tasks run: here, one after another, or on a dask.distributed cluster.

Both executors take :class:`~bnn_models.tasks.Task` objects and yield
:class:`~bnn_models.tasks.Outcome` objects as tasks finish; the caller writes them
(:mod:`bnn_models.runner`), so workers need no shared file system.

``DaskExecutor("auto")`` starts a ``LocalCluster`` of process workers, one thread each,
listening on 127.0.0.1 only (scheduler, workers, dashboard). Its size: the machine's cores
divided by the cores one fit keeps busy (the largest ``Settings.parallel`` of the tasks:
an MCMC fit runs ``cores`` chains at a time, the others one), at least one, so workers x
chains never oversubscribe the cores. ``DaskExecutor(ADDRESS)`` uses a running scheduler
(``dask scheduler`` and ``dask worker``, or dask-jobqueue's Slurm/PBS clusters).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from bnn_models.errors import BadInput, check_count
from bnn_models.reference import Reference
from bnn_models.tasks import Outcome, Task, failed_outcome, run_task

__all__ = [
    "ALLOWED_FAILURES",
    "DaskExecutor",
    "Executor",
    "SchedulerLost",
    "SerialExecutor",
    "local_workers",
    "make_executor",
]

#: Worker deaths a task may cause before dask gives up on it (``KilledWorker``); the task
#: is then recorded as failed with the reason, and the sweep goes on.
ALLOWED_FAILURES = 2

#: Seconds to wait for a scheduler given by address.
CONNECT_TIMEOUT_S = 10


class SchedulerLost(Exception):  # noqa: N818 - reads as what happened, like KilledWorker
    """The dask scheduler went away mid-run: the tasks not finished were not run.

    Not the tasks' fault: the runner records them as not run
    (:data:`bnn_models.schema.NOT_RUN`), not as failed fits, and ``--resume`` runs them.

    Attributes
    ----------
    address : str
        The scheduler's address.
    not_run : list of Task
        The tasks without an outcome.
    """

    def __init__(self, address: str, not_run: Sequence[Task]) -> None:
        self.address = address
        self.not_run = list(not_run)
        super().__init__(f"lost the dask scheduler at {address}; {len(self.not_run)} fits not run")


class Executor(Protocol):
    """Runs tasks; yields their outcomes as they finish."""

    #: A short description for the log (``serial``, ``dask LocalCluster of 2 workers``).
    description: str

    def start(self, tasks: Sequence[Task]) -> None:
        """Get ready to run ``tasks`` (a cluster is sized by them and started here)."""
        ...

    def map(
        self,
        tasks: Sequence[Task],
        references: Mapping[str, Reference],
        started: Callable[[Task], None] | None = None,
    ) -> Iterator[Outcome]:
        """Run ``tasks``; yield each outcome once, in the order they finish.

        ``references`` holds each task's reference posterior by key (``Task.reference``).

        ``started`` is called with a task when it starts, where the executor knows it.
        """
        ...

    def close(self) -> None:
        """Release what the executor started."""
        ...


class SerialExecutor:
    """Every task in this process, in the given order (signals and time limits work here)."""

    description = "serial (this process)"

    def __init__(self, task_fn: Callable[[Task, Reference | None], Outcome] = run_task) -> None:
        self.task_fn = task_fn

    def start(self, tasks: Sequence[Task]) -> None:
        """Nothing to start."""

    def map(
        self,
        tasks: Sequence[Task],
        references: Mapping[str, Reference],
        started: Callable[[Task], None] | None = None,
    ) -> Iterator[Outcome]:
        """Run ``tasks`` one after another."""
        for task in tasks:
            if started is not None:
                started(task)
            yield self.task_fn(task, _reference(task, references))

    def close(self) -> None:
        """Nothing to release."""


def _reference(task: Task, references: Mapping[str, Reference]) -> Reference | None:
    return references.get(task.reference) if task.reference is not None else None


def local_workers(tasks: Sequence[Task], cores: int | None = None) -> int:
    """Workers for a local cluster: ``cores`` // the most cores one task's fit keeps busy."""
    cores = cores or os.cpu_count() or 1
    per_fit = max((t.settings.parallel for t in tasks), default=1)
    return max(1, cores // max(1, per_fit))


class DaskExecutor:
    """Tasks on a dask.distributed cluster: local (``"auto"``) or a running scheduler.

    Parameters
    ----------
    scheduler : str
        ``"auto"`` or a scheduler address (``tcp://host:8786``, ``tls://...``).
    n_workers : int, optional
        Workers of the local cluster (default: :func:`local_workers`); ignored with an
        address.
    log : callable
        Where the dashboard's address and retries are reported.
    progress : bool
        Show a progress bar (tasks done, failed, running; elapsed and ETA).
    task_fn : callable
        What a worker runs per task (:func:`~bnn_models.tasks.run_task`; tests swap it).

    Raises
    ------
    BadInput
        The scheduler cannot be reached (the message names the address).
    """

    def __init__(
        self,
        scheduler: str = "auto",
        *,
        n_workers: int | None = None,
        log: Callable[[str], None] = print,
        progress: bool = True,
        task_fn: Callable[[Task, Reference | None], Outcome] = run_task,
    ) -> None:
        self.scheduler = scheduler
        self.task_fn = task_fn
        self.n_workers = n_workers
        self.log = log
        self.progress = progress
        self.description = f"dask ({scheduler})"
        self._client: Any = None  # distributed.Client, imported on start
        self._cluster: Any = None
        self._quiet: Callable[[], None] | None = None  # restores a silenced logger

    def start(self, tasks: Sequence[Task]) -> None:
        """Start the local cluster sized for ``tasks``, or connect to the scheduler."""
        if self._client is not None:
            return
        import dask
        from distributed import Client, LocalCluster

        from bnn_models._worker import WorkerSetup

        dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
        if self.scheduler == "auto":
            n = self.n_workers or local_workers(tasks)
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            self.description = f"dask LocalCluster of {n} workers x 1 thread (127.0.0.1)"
        else:
            try:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as err:
                raise BadInput(
                    f"--scheduler: cannot reach the dask scheduler at {self.scheduler!r} "
                    f"({type(err).__name__}: {err})"
                ) from None
            n = len(self._client.scheduler_info()["workers"])
            self.description = f"dask scheduler {self.scheduler} ({n} workers now)"
        self._client.register_plugin(WorkerSetup())
        self.log(f"executor: {self.description}; dashboard {self._client.dashboard_link}")

    def map(
        self,
        tasks: Sequence[Task],
        references: Mapping[str, Reference],
        started: Callable[[Task], None] | None = None,
    ) -> Iterator[Outcome]:
        """Submit every task; yield outcomes as they finish.

        A task that killed :data:`ALLOWED_FAILURES` + 1 workers is a failed outcome (on a
        running scheduler its own ``distributed.scheduler.allowed-failures`` counts).
        ``started`` is not called: the progress bar shows the tasks.

        Raises
        ------
        SchedulerLost
            The scheduler went away: the tasks without an outcome were not run.
        """
        if not tasks:
            return
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        self.start(tasks)
        client = self._client
        assert client is not None
        address = str(getattr(client.scheduler, "address", None) or self.scheduler)
        by_key: dict = {}
        done: set[str] = set()
        bar = _Progress(len(tasks), self.progress)
        t0 = time.perf_counter()
        try:
            # Each reference goes to every worker once, not with each task.
            refs = {k: client.scatter(r, broadcast=True) for k, r in references.items()}
            for task in tasks:
                ref = refs.get(task.reference) if task.reference is not None else None
                future = client.submit(self.task_fn, task, ref, key=f"fit-{task.key}", pure=False)
                by_key[future.key] = (future, task)
            for future in as_completed([f for f, _ in by_key.values()]):
                task = by_key[future.key][1]
                try:
                    outcome = future.result()
                except FutureCancelledError as err:
                    if err.reason == _CONNECTION_LOST or client.status != "running":
                        raise _Lost from err
                    why = f"{type(err).__name__}: the task ended its worker(s) {err}"
                    outcome = failed_outcome(task, why, time.perf_counter() - t0)
                except KilledWorker as err:
                    why = f"{type(err).__name__}: the task ended its worker(s) {err}"
                    outcome = failed_outcome(task, why, time.perf_counter() - t0)
                done.add(task.key)
                bar.update(outcome.ok, running=_running(by_key))
                yield outcome
        except (_Lost, OSError) as err:  # distributed's CommClosedError is an OSError
            if isinstance(err, OSError) and client.status == "running":
                raise  # not a lost scheduler: a real error
            # The run ends with one line; the client's own "failed to reconnect" log would
            # add another while it closes.
            self._quiet = _silence("distributed.client")
            raise SchedulerLost(address, [t for t in tasks if t.key not in done]) from None
        finally:
            bar.close()
            if client.status == "running":
                for future, _ in by_key.values():
                    future.release()

    def close(self) -> None:
        """Close the client and the local cluster it started."""
        if self._client is not None:
            if self._client.status == "running":
                self._client.close()
            else:  # the scheduler was lost: do not wait for it to come back
                self._client.close(timeout=2)
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        if self._quiet is not None:
            self._quiet()
            self._quiet = None


#: Why dask cancels every future when the client loses its scheduler.
_CONNECTION_LOST = "scheduler-connection-lost"


class _Lost(Exception):  # noqa: N818
    """The scheduler connection is gone (raised and caught inside :meth:`DaskExecutor.map`)."""


def _silence(name: str) -> Callable[[], None]:
    """Raise logger ``name`` to CRITICAL; returns what restores its level."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    return lambda: logger.setLevel(level)


def _running(by_key: dict) -> int:
    return sum(1 for future, _ in by_key.values() if future.status == "pending")


class _Progress:
    """Tasks done / failed / still to come, elapsed and ETA (tqdm on the client)."""

    def __init__(self, total: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.failed = 0
        self.bar = tqdm(total=total, unit="fit", disable=not show, dynamic_ncols=True)

    def update(self, ok: bool, running: int) -> None:
        self.failed += not ok
        self.bar.set_postfix(failed=self.failed, pending=running, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def make_executor(
    scheduler: str | None,
    *,
    n_workers: int | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    task_fn: Callable[[Task, Reference | None], Outcome] = run_task,
) -> Executor:
    """``None`` or ``"serial"``: :class:`SerialExecutor`; else :class:`DaskExecutor`.
    ``task_fn`` runs one task (default: fit and measure, :func:`run_task`)."""
    if n_workers is not None:
        check_count("--workers", n_workers)
    if scheduler in (None, "serial"):
        return SerialExecutor(task_fn)
    return DaskExecutor(scheduler, n_workers=n_workers, log=log, progress=progress, task_fn=task_fn)
