"""Named shifts of the rupture data: rows cut by a feature's pooled quantiles, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.data import SHIFTS, Shift, load_dataset, load_rupture
from bnn_models.data.shift import shift_rows
from bnn_models.errors import BadInput
from tests.conftest import rupture_available

needs_rupture = pytest.mark.skipif(not rupture_available(), reason="rupture files not available")


def test_rows_are_cut_at_the_pooled_quantiles():
    # feature a = 0, 1, ..., 19: the 10% and 90% quantiles (linear) are 1.9 and 17.1
    X = np.column_stack([np.arange(20.0), np.zeros(20)])
    train, test_in, shifted, info = shift_rows(X, ("a", "b"), Shift("s", "a", ""), seed=3)
    assert info["bounds"] == pytest.approx([1.9, 17.1])
    assert shifted.tolist() == [0, 1, 18, 19] and (info["below"], info["above"]) == (2, 2)
    assert test_in.size == 4 and train.size == 12
    assert sorted([*train, *test_in, *shifted]) == list(range(20))  # disjoint, all rows
    assert set(test_in) <= set(range(2, 18))
    again = shift_rows(X, ("a", "b"), Shift("s", "a", ""), seed=3)[1]
    other = shift_rows(X, ("a", "b"), Shift("s", "a", ""), seed=4)[1]
    assert again.tolist() == test_in.tolist() and other.tolist() != test_in.tolist()


def test_a_shift_needs_its_feature_and_enough_rows():
    X = np.column_stack([np.arange(20.0), np.zeros(20)])
    with pytest.raises(BadInput, match="shift 's': no feature 'c'"):
        shift_rows(X, ("a", "b"), Shift("s", "c", ""))
    with pytest.raises(BadInput, match="too few to cut"):
        shift_rows(X, ("a", "b"), Shift("s", "a", "", central=0.3))


@needs_rupture
@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_each_named_shift_trains_inside_and_tests_both_sides(name):
    shift = SHIFTS[name]
    plain = load_rupture()
    ds = load_rupture(shift=name)
    j = ds.feature_names.index(shift.feature)
    # 2,000 distinct values: 10% below, 10% above, 400 in-distribution test rows
    assert ds.X_train.shape == (1200, 8) and ds.X_test.shape == (800, 8)
    assert ds.test_shifted is not None and ds.test_shifted.sum() == 400
    assert not ds.test_shifted[:400].any() and ds.test_shifted[400:].all()
    assert np.allclose(ds.X_train.mean(0), 0) and np.allclose(ds.X_train.std(0), 1)
    lo, hi = ds.X_train[:, j].min(), ds.X_train[:, j].max()
    shifted = ds.X_test[ds.test_shifted, j]
    assert ((shifted < lo) | (shifted > hi)).all()
    inside = ds.X_test[~ds.test_shifted, j]
    assert ((inside >= lo) & (inside <= hi)).all()
    info = ds.describe()["shift"]
    assert info["name"] == name and info["n_train"] == 1200 and info["below"] == 200
    # the pooled labels, all of them, once
    pooled = np.concatenate([plain.y_train, plain.y_test])
    assert ds.y_train.sum() + ds.y_test.sum() == pooled.sum()
    assert ds.array_hash() != plain.array_hash()


@needs_rupture
def test_bad_shift_requests_are_refused():
    with pytest.raises(BadInput, match="unknown shift 'tilt'"):
        load_rupture(shift="tilt")
    with pytest.raises(BadInput, match="cannot be combined"):
        load_rupture(shift="bump-height", rebalance=True)
    with pytest.raises(BadInput, match="dataset .teacher. has no named shifts"):
        load_dataset("teacher", shift="bump-height")


@needs_rupture
def test_a_run_on_a_shift_records_the_shift_metrics(tmp_path):
    from bnn_models.cli import main
    from bnn_models.schema import load_metrics
    from tests.conftest import tiny_set

    args = ["run", "--shift", "bump-height", "--methods", "advi", *tiny_set("advi")]
    args += ["--hidden", "4", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    doc = load_metrics(tmp_path)
    assert doc["run"]["dataset"]["shift"]["name"] == "bump-height"
    assert doc["run"]["dataset"]["n_train"] == 1200
    shift = doc["fits"][0]["shift"]
    assert shift["in_n"] == shift["shifted_n"] == 400
    assert 0 <= shift["auroc_sd"] <= 1 and len(shift["accuracy_at_coverage"]) == 6
    report = (tmp_path / "report.md").read_text()
    assert "## Under dataset shift" in report and "Shift 'bump-height'" in report
    assert "Accuracy: shifted" in report and "Flags shifted rows (AUROC): by sd" in report
    assert (tmp_path / "figures" / "shift_accuracy_coverage.png").is_file()
    assert '<h2 id="shift">Under dataset shift</h2>' in (tmp_path / "report.html").read_text()


@needs_rupture
def test_two_shifts_of_the_same_files_never_share_a_fit_key():
    from bnn_models.inference import METHODS
    from bnn_models.runner import _config_hash

    settings = METHODS["advi"].configure(quick=True)
    keys = {_config_hash("advi", 0, settings, load_rupture(shift=name)) for name in sorted(SHIFTS)}
    keys.add(_config_hash("advi", 0, settings, load_rupture()))
    assert len(keys) == len(SHIFTS) + 1


def test_the_verdict_names_the_largest_drop_or_says_none_dropped():
    from bnn_models.report.formats import over_seeds
    from bnn_models.report.shift import _verdicts

    labels = {"a": "A", "b": "B"}

    def rows(acc_in: dict, acc_shifted: dict) -> dict:
        return {
            n: {
                "in_accuracy": over_seeds([acc_in[n]]),
                "shifted_accuracy": over_seeds([acc_shifted[n]]),
            }
            for n in labels
        }

    worse = " ".join(_verdicts(rows({"a": 0.8, "b": 0.8}, {"a": 0.79, "b": 0.7}), labels))
    assert "A -1.0 points, B -10.0 points; it drops most for B." in worse
    easier = " ".join(_verdicts(rows({"a": 0.8, "b": 0.8}, {"a": 0.83, "b": 0.88}), labels))
    assert "A +3.0 points, B +8.0 points; no method loses accuracy there, B gains most." in easier
