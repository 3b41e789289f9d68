"""make test's scheduling, in real pytest-xdist runs of a copy of ``tests/conftest.py``:
``--store-group-durations`` records each group's seconds (a module, or every test of
``tiny_fits`` together), and the next runs hand the groups out longest first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

#: Each test appends its name to $ORDER_FILE; ``tiny_fits`` is overridden (no fits).
HEADER = """
import os, time
import pytest

@pytest.fixture
def tiny_fits():
    return {}

def _log(name):
    with open(os.environ["ORDER_FILE"], "a") as f:
        f.write(name + "\\n")
"""
TEST_FILES = {
    "test_long.py": HEADER
    + """
def test_long_sleeps():
    _log("long")
    time.sleep(0.6)

def test_long_shares_the_fits(tiny_fits):
    _log("long-fits")
    time.sleep(0.2)
""",
    "test_short.py": HEADER
    + """
def test_short_one():
    _log("short")

def test_short_two():
    _log("short")

def test_short_shares_the_fits(tiny_fits):
    _log("short-fits")
""",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with this suite's conftest and the two modules above."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(CONFTEST, tests / "conftest.py")
    for name, text in TEST_FILES.items():
        (tests / name).write_text(text)
    return tmp_path


def run_xdist(project: Path, workers: int, *args: str) -> list[str]:
    """Run the project's tests under ``--dist loadgroup`` as ``make test`` does; return
    the order in which the tests ran (meaningful with one worker)."""
    order = project / "order.txt"
    order.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "XDIST_"))}
    env["ORDER_FILE"] = str(order)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    cmd += [f"--numprocesses={workers}", "--dist", "loadgroup", "--no-loadscope-reorder"]
    proc = subprocess.run(
        [*cmd, *args, "tests"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return order.read_text().split()


def test_the_recorded_groups_are_the_modules_and_the_shared_fits(project):
    run_xdist(project, 2, "--store-group-durations")
    seconds = json.loads((project / "tests" / "group_durations.json").read_text())
    assert set(seconds) == {"tests/test_long.py", "tests/test_short.py", "tiny_fits"}
    assert seconds["tests/test_long.py"] >= 0.6  # its one test sleeps 0.6 s
    assert seconds["tiny_fits"] >= 0.2  # both modules' tests of tiny_fits, together
    assert seconds["tests/test_short.py"] < 0.5


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        # collection order (test_long.py first) turned around by the recorded seconds
        (
            {"tests/test_short.py": 9.0, "tiny_fits": 5.0, "tests/test_long.py": 1.0},
            ["short", "short", "long-fits", "short-fits", "long"],
        ),
        (
            {"tiny_fits": 9.0, "tests/test_long.py": 5.0, "tests/test_short.py": 1.0},
            ["long-fits", "short-fits", "long", "short", "short"],
        ),
        # a group not recorded counts as the median of those that are (5 s here)
        (
            {"tests/test_short.py": 9.0, "tests/test_long.py": 1.0},
            ["short", "short", "long-fits", "short-fits", "long"],
        ),
    ],
)
def test_the_workers_take_the_groups_longest_first(project, recorded, expected):
    (project / "tests" / "group_durations.json").write_text(json.dumps(recorded))
    assert run_xdist(project, 1) == expected
