"""Full-rank ADVI on the packed factor (bnn_models.accel.packed_factor): PyMC's numbers."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.pytensorf import resolve_backend_compile_kwargs
from pytensor.gradient import NullTypeGradError

# the NUMBA_POSITIONAL mode these steps compile to is registered by its module, which a
# fit imports when its settings ask for it; these tests compile steps without settings
import bnn_models.accel.numba_positional  # noqa: F401
from bnn_models.accel.packed_factor import (
    PackedFullRankADVI,
    PackedTril,
    PackedTrilGradEps,
    PackedTrilGradL,
    packed_tril,
)
from bnn_models.errors import BadInput
from bnn_models.inference import METHODS
from bnn_models.model import build_bnn
from tests.conftest import tiny

# numba (PyTensor's default mode: the kernels) and NumPy's perform (FAST_COMPILE).
MODES = [None, "FAST_COMPILE"]


def _softplus(x: float) -> float:
    return float(np.log1p(np.exp(x)))


def _pymc_dense(tril: pt.TensorVariable, d: int) -> pt.TensorVariable:
    """The factor as PyMC's FullRankGroup.L builds it (zeros, a scatter, softplus'd diagonal)."""
    L = pt.set_subtensor(pt.zeros((d, d))[np.tril_indices(d)], tril)
    diag = L[np.arange(d), np.arange(d)]
    return pt.set_subtensor(diag, pt.softplus(diag))


def _compile(inputs, outputs, mode):
    return pytensor.function(inputs, outputs, **({} if mode is None else {"mode": mode}))


@pytest.mark.parametrize("mode", MODES)
def test_a_two_by_two_factor_by_hand(mode):
    # L = [[softplus(0.5), 0], [-2, softplus(-1)]]; two draws.
    tril, eps = pt.vector("tril"), pt.matrix("eps")
    fn = _compile([tril, eps], list(packed_tril(tril, eps)), mode)
    z, logdet = fn([0.5, -2.0, -1.0], [[1.0, 3.0], [-0.5, 0.0]])
    a, c = _softplus(0.5), _softplus(-1.0)
    np.testing.assert_allclose(z, [[a, -2.0 + 3.0 * c], [-0.5 * a, 1.0]], rtol=1e-14)
    np.testing.assert_allclose(logdet, np.log(a) + np.log(c), rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_value_and_gradients_equal_pymcs_dense_factor(mode):
    d, n = 7, 3
    rng = np.random.default_rng(5)
    tril_v = rng.normal(size=d * (d + 1) // 2) * 2.0
    tril_v[[r * (r + 1) // 2 + r for r in range(d)]] = [-30.0, -3.0, 0.0, 2.0, 30.0, 0.1, -0.7]
    eps_v, wz = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    tril, eps = pt.vector("tril"), pt.matrix("eps")
    L = _pymc_dense(tril, d)
    z_ref = eps @ L.T
    logdet_ref = pt.log(pt.diagonal(L)).sum()
    z, logdet = packed_tril(tril, eps)
    # A cost with both outputs, each with its own weight, and with one output alone.
    costs = {
        "both": ((z * wz).sum() + 1.7 * logdet, (z_ref * wz).sum() + 1.7 * logdet_ref),
        "z alone": ((z * wz).sum(), (z_ref * wz).sum()),
        "logdet alone": (logdet, logdet_ref),
    }
    for what, (cost, cost_ref) in costs.items():
        outs = [cost, *pytensor.grad(cost, [tril]), z, logdet]
        refs = [cost_ref, *pytensor.grad(cost_ref, [tril]), z_ref, logdet_ref]
        if what != "logdet alone":  # eps's gradient: only where the cost depends on it
            outs.append(pytensor.grad(cost, eps))
            refs.append(pytensor.grad(cost_ref, eps))
        got = _compile([tril, eps], outs, mode)(tril_v, eps_v)
        want = _compile([tril, eps], refs, "FAST_COMPILE")(tril_v, eps_v)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=what)


def test_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    d = 4
    tril_v = rng.normal(size=d * (d + 1) // 2)
    eps_v, wz = rng.normal(size=(2, d)), rng.normal(size=(2, d))

    def cost(tril, eps):
        z, logdet = PackedTril()(tril, eps)
        return (z * wz).sum() - logdet

    pytensor.gradient.verify_grad(cost, [tril_v, eps_v], rng=rng, mode="FAST_COMPILE")


def test_shapes_and_second_derivatives_are_refused():
    with pytest.raises(ValueError, match="10 entries, not d \\(d \\+ 1\\) / 2 for d = 3"):
        packed_tril(pt.tensor(shape=(10,)), pt.tensor(shape=(2, 3)))
    with pytest.raises(TypeError, match="eps must have 2 dims, got 1"):
        packed_tril(pt.vector(), pt.vector())
    tril, eps = pt.vector("tril"), pt.matrix("eps")
    fn = _compile([tril, eps], packed_tril(tril, eps)[0], None)
    with pytest.raises(ValueError, match="lower triangle"):
        fn(np.zeros(5), np.zeros((1, 3)))  # 5 entries are no triangle of 3
    grad = pytensor.grad(packed_tril(tril, eps)[1], tril)
    with pytest.raises(NullTypeGradError):
        pytensor.grad(grad.sum(), tril)
    for op in (PackedTril(), PackedTrilGradL(), PackedTrilGradEps()):
        assert op == type(op)()  # one Op per class: PyTensor merges equal nodes


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    return build_bnn(X, y, n_hidden=3)


@pytest.mark.parametrize("backend", [None, "numba_positional"])
def test_the_steps_are_pymcs_full_rank_steps(small_model, backend):
    """Same seed, same Adam steps: the same losses and parameters as pm.FullRankADVI."""

    def run(cls):
        with small_model:
            inference = cls(random_seed=4)
            step = inference.objective.step_function(
                obj_n_mc=2,
                obj_optimizer=pm.adam(learning_rate=1e-2),
                score=True,
                compile_kwargs=resolve_backend_compile_kwargs(backend, None),
            )
        losses = np.array([float(step()) for _ in range(60)])
        params = {k: v.get_value() for k, v in inference.approx.groups[0].params_dict.items()}
        return inference, losses, params, {type(n.op) for n in step.maker.fgraph.apply_nodes}

    ours, theirs = run(PackedFullRankADVI), run(pm.FullRankADVI)
    # The draw and its gradient in the step; the draws' gradient, unused, left out.
    assert {PackedTril, PackedTrilGradL} <= ours[3]
    assert PackedTrilGradEps not in ours[3]
    assert not {PackedTril, PackedTrilGradL} & theirs[3]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10)
    assert np.ptp(ours[1]) > 1.0  # the steps moved the loss
    for name in ("mu", "L_tril"):
        np.testing.assert_allclose(ours[2][name], theirs[2][name], rtol=1e-9, atol=1e-12)
    # After the fit: PyMC's L, cov and std, and draws from the approximation.
    group = ours[0].approx.groups[0]
    L = group.L.eval()
    np.testing.assert_allclose(group.cov.eval(), L @ L.T, rtol=1e-12)
    with small_model:
        draws = ours[0].approx.sample(5, random_seed=1, return_inferencedata=False)
    assert np.all(np.isfinite(draws["W0"]))


def test_the_setting_chooses_the_class_and_refuses_jax():
    method = METHODS["fullrank_advi"]
    assert method.configure().packed_factor is False  # opt-in, never the default
    assert method.configure().vi_class() is pm.FullRankADVI
    on = method.configure(overrides={"packed_factor": "true", "backend": "numba_positional"})
    assert on.vi_class() is PackedFullRankADVI
    with pytest.raises(BadInput, match="packed_factor must be false with backend 'jax'"):
        method.configure(overrides={"packed_factor": "true", "backend": "jax"})
    with pytest.raises(BadInput, match="has no setting 'packed_factor'"):
        METHODS["advi"].configure(overrides={"packed_factor": "true"})


def test_a_fit_with_the_packed_factor_is_the_plain_fit(teacher_small):
    """The whole method (warm start, rule, draws): the same trace and result."""
    method = METHODS["fullrank_advi"]
    fits = {
        packed: method(
            dataset=teacher_small,
            seed=3,
            progressbar=False,
            **tiny("fullrank_advi"),
            packed_factor=packed,
        )
        for packed in (False, True)
    }
    plain, packed = fits[False], fits[True]
    assert packed.status == plain.status == "ok"
    np.testing.assert_allclose(packed.loss, plain.loss, rtol=1e-9)
    assert packed.convergence["fired_at"] == plain.convergence["fired_at"]
    for name in ("W0", "b1"):
        np.testing.assert_allclose(
            packed.idata["posterior"][name].values,
            plain.idata["posterior"][name].values,
            rtol=1e-7,
            atol=1e-9,
        )
    assert packed.config["packed_factor"] is True
    assert packed.sampler.startswith("bnn_models.accel.packed_factor.PackedFullRankADVI")
    assert plain.sampler.startswith("pymc.FullRankADVI")


def test_every_gaussian_group_starts_at_a_mean_field_solution(small_model):
    """start_at_mean_field: the same mean and sds whatever the group holds (rho, or a
    packed factor with rho on its diagonal), no correlation."""
    from bnn_models.inference._gaussian_vi import start_at_mean_field

    rng = np.random.default_rng(8)
    with small_model:
        groups = [cls().approx.groups[0] for cls in (pm.ADVI, pm.FullRankADVI, PackedFullRankADVI)]
    d = groups[0].ddim
    mu, rho = rng.normal(size=d), rng.normal(size=d)
    for group in groups:
        start_at_mean_field(group, mu, rho)
        np.testing.assert_allclose(group.mean.eval(), mu, rtol=1e-15)
        np.testing.assert_allclose(group.std.eval(), np.log1p(np.exp(rho)), rtol=1e-12)
    cov = groups[1].cov.eval()
    np.testing.assert_array_equal(cov - np.diag(np.diag(cov)), 0.0)
