"""Fidelity metrics against cases with a known answer: hand-made numbers, relabelled
draws, Gaussian importance ratios with a known Pareto tail, and a near-Gaussian
posterior whose exact draws come from importance resampling of the prior."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from bnn_models import fidelity, posterior
from bnn_models.data import Dataset
from bnn_models.fidelity import GATE_SD, compute_fidelity, function_space, psis_diagnostics
from bnn_models.inference import FitContext, FitResult, FullRankADVISettings, fit_fullrank_advi
from bnn_models.inference._importance import gaussian_importance
from bnn_models.model import build_bnn
from bnn_models.posterior import align_hidden, truth_comparison, weight_diagnostics
from bnn_models.reference import Reference


def _forward(X, W0, b0, W1, b1):
    """Numpy forward pass for stacked draws: W0 (s, feature, hidden) -> p (s, rows)."""
    hidden = np.maximum(np.einsum("nf,sfh->snh", X, W0) + b0[:, None, :], 0.0)
    return 1 / (1 + np.exp(-(np.einsum("snh,sh->sn", hidden, W1) + b1[:, None])))


def _posterior(W0, b0, W1, b1, chains):
    """A posterior Dataset from stacked draws split into ``chains`` chains."""

    def split(a):
        return a.reshape(chains, -1, *a.shape[1:])

    return xr.Dataset(
        {
            "W0": (("chain", "draw", "feature", "hidden"), split(W0)),
            "b0": (("chain", "draw", "hidden"), split(b0)),
            "W1": (("chain", "draw", "hidden"), split(W1)),
            "b1": (("chain", "draw"), split(b1)),
        }
    )


def test_function_space_on_hand_made_numbers():
    out = function_space(
        mean=np.array([0.4, 0.6]),
        sd=np.array([0.2, 0.1]),
        ref_mean=np.array([0.6, 0.6]),
        ref_sd=np.array([0.1, 0.1]),
    )
    assert out["class_agreement"] == 0.5
    assert out["pred_tv_mean"] == pytest.approx(0.1)
    assert out["pred_tv_max"] == pytest.approx(0.2)
    assert out["pred_sd_ratio_mean"] == pytest.approx(1.5)
    assert out["pred_sd_ratio_gmean"] == pytest.approx(np.sqrt(2))
    # |0.4 - 0.6| / 0.1 = 2 > 0.3 at the first point, 0 at the second
    assert out["share_mean_off_0p3sd"] == 0.5
    assert GATE_SD == 0.3


def test_truth_comparison_on_hand_made_draws():
    p = np.array([[0.1, 0.5], [0.3, 0.7], [0.2, 0.6]])
    out = truth_comparison(p, np.array([0.2, 0.9]))
    assert out["tv_mean"] == pytest.approx((0.0 + 0.3) / 2)
    assert out["tv_max"] == pytest.approx(0.3)
    assert out["rmse"] == pytest.approx(np.sqrt((0.0**2 + 0.3**2) / 2))
    # point 1: draws 0.1, 0.2, 0.3 -> 5% and 95% quantiles 0.11 and 0.29 hold 0.2;
    # point 2: 0.51 and 0.69 do not hold 0.9
    assert out["coverage_90"] == 0.5


def test_fidelity_keeps_the_posterior_helpers_at_their_old_address():
    for name in ("ALIGNMENTS", "align_hidden", "hidden_template", "truth_comparison"):
        assert getattr(fidelity, name) is getattr(posterior, name)


@pytest.fixture(scope="module")
def relabelled():
    """4 chains of 3 well-separated units; each chain in its own relabelling."""
    rng = np.random.default_rng(7)
    n, F, H = 400, 2, 3
    centre_w0 = np.array([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
    centre_b0 = np.array([0.5, -0.5, 1.0])
    centre_w1 = np.array([-2.0, 1.0, 3.0])
    W0 = centre_w0 + 0.1 * rng.normal(size=(4 * n, F, H))
    b0 = centre_b0 + 0.1 * rng.normal(size=(4 * n, H))
    W1 = centre_w1 + 0.1 * rng.normal(size=(4 * n, H))
    b1 = 0.1 * rng.normal(size=4 * n)
    perms = np.repeat(np.array([[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]]), n, axis=0)
    shuffled = (
        np.take_along_axis(W0, perms[:, None, :], axis=2),
        np.take_along_axis(b0, perms, axis=1),
        np.take_along_axis(W1, perms, axis=1),
        b1,
    )
    return _posterior(*shuffled, chains=4), (W0, b0, W1, b1)


@pytest.mark.parametrize("method", ["match", "sort_w1"])
def test_align_hidden_undoes_the_relabelling_and_keeps_the_function(relabelled, method):
    post, (W0, b0, W1, b1) = relabelled
    aligned = align_hidden(post, method=method)
    # every draw ends with the same labels: unit j is one true unit in all draws
    assert post["W1"].values.reshape(-1, 3).std(axis=0).min() > 1
    w1 = aligned["W1"].values.reshape(-1, 3)
    assert w1.std(axis=0).max() < 0.2
    assert np.allclose(np.sort(w1.mean(axis=0)), [-2.0, 1.0, 3.0], atol=0.05)
    X = np.random.default_rng(0).normal(size=(5, 2))

    def p(ds):
        return _forward(
            X,
            ds["W0"].values.reshape(-1, 2, 3),
            ds["b0"].values.reshape(-1, 3),
            ds["W1"].values.reshape(-1, 3),
            ds["b1"].values.ravel(),
        )

    np.testing.assert_allclose(p(aligned), p(post))


def test_weight_rhat_is_high_raw_and_near_one_aligned(relabelled):
    post, _ = relabelled
    diag = weight_diagnostics(post)
    assert diag["raw"]["rhat_max"] > 2
    assert diag["match"]["rhat_max"] < 1.02
    assert diag["sort_w1"]["rhat_max"] < 1.02
    assert diag["match"]["ess_bulk_min"] > 10 * diag["raw"]["ess_bulk_min"]


def _fit_with_ratios(log_p: np.ndarray, log_q: np.ndarray) -> FitResult:
    dims = ("chain", "draw")
    idata = xr.DataTree.from_dict(
        {
            "vi_importance": xr.Dataset(
                {"log_p": (dims, log_p[None, :]), "log_q": (dims, log_q[None, :])}
            )
        }
    )
    return FitResult(
        method="advi",
        idata=idata,
        loss=None,
        timings={},
        n_grad_evals=None,
        convergence={},
        config={},
        sampler="test",
    )


@pytest.mark.parametrize("rate", [0.8, 0.5, 0.25])
def test_psis_khat_recovers_an_exact_pareto_tail(rate):
    # theta ~ q = Exponential(1), target p = Exponential(rate): the ratio
    # w = rate * exp((1 - rate) * theta) has an exact Pareto tail of shape k = 1 - rate.
    theta = np.random.default_rng(11).exponential(size=8000)
    fit = _fit_with_ratios(np.log(rate) - rate * theta, -theta)
    out = psis_diagnostics(fit)
    assert out["khat"] == pytest.approx(1 - rate, abs=0.07)
    assert out["khat_ok"] == (1 - rate < 0.7)
    assert np.exp(out["log_weights"].values).sum() == pytest.approx(1.0)


def test_psis_khat_is_low_when_q_covers_p():
    theta = np.random.default_rng(12).normal(size=8000)
    fit = _fit_with_ratios(stats.norm.logpdf(theta, scale=0.7), stats.norm.logpdf(theta))
    out = psis_diagnostics(fit)
    assert out["khat"] < 0.3 and out["khat_ok"]
    assert 0.3 < out["ess_share"] < 1


def test_importance_terms_equal_scipy_and_pymc_densities(rng):
    X = rng.normal(size=(20, 2))
    y = rng.integers(0, 2, 20)
    model = build_bnn(X, y, n_hidden=2)
    with model:
        approx = pm.FullRankADVI(random_seed=3).fit(200, progressbar=False)
        trace = approx.sample(50, random_seed=3)
    post = trace["posterior"].to_dataset()[["W0", "b0", "W1", "b1"]]
    group = approx.groups[0]
    order = [(name, slc) for name, slc, _, _ in group.ordering.values()]
    mean = group.mean.eval()
    terms = gaussian_importance(model, post, mean=mean, cov=group.cov.eval(), order=order)
    from_chol = gaussian_importance(model, post, mean=mean, chol=group.L.eval(), order=order)
    theta = np.concatenate(
        [post[v].values.reshape(50, -1) for v in ("W0", "b0", "W1", "b1")], axis=1
    )
    expected_q = stats.multivariate_normal(mean, group.cov.eval()).logpdf(theta)
    np.testing.assert_allclose(terms["log_q"].values.ravel(), expected_q, rtol=1e-8)
    np.testing.assert_allclose(from_chol["log_q"].values.ravel(), expected_q, rtol=1e-8)
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_importance(model, post, mean=mean, order=order)


def test_importance_from_a_factor_whose_product_rounds_to_indefinite(rng):
    """Full-rank ADVI at 961 parameters failed here: L L^T lost positive definiteness in
    rounding, while q (held as L) is a proper Gaussian. log q from L stays exact."""
    model = build_bnn(rng.normal(size=(5, 1)), rng.integers(0, 2, 5), n_hidden=9)
    shapes = {rv.name: tuple(rv.shape.eval()) for rv in model.free_RVs}
    sizes = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    ends = np.cumsum(list(sizes.values()))
    order = [(n, slice(e - sizes[n], e)) for n, e in zip(sizes, ends, strict=True)]
    d = int(ends[-1])
    chol = np.tril(rng.normal(size=(d, d)) * 1e-3, -1) + np.diag(
        np.r_[np.full(d - 3, 0.5), [1e-6] * 3]
    )
    with pytest.raises(np.linalg.LinAlgError):  # what cov = L L^T did
        stats.multivariate_normal(np.zeros(d), chol @ chol.T)
    mean = np.zeros(d)
    theta = (chol @ rng.normal(size=(d, 4))).T
    post = xr.Dataset(
        {
            n: (
                ("chain", "draw", *(f"{n}_{k}" for k in range(len(shapes[n])))),
                theta[:, slc].reshape(1, 4, *shapes[n]),
            )
            for n, slc in order
        }
    )
    terms = gaussian_importance(model, post, mean=mean, chol=chol, order=order)
    z = np.linalg.solve(chol, (theta - mean).T)
    expected = -0.5 * (z**2).sum(0) - np.log(np.diag(chol)).sum() - d / 2 * np.log(2 * np.pi)
    np.testing.assert_allclose(terms["log_q"].values.ravel(), expected, rtol=1e-8)


# --- a posterior that is Gaussian to a good approximation, with exact draws ----------

N_HIDDEN, PRIOR_SIGMA = 2, 0.3


@pytest.fixture(scope="module")
def gaussian_case():
    """A 2-2-1 network with a tight prior and 30 rows: the likelihood barely tilts the
    Normal(0, 0.3) prior, so the posterior is close to Gaussian. Its exact draws come
    from importance resampling 200,000 prior draws (importance ESS ~ 145,000)."""
    rng = np.random.default_rng(0)
    F, n, n_test, M = 2, 30, 50, 200_000
    X = rng.normal(size=(n + n_test, F))
    y = rng.integers(0, 2, n + n_test)
    ds = Dataset("gaussian", X[:n], y[:n], X[n:], y[n:], ("a", "b"), {"gaussian": "test"})
    W0 = rng.normal(0, PRIOR_SIGMA, (M, F, N_HIDDEN))
    b0 = rng.normal(0, PRIOR_SIGMA, (M, N_HIDDEN))
    W1 = rng.normal(0, PRIOR_SIGMA, (M, N_HIDDEN))
    b1 = rng.normal(0, PRIOR_SIGMA, M)
    p_train = _forward(ds.X_train, W0, b0, W1, b1)
    loglik = (ds.y_train * np.log(p_train) + (1 - ds.y_train) * np.log1p(-p_train)).sum(1)
    w = np.exp(loglik - loglik.max())
    w /= w.sum()
    assert 1 / np.sum(w**2) > 0.5 * M
    idx = rng.choice(M, 4000, p=w)
    draws = (W0[idx], b0[idx], W1[idx], b1[idx])
    post = _posterior(*draws, chains=4)
    p_test = _forward(ds.X_test, *draws).reshape(4, 1000, n_test)
    idata = xr.DataTree.from_dict(
        {
            "posterior": post,
            "predictions": xr.Dataset({"p": (("chain", "draw", "obs"), p_test)}),
        }
    )
    ref = Reference.from_draws(
        idata, ds, n_hidden=N_HIDDEN, prior_sigma=PRIOR_SIGMA, key="exact-resampling"
    )
    # PyMC's own start (no warm start): 20 steps from it are far from the posterior
    model = {"n_hidden": N_HIDDEN, "prior_sigma": PRIOR_SIGMA, "draws": 1000, "warm_start": False}
    good = fit_fullrank_advi(
        dataset=ds,
        settings=FullRankADVISettings(max_iter=5000, learning_rate=3e-3, window=500, **model),
        seed=1,
        context=FitContext(progressbar=False),
    )
    bad = fit_fullrank_advi(
        dataset=ds,
        settings=FullRankADVISettings(max_iter=20, window=5, **model),
        seed=1,
        context=FitContext(progressbar=False),
    )
    return ds, ref, compute_fidelity(good, ds, ref), compute_fidelity(bad, ds, ref)


def test_converged_fullrank_advi_is_near_perfect_on_a_gaussian_posterior(gaussian_case):
    _, ref, good, _ = gaussian_case
    assert good["reference"] == "exact-resampling" and good["reference_skipped"] is None
    assert good["psis_khat"] < 0.5 and good["psis_khat_ok"]
    assert good["class_agreement"] == 1.0
    assert good["pred_tv_mean"] < 0.01
    assert 0.9 < good["pred_sd_ratio_median"] < 1.1
    assert good["share_mean_off_0p3sd"] <= 0.05
    assert 0.8 < good["weight_sd_ratio_median"] < 1.25
    # k-hat allows the PSIS correction: it keeps the predictive as close
    assert good["psis_pred_tv_mean"] < 0.01
    assert 0.9 < good["psis_pred_sd_ratio_median"] < 1.1


def test_a_few_iterations_score_worse(gaussian_case):
    _, _, good, bad = gaussian_case
    assert bad["psis_khat"] > 0.7 and not bad["psis_khat_ok"]
    assert bad["psis_pred_tv_mean"] is None  # k-hat too high for a PSIS correction
    assert bad["pred_sd_ratio_median"] > 2
    assert bad["share_mean_off_0p3sd"] > 0.5
    for key in ("pred_tv_mean", "pred_wasserstein_mean", "pred_mean_z_median"):
        assert bad[key] > good[key], key
    assert bad["class_agreement"] <= good["class_agreement"]


def test_a_reference_of_other_data_or_model_is_skipped(gaussian_case, tiny_fits, teacher_small):
    ds, ref, _, _ = gaussian_case
    out = compute_fidelity(tiny_fits["advi"], teacher_small, ref)
    assert out["reference"] is None and "other data" in out["reference_skipped"]
    assert out["pred_tv_mean"] is None and out["truth_tv_mean_ref"] is None
    assert out["psis_khat"] is not None
    # the truth is still compared: recomputed here from the fit's draws
    p = tiny_fits["advi"].p_test
    truth = teacher_small.p_test_true
    assert out["truth_tv_mean"] == pytest.approx(np.abs(p.mean(axis=0) - truth).mean())
    nuts = compute_fidelity(tiny_fits["nuts"], teacher_small)
    assert nuts["psis_khat"] is None
    # one schema whatever applies
    assert set(nuts) == set(out) == set(gaussian_case[2])
    other = Reference.from_draws(ref.idata, ds, n_hidden=3, prior_sigma=PRIOR_SIGMA)
    assert "n_hidden=3" in other.mismatch(ds, {"n_hidden": N_HIDDEN})
