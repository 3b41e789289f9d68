"""Minibatch mean-field ADVI through PyMC: each step's ELBO gradient on a random batch of rows.

The approach of PyMC's own BNN tutorial (``pm.Minibatch`` data, ``total_size`` on the
observed variable): the model is :func:`bnn_models.model.minibatch_bnn`, the network of
:func:`~bnn_models.model.build_bnn` whose likelihood sees ``batch_size`` rows drawn with
replacement at every step, scaled by ``rows / batch_size``; the optimiser, convergence
rule, draws and scoring are mean-field ADVI's (:func:`fit_gaussian_vi`).

What is counted, and how:

- ``n_grad_evals``: full-data-equivalent gradients, ``round(steps x obj_n_mc x
  batch_size / rows)``: a step on 64 of 1,600 rows counts 0.04 of a gradient of the
  full log density (the convention of every minibatch method of the suite). The raw
  count, ``steps x obj_n_mc`` minibatch gradients, is ``convergence["minibatch"]
  ["grad_evals_minibatch"]``, beside ``batch_size`` (the rows one step used),
  ``batch_size_asked`` and ``rows``.
- The loss trace is PyMC's minibatch estimate of minus the ELBO at each step: the
  likelihood of the step's batch scaled to all rows (an unbiased, noisy estimate of the
  full-data loss). The convergence rule compares means over windows of steps
  (:class:`~bnn_models.inference.ELBOConvergence`), which average that noise down.
- Draws, test-set predictions (``p`` of the full-data model, inputs swapped) and
  ``vi_importance`` (log p of ALL rows, for PSIS k-hat) use
  :func:`~bnn_models.model.build_bnn`'s model, never the minibatch one.

A ``batch_size`` at or above the training rows is clamped to the rows: the fit is then
full-batch mean-field ADVI (every row once per step; ``batch_size`` records the rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import pymc as pm

from bnn_models.data import Dataset
from bnn_models.inference._gaussian_vi import Objective
from bnn_models.inference._method import Method, require
from bnn_models.inference.advi import ADVISettings, fit_advi
from bnn_models.model import minibatch_bnn

__all__ = ["METHOD", "ADVIMinibatchSettings"]

#: Where the default batch size was chosen.
DEFAULTS_FROM = "studies/minibatch_batch_size/results/sweep.md"


@dataclass(frozen=True)
class ADVIMinibatchSettings(ADVISettings):
    """Minibatch ADVI's defaults: mean-field ADVI's (Adam at 0.01, at most 30,000 steps,
    the same rule), on batches of 512 rows.

    512 is the smallest batch size swept (32 to 512, 2 seeds, each under these
    defaults; ``studies/minibatch_batch_size``, whose README quotes the numbers from its
    results) whose fits match full-batch ADVI's in every seed on the rupture data, in
    fidelity to the reference, test log loss and final ELBO, at fewer full-data-equivalent
    gradients; every smaller batch ended at least one seed in a worse optimum.
    Fields: :class:`~bnn_models.inference.ADVISettings` and ``batch_size``.

    Attributes
    ----------
    batch_size : int
        Rows per step (drawn with replacement; clamped to the training rows, where the
        fit is full-batch ADVI).
    """

    batch_size: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")

    def objective(self, dataset: Dataset, model: pm.Model) -> Objective:
        """:func:`~bnn_models.model.minibatch_bnn` on ``dataset``'s training rows, a step's
        share of the rows, and the batch's facts for ``convergence["minibatch"]``."""
        rows = int(dataset.X_train.shape[0])
        batch = min(self.batch_size, rows)
        fit_model = minibatch_bnn(
            dataset.X_train,
            dataset.y_train,
            batch,
            n_hidden=self.n_hidden,
            prior_sigma=self.prior_sigma,
            feature_names=dataset.feature_names,
            fused=self.fused,
        )
        facts = {"batch_size": batch, "batch_size_asked": self.batch_size, "rows": rows}
        return Objective(fit_model, share=batch / rows, facts=facts)


METHOD = Method(
    name="advi_minibatch",
    label="ADVI (minibatch)",
    family="vi",
    fit=fit_advi,  # the settings' Objective makes the same fit minibatch ADVI
    settings=ADVIMinibatchSettings,
    quick={"max_iter": 3000, "draws": 200, "window": 500},
    engine="pymc",
    accelerations=("fused", "numba_positional"),
    defaults_from=DEFAULTS_FROM,
    description="mean-field ADVI on random batches of rows (pm.Minibatch, total_size)",
)
