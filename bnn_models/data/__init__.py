"""Datasets: the published rupture split, a synthetic teacher network, and user tables."""

from __future__ import annotations

import os

from bnn_models.data._dataset import Dataset
from bnn_models.data.rupture import (
    DATA_DIR_ENV,
    RUPTURE_FEATURES,
    RUPTURE_FILES,
    RUPTURE_URL,
    fetch_rupture,
    load_rupture,
)
from bnn_models.data.shift import SHIFTS, Shift
from bnn_models.data.tables import load_table, read_table
from bnn_models.data.teacher import make_teacher
from bnn_models.errors import BadInput

__all__ = [
    "DATA_DIR_ENV",
    "RUPTURE_FEATURES",
    "RUPTURE_FILES",
    "RUPTURE_URL",
    "SHIFTS",
    "Dataset",
    "Shift",
    "fetch_rupture",
    "load_dataset",
    "load_rupture",
    "load_table",
    "make_teacher",
    "read_table",
]


def load_dataset(
    name: str = "rupture",
    *,
    data_dir: str | os.PathLike | None = None,
    data_file: str | os.PathLike | None = None,
    label: str | int = -1,
    rebalance: bool = False,
    seed: int = 0,
    n_train: int = 1600,
    n_test: int = 400,
    shift: str | None = None,
) -> Dataset:
    """Dispatch on a dataset name (``rupture``, ``teacher``) or a user file; ``shift``
    (rupture only) names one of :data:`SHIFTS`."""
    if shift is not None and (data_file is not None or name != "rupture"):
        raise BadInput(f"--shift {shift}: the named shifts are cuts of the rupture data only")
    if data_file is not None:
        return load_table(data_file, label=label, seed=seed)
    if name == "rupture":
        return load_rupture(data_dir, rebalance=rebalance, seed=seed, shift=shift)
    if name == "teacher":
        return make_teacher(n_train, n_test, seed=seed)
    raise BadInput(f"dataset: unknown name {name!r}; expected 'rupture', 'teacher' or --data FILE")
