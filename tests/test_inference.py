"""The three methods: one result shape, saved and reloaded, reproducible, near the truth."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_models.inference import METHODS, FitResult, fit_advi, fit_nuts, load_fit, save_fit
from bnn_models.model import PARAMS
from tests.conftest import TINY


def test_same_variables_and_dims_for_every_method(tiny_fits, teacher_small):
    shapes = {}
    for method, result in tiny_fits.items():
        assert isinstance(result, FitResult) and result.ok, result.error
        post = result.idata["posterior"]
        assert sorted(post.data_vars) == sorted(PARAMS)
        shapes[method] = {v: post[v].dims for v in PARAMS}
        assert result.p_test.shape[1] == len(teacher_small.y_test)
        assert np.all((result.p_test > 0) & (result.p_test < 1))
        assert set(result.timings) == {"compile_s", "fit_s", "draw_s", "predict_s", "total_s"}
        assert result.versions["pymc"] and result.config["seed"] == 1
    assert shapes["nuts"] == shapes["advi"] == shapes["fullrank_advi"]
    assert tiny_fits["nuts"].sampler.startswith("nutpie")
    assert tiny_fits["nuts"].n_grad_evals > tiny_fits["nuts"].p_test.shape[0]
    assert tiny_fits["advi"].loss.size == tiny_fits["advi"].convergence["iterations"]


def test_predictions_track_the_true_probabilities(tiny_fits, teacher_small):
    truth = teacher_small.p_test_true
    for method, result in tiny_fits.items():
        mean = result.p_test.mean(axis=0)
        assert np.corrcoef(mean, truth)[0, 1] > 0.6, method


def test_save_and_load_round_trip(tiny_fits, tmp_path):
    for method, result in tiny_fits.items():
        path = save_fit(result, tmp_path / f"{method}.nc")
        back = load_fit(path)
        np.testing.assert_array_equal(back.p_test, result.p_test)
        assert back.config == result.config and back.timings == result.timings
        assert back.convergence == result.convergence and back.sampler == result.sampler
        if result.loss is not None:
            np.testing.assert_array_equal(back.loss, result.loss)
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_rejects_a_foreign_file(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(ValueError, match="bad.nc: not a readable bnn-bench fit file"):
        load_fit(bad)


@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_same_draws_other_seed_other_draws(method, teacher_small, tiny_fits):
    again = METHODS[method](dataset=teacher_small, seed=1, progressbar=False, **TINY[method])
    np.testing.assert_array_equal(again.p_test, tiny_fits[method].p_test)
    other = METHODS[method](dataset=teacher_small, seed=2, progressbar=False, **TINY[method])
    assert not np.array_equal(other.p_test, tiny_fits[method].p_test)


def test_bad_settings_raise(teacher_small):
    with pytest.raises(ValueError, match="draws must be >= 1"):
        fit_nuts(dataset=teacher_small, draws=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'"):
        fit_advi(dataset=teacher_small, optimizer="adamw")
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        fit_advi(dataset=teacher_small, max_iter=-5)
