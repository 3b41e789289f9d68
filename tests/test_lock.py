"""One writer per results folder: a second run is refused, naming the first; a killed
run's lock does not block the next one."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bnn_models.errors import BadInput
from bnn_models.lock import LOCK_NAME, FolderLocked, folder_lock, lock_holder
from bnn_models.schema import load_metrics
from tests.conftest import tiny_set

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ["--dataset", "teacher", "--n-train", "100", "--n-test", "50", "--hidden", "4"]

#: A process that takes a folder's lock through the library and holds it (not a fit).
HOLDER = textwrap.dedent(
    """
    import sys, time
    from bnn_models.lock import folder_lock
    with folder_lock(sys.argv[1], command="bnn-bench run --methods advi (the first run)"):
        print("locked", flush=True)
        time.sleep(600)
    """
)


@contextlib.contextmanager
def _holder(folder: Path) -> Iterator[subprocess.Popen]:
    """The holding process; killed with SIGKILL at the end (as the OOM killer would)."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as holder:
        try:
            yield holder
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "bnn_models.cli", "run", *TEACHER, "--methods", "advi"]
    args += [*tiny_set("advi"), "--out", str(out), "--no-progress", "--no-report", *extra]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_a_second_run_into_a_folder_being_written_is_refused_then_a_killed_runs_lock_is_not(
    tmp_path,
):
    out = tmp_path / "out"
    with _holder(out) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = _run(out)
        assert refused.returncode == 2, refused.stderr
        err = refused.stderr
        assert f"{out}: another run is writing this folder" in err
        assert f"pid {holder.pid} on {socket.gethostname()}" in err
        assert "bnn-bench run --methods advi (the first run)" in err and "started 20" in err
        assert "Traceback" not in err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    stale = lock_holder(out / LOCK_NAME)
    assert stale is not None and stale["pid"] == holder.pid  # its name is left behind ...
    resumed = _run(out, "--resume")  # ... and does not block
    assert resumed.returncode == 0, resumed.stderr
    assert [f["status"] for f in load_metrics(out)["fits"]] == ["ok"]
    assert not (out / LOCK_NAME).exists()  # released: the folder holds results only


def test_the_lock_names_its_holder_and_is_released(tmp_path):
    with folder_lock(tmp_path / "a" / "b", command="cmd") as path:
        info = json.loads(path.read_text())
        assert info["pid"] == os.getpid() and info["command"] == "cmd"
        assert info["host"] == socket.gethostname()
        with folder_lock(tmp_path / "a" / "b"):  # this process again: nested, goes on
            pass
        assert path.exists()
    assert not path.exists()
    assert not (tmp_path / "a").exists()  # created for the lock, left empty: removed


def test_a_lock_held_by_another_process_is_folder_locked_a_bad_input(tmp_path):
    with _holder(tmp_path) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLocked, match=f"pid {holder.pid}") as raised:
            with folder_lock(tmp_path):
                pass
        assert isinstance(raised.value, BadInput)
    with folder_lock(tmp_path):  # the kernel released the dead holder's lock
        pass
