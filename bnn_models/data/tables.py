"""Reading user tables of features and a 0/1 label, with the file line of every cell."""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
from sklearn.model_selection import train_test_split

from bnn_models.data._dataset import Dataset, _check_two_classes, _standardise, _Where
from bnn_models.errors import BadInput

__all__ = ["load_table", "read_table"]


class _MissingInput(BadInput, FileNotFoundError):
    """A file or folder the user named is missing, or the download is impossible.

    A :class:`BadInput` (exit 2 from the command line) that stays a ``FileNotFoundError``
    for callers that catch that.
    """


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
