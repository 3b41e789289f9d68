"""Datasets: the published rupture split, a synthetic teacher network, and user tables."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pooch

__all__ = [
    "DATA_DIR_ENV",
    "RUPTURE_FEATURES",
    "RUPTURE_FILES",
    "RUPTURE_URL",
    "Dataset",
    "fetch_rupture",
    "load_dataset",
    "load_rupture",
    "load_table",
    "make_teacher",
    "read_table",
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


@dataclass(frozen=True)
class Dataset:
    """A standardised binary-classification split.

    Attributes
    ----------
    name : str
        ``"rupture"``, ``"teacher"`` or the user file's name.
    X_train, y_train, X_test, y_test : numpy.ndarray
        Standardised features (training statistics only) and 0/1 labels.
    feature_names : tuple of str
        One name per feature column.
    sha256 : dict
        SHA256 of every source file (or of the generating parameters for ``teacher``).
    rebalanced : bool
        Whether the minority class of the training set was upsampled.
    p_test_true : numpy.ndarray or None
        The true probability of label 1 for every test row, where known (teacher data).
    info : dict
        Provenance: source, seeds, standardisation statistics.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    sha256: dict[str, str]
    rebalanced: bool = False
    p_test_true: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.X_train.shape[1]

    def describe(self) -> dict:
        """Plain-JSON description for results metadata."""
        return {
            "name": self.name,
            "n_train": int(self.X_train.shape[0]),
            "n_test": int(self.X_test.shape[0]),
            "n_features": self.n_features,
            "feature_names": list(self.feature_names),
            "train_positive_rate": float(self.y_train.mean()),
            "test_positive_rate": float(self.y_test.mean()),
            "rebalanced": self.rebalanced,
            "sha256": dict(self.sha256),
            **self.info,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    ValueError
        A local file whose SHA256 differs from the pinned one.
    FileNotFoundError
        A local folder that lacks a file, or no network and no local copy.
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    paths: dict[str, Path] = {}
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"data directory {folder} (from --data-dir or ${DATA_DIR_ENV}) does not exist "
                "or is not a directory"
            )
        for name, expected in RUPTURE_FILES.items():
            path = folder / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path}: missing; put the rupture files {sorted(RUPTURE_FILES)} in "
                    f"{folder} (see README, 'Data')"
                )
            got = _sha256(path)
            if got != expected:
                raise ValueError(f"{path}: SHA256 mismatch: expected {expected}, got {got}")
            paths[name] = path
        return paths
    fetcher = pooch.create(
        path=pooch.os_cache("bnn-bench"), base_url=RUPTURE_URL, registry=dict(RUPTURE_FILES)
    )
    for name in RUPTURE_FILES:
        try:
            paths[name] = Path(fetcher.fetch(name))
        except ValueError as err:  # pooch's hash mismatch
            raise ValueError(f"{RUPTURE_URL}{name}: {err}") from err
        except Exception as err:  # network errors differ by backend
            raise FileNotFoundError(
                f"could not download {RUPTURE_URL}{name} ({type(err).__name__}: {err}). "
                f"Offline? Put the files {sorted(RUPTURE_FILES)} in a folder and point "
                f"${DATA_DIR_ENV} (or --data-dir) at it."
            ) from err
    return paths


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_table(
    path: str | os.PathLike,
    *,
    label: str | int = -1,
    n_columns: int | None = None,
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a CSV or whitespace-separated table of features and a 0/1 label.

    Parameters
    ----------
    path : path
        The file. Commas or whitespace separate cells.
    label : str or int
        Label column: its header name, or its index (default: the last column).
    n_columns : int, optional
        Required number of columns (checked on every row).
    header : bool, optional
        Whether the first row is a header. ``None`` detects it (a first row with a
        non-numeric cell is a header).

    Returns
    -------
    X : numpy.ndarray, shape (rows, features)
    y : numpy.ndarray of int, shape (rows,)
    feature_names : tuple of str

    Raises
    ------
    ValueError
        Naming the file, row, column and value of the first bad cell.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a data file")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such data file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read ({err})") from err
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: empty file, no rows")
    sep = "," if "," in lines[0][1] else None
    rows = [(n, [c.strip() for c in ln.split(sep)]) for n, ln in lines]
    first_numeric = all(_is_number(c) for c in rows[0][1])
    if header is None:
        header = not first_numeric
    if header:
        names = rows[0][1]
        if all(_is_number(c) for c in names):
            raise ValueError(f"{path}: row 1: expected a header, found numbers {names[:3]}...")
        rows = rows[1:]
    else:
        if not first_numeric:
            bad = next(c for c in rows[0][1] if not _is_number(c))
            raise ValueError(
                f"{path}: row 1: non-numeric value {bad!r} where no header is expected"
            )
        names = [f"x{j}" for j in range(len(rows[0][1]))]
    if not rows:
        raise ValueError(f"{path}: header only, no data rows")
    width = n_columns if n_columns is not None else len(names)
    if len(names) != width:
        raise ValueError(f"{path}: header has {len(names)} columns, expected {width}")
    values = np.empty((len(rows), width))
    for r, (lineno, cells) in enumerate(rows):
        if len(cells) != width:
            raise ValueError(
                f"{path}: row {lineno}: {len(cells)} columns, expected {width} "
                "(truncated or malformed line?)"
            )
        for c, cell in enumerate(cells):
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}: row {lineno}, column {names[c]!r}: non-numeric value {cell!r}"
                ) from None
            if not np.isfinite(v):
                raise ValueError(
                    f"{path}: row {lineno}, column {names[c]!r}: non-finite value {cell!r}"
                )
            values[r, c] = v
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        if label not in names:
            raise ValueError(f"{path}: label column {label!r} not found among {names}")
        li = names.index(label)
    else:
        li = int(label) % width
    y_raw = values[:, li]
    bad_rows = np.flatnonzero((y_raw != 0) & (y_raw != 1))
    if bad_rows.size:
        first = int(bad_rows[0])
        raise ValueError(
            f"{path}: row {rows[first][0]}, column {names[li]!r}: label {y_raw[first]:g} "
            "is not 0 or 1"
        )
    X = np.delete(values, li, axis=1)
    feature_names = tuple(n for j, n in enumerate(names) if j != li)
    seen: dict[bytes, int] = {}
    dups = 0
    for row in values:
        key = row.tobytes()
        dups += key in seen
        seen[key] = 1
    if dups:
        warnings.warn(f"{path}: {dups} duplicated rows (kept)", UserWarning, stacklevel=2)
    return X, y_raw.astype(np.int64), feature_names


