"""The published rupture split of arXiv 1911.09660: pinned files, fetched and verified."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pooch

from bnn_models.data._dataset import Dataset, _check_two_classes, _standardise, _upsample
from bnn_models.data.shift import SHIFTS, shift_rows
from bnn_models.data.tables import _MissingInput, _read_table, _Table, _where_rows
from bnn_models.errors import BadInput

__all__ = [
    "DATA_DIR_ENV",
    "RUPTURE_FEATURES",
    "RUPTURE_FILES",
    "RUPTURE_URL",
    "fetch_rupture",
    "load_rupture",
]

#: Environment variable naming a local folder that holds the rupture files.
DATA_DIR_ENV = "BNN_BENCH_DATA_DIR"

#: Pinned raw-file address (commit 876f31d of msahamed/machine_learning_earthquake_rupture).
RUPTURE_URL = (
    "https://raw.githubusercontent.com/msahamed/machine_learning_earthquake_rupture/"
    "876f31d1fe9ae824289ef3deb63e01eecbbcfd47/data/"
)

#: SHA256 of each rupture file, from the data's SHA256SUMS.
RUPTURE_FILES: dict[str, str] = {
    "rupturemodel_train.txt": "ad9e8d98e7dc513df268b2ae2ad097b84d527323f5cc329e3400919a01657d06",
    "rupturemodel_validate.txt": "d14ad1b12856e596a85ef63ac1d72369454dc6a05e0893833a8edf6bfb71d0cd",
    "rupturemodel_test.txt": "5bdc7d6e666b096a0c54accb85e9bf2659204ce1e1cb56c1f13516be1c15a844",
}

RUPTURE_FEATURES = ("height", "width", "sxx", "sxy", "syy", "sdrop", "mud", "dc")


def fetch_rupture(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Return verified local paths of the three rupture files.

    Parameters
    ----------
    data_dir : path, optional
        Folder holding the files. Defaults to ``$BNN_BENCH_DATA_DIR``; when neither is
        set, the files are downloaded with pooch from the pinned address into pooch's
        cache and verified by SHA256.

    Returns
    -------
    dict
        File name -> local path.

    Raises
    ------
    BadInput
        A file whose SHA256 differs from the pinned one; a local folder that is missing
        or lacks a file, or no network and no local copy (these are also
        ``FileNotFoundError``).
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    paths: dict[str, Path] = {}
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise _MissingInput(
                f"data directory {folder} (from --data-dir or ${DATA_DIR_ENV}) does not exist "
                "or is not a directory"
            )
        for name, expected in RUPTURE_FILES.items():
            path = folder / name
            if not path.is_file():
                raise _MissingInput(
                    f"{path}: missing; put the rupture files {sorted(RUPTURE_FILES)} in "
                    f"{folder} (see docs/getting-started.md, 'The data')"
                )
            got = pooch.file_hash(str(path), alg="sha256")
            if got != expected:
                raise BadInput(f"{path}: SHA256 mismatch: expected {expected}, got {got}")
            paths[name] = path
        return paths
    fetcher = pooch.create(
        path=pooch.os_cache("bnn-bench"), base_url=RUPTURE_URL, registry=dict(RUPTURE_FILES)
    )
    for name in RUPTURE_FILES:
        try:
            paths[name] = Path(fetcher.fetch(name))
        except ValueError as err:  # pooch's hash mismatch
            raise BadInput(f"{RUPTURE_URL}{name}: {err}") from err
        except Exception as err:  # network errors differ by backend
            raise _MissingInput(
                f"could not download {RUPTURE_URL}{name} ({type(err).__name__}: {err}). "
                f"Offline? Put the files {sorted(RUPTURE_FILES)} in a folder and point "
                f"${DATA_DIR_ENV} (or --data-dir) at it."
            ) from err
    return paths


def load_rupture(
    data_dir: str | os.PathLike | None = None,
    *,
    rebalance: bool = False,
    seed: int = 0,
    shift: str | None = None,
) -> Dataset:
    """Load the published rupture split, or a named shift of the pooled rows.

    Train is the train file stacked on the validate file (1,600 rows), test is the
    test file (400 rows), as in arXiv 1911.09660. Features are standardised with the
    training rows' mean and sd. With ``shift`` (a name of
    :data:`bnn_models.data.shift.SHIFTS`) the three files are pooled and cut by
    :func:`~bnn_models.data.shift.shift_rows` instead; ``test_shifted`` marks the test
    rows outside the training range of the shift's feature.

    Parameters
    ----------
    data_dir : path, optional
        Local folder with the three files (else ``$BNN_BENCH_DATA_DIR``, else download).
    rebalance : bool
        Upsample the minority class of the training rows to parity, as the study did.
        Off by default: it moves the base rate, and so the calibration on the test set.
    seed : int
        Seed of the upsampling draw (``sklearn.utils.resample``), or of a shift's draw of
        in-distribution test rows.
    shift : str, optional
        A named shift (not with ``rebalance``).

    Returns
    -------
    Dataset

    Raises
    ------
    BadInput
        Missing or altered files (see :func:`fetch_rupture`), a bad cell, an unknown
        shift name.

    Examples
    --------
    >>> ds = load_rupture()  # doctest: +SKIP
    >>> ds.X_train.shape, ds.X_test.shape  # doctest: +SKIP
    ((1600, 8), (400, 8))
    """
    paths = fetch_rupture(data_dir)
    parts = {
        name: _read_table(path, n_columns=len(RUPTURE_FEATURES) + 1, header=False)
        for name, path in paths.items()
    }
    train = [parts["rupturemodel_train.txt"], parts["rupturemodel_validate.txt"]]
    test = parts["rupturemodel_test.txt"]
    if shift is not None:
        if rebalance:
            raise BadInput("rupture: a shift and rebalance cannot be combined")
        return _shifted(paths, [*train, test], shift, seed)
    X_train = np.vstack([t.X for t in train])
    y_train = np.concatenate([t.y for t in train])
    source = str(paths["rupturemodel_train.txt"].parent)
    _check_two_classes(y_train, source)
    rows = _upsample(y_train, seed) if rebalance else np.arange(y_train.size)
    X_train, y_train = X_train[rows], y_train[rows]
    X_train, X_test, stats = _standardise(
        X_train,
        test.X,
        RUPTURE_FEATURES,
        source,
        _where_rows(train, rows),
        _where_rows([test], np.arange(test.y.size)),
    )
    return Dataset(
        name="rupture",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=test.y,
        feature_names=RUPTURE_FEATURES,
        sha256={name: RUPTURE_FILES[name] for name in paths},
        rebalanced=rebalance,
        info={"source": RUPTURE_URL, "rebalance_seed": seed if rebalance else None, **stats},
    )


def _shifted(paths: dict[str, Path], tables: list[_Table], name: str, seed: int) -> Dataset:
    """The pooled rows (train, validate, test files) cut by the named shift."""
    if name not in SHIFTS:
        raise BadInput(f"rupture: unknown shift {name!r}; expected one of {', '.join(SHIFTS)}")
    X = np.vstack([t.X for t in tables])
    y = np.concatenate([t.y for t in tables])
    train, test_in, test_out, info = shift_rows(X, RUPTURE_FEATURES, SHIFTS[name], seed)
    test = np.concatenate([test_in, test_out])
    source = str(paths["rupturemodel_train.txt"].parent)
    _check_two_classes(y[train], source)
    X_train, X_test, stats = _standardise(
        X[train],
        X[test],
        RUPTURE_FEATURES,
        source,
        _where_rows(tables, train),
        _where_rows(tables, test),
    )
    return Dataset(
        name="rupture",
        X_train=X_train,
        y_train=y[train],
        X_test=X_test,
        y_test=y[test],
        feature_names=RUPTURE_FEATURES,
        sha256={name: RUPTURE_FILES[name] for name in paths},
        test_shifted=np.arange(test.size) >= test_in.size,
        info={"source": RUPTURE_URL, "rebalance_seed": None, "shift": info, **stats},
    )
