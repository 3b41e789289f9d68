"""Executors: the same fits in this process and on a dask cluster give the same metrics."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from bnn_models._worker import WorkerSetup, compile_dir_flag
from bnn_models.data import make_teacher
from bnn_models.errors import BadInput
from bnn_models.executor import (
    DaskExecutor,
    SchedulerLost,
    SerialExecutor,
    local_workers,
    make_executor,
)
from bnn_models.inference import METHODS
from bnn_models.runner import plan_run, run_benchmark
from bnn_models.schema import NOT_RUN, load_metrics
from bnn_models.tasks import Outcome, Task, skipped_entry
from tests.conftest import tiny

VI = ["advi", "fullrank_advi"]


def _overrides(methods: list[str]) -> dict:
    return {m: dict(tiny(m)) for m in methods}


def _comparable(doc: dict) -> list[dict]:
    """Every fit's entry without what depends on when and where it ran (the runtime, and
    the seconds of its anytime points, whose order follows them)."""
    out = []
    for fit in doc["fits"]:
        entry = {k: v for k, v in fit.items() if k not in ("runtime", "warnings", "anytime")}
        points = (fit.get("anytime") or {}).get("points", [])
        entry["anytime"] = sorted(
            ({k: v for k, v in p.items() if k != "seconds"} for p in points),
            key=lambda p: p["stage"],
        )
        out.append(entry)
    return out


def _differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two JSON-like values differ (``path: a != b``); floats may differ in the last
    bits (NumPy's reductions take SIMD paths by the array's memory alignment, which
    differs between processes: one ELBO sd differed by 1 ulp in 1 of 3 runs)."""
    if isinstance(a, float) and isinstance(b, float):
        return (
            []
            if math.isclose(a, b, rel_tol=1e-12) or a == b or (a != a and b != b)
            else [f"{path}: {a!r} != {b!r}"]
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _task(method: str, seed: int, settings: dict | None = None) -> Task:
    data = make_teacher(n_train=100, n_test=50, seed=1)
    config = METHODS[method].configure(overrides=settings or tiny(method))
    return Task(
        key=f"{method}-{seed}",
        method=method,
        seed=seed,
        settings=config,
        dataset=data,
        fit_file=f"fits/{method}-s{seed}.nc",
    )


def test_local_clusters_never_oversubscribe_the_cores():
    vi = [_task("advi", 0)]
    nuts = [_task("nuts", 0, {"chains": 4, "cores": 2, "n_hidden": 4})]
    assert local_workers(vi, cores=2) == 2
    assert local_workers(vi + nuts, cores=2) == 1  # one fit keeps 2 cores busy
    assert local_workers(vi + nuts, cores=16) == 8
    assert local_workers(nuts, cores=1) == 1


def test_each_worker_gets_its_own_compile_directory_and_one_blas_thread(tmp_path, monkeypatch):
    assert compile_dir_flag("floatX=float32,base_compiledir=/old", tmp_path) == (
        f"floatX=float32,base_compiledir={tmp_path}"
    )

    class Worker:
        name = "tcp://10.0.0.1:4000"

    monkeypatch.delitem(sys.modules, "pytensor", raising=False)  # as on a fresh worker
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    WorkerSetup().setup(Worker())
    flags = os.environ["PYTENSOR_FLAGS"]
    assert flags.startswith("floatX=float64,base_compiledir=")
    assert flags.endswith("bnn-bench-pytensor/worker-tcp___10.0.0.1_4000")
    assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_a_dask_cluster_gives_the_serial_metrics_and_resumes_without_recomputing(tmp_path):
    """2 VI methods x 2 seeds on a 2-worker LocalCluster, then serially: identical entries;
    then the cluster's folder resumed: every fit kept, none run again."""
    data = make_teacher(n_train=150, n_test=60, seed=3)
    common = dict(methods=VI, seeds=[0, 1], overrides=_overrides(VI), progressbar=False)
    lines: list[str] = []
    executor = make_executor("auto", n_workers=2, log=lines.append, progress=False)
    try:
        parallel = run_benchmark(
            data, tmp_path / "dask", executor=executor, log=lines.append, **common
        )
    finally:
        executor.close()
    assert any("LocalCluster of 2 workers" in line and "127.0.0.1" in line for line in lines)
    serial = run_benchmark(data, tmp_path / "serial", log=lines.append, **common)
    assert _differences(_comparable(parallel), _comparable(serial)) == []
    assert parallel["run"]["executor"].startswith("dask LocalCluster")
    assert serial["run"]["executor"] == SerialExecutor.description
    for fit in parallel["fits"]:
        assert (tmp_path / "dask" / fit["fit_file"]).is_file()
    assert not list((tmp_path / "dask").rglob(".*.tmp"))

    resumed_lines: list[str] = []
    again = run_benchmark(data, tmp_path / "dask", resume=True, log=resumed_lines.append, **common)
    assert sum("resumed" in line for line in resumed_lines) == 4
    assert not any("fitting" in line for line in resumed_lines)
    assert _comparable(again) == _comparable(parallel)
    assert len(load_metrics(tmp_path / "dask")["fits"]) == 4


def _dies_on_seed_1(task: Task, reference: object = None) -> Outcome:
    """Seed 1 kills its worker (as an out-of-memory kill would); the others finish at once."""
    if task.seed == 1:
        os._exit(3)
    return Outcome(task.key, {"status": "ok", "method": task.method}, None, 0.0)


def test_a_task_that_kills_its_workers_is_a_failed_fit_and_the_others_finish(tmp_path):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    try:
        executor = DaskExecutor(
            "auto", n_workers=2, log=lambda s: None, progress=False, task_fn=_dies_on_seed_1
        )
        tasks = [_task("advi", 0), _task("advi", 1), _task("fullrank_advi", 0)]
        try:
            outcomes = {o.key: o for o in executor.map(tasks, {})}
        finally:
            executor.close()
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert sorted(outcomes) == sorted(t.key for t in tasks)  # every task once
    dead = outcomes["advi-1"]
    assert dead.entry["status"] == "failed" and "KilledWorker" in dead.entry["error"]
    assert dead.entry["method"] == "advi" and dead.entry["seed"] == 1
    assert outcomes["advi-0"].ok and outcomes["fullrank_advi-0"].ok


def test_an_unreachable_scheduler_is_bad_input_naming_it(tmp_path):
    executor = make_executor("tcp://127.0.0.1:9", log=lambda s: None, progress=False)
    with pytest.raises(
        BadInput, match=r"cannot reach the dask scheduler at 'tcp://127\.0\.0\.1:9'"
    ):
        list(executor.map([_task("advi", 0)], {}))
    executor.close()
    with pytest.raises(BadInput, match="--workers: must be an integer >= 1"):
        make_executor("auto", n_workers=0)


def test_the_serial_executor_writes_what_the_runner_wrote_before(tmp_path):
    """The default executor: one fit file per fit, in the results folder, named as before."""
    data = make_teacher(n_train=100, n_test=50, seed=1)
    doc = run_benchmark(
        data,
        tmp_path,
        methods=["advi"],
        seeds=[0],
        overrides=_overrides(["advi"]),
        progressbar=False,
        log=lambda s: None,
    )
    (fit,) = doc["fits"]
    assert fit["fit_file"] == "fits/advi-s0.nc" and (Path(tmp_path) / fit["fit_file"]).is_file()


def test_run_with_an_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path, capsys):
    from bnn_models.cli import main

    out = tmp_path / "out"
    args = ["run", "--dataset", "teacher", "--n-train", "100", "--n-test", "50"]
    args += ["--methods", "advi", "--out", str(out), "--no-progress", "--no-report"]
    assert main([*args, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--scheduler", "auto", "--workers", "0"]) == 2
    assert "--workers: must be an integer >= 1, got 0" in capsys.readouterr().err
    assert not out.exists()


def _ok_at_once_then_slow(task: Task, reference: object = None) -> Outcome:
    """Seed 0 finishes at once (an entry and a stand-in fit file); the others take a minute,
    so they are still running or waiting when the scheduler goes."""
    if task.seed != 0:
        time.sleep(60)
    entry = skipped_entry(task.method, task.seed, task.settings, task.key, "")
    entry.update(status="ok", error=None, fit_file=task.fit_file)
    return Outcome(task.key, entry, b"a fit", 0.0)


def test_a_lost_scheduler_records_the_fits_not_run_not_failed_and_resume_runs_them(tmp_path):
    """A running scheduler (not one the executor started) closed after the first fit:
    SchedulerLost names its address and the fits not run; metrics.json records them as
    not_run (not failed), the report and the gate leave them out, --resume plans them."""
    from distributed import LocalCluster

    from bnn_models.report.run import load_methods

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
    )
    address = cluster.scheduler_address
    data = make_teacher(n_train=60, n_test=20, seed=1)
    common = dict(methods=["advi"], seeds=[0, 1, 2], overrides=_overrides(["advi"]))

    def log(line: str) -> None:
        if "] ok in" in line:  # the first fit is written: the scheduler goes
            cluster.close()

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    executor = DaskExecutor(
        address, log=lambda s: None, progress=False, task_fn=_ok_at_once_then_slow
    )
    try:
        with pytest.raises(SchedulerLost) as lost:
            run_benchmark(data, tmp_path, executor=executor, log=log, progressbar=False, **common)
    finally:
        executor.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert lost.value.address == address
    assert sorted(t.seed for t in lost.value.not_run) == [1, 2]
    assert str(lost.value) == f"lost the dask scheduler at {address}; 2 fits not run"
    fits = load_metrics(tmp_path)["fits"]
    assert [(f["seed"], f["status"]) for f in fits] == [(0, "ok"), (1, NOT_RUN), (2, NOT_RUN)]
    assert fits[1]["error"] == f"not run: the run lost the dask scheduler at {address}"
    # the report reads the not-run fits as absent, not as failures of the method
    (advi,) = load_methods(tmp_path, load_metrics(tmp_path), load=False).values()
    assert [e["seed"] for e in advi.entries] == [0] and advi.failed == []
    resumed = plan_run(data, tmp_path, resume=True, log=lambda s: None, **common)
    assert [t.seed for t in resumed.tasks] == [1, 2]


def test_a_lost_scheduler_ends_the_command_with_one_line_and_exit_3(monkeypatch, capsys):
    from bnn_models import runner
    from bnn_models.cli import EXIT_SCHEDULER_LOST, main

    def lost(*args: object, **kwargs: object) -> None:
        raise SchedulerLost("tcp://10.0.0.5:8786", [_task("advi", s) for s in range(6)])

    monkeypatch.setattr(runner, "run_benchmark", lost)
    args = ["run", "--dataset", "teacher", "--n-train", "50", "--n-test", "20", "--methods"]
    code = main([*args, "advi", "--reference", "none", "--no-progress", "--no-report"])
    assert code == EXIT_SCHEDULER_LOST == 3
    err = capsys.readouterr().err.strip()
    assert err == (
        "bnn-bench run: error: lost the dask scheduler at tcp://10.0.0.5:8786; 6 fits not "
        "run, finished fits kept: rerun with --resume to run them"
    )
