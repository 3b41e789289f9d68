"""Data loading: the published split, the teacher, user tables and their errors."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from bnn_models.data import (
    DATA_DIR_ENV,
    RUPTURE_FEATURES,
    RUPTURE_FILES,
    fetch_rupture,
    load_dataset,
    load_rupture,
    load_table,
    make_teacher,
    read_table,
)
from bnn_models.errors import BadInput
from tests.conftest import rupture_available

needs_rupture = pytest.mark.skipif(
    not rupture_available(), reason="rupture files not available offline"
)


@needs_rupture
def test_rupture_published_split():
    ds = load_rupture()
    assert ds.X_train.shape == (1600, 8) and ds.X_test.shape == (400, 8)
    assert ds.feature_names == RUPTURE_FEATURES
    # standardised with training statistics only
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, atol=1e-12)
    assert abs(ds.X_test.mean()) > 1e-6  # test rows are not re-standardised
    assert set(np.unique(ds.y_train)) == {0, 1}
    assert ds.sha256 == RUPTURE_FILES
    assert ds.describe()["train_positive_rate"] == pytest.approx(ds.y_train.mean())


@needs_rupture
def test_rupture_rebalance_upsamples_minority():
    ds = load_rupture(rebalance=True, seed=0)
    counts = np.bincount(ds.y_train)
    assert counts[0] == counts[1] == 1600 - int(load_rupture().y_train.sum())
    assert ds.rebalanced and ds.describe()["rebalanced"]


@needs_rupture
def test_hash_mismatch_names_file(tmp_path, monkeypatch):
    for name in RUPTURE_FILES:
        shutil.copy(Path(__import__("os").environ[DATA_DIR_ENV]) / name, tmp_path / name)
    (tmp_path / "rupturemodel_test.txt").chmod(0o644)
    with open(tmp_path / "rupturemodel_test.txt", "a") as fh:
        fh.write("\n")
    with pytest.raises(BadInput, match=r"rupturemodel_test\.txt: SHA256 mismatch"):
        fetch_rupture(tmp_path)


def test_missing_local_files_say_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="put the rupture files"):
        fetch_rupture(tmp_path)


def test_teacher_true_probabilities_match_labels():
    ds = make_teacher(20000, 20000, seed=5)
    assert ds.p_test_true is not None and ds.p_test_true.shape == (20000,)
    # labels are Bernoulli(p_true): the mean label matches the mean probability
    assert ds.y_test.mean() == pytest.approx(ds.p_test_true.mean(), abs=0.015)
    hi = ds.p_test_true > 0.9
    assert ds.y_test[hi].mean() > 0.9


def test_teacher_is_seeded():
    a, b, c = (
        make_teacher(50, 20, seed=1),
        make_teacher(50, 20, seed=1),
        make_teacher(50, 20, seed=2),
    )
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


def test_array_hash_is_the_reference_data_hash_and_sees_one_label():
    from bnn_models.reference import data_hash

    ds = make_teacher()
    digest = ds.array_hash()
    assert digest == data_hash(ds) and len(digest) == 64
    assert make_teacher().array_hash() == digest  # same arrays, same hash
    y_train = ds.y_train.copy()
    y_train[7] = 1 - y_train[7]
    flipped = dataclasses.replace(ds, y_train=y_train)
    assert flipped.array_hash() != digest
    assert flipped.array_hash() == data_hash(flipped)


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_table_with_header_and_label_name(tmp_path, rng):
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    lines = ["a,b,target,c"] + [f"{r[0]},{r[1]},{t},{r[2]}" for r, t in zip(X, y, strict=True)]
    ds = load_table(_write(tmp_path, "\n".join(lines)), label="target", seed=0)
    assert ds.feature_names == ("a", "b", "c")
    assert len(ds.y_train) + len(ds.y_test) == 50 and len(ds.y_test) == 10


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("1 2 0\n1 2\n", r"row 2: 2 columns, expected 3"),
        ("1 x 0\n", r"row 1: non-numeric value 'x'"),
        ("1 2 0\n3 nan 1\n", r"row 2, column 'x1': non-finite value 'nan'"),
        ("1 2 0\n3 inf 1\n", r"row 2, column 'x1': non-finite value 'inf'"),
        ("1 2 0\n3 4 2\n", r"row 2, column 'x2': label 2 is not 0 or 1"),
    ],
)
def test_bad_tables_name_file_row_column_value(tmp_path, text, match):
    path = _write(tmp_path, text, "bad.txt")
    with pytest.raises(BadInput, match=match) as info:
        read_table(path, header=False if text else None)
    assert "bad.txt" in str(info.value)


def test_single_class_and_constant_feature(tmp_path):
    one = _write(tmp_path, "\n".join(f"{i} {i * 2} 1" for i in range(10)), "one.txt")
    with pytest.raises(BadInput, match="one class only"):
        load_table(one)
    const = _write(tmp_path, "\n".join(f"{i} 5 {i % 2}" for i in range(10)), "const.txt")
    with pytest.raises(BadInput, match=r"column 'x1' is constant"):
        load_table(const)


def test_directory_is_not_a_data_file(tmp_path):
    with pytest.raises(BadInput, match="is a directory"):
        read_table(tmp_path)


def test_header_expected_but_missing(tmp_path):
    path = _write(tmp_path, "1,2,0\n3,4,1\n", "nohead.csv")
    with pytest.raises(BadInput, match=r"nohead\.csv: label column 'target' not found"):
        read_table(path, label="target")
    with pytest.raises(BadInput, match=r"nohead\.csv: row 1: expected a header"):
        read_table(path, header=True)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: no such data file"):
        read_table(tmp_path / "nope.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(BadInput, match=r"binary\.csv: cannot read"):
        read_table(binary)


def test_duplicated_rows_are_kept_with_a_warning(tmp_path):
    path = _write(tmp_path, "1 2 0\n1 2 0\n3 4 1\n", "dups.txt")
    with pytest.warns(UserWarning, match=r"dups\.txt: 1 duplicated rows"):
        X, y, _ = read_table(path)
    assert X.shape == (3, 2)


# --------------------------------------------------------------------------- the registry


def _half_teacher(n_train: int, seed: int) -> object:
    """A dataset of one's own: teacher data with half the training rows."""
    return make_teacher(n_train // 2, 50, seed=seed)


def test_a_registered_dataset_is_loaded_by_name_with_the_options_it_takes():
    from bnn_models.cli import build_parser
    from bnn_models.data import DATASETS, DatasetSpec, register_dataset, unregister_dataset
    from bnn_models.sweep import parse_grid

    spec = DatasetSpec("half", "teacher data, half the rows", _half_teacher, ("n_train", "seed"))
    register_dataset(spec)
    try:
        # only the options it takes reach the loader: data_dir and rebalance do not
        ds = load_dataset("half", n_train=200, seed=4, data_dir="/nowhere", rebalance=True)
        assert len(ds.y_train) == 100 and len(ds.y_test) == 50
        assert ds.array_hash() == make_teacher(100, 50, seed=4).array_hash()
        grid = parse_grid({"methods": ["advi"], "datasets": [{"name": "half", "n_train": 80}]})
        assert [c.folder for c in grid.cells] == ["half-n80-h12"]
        args = build_parser().parse_args(["run", "--dataset", "half"])
        assert args.dataset == "half"
        with pytest.raises(ValueError, match="already registered"):
            register_dataset(spec)
    finally:
        unregister_dataset("half")
    assert "half" not in DATASETS


def test_an_unknown_dataset_or_a_shift_without_shifts_names_the_registered_ones():
    with pytest.raises(
        BadInput, match="unknown name 'mnist'; expected one of 'rupture', 'teacher'"
    ):
        load_dataset("mnist")
    with pytest.raises(
        BadInput, match="'teacher' has no named shifts .datasets with shifts: rupture"
    ):
        load_dataset("teacher", shift="bump-height")
    from bnn_models.data import DatasetSpec

    with pytest.raises(ValueError, match="unknown option 'rows'"):
        DatasetSpec("x", "x", _half_teacher, ("rows",))
