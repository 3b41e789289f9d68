"""Sequential Monte Carlo (``pm.sample_smc``): tempering from the prior to the posterior.

PyMC's default kernel (independent Metropolis-Hastings with a Gaussian proposal fitted
to the particles) needs no gradients. Each chain is an independent SMC run; R-hat and
ESS across them are computed as for MCMC chains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._mcmc import mcmc_result
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "SMCSettings", "fit_smc"]


@dataclass(frozen=True)
class SMCSettings(Settings):
    """Settings of SMC.

    Attributes
    ----------
    draws : int
        Particles per chain (each a kept draw).
    chains, cores : int
        Independent SMC runs, ``cores`` at a time.
    threshold : float
        Tempering: the next inverse temperature keeps this share of the particles'
        effective sample size.
    correlation_threshold : float
        IMH kernel: steps per stage continue until the particles' autocorrelation falls
        below it.
    """

    draws: int = 2000
    chains: int = 4
    cores: int = 2
    threshold: float = 0.5
    correlation_threshold: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("draws", "chains", "cores"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(0 < self.threshold < 1, "threshold", self.threshold, "in (0, 1)")
        require(
            0 < self.correlation_threshold < 1,
            "correlation_threshold",
            self.correlation_threshold,
            "in (0, 1)",
        )

    @property
    def parallel(self) -> int:
        """SMC runs at a time."""
        return min(self.chains, self.cores)


def _per_chain(values: np.ndarray, chains: int) -> list[np.ndarray]:
    """A per-stage SMC stat as one float array per chain. PyMC stores it as
    (chain, stage), as objects when chains ran different numbers of stages (one
    array per chain), and without the chain axis for a single chain."""
    values = np.asarray(values)
    if chains == 1:
        return [np.concatenate([np.atleast_1d(np.asarray(x, float)) for x in values.ravel()])]
    return [np.asarray(row, dtype=float).ravel() for row in values]


def fit_smc(
    *,
    dataset: Dataset,
    settings: SMCSettings = SMCSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN's posterior with PyMC's SMC (IMH kernel)."""
    context = context or FitContext()
    s = settings
    t0 = time.perf_counter()
    model = s.build(dataset)
    t1 = time.perf_counter()
    with model:
        trace = pm.sample_smc(
            draws=s.draws,
            chains=s.chains,
            cores=s.cores,
            random_seed=seed,
            progressbar=context.progressbar,
            compute_convergence_checks=False,
            threshold=s.threshold,
            correlation_threshold=s.correlation_threshold,
        )
    t2 = time.perf_counter()
    raw = trace["sample_stats"].to_dataset()
    beta = _per_chain(raw["beta"].values, s.chains)
    marginal = _per_chain(raw["log_marginal_likelihood"].values, s.chains)
    stages = [b.size for b in beta]
    stats = xr.Dataset(
        {
            "stages": ("chain", np.asarray(stages)),
            "final_beta": ("chain", np.asarray([b[-1] for b in beta])),
            "log_marginal_likelihood": ("chain", np.asarray([m[-1] for m in marginal])),
        }
    )
    posterior = trace["posterior"].to_dataset()[list(PARAMS)]
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=posterior,
        sample_stats=stats.assign_coords(chain=posterior["chain"].values),
        seed=seed,
        t0=t0,
        compile_s=t1 - t0,
        warmup_s=None,
        sampling_s=t2 - t1,
        grad_evals=None,
        config={"seed": seed, **s.as_config()},
        sampler=f"pymc.sample_smc {library_versions()['pymc']} (IMH)",
        backend=pytensor_backend(),
        convergence={"stages": stages},
    )


METHOD = Method(
    name="smc",
    label="SMC",
    family="mcmc",
    fit=fit_smc,
    settings=SMCSettings,
    quick={"draws": 200, "chains": 2},
    engine="pymc",
    accelerations=("fused",),
    description="sequential Monte Carlo, tempered from prior to posterior, IMH kernel (gradient-free)",
)
