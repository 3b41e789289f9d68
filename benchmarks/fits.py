"""Cost and quality of one fit per method: fitted once in ``setup_cache``, read by ``track_``.

Every class here inherits one ``setup_cache`` (:meth:`_Fits.setup_cache`), so asv runs the
fits (one per registered method) once per run and hands the same cache to every
``track_``. asv reads a larger tracked number as worse; each ``track_`` says its
direction in its docstring, and those that cannot be written lower-is-better say so
(their units say it too).

Which tracks a method gets follows its family, never its name: every method the cost,
quality and fidelity tracks; ``mcmc`` methods R-hat and ESS; ``vi`` methods the ELBO
and the predictive spread against the first registered MCMC method's.

MCMC diagnostics use the test-set probabilities, not the weights: the hidden units'
permutation symmetry puts chains in different (equivalent) modes, so R-hat and ESS of
the weights measure that symmetry, not the sampler (see ``bnn_models.metrics.spread``).
"""

from __future__ import annotations

import math
import timeit

from benchmarks.common import (
    FIT_TIMEOUT,
    MCMC_METHODS,
    MCMC_REFERENCE,
    METHOD_NAMES,
    PROFILE,
    VI_METHODS,
    fit_all,
    fit_entry,
)


class _Fits:
    """The shared fit cache: one fit per method, keyed by method, for the current profile.

    Subclasses inherit this very function, so asv gives them one cache key and runs the
    fits once for all of them.
    """

    def setup_cache(self) -> dict:
        return fit_all(PROFILE)

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


class FitCost(_Fits):
    """Seconds spent by each method's fit (one fit, measured once: not a repeatable timing)."""

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_fit_seconds(self, cache: dict, profile: str, method: str) -> float:
        """Wall seconds of sampling (MCMC, tuning included) or optimising (VI).

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["runtime"]["fit_s"]

    track_fit_seconds.unit = "seconds"

    def track_compile_seconds(self, cache: dict, profile: str, method: str) -> float:
        """Wall seconds of building the model and compiling its functions.

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["runtime"]["compile_s"]

    track_compile_seconds.unit = "seconds"


class FitQuality(_Fits):
    """Test-set calibration and classification of each method's mean predicted probability."""

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_ece(self, cache: dict, profile: str, method: str) -> float:
        """Expected calibration error, 10 equal-mass bins.

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["calibration"]["ece"]

    track_ece.unit = "probability"

    def track_brier(self, cache: dict, profile: str, method: str) -> float:
        """Brier score (mean squared error of the probability).

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["calibration"]["brier"]

    track_brier.unit = "squared probability"

    def track_log_loss(self, cache: dict, profile: str, method: str) -> float:
        """Log loss per test row.

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["calibration"]["log_loss"]

    track_log_loss.unit = "nats/row"

    def track_error_rate(self, cache: dict, profile: str, method: str) -> float:
        """Error rate at the 0.5 threshold: 1 - accuracy.

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["calibration"]["error_rate"]

    track_error_rate.unit = "fraction of rows"

    def track_one_minus_f1_weighted(self, cache: dict, profile: str, method: str) -> float:
        """1 - weighted F1 at the 0.5 threshold (the published study's F1).

        Direction: lower is better.
        """
        return fit_entry(cache, profile, method)["calibration"]["one_minus_f1_weighted"]

    track_one_minus_f1_weighted.unit = "fraction"

    def track_pred_sd_mean(self, cache: dict, profile: str, method: str) -> float:
        """Mean over test rows of the posterior sd of the predicted probability.

        Direction: none. It is the spread the method reports; MCMC is the reference and
        VI usually reports less. A move either way is a change in behaviour; asv's
        "worse" on an increase means nothing here (see
        ``track_abs_log_pred_sd_ratio_to_mcmc``).
        """
        return fit_entry(cache, profile, method)["spread"]["pred_sd_mean"]

    track_pred_sd_mean.unit = "probability (no better direction)"


