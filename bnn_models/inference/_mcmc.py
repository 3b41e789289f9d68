"""What every MCMC engine shares: the common settings, the clock that times warm-up apart
from sampling, and the assembly of a :class:`FitResult` from raw draws.

Every engine reports the same timings: ``compile_s`` (building and compiling the log
density), ``warmup_s`` (tuning: step size and mass matrix), ``sampling_s`` (the kept
draws), ``fit_s`` (their sum), ``predict_s`` and ``total_s``; and the same counts:
``n_steps`` per kept draw in ``sample_stats`` (leapfrog steps, each one gradient) and the
total gradient evaluations, warm-up included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._method import Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult
from bnn_models.model import PARAMS

__all__ = ["ChainClock", "MCMCSettings", "initial_points", "mcmc_result", "posterior_dataset"]


@dataclass(frozen=True)
class MCMCSettings(Settings):
    """Settings every MCMC engine shares.

    Attributes
    ----------
    draws, tune : int
        Kept draws and tuning (warm-up) steps per chain. The defaults, 2,000 draws after
        400 warm-up steps (4 chains, target 0.8), come from ``studies/nuts_budget`` on the
        rupture data: of the settings whose R-hat and bulk ESS over the test predictions
        pass in every seed, the closest to the reference posterior. Its README says how
        they compare with the former 1,000 + 1,000 in the committed run. Every engine
        shares them, so that the engines compare on the same draws.
    chains, cores : int
        Chains, run ``cores`` at a time.
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    """

    draws: int = 2000
    tune: int = 400
    chains: int = 4
    cores: int = 2
    target_accept: float = 0.8

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("draws", "chains", "cores"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(self.tune >= 0, "tune", self.tune, ">= 0")
        require(0 < self.target_accept < 1, "target_accept", self.target_accept, "in (0, 1)")

    @property
    def parallel(self) -> int:
        """Chains run at a time."""
        return min(self.chains, self.cores)


@dataclass
class ChainClock:
    """Seconds each chain spent tuning and sampling, from an engine's progress reports.

    Chains run ``cores`` at a time, so per-chain seconds do not add up to wall time:
    :meth:`split` apportions the measured wall time of the whole run in the ratio of
    the chains' summed tuning and sampling seconds.
    """

    tune_s: dict[int, float] = field(default_factory=dict)
    total_s: dict[int, float] = field(default_factory=dict)
    _start: dict[int, float] = field(default_factory=dict)

    def mark(self, chain: int, tuning: bool, now: float | None = None) -> None:
        """A draw of ``chain`` finished at ``now`` (perf_counter); ``tuning``: a warm-up draw."""
        now = time.perf_counter() if now is None else now
        start = self._start.setdefault(chain, now)
        if tuning:
            self.tune_s[chain] = now - start
        self.total_s[chain] = now - start

    def set(self, chain: int, tuning: bool, elapsed_s: float) -> None:
        """An engine's own per-chain clock: ``elapsed_s`` since the chain started."""
        if tuning:
            self.tune_s[chain] = elapsed_s
        self.total_s[chain] = max(elapsed_s, self.total_s.get(chain, 0.0))

    def first(self, default: float) -> float:
        """When the first chain reported its first draw (``default`` before any)."""
        return min(self._start.values(), default=default)

    def split(self, wall_s: float) -> tuple[float, float]:
        """``(warmup_s, sampling_s)`` of a run that took ``wall_s`` seconds."""
        total = sum(self.total_s.values())
        if total <= 0:
            return 0.0, wall_s
        share = min(sum(self.tune_s.values()) / total, 1.0)
        return wall_s * share, wall_s * (1 - share)


def initial_points(model: pm.Model, chains: int, seed: int) -> list[dict[str, np.ndarray]]:
    """One jittered initial point per chain (name -> value, unconstrained), as
    ``pm.sample`` makes them: the engines that take their starts from outside start
    where the others do for the same seed."""
    from pymc.initial_point import make_initial_point_fn

    point_fn = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
    )
    seeds = np.random.default_rng(seed).integers(2**30, size=chains)
    return [point_fn(int(s)) for s in seeds]


def posterior_dataset(model: pm.Model, draws: dict[str, np.ndarray]) -> xr.Dataset:
    """Draws of the weights, shape ``(chain, draw, *shape)``, as a posterior Dataset.

    The dims and coordinates are the model's, as in every other method's posterior.
    """
    data = {}
    for name in PARAMS:
        dims = ("chain", "draw", *(model.named_vars_to_dims.get(name) or ()))
        data[name] = (dims, np.asarray(draws[name]))
    coords = {d: list(model.coords[d]) for v in data.values() for d in v[0][2:]}
    out = xr.Dataset(data, coords=coords)
    return out.assign_coords(chain=np.arange(out.sizes["chain"]), draw=np.arange(out.sizes["draw"]))


def mcmc_result(
    *,
    model: pm.Model,
    dataset: Dataset,
    posterior: xr.Dataset,
    sample_stats: xr.Dataset,
    seed: int,
    t0: float,
    compile_s: float,
    warmup_s: float | None,
    sampling_s: float,
    grad_evals: tuple[int, int] | None,
    config: dict,
    sampler: str,
    backend: str,
    warnings: tuple[str, ...] = (),
    convergence: dict | None = None,
) -> FitResult:
    """Predict the test rows from ``posterior`` and assemble the MCMC :class:`FitResult`.

    ``warmup_s`` None: the method has no warm-up distinct from sampling (SMC's tempering
    is the algorithm); the timings then hold no ``warmup_s``. ``grad_evals``: gradient
    evaluations of warm-up and of sampling (None: a gradient-free method).
    """
    idata = xr.DataTree()
    idata["posterior"] = posterior[list(PARAMS)]
    # Text-valued stats (nutpie's divergence messages) do not store in netCDF.
    idata["sample_stats"] = sample_stats.drop_vars(
        [v for v in sample_stats.data_vars if sample_stats[v].dtype == object]
    )
    t_pred = time.perf_counter()
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t_end = time.perf_counter()
    timings = {"compile_s": compile_s}
    if warmup_s is not None:
        timings["warmup_s"] = warmup_s
    timings |= {
        "sampling_s": sampling_s,
        "fit_s": (warmup_s or 0.0) + sampling_s,
        "draw_s": 0.0,
        "predict_s": t_end - t_pred,
        "total_s": t_end - t0,
    }
    return FitResult(
        method="",
        family="mcmc",
        idata=idata,
        loss=None,
        timings=timings,
        n_grad_evals=None if grad_evals is None else sum(grad_evals),
        convergence=convergence or {},
        config=config,
        sampler=sampler,
        backend=backend,
        warnings=warnings,
        counts=(
            {}
            if grad_evals is None
            else {"grad_evals_warmup": grad_evals[0], "grad_evals_sampling": grad_evals[1]}
        ),
    )
