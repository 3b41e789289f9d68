"""The dataset registry: one :class:`DatasetSpec` per named dataset, as methods have theirs.

Adding a dataset is one loader function and one :func:`register_dataset` call; the CLI's
``--dataset``, a sweep grid's ``[[datasets]] name`` and the gate's fresh runs look the
name up here, and pass the loader the options it says it takes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from bnn_models.data._dataset import Dataset
from bnn_models.data.rupture import load_rupture
from bnn_models.data.tables import load_table
from bnn_models.data.teacher import make_teacher
from bnn_models.errors import BadInput

__all__ = [
    "DATASETS",
    "DATASET_OPTIONS",
    "DatasetSpec",
    "get_dataset",
    "load_dataset",
    "register_dataset",
    "unregister_dataset",
]

#: The options :func:`load_dataset` can pass a loader (a spec names those it takes).
DATASET_OPTIONS: dict[str, str] = {
    "data_dir": "local folder with the data files (else $BNN_BENCH_DATA_DIR, else download)",
    "rebalance": "upsample the training minority class",
    "seed": "seed of generated data, splits and upsampling (--data-seed)",
    "n_train": "training rows of generated data",
    "n_test": "test rows of generated data",
    "shift": "a named shift (bnn_models.data.SHIFTS): train inside, test inside and outside",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    Attributes
    ----------
    name : str
        Registry key (``--dataset NAME``, ``[[datasets]] name = NAME``).
    description : str
        One line: what the data are.
    loader : callable
        ``loader(**options) -> Dataset``, called with the options of ``options`` only.
    options : tuple of str
        The keywords of :data:`DATASET_OPTIONS` it takes; a grid key or a ``shift`` of
        another option is refused.
    """

    name: str
    description: str
    loader: Callable[..., Dataset]
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if unknown := sorted(set(self.options) - set(DATASET_OPTIONS)):
            raise ValueError(
                f"dataset {self.name!r}: unknown option {unknown[0]!r}; expected some of "
                f"{', '.join(DATASET_OPTIONS)}"
            )


def _rupture(**options: object) -> Dataset:
    data_dir = options.pop("data_dir", None)
    return load_rupture(data_dir, **options)  # type: ignore[arg-type]


#: The registry: dataset name -> spec, in the order help texts list them.
DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec(
            "rupture",
            "the published earthquake-rupture split (arXiv 1911.09660): 1,600 train, 400 test "
            "rows, 8 features; or a named shift of its pooled rows",
            _rupture,
            ("data_dir", "rebalance", "seed", "shift"),
        ),
        DatasetSpec(
            "teacher",
            "synthetic labels from a fixed random 8-12-1 ReLU network: true probabilities known",
            make_teacher,
            ("n_train", "n_test", "seed"),
        ),
    )
}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS` (e.g. data of your own, from a notebook).

    Raises
    ------
    ValueError
        A dataset of that name is already registered.
    """
    if spec.name in DATASETS:
        raise ValueError(f"a dataset named {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


def unregister_dataset(name: str) -> None:
    """Remove a dataset added with :func:`register_dataset`."""
    DATASETS.pop(name, None)


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset ``name``.

    Raises
    ------
    BadInput
        No such dataset; the message lists the registered names.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise BadInput(
            f"dataset: unknown name {name!r}; expected one of {', '.join(map(repr, DATASETS))} "
            "or --data FILE"
        ) from None


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
    """Load a registered dataset by name (:data:`DATASETS`), or a user file.

    Each loader gets the options its spec takes; the others are not its concern (the CLI
    passes every option), except ``shift``, which a dataset without shifts refuses.

    Raises
    ------
    BadInput
        An unknown name (the message lists the registered ones), a shift of a dataset
        without shifts or of a user file, or the loader's own refusals.

    Examples
    --------
    >>> load_dataset("teacher", n_train=100, n_test=50).X_train.shape
    (100, 8)
    """
    if data_file is not None:
        if shift is not None:
            raise BadInput(f"--shift {shift}: a user file has no named shifts")
        return load_table(data_file, label=label, seed=seed)
    spec = get_dataset(name)
    if shift is not None and "shift" not in spec.options:
        have = [n for n, s in DATASETS.items() if "shift" in s.options]
        raise BadInput(
            f"--shift {shift}: dataset {name!r} has no named shifts "
            f"(datasets with shifts: {', '.join(have) or 'none'})"
        )
    given = {
        "data_dir": data_dir,
        "rebalance": rebalance,
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "shift": shift,
    }
    return spec.loader(**{k: given[k] for k in spec.options})