class VIConvergence(_Fits):
    """ELBO of the VI fits, and their predictive spread against the MCMC reference's.

    The reference is :data:`benchmarks.common.MCMC_REFERENCE`, the first registered
    MCMC method, fitted with the same seed and profile.
    """

    params = ([PROFILE], VI_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_neg_final_elbo(self, cache: dict, profile: str, method: str) -> float:
        """Negative ELBO (PyMC's loss), mean over the last convergence window.

        Direction: lower is better (a higher ELBO). NaN (asv's n/a) for a VI method
        without an ELBO trace (Pathfinder, Laplace).
        """
        elbo = fit_entry(cache, profile, method)["elbo"]
        return math.nan if elbo is None else elbo["neg_final_elbo"]

    track_neg_final_elbo.unit = "nats"

    def track_iterations_to_converge(self, cache: dict, profile: str, method: str) -> float:
        """First iteration from which the window-smoothed loss stays within 1% of its end.

        ``elbo.iter_to_1pct`` of ``metrics.json``; defined whether or not the stopping
        rule fired. Direction: lower is better (read it with ``track_neg_final_elbo``: a
        fit stuck early at a poor ELBO also "converges" fast).
        """
        elbo = fit_entry(cache, profile, method)["elbo"]
        return math.nan if elbo is None else float(elbo["iter_to_1pct"])

    track_iterations_to_converge.unit = "iterations"

    def track_pred_sd_ratio_to_mcmc(self, cache: dict, profile: str, method: str) -> float:
        """Mean predictive sd of the VI fit over that of the MCMC reference.

        Direction: 1 is ideal. VI's sd is usually below MCMC's, so in practice higher
        (towards 1) is better, which asv reads the other way round. Gate on
        ``track_abs_log_pred_sd_ratio_to_mcmc``, which is lower-is-better. NaN (asv's
        n/a) when no MCMC method is registered.
        """
        if MCMC_REFERENCE is None:
            return math.nan
        vi = fit_entry(cache, profile, method)["spread"]["pred_sd_mean"]
        return vi / fit_entry(cache, profile, MCMC_REFERENCE)["spread"]["pred_sd_mean"]

    track_pred_sd_ratio_to_mcmc.unit = "ratio (1 is ideal)"

    def track_abs_log_pred_sd_ratio_to_mcmc(self, cache: dict, profile: str, method: str) -> float:
        """``|log(VI predictive sd / MCMC predictive sd)|``: distance from MCMC's spread.

        Direction: lower is better (0: the same mean predictive sd as the MCMC reference).
        """
        return abs(math.log(self.track_pred_sd_ratio_to_mcmc(cache, profile, method)))

    track_abs_log_pred_sd_ratio_to_mcmc.unit = "|log ratio|"


class MCMCDiagnostics(_Fits):
    """Convergence and efficiency of each MCMC method, over the test-set probabilities."""

    params = ([PROFILE], MCMC_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def track_max_rhat(self, cache: dict, profile: str, method: str) -> float:
        """Largest rank-normalised R-hat over the test-set probabilities.

        Direction: lower is better (1.0 is ideal; above 1.01 the chains disagree).
        """
        return fit_entry(cache, profile, method)["diagnostics"]["rhat_max_pred"]

    track_max_rhat.unit = "R-hat"

    def track_min_ess_bulk(self, cache: dict, profile: str, method: str) -> float:
        """Smallest bulk ESS over the test-set probabilities.

        Direction: HIGHER is better; asv's "worse" on an increase is an improvement.
        """
        return fit_entry(cache, profile, method)["diagnostics"]["ess_bulk_min_pred"]

    track_min_ess_bulk.unit = "draws (higher is better)"

    def track_ess_bulk_per_second(self, cache: dict, profile: str, method: str) -> float:
        """Smallest bulk ESS over the test-set probabilities per second of sampling.

        Direction: HIGHER is better; asv's "worse" on an increase is an improvement.
        """
        return fit_entry(cache, profile, method)["runtime"]["ess_bulk_per_s"]

    track_ess_bulk_per_second.unit = "draws/second (higher is better)"

    def track_ess_bulk_per_1k_gradients(self, cache: dict, profile: str, method: str) -> float:
        """Smallest bulk ESS over the test-set probabilities per 1,000 gradient
        evaluations, warm-up included: an engine's efficiency, independent of the machine.

        NaN (asv's n/a) for a gradient-free method (SMC). Direction: HIGHER is better.
        """
        value = fit_entry(cache, profile, method)["runtime"].get("ess_bulk_per_grad")
        return math.nan if value is None else 1000 * value

    track_ess_bulk_per_1k_gradients.unit = "draws per 1,000 gradients (higher is better)"


class FitFidelity(_Fits):
    """Fidelity of each fit to the cached reference posterior (``bnn-bench reference``).

    Function-space metrics are n/a (NaN) when no reference matching the
    data and model is in the checkout's ``.bnn_cache``; PSIS k-hat needs none (VI only).
    """

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def _metric(self, cache: dict, profile: str, method: str, key: str) -> float:
        value = fit_entry(cache, profile, method).get("fidelity", {}).get(key)
        # NaN is asv's "n/a" (skipped), not a failure: no reference, or a metric the
        # method's draws do not define (PSIS k-hat needs a density q: VI only).
        return math.nan if value is None else float(value)

    def track_class_disagreement(self, cache: dict, profile: str, method: str) -> float:
        """Share of test rows whose predicted class differs from the reference's.

        Direction: lower is better.
        """
        return 1.0 - self._metric(cache, profile, method, "class_agreement")

    track_class_disagreement.unit = "share of test rows"

    def track_pred_tv_mean(self, cache: dict, profile: str, method: str) -> float:
        """Mean |p - p_reference| over test rows (posterior-mean probabilities).

        Direction: lower is better.
        """
        return self._metric(cache, profile, method, "pred_tv_mean")

    track_pred_tv_mean.unit = "probability"

    def track_share_off_0p3sd(self, cache: dict, profile: str, method: str) -> float:
        """Share of test rows whose predictive mean is > 0.3 reference sd off (Stan-style gate).

        Direction: lower is better.
        """
        return self._metric(cache, profile, method, "share_mean_off_0p3sd")

    track_share_off_0p3sd.unit = "share of test rows"

    def track_abs_log_sd_ratio(self, cache: dict, profile: str, method: str) -> float:
        """|log| of the median ratio of predictive sd to the reference's (0 is ideal).

        Direction: lower is better.
        """
        return abs(math.log(self._metric(cache, profile, method, "pred_sd_ratio_median")))

    track_abs_log_sd_ratio.unit = "|log ratio|"

    def track_psis_khat(self, cache: dict, profile: str, method: str) -> float:
        """Pareto k-hat of log p(theta, y) - log q(theta) over draws of q (VI; > 0.7 bad).

        Direction: lower is better.
        """
        return self._metric(cache, profile, method, "psis_khat")

    track_psis_khat.unit = "k-hat"
