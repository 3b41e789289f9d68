"""Datasets: the published rupture split, a synthetic teacher network, and user tables."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import resample

from bnn_models.errors import BadInput

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


class _MissingInput(BadInput, FileNotFoundError):
    """A file or folder the user named is missing, or the download is impossible.

    A :class:`BadInput` (exit 2 from the command line) that stays a ``FileNotFoundError``
    for callers that catch that.
    """


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
                    f"{folder} (see README, 'Data')"
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


@dataclass(frozen=True)
class _Table:
    """A parsed table and where each of its rows and cells came from."""

    path: Path
    X: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    lines: np.ndarray  # 1-based line number in the file of every row
    cells: np.ndarray  # the feature cells as written in the file (object array, X's shape)

    def where(self, row: int, col: int) -> str:
        """``"FILE: row LINE, column 'NAME': value 'CELL'"`` for one feature cell."""
        return (
            f"{self.path}: row {self.lines[row]}, column {self.names[col]!r}: "
            f"value {str(self.cells[row, col])!r}"
        )


#: Locates cell ``(row, column)`` of a feature matrix in its file, for messages.
_Where = Callable[[int, int], str]


def _where_rows(tables: Sequence[_Table], rows: np.ndarray) -> _Where:
    """Locator for ``numpy.vstack([t.X for t in tables])[rows]``."""
    starts = np.cumsum([0] + [len(t.y) for t in tables])

    def where(i: int, j: int) -> str:
        r = int(rows[i])
        k = int(np.searchsorted(starts, r, side="right")) - 1
        return tables[k].where(r - int(starts[k]), j)

    return where


def _numbers(cells: pd.Series) -> np.ndarray:
    """The cells as float64 (NaN where pandas cannot read a number)."""
    return pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)


def _float_literal(cell: object) -> bool:
    """Whether Python reads ``cell`` as a float (``nan`` and ``inf`` included)."""
    try:
        float(str(cell))
    except ValueError:
        return False
    return True


def _read_cells(path: Path, lines: Sequence[str], sep: str) -> pd.DataFrame:
    """The cells of ``lines`` as stripped text, one frame column per table column."""
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep=sep,
            header=None,
            dtype=object,
            na_filter=False,  # "nan", "NA" and "" stay text: refused below by name
            skipinitialspace=True,
            skip_blank_lines=True,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as err:
        raise BadInput(f"{path}: cannot parse as a table ({err})") from err
    return frame.apply(lambda col: col.map(lambda c: str(c).strip()))


def _n_cells(line: str, sep: str) -> int:
    """Cells on one line, split as ``pandas.read_csv`` splits it (quotes honoured)."""
    if sep == ",":
        return len(next(csv.reader([line], skipinitialspace=True)))
    return len(
        next(csv.reader([line.replace("\t", " ").strip()], delimiter=" ", skipinitialspace=True))
    )


def _read_table(
    path: str | os.PathLike,
    *,
    label: str | int = -1,
    n_columns: int | None = None,
    header: bool | None = None,
) -> _Table:
    """:func:`read_table`, keeping the line number and text of every cell."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path}: is a directory, expected a data file")
    if not path.exists():
        raise _MissingInput(f"{path}: no such data file")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark is dropped
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from err
    # read_csv skips blank lines; drop them here to keep every row's line in the file.
    numbered = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not numbered:
        raise BadInput(f"{path}: empty file, no rows")
    sep = "," if "," in numbered[0][1] else r"\s+"
    first_line, first = numbered[0]
    first_cells = _read_cells(path, [first], sep).iloc[0]
    first_numeric = np.isfinite(_numbers(first_cells)) | first_cells.map(_float_literal)
    if header is None:
        header = not bool(first_numeric.all())
    if header:
        names = [str(c) for c in first_cells]
        if bool(first_numeric.all()):
            raise BadInput(
                f"{path}: row {first_line}: expected a header, found numbers {names[:3]}..."
            )
        numbered = numbered[1:]
    else:
        if not bool(first_numeric.all()):
            bad = first_cells[~first_numeric].iloc[0]
            raise BadInput(
                f"{path}: row {first_line}: non-numeric value {bad!r} where no header is expected"
            )
    if not numbered:
        raise BadInput(f"{path}: header only, no data rows")
    width = n_columns if n_columns is not None else len(first_cells)
    if header and len(names) != width:
        raise BadInput(f"{path}: header has {len(names)} columns, expected {width}")
    if not header:  # the first row is data: its cell count is checked below
        names = [f"x{j}" for j in range(width)]
    # A row with the wrong number of cells: read_csv fails on too many and pads too few,
    # so count them; cells before that row are still checked first, as they come first.
    counts = [_n_cells(ln, sep) for _, ln in numbered]
    short = next((r for r, n in enumerate(counts) if n != width), None)
    good = numbered if short is None else numbered[:short]
    cells = np.empty((0, width), dtype=object)
    values = np.empty((0, width))
    if good:
        frame = _read_cells(path, [ln for _, ln in good], sep)
        if frame.shape != (len(good), width):  # a quoting case the count above misread
            raise BadInput(
                f"{path}: cannot parse as a table: read {frame.shape[0]} rows of "
                f"{frame.shape[1]} cells, expected {len(good)} of {width}"
            )
        cells = frame.to_numpy(dtype=object)
        values = np.column_stack([_numbers(frame[c]) for c in frame.columns])
    bad_cells = np.argwhere(~np.isfinite(values))  # row-major: the first bad cell first
    if bad_cells.size:
        r, c = (int(k) for k in bad_cells[0])
        cell = str(cells[r, c])
        lineno = good[r][0]
        # "nan", "inf", "1e999" are numbers that are not finite; "x", "" are no numbers.
        infinite = _float_literal(cell) and not np.isfinite(float(cell))
        what = "non-finite" if infinite else "non-numeric"
        raise BadInput(f"{path}: row {lineno}, column {names[c]!r}: {what} value {cell!r}")
    if short is not None:
        lineno = numbered[short][0]
        raise BadInput(
            f"{path}: row {lineno}: {counts[short]} columns, expected {width} "
            "(truncated or malformed line?)"
        )
    lines = np.array([n for n, _ in good], dtype=np.int64)
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        if label not in names:
            raise BadInput(f"{path}: label column {label!r} not found among {names}")
        li = names.index(label)
    else:
        li = int(label) % width
    y_raw = values[:, li]
    bad_rows = np.flatnonzero((y_raw != 0) & (y_raw != 1))
    if bad_rows.size:
        first_bad = int(bad_rows[0])
        raise BadInput(
            f"{path}: row {lines[first_bad]}, column {names[li]!r}: "
            f"label {y_raw[first_bad]:g} is not 0 or 1"
        )
    dups = int(pd.DataFrame(values).duplicated().sum())
    if dups:
        warnings.warn(f"{path}: {dups} duplicated rows (kept)", UserWarning, stacklevel=3)
    return _Table(
        path=path,
        X=np.delete(values, li, axis=1),
        y=y_raw.astype(np.int64),
        names=tuple(n for j, n in enumerate(names) if j != li),
        lines=lines,
        cells=np.delete(cells, li, axis=1),
    )


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
        The file (UTF-8, with or without a byte-order mark; any line ending). Cells are
        separated by commas when the first non-blank line has one, else by whitespace;
        quoted cells (``"label"``, ``"1.5"``) are read unquoted. Blank lines are skipped.
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
    BadInput
        Naming the file, row (its line in the file), column and value of the first bad
        cell: non-numeric, non-finite (``nan``, ``inf``), a label not 0 or 1, or a row
        with the wrong number of cells. A missing file is also a ``FileNotFoundError``.

    Warns
    -----
    UserWarning
        When rows are duplicated (they are kept).
    """
    table = _read_table(path, label=label, n_columns=n_columns, header=header)
    return table.X, table.y, table.names


def _standardise(
    X_train: np.ndarray,
    X_test: np.ndarray,
    names: tuple[str, ...],
    source: str,
    where_train: _Where,
    where_test: _Where,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Standardise both parts with the training rows' mean and population sd.

    StandardScaler gives the same bits as ``(X - X_train.mean(0)) / X_train.std(0)`` on
    the rupture split (checked when this moved to scikit-learn); its near-constant
    columns (whose scale it silently sets to 1) and overflowing columns are refused here.
    """
    scaler = StandardScaler()
    with np.errstate(over="ignore", invalid="ignore"):
        scaler.fit(X_train)
        mean = np.asarray(scaler.mean_, dtype=np.float64)
        sd = np.sqrt(np.asarray(scaler.var_, dtype=np.float64))
        # A mean or sd that overflows, or a mean whose square does (scikit-learn's test
        # for near-constant columns squares it): the column would silently turn to zeros.
        huge = ~np.isfinite(mean) | ~np.isfinite(sd) | ~np.isfinite(mean * mean)
    if huge.any():
        j = int(np.flatnonzero(huge)[0])
        i = int(np.argmax(np.abs(X_train[:, j])))  # the largest value is the culprit
        part = "sd" if np.isfinite(mean[j]) and not np.isfinite(sd[j]) else "mean or sd"
        raise BadInput(
            f"{where_train(i, j)} is too large to standardise (the column's {part} overflows)"
        )
    # scikit-learn sets the scale of a (near-)constant column to 1 instead of failing.
    constant = np.asarray(scaler.scale_) != sd
    if constant.any():
        j = int(np.flatnonzero(constant)[0])
        col = X_train[:, j]
        if col.min() == col.max():
            raise BadInput(
                f"{source}: column {names[j]!r} is constant in the training rows "
                f"(value {col[0]:g}, sd 0): it cannot be standardised"
            )
        raise BadInput(
            f"{source}: column {names[j]!r} is constant in the training rows up to rounding "
            f"(values {col.min():g} to {col.max():g}, sd {sd[j]:g}): it cannot be standardised"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        Z_train = scaler.transform(X_train)
        Z_test = scaler.transform(X_test)
    for Z, where in ((Z_train, where_train), (Z_test, where_test)):
        bad = np.argwhere(~np.isfinite(Z))
        if bad.size:
            i, j = (int(k) for k in bad[0])
            raise BadInput(
                f"{where(i, j)} is too large to standardise (with the training rows' mean "
                f"{mean[j]:g} and sd {sd[j]:g} it overflows)"
            )
    stats = {"standardisation": {"mean": mean.tolist(), "sd": sd.tolist()}}
    return Z_train, Z_test, stats


def _check_two_classes(y: np.ndarray, source: str) -> None:
    classes = np.unique(y)
    if classes.size == 0:
        raise BadInput(f"{source}: no training rows")
    if classes.size < 2:
        raise BadInput(
            f"{source}: training labels hold one class only (all {int(classes[0])}): "
            "a classifier needs both 0 and 1"
        )


def _upsample(y: np.ndarray, seed: int) -> np.ndarray:
    """Row indices that upsample the minority class to parity: all rows, then draws."""
    counts = np.bincount(y, minlength=2)
    minority = int(np.argmin(counts))
    keep = np.arange(y.size)
    n_extra = int(counts.max() - counts.min())
    if n_extra == 0:
        return keep
    extra = resample(
        np.flatnonzero(y == minority), replace=True, n_samples=n_extra, random_state=seed
    )
    return np.concatenate([keep, extra])


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
        Seed of the upsampling draw (``sklearn.utils.resample``).

    Returns
    -------
    Dataset

    Raises
    ------
    BadInput
        Missing or altered files (see :func:`fetch_rupture`), or a bad cell.

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
        raise BadInput(
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
    # Not scipy.special.expit: it differs from this formula in the last bit (up to 2.2e-16)
    # and the teacher's probabilities and labels are kept bit-identical to earlier runs.
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
        Share of rows held out when ``test_path`` is not given (rounded to whole rows,
        at least one).
    seed : int
        Seed of the split (``sklearn.model_selection.train_test_split``).

    Returns
    -------
    Dataset

    Raises
    ------
    BadInput
        A bad file or cell (see :func:`read_table`), a ``test_fraction`` outside (0, 1),
        too few rows to split, one class only in the training rows, or a feature that
        cannot be standardised (constant, or too large).
    """
    if not 0 < test_fraction < 1:
        raise BadInput(f"test_fraction must lie in (0, 1), got {test_fraction}")
    table = _read_table(path, label=label)
    names = table.names
    hashes = {Path(path).name: pooch.file_hash(str(path), alg="sha256")}
    if test_path is not None:
        test = _read_table(test_path, label=label, n_columns=table.X.shape[1] + 1)
        hashes[Path(test_path).name] = pooch.file_hash(str(test_path), alg="sha256")
        idx_train = np.arange(table.y.size)
        idx_test = np.arange(test.y.size)
    else:
        n = table.y.size
        if n < 4:
            raise BadInput(f"{path}: {n} rows, need at least 4 to split train/test")
        n_test = max(1, int(round(test_fraction * n)))
        if n_test >= n:
            raise BadInput(
                f"{path}: {n} rows with test_fraction {test_fraction} leave no training rows"
            )
        idx_train, idx_test = train_test_split(
            np.arange(n), test_size=n_test, random_state=seed, shuffle=True
        )
        test = table
    y_train, y_test = table.y[idx_train], test.y[idx_test]
    _check_two_classes(y_train, str(path))
    X_train, X_test, stats = _standardise(
        table.X[idx_train],
        test.X[idx_test],
        names,
        str(path),
        _where_rows([table], idx_train),
        _where_rows([test], idx_test),
    )
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
    raise BadInput(f"dataset: unknown name {name!r}; expected 'rupture', 'teacher' or --data FILE")
