"""User tables read with pandas: quoting, encodings, line numbers, overflow, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bnn_models.data import (
    fetch_rupture,
    load_dataset,
    load_table,
    make_teacher,
    read_table,
)
from bnn_models.errors import BadInput


def _write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_quoted_header_csv_finds_the_label_by_name(tmp_path):
    path = _write(tmp_path, '"a","b","label"\n"1.5",2,0\n3,"-4e-3",1\n')
    X, y, names = read_table(path, label="label")
    assert names == ("a", "b")
    np.testing.assert_array_equal(X, [[1.5, 2.0], [3.0, -0.004]])
    np.testing.assert_array_equal(y, [0, 1])
    assert y.dtype == np.int64


def test_quoted_header_with_spaces_after_commas(tmp_path):
    path = _write(tmp_path, '"a", "b", "label"\n 1.5 , 2 ,0\n')
    X, y, names = read_table(path, label="label")
    assert names == ("a", "b")
    np.testing.assert_array_equal(X, [[1.5, 2.0]])
    np.testing.assert_array_equal(y, [0])


def test_bom_crlf_and_tabs(tmp_path):
    text = "a\tb\tlabel\r\n1.5\t 2\t0\r\n\r\n3\t4\t1\r\n"
    path = _write(tmp_path, b"\xef\xbb\xbf" + text.encode(), "bom.tsv")
    X, y, names = read_table(path, label="label")
    assert names == ("a", "b")  # no byte-order mark stuck to 'a'
    np.testing.assert_array_equal(X, [[1.5, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(y, [0, 1])


def test_label_column_first_by_name_or_index(tmp_path):
    path = _write(tmp_path, "label,a,b\n0,1,2\n1,3,5\n")
    for label in ("label", 0, "0"):
        X, y, names = read_table(path, label=label)
        assert names == ("a", "b")
        np.testing.assert_array_equal(X, [[1.0, 2.0], [3.0, 5.0]])
        np.testing.assert_array_equal(y, [0, 1])


def test_values_are_read_exactly(tmp_path, rng):
    X = rng.normal(size=(30, 2)) * 10.0 ** rng.integers(-200, 200, size=(30, 2))
    y = np.arange(30) % 2
    lines = ["a,b,y"] + [f"{a!r},{b!r},{t}" for (a, b), t in zip(X.tolist(), y, strict=True)]
    got, got_y, _ = read_table(_write(tmp_path, "\n".join(lines)))
    np.testing.assert_array_equal(got, X)  # bit for bit, as float() reads them
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("nan", "row 3, column 'b': non-finite value 'nan'"),
        ("NaN", "row 3, column 'b': non-finite value 'NaN'"),
        ("inf", "row 3, column 'b': non-finite value 'inf'"),
        ("-inf", "row 3, column 'b': non-finite value '-inf'"),
        ("1e999", "row 3, column 'b': non-finite value '1e999'"),
        ("NA", "row 3, column 'b': non-numeric value 'NA'"),
        ("", "row 3, column 'b': non-numeric value ''"),
        ("1.2.3", "row 3, column 'b': non-numeric value '1.2.3'"),
    ],
)
def test_non_finite_and_non_numeric_cells_are_refused(tmp_path, cell, message):
    path = _write(tmp_path, f"a,b,label\n1,2,0\n3,{cell},1\n", "cells.csv")
    with pytest.raises(BadInput) as info:
        read_table(path)
    assert str(info.value) == f"{path}: {message}"


def test_duplicated_rows_are_counted_and_kept(tmp_path):
    path = _write(tmp_path, "a,b,y\n1,2,0\n1,2,0\n3,4,1\n1,2,0\n3,4,1\n5,6,1\n", "dups.csv")
    with pytest.warns(UserWarning, match=r"dups\.csv: 3 duplicated rows \(kept\)"):
        X, y, _ = read_table(path)
    np.testing.assert_array_equal(X[:, 0], [1, 1, 3, 1, 3, 5])
    np.testing.assert_array_equal(y, [0, 0, 1, 0, 1, 1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # blank lines before and between rows: the row is the file's line
        ("\n\na,b,label\n\n1,2,0\n\n3,4\n", "row 7: 2 columns, expected 3"),
        ("\n\na,b,label\n\n1,2,0\n\n3,4,1,5\n", "row 7: 4 columns, expected 3"),
        ("\r\n\r\na,b,label\r\n1,2,0\r\n\r\n3,4\r\n", "row 6: 2 columns, expected 3"),
        ("\n1 2 0\n\n\n3 4 1 9\n", "row 5: 4 columns, expected 3"),
        ("\n\na,b,label\n\n1,x,0\n3,4\n", "row 5, column 'b': non-numeric value 'x'"),
        ("\n\na,b,label\n\n1,2,0\n\n3,4,7\n", "row 7, column 'label': label 7 is not 0 or 1"),
    ],
)
def test_errors_name_the_files_line_after_blank_lines(tmp_path, text, message):
    path = _write(tmp_path, text, "lines.csv")
    with pytest.raises(BadInput) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_a_row_short_of_n_columns_without_header(tmp_path):
    path = _write(tmp_path, "1 2 0\n3 4 1\n", "short.txt")
    with pytest.raises(BadInput, match=r"short\.txt: row 1: 3 columns, expected 4"):
        read_table(path, header=False, n_columns=4)


def _table(rows: list[str], header: str = "a,b,label") -> str:
    return "\n".join([header, *rows]) + "\n"


def test_too_large_value_is_refused_naming_file_row_and_column(tmp_path):
    rows = [f"{i},{0.5 * i},{i % 2}" for i in range(12)]
    rows.insert(4, "1e308,3,1")  # line 6 of the file
    train = _write(tmp_path, _table(rows), "train.csv")
    test = _write(tmp_path, _table(["1,2,0", "3,4,1"]), "test.csv")
    with pytest.raises(BadInput) as info:
        load_table(train, label="label", test_path=test)
    assert str(info.value) == (
        f"{train}: row 6, column 'a': value '1e308' is too large to standardise "
        "(the column's sd overflows)"
    )


def test_too_large_value_in_the_test_file_is_refused(tmp_path):
    train = _write(tmp_path, _table([f"{0.01 * i},{i},{i % 2}" for i in range(12)]), "tr.csv")
    test = _write(tmp_path, _table(["0.1,2,0", "", "-1e308,4,1"]), "te.csv")
    with pytest.raises(BadInput) as info:
        load_table(train, test_path=test)
    message = str(info.value)
    assert message.startswith(f"{test}: row 4, column 'a': value '-1e308' is too large")


def test_too_large_value_is_located_after_the_seeded_split(tmp_path):
    rows = [f"{0.001 * i},{i},{i % 2}" for i in range(30)]
    rows[17] = "1e308,17,1"  # line 19 of the file, in train or test depending on the split
    path = _write(tmp_path, _table(rows), "split.csv")
    for seed in range(4):  # seed 1 holds that row out for test, seeds 0, 2, 3 train on it
        with pytest.raises(BadInput) as info:
            load_table(path, seed=seed)
        assert str(info.value).startswith(f"{path}: row 19, column 'a': value '1e308' is too")


def test_columns_that_are_constant_up_to_rounding_are_refused(tmp_path):
    path = _write(tmp_path, _table([f"0.1,{i},{i % 2}" for i in range(20)]), "c.csv")
    with pytest.raises(BadInput, match=r"c\.csv: column 'a' is constant .*value 0\.1, sd 0"):
        load_table(path)


def test_seeded_split_keeps_every_row_once(tmp_path, rng):
    X = rng.normal(size=(40, 2))
    y = np.arange(40) % 2
    lines = ["a,b,y"] + [f"{a!r},{b!r},{t}" for (a, b), t in zip(X.tolist(), y, strict=True)]
    path = _write(tmp_path, "\n".join(lines))
    one, two, other = (load_table(path, seed=s) for s in (3, 3, 4))
    assert one.X_test.shape == (8, 2) and one.X_train.shape == (32, 2)
    np.testing.assert_array_equal(one.X_test, two.X_test)
    assert not np.array_equal(one.X_test, other.X_test)
    # standardised with the training rows' statistics: undo it and find every row once
    stats = one.info["standardisation"]
    back = np.vstack([one.X_train, one.X_test]) * stats["sd"] + stats["mean"]
    order = np.lexsort(back.T[::-1])
    np.testing.assert_allclose(back[order], X[np.lexsort(X.T[::-1])], rtol=1e-12)


def test_hash_mismatch_is_bad_input(tmp_path):
    for name in ("rupturemodel_train.txt", "rupturemodel_validate.txt", "rupturemodel_test.txt"):
        _write(tmp_path, "1 2 3 4 5 6 7 8 0\n", name)
    with pytest.raises(BadInput, match=r"rupturemodel_train\.txt: SHA256 mismatch: expected ad9e"):
        fetch_rupture(tmp_path)


def test_missing_files_and_folders_are_bad_input(tmp_path):
    with pytest.raises(BadInput, match=r"rupturemodel_train\.txt: missing; put the rupture"):
        fetch_rupture(tmp_path)
    with pytest.raises(BadInput, match=r"data directory .*nope \(from --data-dir"):
        fetch_rupture(tmp_path / "nope")
    with pytest.raises(BadInput, match=r"nope\.csv: no such data file") as info:
        read_table(tmp_path / "nope.csv")
    assert isinstance(info.value, FileNotFoundError)  # callers catching that still do
    with pytest.raises(BadInput, match=r"nope\.csv: no such data file"):
        load_table(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: load_table(p, test_fraction=1.0), "test_fraction must lie in"),
        (lambda p: load_table(p, test_fraction=0.9), "4 rows with test_fraction 0.9 leave no"),
        (lambda p: load_dataset("mnist"), "unknown name 'mnist'"),
        (lambda p: make_teacher(0, 10), "sizes must be >= 1"),
        (lambda p: read_table(p.parent), "is a directory"),
        (lambda p: read_table(p, label="zz"), "label column 'zz' not found among"),
    ],
)
def test_bad_options_are_bad_input(tmp_path, call, message):
    path = _write(tmp_path, _table(["1,2,0", "2,3,1", "3,3,1", "4,4,0"]), "four.csv")
    with pytest.raises(BadInput, match=message):
        call(path)


def test_too_few_rows_to_split(tmp_path):
    path = _write(tmp_path, _table(["1,2,0", "2,3,1", "3,3,1"]), "three.csv")
    with pytest.raises(BadInput, match=r"three\.csv: 3 rows, need at least 4"):
        load_table(path)
