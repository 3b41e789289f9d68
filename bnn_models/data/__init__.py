"""Datasets: the published rupture split, a synthetic teacher network, and user tables.

Named datasets are registered in :data:`DATASETS` (:mod:`bnn_models.data.registry`).
"""

from __future__ import annotations

from bnn_models.data._dataset import Dataset
from bnn_models.data.registry import (
    DATASET_OPTIONS,
    DATASETS,
    DatasetSpec,
    get_dataset,
    load_dataset,
    register_dataset,
    unregister_dataset,
)
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

__all__ = [
    "DATASETS",
    "DATASET_OPTIONS",
    "DATA_DIR_ENV",
    "RUPTURE_FEATURES",
    "RUPTURE_FILES",
    "RUPTURE_URL",
    "SHIFTS",
    "Dataset",
    "DatasetSpec",
    "Shift",
    "fetch_rupture",
    "get_dataset",
    "load_dataset",
    "load_rupture",
    "load_table",
    "make_teacher",
    "read_table",
    "register_dataset",
    "unregister_dataset",
]
