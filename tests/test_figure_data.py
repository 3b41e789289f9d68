"""bnn_models.report.figure_data: the fit-based figures' numbers, saved byte for byte."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bnn_models.errors import ResultsError
from bnn_models.report.figure_data import (
    FigureData,
    _trace_dataset,
    load_figure_data,
    save_figure_data,
)


def _data(digest: str = "abc") -> FigureData:
    rng = np.random.default_rng(0)
    return FigureData(
        losses={"vi_b": rng.normal(size=50).astype(np.float32), "vi_a": np.ones(3, np.float32)},
        weight_sd={"mc": {"W0": rng.random((2, 3)), "b1": rng.random(1)}},
        trace=_trace_dataset(["b1", "p[3]"], [rng.random((2, 7)).astype(np.float32)] * 2),
        trace_method="mc",
        digest=digest,
    )


def test_same_numbers_same_bytes_and_they_come_back(tmp_path):
    first = save_figure_data(tmp_path / "a.npz", _data()).read_bytes()
    time.sleep(2.1)  # a zip member's time has a 2 s resolution: a later write, same bytes
    assert save_figure_data(tmp_path / "b.npz", _data()).read_bytes() == first
    back = load_figure_data(tmp_path / "a.npz", "abc")
    assert back is not None and back.digest == "abc"
    assert list(back.losses) == ["vi_b", "vi_a"]  # the run's order, kept
    np.testing.assert_array_equal(back.losses["vi_b"], _data().losses["vi_b"])
    assert back.losses["vi_b"].dtype == np.float32
    np.testing.assert_array_equal(back.weight_sd["mc"]["W0"], _data().weight_sd["mc"]["W0"])
    assert back.trace is not None and list(back.trace.data_vars) == ["b1", "p[3]"]
    assert back.trace["p[3]"].dims == ("chain", "draw") and back.trace_method == "mc"
    assert back.holds("mc") and back.holds("vi_a") and not back.holds("other")


def test_a_file_of_another_metrics_json_is_ignored_and_a_broken_one_named(tmp_path):
    path = save_figure_data(tmp_path / "d.npz", _data("abc"))
    assert load_figure_data(path, "other digest") is None
    assert load_figure_data(tmp_path / "absent.npz", "abc") is None
    path.write_bytes(b"not a zip")
    with pytest.raises(ResultsError, match="d.npz"):
        load_figure_data(path, "abc")