def _standardise(
    X_train: np.ndarray, X_test: np.ndarray, names: tuple[str, ...], source: str
) -> tuple[np.ndarray, np.ndarray, dict]:
    mean = X_train.mean(axis=0)
    sd = X_train.std(axis=0)
    zero = np.flatnonzero(sd == 0)
    if zero.size:
        j = zero[0]
        raise ValueError(
            f"{source}: column {names[j]!r} is constant in the training rows "
            f"(value {mean[j]:g}, sd 0): it cannot be standardised"
        )
    stats = {"standardisation": {"mean": mean.tolist(), "sd": sd.tolist()}}
    return (X_train - mean) / sd, (X_test - mean) / sd, stats


def _check_two_classes(y: np.ndarray, source: str) -> None:
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"{source}: training labels hold one class only (all {int(classes[0])}): "
            "a classifier needs both 0 and 1"
        )


def _upsample(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(y, minlength=2)
    minority = int(np.argmin(counts))
    idx = np.flatnonzero(y == minority)
    extra = rng.choice(idx, size=counts.max() - counts.min(), replace=True)
    keep = np.concatenate([np.arange(y.size), extra])
    return X[keep], y[keep]


def load_rupture(
    data_dir: str | os.PathLike | None = None, *, rebalance: bool = False, seed: int = 0
) -> Dataset:
    """Load the published rupture split.

    Train is the train file stacked on the validate file (1,600 rows), test is the
    test file (400 rows), as in arXiv 1911.09660. Features are standardised with the
    training rows' mean and sd.

    Parameters
    ----------
    data_dir : path, optional
        Local folder with the three files (else ``$BNN_BENCH_DATA_DIR``, else download).
    rebalance : bool
        Upsample the minority class of the training rows to parity, as the study did.
        Off by default: it moves the base rate, and so the calibration on the test set.
    seed : int
        Seed of the upsampling draw.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load_rupture()  # doctest: +SKIP
    >>> ds.X_train.shape, ds.X_test.shape  # doctest: +SKIP
    ((1600, 8), (400, 8))
    """
    paths = fetch_rupture(data_dir)
    parts = {}
    for name, path in paths.items():
        X, y, _ = read_table(path, n_columns=len(RUPTURE_FEATURES) + 1, header=False)
        parts[name] = (X, y)
    X_train = np.vstack([parts["rupturemodel_train.txt"][0], parts["rupturemodel_validate.txt"][0]])
    y_train = np.concatenate(
        [parts["rupturemodel_train.txt"][1], parts["rupturemodel_validate.txt"][1]]
    )
    X_test, y_test = parts["rupturemodel_test.txt"]
    source = str(paths["rupturemodel_train.txt"].parent)
    _check_two_classes(y_train, source)
    if rebalance:
        X_train, y_train = _upsample(X_train, y_train, np.random.default_rng(seed))
    X_train, X_test, stats = _standardise(X_train, X_test, RUPTURE_FEATURES, source)
    return Dataset(
        name="rupture",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=RUPTURE_FEATURES,
        sha256={name: RUPTURE_FILES[name] for name in paths},
        rebalanced=rebalance,
        info={"source": RUPTURE_URL, "rebalance_seed": seed if rebalance else None, **stats},
    )


def make_teacher(
    n_train: int = 1600,
    n_test: int = 400,
    *,
    n_features: int = 8,
    n_hidden: int = 12,
    seed: int = 0,
    weight_scale: float = 1.0,
) -> Dataset:
    """Synthetic data from a fixed random ``n_features``-``n_hidden``-1 ReLU network.

    Features are standard normal; the teacher's weights are Normal(0, ``weight_scale``)
    drawn from ``seed``; each label is Bernoulli(sigmoid(teacher(x))). The true
    probability of every test row is returned in ``p_test_true``.

    Parameters
    ----------
    n_train, n_test : int
        Rows in each part.
    n_features, n_hidden : int
        Shape of the teacher network.
    seed : int
        Seeds the teacher's weights, the features and the labels.
    weight_scale : float
        Sd of the teacher's weights.

    Returns
    -------
    Dataset
    """
    if min(n_train, n_test, n_features, n_hidden) < 1:
        raise ValueError(
            f"teacher: sizes must be >= 1, got n_train={n_train}, n_test={n_test}, "
            f"n_features={n_features}, n_hidden={n_hidden}"
        )
    rng = np.random.default_rng(seed)
    W0 = rng.normal(0, weight_scale, (n_features, n_hidden))
    b0 = rng.normal(0, weight_scale, n_hidden)
    W1 = rng.normal(0, weight_scale * 2, n_hidden)
    b1 = rng.normal(0, weight_scale)
    X = rng.normal(size=(n_train + n_test, n_features))
    logit = np.maximum(X @ W0 + b0, 0) @ W1 + b1
    p = 1 / (1 + np.exp(-logit))
    y = (rng.uniform(size=p.size) < p).astype(np.int64)
    names = tuple(f"x{j}" for j in range(n_features))
    _check_two_classes(y[:n_train], "teacher")
    # The features are already standard normal: keep the teacher's function exact.
    params = f"teacher:{n_train}:{n_test}:{n_features}:{n_hidden}:{seed}:{weight_scale}"
    return Dataset(
        name="teacher",
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_test=X[n_train:],
        y_test=y[n_train:],
        feature_names=names,
        sha256={"teacher": hashlib.sha256(params.encode()).hexdigest()},
        p_test_true=p[n_train:],
        info={"source": params, "teacher_seed": seed},
    )


def load_table(
    path: str | os.PathLike,
    *,
    label: str | int = -1,
    test_path: str | os.PathLike | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a user's table of features and a 0/1 label, split and standardised.

    Parameters
    ----------
    path : path
        CSV or whitespace file; a header row is detected.
    label : str or int
        The label column's name or index.
    test_path : path, optional
        A separate test table with the same columns; otherwise a seeded random
        ``test_fraction`` of the rows is held out.
    test_fraction : float
        Share of rows held out when ``test_path`` is not given.
    seed : int
        Seed of the split.

    Returns
    -------
    Dataset
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    X, y, names = read_table(path, label=label)
    hashes = {Path(path).name: _sha256(Path(path))}
    if test_path is not None:
        X_test, y_test, names_test = read_table(test_path, label=label, n_columns=X.shape[1] + 1)
        hashes[Path(test_path).name] = _sha256(Path(test_path))
        X_train, y_train = X, y
    else:
        if len(y) < 4:
            raise ValueError(f"{path}: {len(y)} rows, need at least 4 to split train/test")
        perm = np.random.default_rng(seed).permutation(len(y))
        n_test = max(1, int(round(test_fraction * len(y))))
        X_test, y_test = X[perm[:n_test]], y[perm[:n_test]]
        X_train, y_train = X[perm[n_test:]], y[perm[n_test:]]
    _check_two_classes(y_train, str(path))
    X_train, X_test, stats = _standardise(X_train, X_test, names, str(path))
    return Dataset(
        name=Path(path).name,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=names,
        sha256=hashes,
        info={"source": str(path), "split_seed": seed, "label": str(label), **stats},
    )


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
) -> Dataset:
    """Dispatch on a dataset name (``rupture``, ``teacher``) or a user file."""
    if data_file is not None:
        return load_table(data_file, label=label, seed=seed)
    if name == "rupture":
        return load_rupture(data_dir, rebalance=rebalance, seed=seed)
    if name == "teacher":
        return make_teacher(n_train, n_test, seed=seed)
    raise ValueError(
        f"dataset: unknown name {name!r}; expected 'rupture', 'teacher' or --data FILE"
    )
