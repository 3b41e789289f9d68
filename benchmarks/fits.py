"""Cost and quality of one fit per method: fitted once in ``setup_cache``, read by ``track_``.

The ``track_`` benchmarks of one metric each are generated from the metric table
(:data:`bnn_models.metrics.METRICS`: a metric whose ``asv`` track names a class here gets
its ``track_<name>`` there, with its unit and direction); written here are only those that
compare two methods' fits (VI's predictive spread against MCMC's).

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
    metric_tracks,
)


class _Fits:
    """The shared fit cache: one fit per method, keyed by method, for the current profile.

    Subclasses inherit this very function, so asv gives them one cache key and runs the
    fits once for all of them.
    """

    def setup_cache(self) -> dict:
        return fit_all(PROFILE)

    setup_cache.timeout = FIT_TIMEOUT  # type: ignore[attr-defined]


@metric_tracks
class FitCost(_Fits):
    """Seconds spent by each method's fit (one fit, measured once: not a repeatable timing)."""

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1


@metric_tracks
class FitQuality(_Fits):
    """Test-set calibration and classification of each method's mean predicted probability."""

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1


@metric_tracks
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


@metric_tracks
class MCMCDiagnostics(_Fits):
    """Convergence and efficiency of each MCMC method, over the test-set probabilities."""

    params = ([PROFILE], MCMC_METHODS)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1


@metric_tracks
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
