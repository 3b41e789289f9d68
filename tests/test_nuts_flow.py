"""nutpie's normalizing-flow adaptation (``nuts_flow``): its settings reach nutpie, it
samples the posterior nutpie's diagonal NUTS samples, and it is skipped without flowjax."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bnn_models.errors import BadInput
from bnn_models.inference import METHODS, NUTSSettings, register, unregister
from bnn_models.inference._method import NeedsModules
from bnn_models.inference.nuts_flow import FlowNUTSSettings
from tests.conftest import tiny

pytest.importorskip("flowjax")


def test_defaults_are_nutpies_with_a_longer_warm_up_and_the_suites_draws():
    s = FlowNUTSSettings()
    assert (s.adaptation, s.backend, s.tune, s.draws) == ("flow", "jax", 1500, 2000)
    assert NUTSSettings().tune == 400 and NUTSSettings().draws == s.draws
    # the arguments under nutpie's own names, at nutpie's own defaults
    assert s.transform_adapt() == {
        "num_layers": 8,
        "nn_width": 32,
        "nn_depth": 1,
        "num_diag_windows": 6,
        "window_size": 600,
        "initial_skip": 120,
        "learning_rate": 5e-4,
        "max_epochs": 200,
    }
    assert NUTSSettings().transform_adapt() == {}  # a mass matrix: no flow arguments


def test_the_flow_needs_jax_and_valid_arguments():
    with pytest.raises(BadInput, match="backend must be 'jax' with adaptation='flow'"):
        FlowNUTSSettings(backend="numba")
    with pytest.raises(BadInput, match="backend must be 'jax' with adaptation='flow'"):
        NUTSSettings(adaptation="flow")
    with pytest.raises(BadInput, match="flow_layers must be >= 1"):
        FlowNUTSSettings(flow_layers=0)
    with pytest.raises(BadInput, match="unknown|has no setting"):
        METHODS["nuts_flow"].configure(overrides={"flow_bogus": "1"})


def test_the_settings_reach_nutpie(tiny_fits):
    fit = tiny_fits["nuts_flow"]
    quick = tiny("nuts_flow")
    assert fit.config["adaptation"] == "flow" and fit.config["backend"] == "jax"
    assert fit.config["tune"] == quick["tune"] and fit.config["flow_layers"] == quick["flow_layers"]
    assert "(nuts, flow)" in fit.sampler and fit.backend == "jax (nutpie)"
    stats = fit.idata["sample_stats"]
    # nutpie counts the flow's updates: past the diagonal windows, the flow was trained
    assert int(stats["transformation_index"].min()) > quick["flow_diag_windows"]


def test_gradients_are_the_leapfrog_steps_and_timings_split(tiny_fits):
    fit = tiny_fits["nuts_flow"]
    quick = tiny("nuts_flow")
    steps = int(fit.idata["sample_stats"]["n_steps"].sum())
    assert fit.counts["grad_evals_sampling"] == steps
    assert fit.counts["grad_evals_warmup"] >= quick["tune"] * quick["chains"]
    assert fit.n_grad_evals == fit.counts["grad_evals_warmup"] + steps
    assert {"compile_s", "warmup_s", "sampling_s"} <= set(fit.timings)
    assert fit.timings["warmup_s"] > 0 and fit.timings["sampling_s"] > 0


def test_flow_predictions_agree_with_nutpies_diagonal_nuts(tiny_fits):
    ref, fit = tiny_fits["nuts"].p_test, tiny_fits["nuts_flow"].p_test
    # the same posterior: predictive means within a few Monte Carlo sds of nutpie's
    # (the bound every NUTS engine meets, tests/test_methods.py)
    diff = np.abs(fit.mean(axis=0) - ref.mean(axis=0))
    assert np.median(diff) < 0.02
    assert np.mean((fit.mean(axis=0) >= 0.5) == (ref.mean(axis=0) >= 0.5)) >= 0.95


def test_without_flowjax_the_method_is_skipped_with_the_reason():
    from bnn_models.runner import _not_installed

    ghost = dataclasses.replace(
        METHODS["nuts_flow"],
        name="ghost_flow",
        requires=NeedsModules(("bnn_bench_no_such_flow",), by="nutpie"),
    )
    assert not ghost.installed
    register(ghost)
    try:
        assert _not_installed("ghost_flow") == (
            "nutpie's dependency 'bnn_bench_no_such_flow' is not installed "
            "(pip install bnn_bench_no_such_flow)"
        )
        assert _not_installed("nuts_flow") is None
    finally:
        unregister("ghost_flow")
