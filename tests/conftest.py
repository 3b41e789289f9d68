"""Shared fixtures: a seeded RNG, tiny datasets and session-scoped small fits."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Tests check this project's seeding, not numba's last bits. With PyTensor's default
# fastmath flags, a function numba compiles rounds otherwise than the same function loaded
# from PyTensor's cache; two processes sharing a cold cache (make test's workers) then give
# one seed two NUTS paths, even inside one process (README, "Same seed, same numbers").
# Set before PyTensor is imported; the CLI processes the tests start inherit it.
# A PYTENSOR_FLAGS that sets numba__fastmath itself is left as it is.
_FLAGS = os.environ.get("PYTENSOR_FLAGS", "")
if "numba__fastmath" not in _FLAGS:
    os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [_FLAGS, "numba__fastmath=False"]))
    import pytensor

    pytensor.config.numba__fastmath = False  # in case a plugin imported PyTensor first

# JAX compiles a NumPyro or BlackJAX fit anew in every fit (PyTensor and numba keep a disk
# cache, JAX does not unless asked): one cache for the whole session, shared by the
# workers and the CLI processes the tests start, all of which inherit the variables. A
# refit of the same model then loads the compiled code (the same numbers; a tiny NumPyro
# refit took 2.4 s against 7.0 s). Made by the first process (make test's controlling
# one), removed when it exits; a JAX_COMPILATION_CACHE_DIR already set is used as it is.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="bnn-bench-tests-jax-")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], True)

from bnn_models.data import DATA_DIR_ENV, make_teacher  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rupture"
if not os.environ.get(DATA_DIR_ENV) and SHARED_DATA.is_dir():
    # Offline machines: the rupture files beside the project (as .ci/run does).
    os.environ[DATA_DIR_ENV] = str(SHARED_DATA)

#: The one tiny configuration of every test that fits: seconds per method. Methods
#: registered later fall back to their own quick settings (see ``tiny``).
TINY: dict[str, dict] = {
    "nuts": {"draws": 100, "tune": 100, "chains": 2, "n_hidden": 4},
    "advi": {"max_iter": 1500, "draws": 100, "window": 250, "n_hidden": 4},
    "fullrank_advi": {
        "max_iter": 1500,
        "draws": 100,
        "window": 250,
        "n_hidden": 4,
        "learning_rate": 3e-3,
    },
}


def tiny(method: str) -> dict:
    """TINY's settings of ``method`` (its quick settings and 4 hidden units if not listed)."""
    from bnn_models.inference import METHODS

    return TINY.get(method) or {**METHODS[method].quick, "n_hidden": 4}


def tiny_set(*methods: str) -> list[str]:
    """``--set`` options of TINY's settings of ``methods`` for the CLI (the width goes by
    ``--hidden``; a ``--set`` of a method that is not run is refused)."""
    return [
        arg
        for m in methods
        for key, value in TINY[m].items()
        if key != "n_hidden"
        for arg in ("--set", f"{m}.{key}={value}")
    ]


def rupture_available() -> bool:
    """Whether the rupture files can be read without a network."""
    return bool(os.environ.get(DATA_DIR_ENV)) and Path(os.environ[DATA_DIR_ENV]).is_dir()


#: Seconds each xdist group took in a recorded run (``--store-group-durations``).
GROUP_DURATIONS = Path(__file__).with_name("group_durations.json")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-group-durations",
        action="store_true",
        help=f"under --dist loadgroup: write each group's seconds to {GROUP_DURATIONS.name}, "
        "the order in which the next runs hand the groups to the workers",
    )


def _group(item: pytest.Item) -> str:
    shares_fits = "tiny_fits" in getattr(item, "fixturenames", ())
    return "tiny_fits" if shares_fits else item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``: ``--dist loadgroup``), keep the tests that share
    an expensive fixture in one worker, so that no fixture is built twice: every test of
    ``tiny_fits`` (all methods fitted once) together, every other test with its module
    (module- and session-scoped fixtures of one file).

    The groups go to the workers longest first, by the seconds of a recorded run
    (:data:`GROUP_DURATIONS`; a group not in it counts as the median): a long group
    handed out last keeps one worker busy while the other idles (``make test`` passes
    ``--no-loadscope-reorder``, else xdist orders the groups by their number of tests).
    Every worker sorts the same collection the same way, as xdist requires."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    groups = {item.nodeid: _group(item) for item in items}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    seconds = _recorded_durations()
    if not seconds or not hasattr(config, "workerinput"):  # one process: in order
        return
    median = float(np.median(list(seconds.values())))
    items.sort(key=lambda it: (-seconds.get(groups[it.nodeid], median), groups[it.nodeid]))


def _recorded_durations() -> dict[str, float]:
    if not GROUP_DURATIONS.is_file():
        return {}
    return {str(k): float(v) for k, v in json.loads(GROUP_DURATIONS.read_text()).items()}


_RUN_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In the controlling process: add each phase's seconds to its group's (under
    loadgroup, xdist appends ``@group`` to the node ids of the workers' reports)."""
    if "@" in report.nodeid:
        group = report.nodeid.rsplit("@", 1)[1]
        _RUN_SECONDS[group] = _RUN_SECONDS.get(group, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if (
        not config.getoption("store_group_durations")
        or hasattr(config, "workerinput")  # a worker: the controlling process writes
        or not _RUN_SECONDS
    ):
        return
    from bnn_models.io import write_text

    text = json.dumps({g: round(s, 1) for g, s in sorted(_RUN_SECONDS.items())}, indent=1)
    write_text(GROUP_DURATIONS, text + "\n")


def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """Fail loudly if ``--dist loadgroup`` grouped nothing: under pytest 9.2, xdist 3.8's
    grouping silently has no effect (pytest-xdist#1386) and ``tiny_fits`` would be built
    in every worker. Runs in the controlling process, on each worker's collected ids."""
    if node.config.getvalue("dist") == "loadgroup" and ids and not any("@" in i for i in ids):
        raise pytest.UsageError(
            "--dist loadgroup grouped no test (pytest-xdist#1386 under pytest 9.2): keep "
            "pytest at the version requirements.txt pins, or run with TEST_WORKERS=0"
        )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def teacher_small():
    """200/100 rows from a 4-feature teacher network."""
    return make_teacher(200, 100, n_features=4, n_hidden=3, seed=3)


@pytest.fixture(scope="session")
def tiny_fits(teacher_small):
    """One tiny fit of every method on ``teacher_small`` (seed 1)."""
    from bnn_models.inference import METHODS

    return {
        name: method(dataset=teacher_small, seed=1, progressbar=False, **tiny(name))
        for name, method in METHODS.items()
    }
