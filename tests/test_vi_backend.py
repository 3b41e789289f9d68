"""The opt-in ``numba_positional`` VI backend: PyTensor's numba code behind a positional
entry point, its normal draws made in NumPy, the same steps as the plain numba backend
(bnn_models.accel.numba_positional)."""

from __future__ import annotations

import numpy as np
import pytest


def _compiled(mode: str):
    """A graph with a random draw and a shared-Generator update (what a VI step holds)."""
    import pytensor
    import pytensor.tensor as pt

    x = pt.vector("x")
    rng = pytensor.shared(np.random.default_rng(7))
    next_rng, draw = pt.random.normal(size=3, rng=rng).owner.outputs
    fn = pytensor.function([x], (x * draw).sum(), updates={rng: next_rng}, mode=mode)
    return fn, rng


def test_the_mode_is_registered_and_compiles_a_positional_entry():
    """The mode compiles behind ``def fn(i0, i1, ...)``; PyTensor's own NUMBA mode behind
    ``def fn(*args)`` (if PyTensor stops wrapping, this says the workaround is moot)."""
    from bnn_models.accel.numba_positional import positional_entry

    fn, _ = _compiled("NUMBA_POSITIONAL")
    plain, _ = _compiled("NUMBA")
    assert positional_entry(fn)
    assert not positional_entry(plain)


def test_the_positional_entry_computes_what_numba_does_and_advances_the_generator():
    """Same inputs, same Generator state: the same value; the shared Generator moves on
    with every call in both (the draw's update is kept)."""
    fn, rng = _compiled("NUMBA_POSITIONAL")
    plain, plain_rng = _compiled("NUMBA")
    x = np.array([1.0, -2.0, 0.5])
    values = [float(fn(x)) for _ in range(3)]
    plain_values = [float(plain(x)) for _ in range(3)]
    assert values == plain_values
    assert len(set(values)) == 3  # a new draw every call
    assert rng.get_value().bit_generator.state == plain_rng.get_value().bit_generator.state


def _signature_types(fn) -> list[str]:
    """The numba types of the compiled entry point's arguments (after a call)."""
    (signature,) = fn.vm.jit_fn.signatures
    return [str(t) for t in signature]


def test_the_draw_is_made_in_numpy_and_the_generator_stays_out_of_numba():
    """A VI step's kind of draw (in place, constant size and parameters) is found, made
    before the call, and the compiled graph takes its draws instead of the Generator."""
    from bnn_models.accel.numba_positional import host_draws

    fn, _ = _compiled("NUMBA_POSITIONAL")
    plain, _ = _compiled("NUMBA")
    assert len(host_draws(fn.maker.fgraph)) == 1
    fn(np.zeros(3)), plain(np.zeros(3))
    assert not any("Generator" in t for t in _signature_types(fn))
    assert any("Generator" in t for t in _signature_types(plain))


def _other_draws(mode: str):
    """Draws :func:`host_draws` leaves to numba, beside one it takes: a mean that is an
    input, and a Generator without an update (not drawn in place); the taken draw's
    values are an output themselves."""
    import pytensor
    import pytensor.tensor as pt

    x = pt.vector("x")
    rng_mean = pytensor.shared(np.random.default_rng(1))
    rng_copy = pytensor.shared(np.random.default_rng(2))
    rng_host = pytensor.shared(np.random.default_rng(3))
    next_mean, by_mean = pt.random.normal(x, 1.0, rng=rng_mean).owner.outputs
    by_copy = pt.random.normal(size=3, rng=rng_copy)
    next_host, by_host = pt.random.normal(2.0, 0.5, size=(2, 3), rng=rng_host).owner.outputs
    fn = pytensor.function(
        [x],
        [by_mean + by_copy, by_host],
        updates={rng_mean: next_mean, rng_host: next_host},
        mode=mode,
    )
    return fn, (rng_mean, rng_copy, rng_host)


def test_draws_it_does_not_take_stay_in_numba_and_every_value_is_numbas():
    from bnn_models.accel.numba_positional import host_draws

    fn, rngs = _other_draws("NUMBA_POSITIONAL")
    plain, plain_rngs = _other_draws("NUMBA")
    [taken] = host_draws(fn.maker.fgraph)
    assert taken.outputs[1].type.shape == (2, 3)
    x = np.array([0.5, -1.0, 3.0])
    for _ in range(3):
        for got, want in zip(fn(x), plain(x), strict=True):
            np.testing.assert_array_equal(got, want)
    for rng, plain_rng in zip(rngs, plain_rngs, strict=True):
        assert rng.get_value().bit_generator.state == plain_rng.get_value().bit_generator.state


@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
def test_a_vi_fit_on_the_positional_backend_is_the_numba_fit(method, teacher_small):
    """``backend="numba_positional"`` through the method registry: recorded as such, and
    the loss trace and draws of the plain numba fit (same seed)."""
    from bnn_models.inference import METHODS

    def fit(backend):
        return METHODS[method](
            dataset=teacher_small,
            seed=3,
            progressbar=False,
            max_iter=300,
            draws=50,
            backend=backend,
            **({"warm_start": False} if method == "fullrank_advi" else {}),
        )

    positional, plain = fit("numba_positional"), fit("numba")
    assert positional.ok and positional.backend == "pytensor numba-positional"
    assert positional.config["backend"] == "numba_positional"
    assert plain.backend == "pytensor numba"
    # fastmath may move a last bit between a function numba compiled and one it loaded
    # from PyTensor's cache (studies/upstream_repros/results/fastmath_cache_repro.md): close, not bitwise.
    np.testing.assert_allclose(positional.loss, plain.loss, rtol=1e-10)
    for name, draws in positional.idata["posterior"].to_dataset().items():
        np.testing.assert_allclose(draws, plain.idata["posterior"][name], rtol=1e-8, atol=1e-10)
