"""Shared fixtures: a seeded RNG, tiny datasets and session-scoped small fits."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

# Tests check this project's seeding, not numba's last bits. With PyTensor's default
# fastmath flags, a function numba compiles rounds otherwise than the same function loaded
# from PyTensor's cache; two processes sharing a cold cache (make test's workers) then give
# one seed two NUTS paths, even inside one process (studies/nutpie_cost/README.md: same seed, same numbers).
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

# What one process builds for the whole session and the others load (the tiny fits, the
# report's saved run): make test's workers share one folder, made by the controlling
# process, inherited by the workers and removed when it exits (the pattern pytest-xdist's
# docs give for session fixtures that must run once: a file lock, then a file).
SHARED_ENV = "BNN_BENCH_TEST_SHARED"
if SHARED_ENV not in os.environ:
    os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="bnn-bench-tests-shared-")
    atexit.register(shutil.rmtree, os.environ[SHARED_ENV], True)

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


#: Tiny settings of other methods whose quick settings do not fit the tiny data (TINY itself
#: lists the three methods that runs of "the tiny methods" fit).
TINY_OTHERS: dict[str, dict] = {
    # a batch of a quarter of teacher_small's 200 rows: quick's 512 would cover them all
    "advi_minibatch": {
        "max_iter": 1500,
        "draws": 100,
        "window": 250,
        "n_hidden": 4,
        "batch_size": 50,
    },
}


def tiny(method: str) -> dict:
    """TINY's settings of ``method`` (its quick settings and 4 hidden units if not listed)."""
    from bnn_models.inference import METHODS

    own = TINY.get(method) or TINY_OTHERS.get(method)
    return own or {**METHODS[method].quick, "n_hidden": 4}


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


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def teacher_small():
    """200/100 rows from a 4-feature teacher network."""
    return make_teacher(200, 100, n_features=4, n_hidden=3, seed=3)


def build_once(name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` of the session's shared space, ``build(folder)`` run once.

    The first process (of make test's workers) to ask builds it under a file lock; the
    others wait for the lock and find it built. A build that raised leaves no folder, so
    the next process to ask tries again (and fails the same way, in its own test).
    """
    root = Path(os.environ[SHARED_ENV])
    folder, built = root / name, root / f"{name}.built"
    with FileLock(root / f"{name}.lock"):
        if not built.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            built.touch()
    return folder


class TinyFits(Mapping):
    """One tiny fit of every registered method on ``teacher_small`` (seed 1), made the
    first time a test asks for that method, by whichever worker asks first (saved with
    :func:`~bnn_models.inference.save_fit`; the others load it): each method is fitted
    once per session however the tests are spread over the workers."""

    def __init__(self, dataset) -> None:
        self._dataset = dataset
        self._fits: dict = {}

    def __getitem__(self, name: str):
        from bnn_models.inference import METHODS, load_fit, save_fit

        if name not in METHODS:
            raise KeyError(name)
        if (why := METHODS[name].unavailable()) is not None:
            pytest.skip(f"{name} cannot run here: {why}")  # e.g. no C++ compiler for Stan
        if name not in self._fits:

            def fit(folder: Path) -> None:
                result = METHODS[name](
                    dataset=self._dataset, seed=1, progressbar=False, **tiny(name)
                )
                save_fit(result, folder / "fit.nc")

            self._fits[name] = load_fit(build_once(f"tiny_fit-{name}", fit) / "fit.nc")
        return self._fits[name]

    def __iter__(self) -> Iterator[str]:
        from bnn_models.inference import METHODS

        return iter(list(METHODS))

    def __len__(self) -> int:
        from bnn_models.inference import METHODS

        return len(METHODS)


@pytest.fixture(scope="session")
def tiny_fits(teacher_small) -> TinyFits:
    """Each method's tiny fit on ``teacher_small`` (seed 1), fitted on first use."""
    return TinyFits(teacher_small)
