"""The opt-in ``numba_positional`` VI backend: PyTensor's numba code behind a positional
entry point, the same steps as the plain numba backend (bnn_models.inference._numba_positional)."""

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
    from bnn_models.inference._numba_positional import positional_entry

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
    # from PyTensor's cache (results/perf/fastmath_cache_repro.md): close, not bitwise.
    np.testing.assert_allclose(positional.loss, plain.loss, rtol=1e-10)
    for name, draws in positional.idata["posterior"].to_dataset().items():
        np.testing.assert_allclose(draws, plain.idata["posterior"][name], rtol=1e-8, atol=1e-10)
