"""Failing, interrupted and resumed runs: nothing lost, every failure explained."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bnn_models.cli import main
from bnn_models.errors import ResultsError
from bnn_models.inference import METHODS, FitTimeout, Method, Settings
from bnn_models.runner import run_benchmark
from bnn_models.schema import load_metrics
from bnn_models.tasks import retried_raises_unprinted
from tests.conftest import TINY, tiny_set

TEACHER = ["--dataset", "teacher", "--n-train", "200", "--n-test", "100", "--hidden", "4"]


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bnn_models.cli",
        "run",
        *TEACHER,
        "--methods",
        ",".join(TINY),  # the three methods it kills, not the default (every method)
        *tiny_set(*TINY),
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
        *extra,
    ]


def _comparable(path: Path) -> list[dict]:
    """Fit entries without wall-clock numbers (runtime, and the anytime points' seconds)."""
    return [
        {k: v for k, v in fit.items() if k not in ("runtime", "anytime")}
        for fit in load_metrics(path)["fits"]
    ]


def test_a_failing_fit_is_recorded_and_the_others_still_run(tmp_path, capsys):
    code = main(
        [
            "run",
            *TEACHER,
            *tiny_set("advi", "fullrank_advi"),
            "--methods",
            "advi,fullrank_advi",
            "--set",
            "advi.learning_rate=1e12",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 1
    fits = {f["method"]: f for f in load_metrics(tmp_path)["fits"]}
    assert fits["advi"]["status"] == "failed"
    assert "NaN" in fits["advi"]["error"] or "non-finite" in fits["advi"]["error"]
    assert fits["fullrank_advi"]["status"] == "ok"
    assert "FAILED" in capsys.readouterr().out


class _RaisesWhenCollected:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __del__(self) -> None:
        raise self.exc


def test_a_retried_raise_lost_in_a_finalizer_is_dropped_and_every_other_reported(monkeypatch):
    """An alarm or signal that lands in a finalizer: Python can only report the raise as
    unraisable; the handler delivers it again, so it is dropped, and nothing else is."""
    seen: list[type] = []

    def before(unraisable):
        seen.append(type(unraisable.exc_value))

    monkeypatch.setattr(sys, "unraisablehook", before)
    with retried_raises_unprinted(FitTimeout):
        _RaisesWhenCollected(FitTimeout("late"))  # collected at once: its raise is unraisable
        _RaisesWhenCollected(ValueError("a real bug"))
    _RaisesWhenCollected(FitTimeout("outside the block"))
    assert seen == [ValueError, FitTimeout]
    assert sys.unraisablehook is before


def test_time_limit_marks_the_fit_failed(tmp_path):
    code = main(
        [
            "run",
            *TEACHER,
            "--methods",
            "advi",
            "--set",
            "advi.max_iter=100000000",
            "--set",
            "advi.stop_on_convergence=false",
            "--time-limit",
            "4",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 1
    (fit,) = load_metrics(tmp_path)["fits"]
    assert fit["status"] == "failed" and "time limit of 4 s" in fit["error"]


def test_time_limit_ends_a_sampler_that_runs_outside_python(tmp_path):
    """nutpie samples in Rust: the alarm stops it when it next hands control to Python.

    ADVI (above) checks the deadline itself between steps; an alarm raised inside PyTensor's
    compiled step instead crashed the process once in CI, so the two paths are kept apart.
    """
    args = ["run", *TEACHER, "--methods", "nuts", "--set", "nuts.draws=200000"]
    args += ["--time-limit", "6", "--out", str(tmp_path), "--no-progress", "--no-report"]
    t0 = time.perf_counter()
    assert main(args) == 1
    elapsed = time.perf_counter() - t0
    (fit,) = load_metrics(tmp_path)["fits"]
    assert fit["status"] == "failed"
    assert fit["error"] == "FitTimeout: time limit of 6 s reached"
    assert elapsed < 60  # 200,000 draws per chain would take many minutes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no metrics file"),
        ('{"schema": "bnn-bench/metrics", "schema_ver', "corrupted JSON"),
        (
            '{"schema": "bnn-bench/metrics", "schema_version": 99, "run": {}, "fits": []}',
            "field 'schema_version' is 99",
        ),
        ('{"schema": "other", "schema_version": 1, "run": {}, "fits": []}', "field 'schema'"),
        (
            '{"schema": "bnn-bench/metrics", "schema_version": 1, "run": {}, "fits": [{}]}',
            "fits[0]: field 'method' missing",
        ),
    ],
)
def test_results_folder_problems_are_clear_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(ResultsError) as info:
        load_metrics(tmp_path)
    # the message names the file, then the problem
    assert str(info.value).startswith(str(tmp_path / "metrics.json") + ": ")
    assert message in str(info.value)


def test_a_bad_results_folder_exits_2_from_the_report_command(tmp_path, capsys):
    (tmp_path / "metrics.json").write_text('{"schema": "other"}')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metrics.json: field 'schema_version' missing" in err and "Traceback" not in err


def test_output_folder_not_writable(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(
        [
            "run",
            *TEACHER,
            "--methods",
            "advi",
            "--out",
            str(blocker / "sub"),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 2 and "is not writable" in capsys.readouterr().err


def test_unknown_setting_is_refused_before_anything_is_written(tmp_path, capsys):
    code = main(
        [
            "run",
            *TEACHER,
            "--methods",
            "advi",
            "--set",
            "advi.learnign_rate=0.1",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 2 and "has no setting 'learnign_rate'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _run_until(cmd: list[str], trigger: str, delay: float, sig: int) -> int:
    """Start ``cmd``, send ``sig`` ``delay`` s after a stdout line containing ``trigger``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if trigger in line:
            time.sleep(delay)
            proc.send_signal(sig)
            break
    proc.communicate(timeout=300)
    return proc.returncode


@pytest.mark.slow
def test_killed_three_times_and_resumed_equals_uninterrupted(tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(_cli(whole), check=True, capture_output=True)
    parts = tmp_path / "parts"
    kills = [
        ("[nuts seed 0] fitting", 2.0, signal.SIGTERM),  # during NUTS
        ("[advi seed 0] fitting", 1.0, signal.SIGINT),  # during ADVI, after NUTS finished
        ("[fullrank_advi seed 0] fitting", 0.5, signal.SIGTERM),  # during full-rank ADVI
    ]
    for trigger, delay, sig in kills:
        code = _run_until(_cli(parts, "--resume"), trigger, delay, sig)
        assert code == 130, f"not interrupted at {trigger!r}"
        if (parts / "metrics.json").exists():
            load_metrics(parts)  # never half-written
        assert not list(parts.rglob(".*.tmp"))
    subprocess.run(_cli(parts, "--resume"), check=True, capture_output=True)
    assert _comparable(parts / "metrics.json") == _comparable(whole / "metrics.json")


def test_a_stop_signal_during_an_atomic_write_is_raised_after_it(tmp_path):
    """SIGTERM while metrics.json is being written: the write ends whole and leaves no
    temporary file; the run stops at the signal's next delivery, a second later."""
    from bnn_models.io import atomic_path, writing
    from bnn_models.runner import Interrupted, signals_raise

    path = tmp_path / "metrics.json"
    written = None
    with pytest.raises(Interrupted, match="SIGTERM"), signals_raise():
        with atomic_path(path) as tmp:
            assert writing()
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)  # the handler runs here, and defers its raise
            tmp.write_text("whole")
        written = path.read_text()
        assert not writing()
        time.sleep(5)  # the next delivery raises
    assert written == "whole"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_sampler_error_is_recorded(tmp_path, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("sampler exploded")

    monkeypatch.setitem(METHODS, "nuts", dataclasses.replace(METHODS["nuts"], fit=broken))
    code = main(
        [
            "run",
            *TEACHER,
            *tiny_set("advi"),
            "--methods",
            "nuts,advi",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 1
    fits = {f["method"]: f for f in load_metrics(tmp_path)["fits"]}
    assert fits["nuts"]["status"] == "failed"
    assert fits["nuts"]["error"] == "RuntimeError: sampler exploded"
    assert fits["nuts"]["family"] == "mcmc" and fits["nuts"]["fit_file"] is None
    assert fits["advi"]["status"] == "ok"


def _with_divergences(result, n_divergent: int):
    """``result`` with exactly the first ``n_divergent`` draws of chain 0 divergent."""
    stats = result.idata["sample_stats"].to_dataset()
    flags = np.zeros(stats["diverging"].shape, dtype=bool)
    flags[0, :n_divergent] = True
    idata = result.idata.copy()
    idata["sample_stats"] = stats.assign(diverging=(stats["diverging"].dims, flags))
    return dataclasses.replace(result, idata=idata)


@pytest.mark.parametrize(
    ("limit", "status"),
    [(0.0499, "failed"), (0.05, "ok"), (0.0501, "ok"), (0.0, "failed")],
)
def test_the_divergence_limit_is_a_share_of_draws(
    limit, status, tmp_path, monkeypatch, tiny_fits, teacher_small
):
    # A sampler of another name whose fit has exactly 10 divergent draws of 200 (a
    # share of 0.05): the run asks what the result holds, not which method it is.
    nuts = tiny_fits["nuts"]
    n_draws = nuts.idata["sample_stats"]["diverging"].size
    assert n_draws == TINY["nuts"]["chains"] * TINY["nuts"]["draws"] == 200
    known = _with_divergences(nuts, 10)
    replay = Method(
        name="replayed",
        label="replayed sampler",
        family="mcmc",
        fit=lambda **kwargs: known,
        settings=Settings,
    )
    monkeypatch.setitem(METHODS, "replayed", replay)
    doc = run_benchmark(
        teacher_small,
        tmp_path,
        methods=["replayed"],
        overrides={"replayed": {"n_hidden": TINY["nuts"]["n_hidden"]}},
        max_divergence_rate=limit,
        progressbar=False,
        log=lambda s: None,
    )
    (fit,) = doc["fits"]
    assert fit["status"] == status, fit.get("error")
    if status == "failed":
        assert fit["error"].startswith("RuntimeError: 10 of 200 draws divergent (> ")
        assert fit["fit_file"] is None
    else:
        assert fit["diagnostics"]["divergences"] == 10


def test_a_real_fit_with_divergences_is_judged_by_its_share(tmp_path, teacher_small):
    # A low target acceptance makes NUTS take long steps that diverge. The same seed
    # gives the same draws, so the gate fails the fit exactly when the limit lies
    # below its share of divergent draws.
    settings = {**TINY["nuts"], "target_accept": 0.3}

    def run(name: str, limit: float) -> dict:
        doc = run_benchmark(
            teacher_small,
            tmp_path / name,
            methods=["nuts"],
            overrides={"nuts": settings},
            max_divergence_rate=limit,
            progressbar=False,
            log=lambda s: None,
        )
        return doc["fits"][0]

    at = run("all-allowed", 1.0)
    assert at["status"] == "ok"
    n_draws = TINY["nuts"]["chains"] * TINY["nuts"]["draws"]
    share = at["diagnostics"]["divergences"] / n_draws
    assert share > 0, "no divergences: choose a lower target_accept"
    below = run("just-below", share * 0.99)
    assert below["status"] == "failed"
    assert f"{at['diagnostics']['divergences']} of {n_draws} draws divergent" in below["error"]


def test_same_seed_same_metrics_across_processes(tmp_path):
    runs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        out = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bnn_models.cli",
                "run",
                *TEACHER,
                *tiny_set("advi"),
                "--methods",
                "advi",
                "--seed",
                seed,
                "--out",
                str(out),
                "--no-progress",
                "--no-report",
            ],
            check=True,
            capture_output=True,
        )
        runs[name] = _comparable(out / "metrics.json")
    assert runs["a"] == runs["b"]
    assert runs["a"][0]["calibration"] != runs["c"][0]["calibration"]


def test_package_never_unpickles_or_evals():
    src = Path(__file__).resolve().parents[1] / "bnn_models"
    # builtins only: PyTensor's ``var.eval()`` is a method, not Python's eval
    bad = re.compile(r"import pickle|pickle\.load|(?<![.\w])(eval|exec)\(")
    for path in src.rglob("*.py"):
        assert not bad.search(path.read_text()), path


def test_a_signal_landing_in_a_ctypes_callback_is_delivered_again():
    """A raise inside llvmlite's ctypes callback (numba compiling) is printed and dropped by
    ctypes, so the handlers defer there and deliver again; anywhere else they raise."""
    from types import SimpleNamespace

    from bnn_models.tasks import raise_is_lost as _raise_is_lost

    def frame(module: str) -> SimpleNamespace:
        return SimpleNamespace(f_globals={"__name__": module})

    assert _raise_is_lost(frame("llvmlite.binding.executionengine"))
    assert not _raise_is_lost(frame("pytensor.link.basic"))
    assert not _raise_is_lost(frame("__main__"))
    assert not _raise_is_lost(None)


def test_an_interruption_is_raised_at_a_cooperating_fits_next_check():
    """SIGINT/SIGTERM raised inside ADVI's compiled PyTensor step crashed CI's process
    (exit -11): a fit that checks the deadline gets the interruption at its next check."""
    from bnn_models.inference import Deadline

    deadline = Deadline()
    deadline.check()  # the fit checks: cooperative
    assert deadline.cooperative
    stop = KeyboardInterrupt("received SIGINT")
    deadline.interrupt(stop)
    deadline.arm(None)  # the fit ends before checking again: the interruption is kept
    with pytest.raises(KeyboardInterrupt) as raised:
        deadline.check()
    assert raised.value is stop and deadline.pending is None
    deadline.check()  # delivered once


def test_sigint_during_advi_is_raised_by_its_check_and_ends_the_run_with_130(
    tmp_path, capsys, monkeypatch
):
    """The signal arrives while ADVI steps (sent from its 50th check, so it lands there
    whatever the machine's speed); the run's handler leaves it for the next check."""
    from bnn_models.inference import Deadline

    check, raised = Deadline.check, []

    def checking(self: Deadline, *args: object) -> None:
        if self.calls == 50:
            os.kill(os.getpid(), signal.SIGINT)
        self.calls += 1
        try:
            check(self, *args)
        except BaseException as exc:
            raised.append(type(exc).__name__)
            raise

    monkeypatch.setattr(Deadline, "calls", 0, raising=False)
    monkeypatch.setattr(Deadline, "check", checking)
    args = ["run", *TEACHER, "--methods", "advi", "--set", "advi.max_iter=100000"]
    args += ["--set", "advi.stop_on_convergence=false", "--out", str(tmp_path)]
    assert main([*args, "--no-progress", "--no-report"]) == 130
    assert raised == ["Interrupted"]
    assert "interrupted (received SIGINT)" in capsys.readouterr().err
    assert not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.slow
def test_sigint_on_the_client_of_a_dask_run_keeps_what_finished_and_resumes(tmp_path):
    """Ctrl-C while a LocalCluster runs the fits: exit 130, the finished fits written, the
    cluster's processes gone; --resume then runs only what had not finished."""
    import psutil

    out = tmp_path / "dask"
    base = [sys.executable, "-m", "bnn_models.cli", "run", *TEACHER, "--methods", "advi"]
    base += [*tiny_set("advi"), "--seeds", "4", "--out", str(out), "--no-progress", "--no-report"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*base, "--scheduler", "auto", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    children = []
    for line in proc.stdout:
        if "] ok in" in line:  # the first fit is written: interrupt the others
            children = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    finished = len(load_metrics(out)["fits"])
    assert 1 <= finished < 4 and not list(out.rglob(".*.tmp"))
    assert children, "the LocalCluster started no process"
    _, left = psutil.wait_procs(children, timeout=15)
    assert not left, f"cluster processes left running: {left}"
    again = subprocess.run(
        [*base, "--scheduler", "serial", "--resume"], capture_output=True, text=True, check=True
    )
    assert f"{4 - finished} fits to run" in again.stdout
    assert sorted(f["seed"] for f in load_metrics(out)["fits"]) == [0, 1, 2, 3]
