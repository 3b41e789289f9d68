"""The suite's own metrics: the entries of the metric table, in the report's order.

Each entry says once where the number sits in ``metrics.json``, its unit and direction,
and whether the gate, asv and the report use it (:class:`~bnn_models.metrics.Metric`).
The numbers themselves come from the section functions (:data:`~bnn_models.metrics.SECTIONS`).
"""

from __future__ import annotations

import math

from bnn_models.metrics.table import Metric, Track

__all__ = ["BUILTIN"]


def _one_minus(value: float) -> float:
    return 1.0 - value


def _abs_log(value: float) -> float:
    return abs(math.log(value))


def _gap_to(level: float):  # noqa: ANN202 - a small closure factory
    def gap(value: float) -> float:
        return abs(value - level)

    gap.__name__ = f"gap_to_{level}"
    return gap


def _per_1k(value: float) -> float:
    return 1000.0 * value


_WIN = "the first iteration from which the window-smoothed loss stays within 1% of its end"
_DIAG = "over the test-set probabilities (the hidden units' symmetry leaves them unchanged)"

#: The suite's metrics (registered on import of :mod:`bnn_models.metrics`).
# fmt: off
BUILTIN: tuple[Metric, ...] = (
    # ----------------------------------------------------------------- runtime
    Metric(
        "total_s", "runtime.total_s", "Total time", "s", "lower",
        "Wall seconds of the whole fit: compile, fit, draw and predict.",
        column="s", group="Runtime",
    ),
    Metric(
        "compile_s", "runtime.compile_s", "Compile", "s", "lower",
        "Wall seconds of building the model and compiling its functions.",
        asv=Track("compile_seconds", "FitCost", unit="seconds"), column="s", group="Runtime",
    ),
    Metric(
        "fit_s", "runtime.fit_s", "Fit", "s", "lower",
        "Wall seconds of sampling (MCMC, tuning included) or optimising (VI).",
        asv=Track("fit_seconds", "FitCost", unit="seconds"), column="s", group="Runtime",
    ),
    Metric(
        "draw_s", "runtime.draw_s", "Draw", "s", "lower",
        "Wall seconds of drawing from the VI approximation.",
        column="s", group="Runtime",
    ),
    Metric(
        "predict_s", "runtime.predict_s", "Predict", "s", "lower",
        "Wall seconds of computing the test-set probabilities of every draw.",
        column="s", group="Runtime",
    ),
    Metric(
        "us_per_grad_core", "runtime.us_per_grad_core", "Per gradient, per core", "µs", "lower",
        "Wall microseconds of sampling (warm-up excluded) per log-density gradient, times "
        "the cores in use (metrics.us_per_gradient_per_core).",
        column="us", group="Runtime",
    ),
    Metric(
        "us_per_iter", "runtime.us_per_iter", "Per VI step", "µs", "lower",
        "Wall microseconds of fitting per optimisation step of the method's own optimiser (a "
        "warm start's steps and seconds left out: metrics.us_per_step).",
        column="us", group="Runtime",
    ),
    # ----------------------------------------------------------------- ELBO
    Metric(
        "final_elbo", "elbo.final_elbo", "Final ELBO", "nats", "higher",
        "ELBO (minus PyMC's loss), mean over the last convergence window.",
        column="nats", group="ELBO",
    ),
    Metric(
        "iter_to_1pct", "elbo.iter_to_1pct", "Within 1% of final from iteration",
        "iterations", "lower", f"The suite's 'to 1% of the final loss': {_WIN}.",
        asv=Track(
            "iterations_to_converge", "VIConvergence",
            note="Read it with track_neg_final_elbo: a fit stuck early at a poor ELBO also "
            "'converges' fast.",
        ),
        column="int", group="ELBO",
    ),
    Metric(
        "neg_final_elbo", "elbo.neg_final_elbo", "Negative final ELBO", "nats", "lower",
        "PyMC's loss (minus the ELBO), mean over the last convergence window.",
        gate="t", asv=Track(suite="VIConvergence"), group="ELBO",
    ),
    # ----------------------------------------------------------------- spread
    Metric(
        "pred_sd_mean", "spread.pred_sd_mean", "Mean predictive sd", "probability", "none",
        "Mean over test rows of the posterior sd of the predicted probability.",
        gate="t",
        asv=Track(
            unit="probability (no better direction)",
            note="MCMC is the reference and VI usually reports less (see "
            "track_abs_log_pred_sd_ratio_to_mcmc).",
        ),
        column="prob", group="Spread",
    ),
    # ----------------------------------------------------------------- test set
    Metric(
        "ece", "calibration.ece", "ECE", "probability", "lower",
        "Expected calibration error of the mean predicted probability, 10 equal-mass bins.",
        gate="t", asv=True, column="prob", group="Test set",
    ),
    Metric(
        "brier", "calibration.brier", "Brier", "squared probability", "lower",
        "Brier score: mean squared error of the mean predicted probability.",
        gate="t", asv=True, column="prob", group="Test set",
    ),
    Metric(
        "log_loss", "calibration.log_loss", "Log loss", "nats/row", "lower",
        "Log loss of the mean predicted probability, nats per test row.",
        gate="t", asv=True, column="nats3", group="Test set",
    ),
    Metric(
        "accuracy", "calibration.accuracy", "Accuracy", "fraction of rows", "higher",
        "Share of test rows classified right at the 0.5 threshold.",
        column="pct", group="Test set",
    ),
    Metric(
        "error_rate", "calibration.error_rate", "Error rate", "fraction of rows", "lower",
        "1 - accuracy at the 0.5 threshold.",
        gate="t_per_row", asv=True, group="Test set",
    ),
    Metric(
        "f1_weighted", "calibration.f1_weighted", "Weighted F1", "fraction", "higher",
        "Weighted F1 at the 0.5 threshold (the published study's F1).",
        column="prob", group="Test set",
    ),
    Metric(
        "one_minus_f1_weighted", "calibration.one_minus_f1_weighted", "1 - weighted F1",
        "fraction", "lower", "1 - weighted F1 at the 0.5 threshold (the published study's F1).",
        gate="t_per_row", asv=True, group="Test set",
    ),
    Metric(
        "roc_auc", "calibration.roc_auc", "ROC AUC", "probability", "higher",
        "Area under the ROC curve of the mean predicted probability.",
        gate="t", column="prob", group="Test set",
    ),
    # ----------------------------------------------------------------- MCMC diagnostics
    Metric(
        "rhat_max_pred", "diagnostics.rhat_max_pred", "Max R-hat, predictions", "R-hat",
        "lower", f"Largest rank-normalised R-hat {_DIAG}; above 1.01 the chains disagree.",
        gate="t", asv=Track("max_rhat", "MCMCDiagnostics"), group="Diagnostics",
    ),
    Metric(
        "rhat_max_weights", "diagnostics.rhat_max_weights", "Max R-hat, weights", "R-hat",
        "lower", "Largest rank-normalised R-hat over the weights (high under the symmetry).",
        group="Diagnostics",
    ),
    Metric(
        "ess_bulk_min_pred", "diagnostics.ess_bulk_min_pred", "Min bulk ESS, predictions",
        "draws", "higher", f"Smallest bulk ESS {_DIAG}.",
        gate="t", asv=Track("min_ess_bulk", "MCMCDiagnostics"), column="int",
        group="Diagnostics",
    ),
    Metric(
        "ess_bulk_per_s", "runtime.ess_bulk_per_s", "Bulk ESS per second", "draws/second",
        "higher", "Smallest bulk ESS over the predictions per second of warm-up and sampling.",
        asv=Track("ess_bulk_per_second", "MCMCDiagnostics"), column="per_s",
        group="Diagnostics",
    ),
    Metric(
        "ess_bulk_per_grad", "runtime.ess_bulk_per_grad", "Bulk ESS per gradient", "draws",
        "higher", "Smallest bulk ESS over the predictions per gradient, warm-up included.",
        asv=Track(
            "ess_bulk_per_1k_gradients", "MCMCDiagnostics",
            unit="draws per 1,000 gradients (higher is better)", value=_per_1k,
            note="Per 1,000 gradients: an engine's efficiency, independent of the machine; "
            "n/a for a gradient-free method (SMC).",
        ),
        group="Diagnostics",
    ),
    Metric(
        "divergences", "diagnostics.divergences", "Divergences", "draws", "lower",
        "Divergent transitions over all chains, where the sampler records them.",
        column="int", group="Diagnostics",
    ),
    # ----------------------------------------------------------------- fidelity to the reference
    Metric(
        "class_agreement", "fidelity.class_agreement", "Class agreement", "share of test rows",
        "higher", "Share of test rows whose predicted class is the reference posterior's.",
        asv=Track(
            "class_disagreement", "FitFidelity", unit="share of test rows",
            value=_one_minus, direction="lower", note="Tracked as 1 - agreement.",
        ),
        group="Fidelity",
    ),
    Metric(
        "pred_tv_mean", "fidelity.pred_tv_mean", "Mean |p - p_ref|", "probability", "lower",
        "Mean |p - p_reference| over test rows (posterior-mean probabilities).",
        asv=Track(suite="FitFidelity"), group="Fidelity",
    ),
    Metric(
        "share_mean_off_0p3sd", "fidelity.share_mean_off_0p3sd", "Share off by 0.3 sd",
        "share of test rows", "lower",
        "Share of test rows whose predictive mean is > 0.3 reference sd off (Stan-style).",
        asv=Track("share_off_0p3sd", "FitFidelity"), group="Fidelity",
    ),
    Metric(
        "pred_sd_ratio_median", "fidelity.pred_sd_ratio_median", "Predictive sd ratio",
        "ratio", "none", "Median over test rows of predictive sd over the reference's (1 ideal).",
        asv=Track(
            "abs_log_sd_ratio", "FitFidelity", unit="|log ratio|", value=_abs_log,
            direction="lower", note="Tracked as |log ratio| (0 is ideal).",
        ),
        group="Fidelity",
    ),
    Metric(
        "psis_khat", "fidelity.psis_khat", "PSIS k-hat", "k-hat", "lower",
        "Pareto k-hat of log p(theta, y) - log q(theta) over draws of q (VI; > 0.7 bad).",
        asv=Track(suite="FitFidelity"), group="Fidelity",
    ),
    Metric(
        "truth_coverage_50", "fidelity.truth_coverage_50", "Coverage of the truth, 50%",
        "share of test rows", "none",
        "Share of test rows whose true probability is in the central 50% interval "
        "(teacher data).",
        gate="t",
        asv=Track(
            "coverage_50_gap", "TruthCoverage", value=_gap_to(0.5), direction="lower",
            note="Tracked as |coverage - 0.5|.",
        ),
        group="Fidelity",
    ),
    Metric(
        "truth_coverage_90", "fidelity.truth_coverage_90", "Coverage of the truth, 90%",
        "share of test rows", "none",
        "Share of test rows whose true probability is in the central 90% interval "
        "(teacher data).",
        gate="t",
        asv=Track(
            "coverage_90_gap", "TruthCoverage", value=_gap_to(0.9), direction="lower",
            note="Tracked as |coverage - 0.9|.",
        ),
        group="Fidelity",
    ),
    # ----------------------------------------------------------------- dataset shift
    Metric(
        "auroc_sd", "shift.auroc_sd", "Shift AUROC by sd", "AUROC", "higher",
        "ROC AUC of telling shifted test rows from the others by predictive sd (0.5: chance).",
        gate="t",
        asv=Track(
            "shift_auroc_sd_shortfall", "ShiftUncertainty", unit="1 - AUROC",
            value=_one_minus, direction="lower", note="Tracked as 1 - AUROC.",
        ),
        group="Shift",
    ),
    Metric(
        "shifted_log_loss", "shift.shifted_log_loss", "Shifted log loss", "nats", "lower",
        "Log loss on the shifted test rows, nats per row.",
        gate="t", asv=Track(suite="ShiftUncertainty"), group="Shift",
    ),
)
# fmt: on
