"""Shared fixtures: a seeded RNG, tiny datasets and session-scoped small fits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bnn_models.data import DATA_DIR_ENV, make_teacher

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
