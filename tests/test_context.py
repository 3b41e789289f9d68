"""The fit context: a method registered from a notebook honours --time-limit and progress."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

import pytest

from bnn_models.data import make_teacher
from bnn_models.inference import (
    Deadline,
    FitContext,
    FitResult,
    FitTimeout,
    Method,
    Settings,
    register,
    unregister,
)
from bnn_models.runner import Interrupted, run_benchmark
from bnn_models.schema import load_metrics
from bnn_models.tasks import Task, run_task

#: What the spinning fit saw: its contexts and how many times it checked.
SEEN: dict[str, list] = {"contexts": [], "checks": []}


@dataclass(frozen=True)
class SpinSettings(Settings):
    """seconds: how long the fit would run if nothing stopped it."""

    seconds: float = 60.0


def fit_spin(
    *, dataset: object, settings: SpinSettings, seed: int, context: FitContext
) -> FitResult:
    """A fit of one's own, as in a notebook: it steps in Python and checks between steps."""
    SEEN["contexts"].append(context)
    checks = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < settings.seconds:
            checks += 1
            context.check()  # raises FitTimeout past the run's --time-limit
            time.sleep(0.005)  # one step
    finally:
        SEEN["checks"].append(checks)
    raise AssertionError("the time limit did not stop the fit")


@pytest.fixture
def spin():
    method = register(
        Method(name="spin", label="Spin", family="point", fit=fit_spin, settings=SpinSettings)
    )
    SEEN["contexts"].clear()
    SEEN["checks"].clear()
    yield method
    unregister("spin")


def test_a_registered_method_stops_at_the_runs_time_limit(spin, tmp_path):
    data = make_teacher(n_train=50, n_test=20, seed=0)
    doc = run_benchmark(
        data, tmp_path, methods=["spin"], time_limit_s=0.5, progressbar=False, log=lambda s: None
    )
    (fit,) = load_metrics(tmp_path)["fits"]
    assert fit == doc["fits"][0]
    assert fit["status"] == "failed"
    assert fit["error"] == "FitTimeout: time limit of 0.5 s reached"
    (context,) = SEEN["contexts"]
    assert context.progressbar is False and context.deadline.seconds == 0.5
    assert SEEN["checks"][0] > 1  # it checked until the check ended it


def test_without_the_alarm_the_context_alone_stops_the_fit(spin):
    """Off the main thread (a dask worker's thread) there is no SIGALRM: only the deadline
    the fit was handed can stop it."""
    task = Task(
        key="spin-0",
        method="spin",
        seed=0,
        settings=SpinSettings(),
        dataset=make_teacher(n_train=50, n_test=20, seed=0),
        fit_file="fits/spin-s0.nc",
        time_limit_s=0.3,
        progressbar=True,
    )
    outcomes = []
    worker = threading.Thread(target=lambda: outcomes.append(run_task(task)))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the fit ignored its deadline"
    (outcome,) = outcomes
    assert outcome.entry["status"] == "failed"
    assert outcome.entry["error"] == "FitTimeout: time limit of 0.3 s reached"
    assert SEEN["contexts"][0].progressbar is True


def test_a_direct_call_gets_a_context_without_a_limit():
    context = FitContext()
    assert context.progressbar and context.deadline.at is None
    context.check(None, [1.0], 1)  # a pm.fit callback's arguments: no limit, no raise
    past = FitContext(deadline=Deadline.after(1e-9))
    time.sleep(0.01)
    with pytest.raises(FitTimeout, match="time limit of 1e-09 s reached"):
        past.check()


def fit_reset(
    *, dataset: object, settings: SpinSettings, seed: int, context: FitContext
) -> FitResult:
    """An engine that turns an interruption into its own error, as httpstan's client does
    (a SIGINT during a Stan fit reached the run as ``ClientOSError: Connection reset``)."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except BaseException as err:
        raise OSError("Connection reset by peer") from err
    raise AssertionError("the interruption did not arrive")


def test_an_interruption_an_engine_turns_into_its_own_error_leaves_the_fit_not_run(tmp_path):
    register(
        Method(name="reset", label="Reset", family="point", fit=fit_reset, settings=SpinSettings)
    )
    try:
        data = make_teacher(n_train=50, n_test=20, seed=0)
        with pytest.raises(Interrupted):
            run_benchmark(data, tmp_path, methods=["reset"], progressbar=False, log=lambda s: None)
    finally:
        unregister("reset")
    # Stopped, not failed: nothing is recorded for it, so --resume runs it.
    assert [f["status"] for f in load_metrics(tmp_path)["fits"]] == []
