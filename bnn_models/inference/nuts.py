"""NUTS: nutpie (PyMC 6's default NUTS) when installed, else PyMC's own sampler."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

import pymc as pm
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.inference._method import Method, Settings, require
from bnn_models.inference._predict import predict_test
from bnn_models.inference._result import FitResult
from bnn_models.model import PARAMS, build_bnn
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "NUTSSettings", "default_sampler", "fit_nuts"]

_SAMPLERS = ("nutpie", "pymc")


def default_sampler() -> str:
    """``nutpie`` when importable (as PyMC 6 chooses), else ``pymc``."""
    return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"


@dataclass(frozen=True)
class NUTSSettings(Settings):
    """Settings of NUTS.

    Attributes
    ----------
    draws, tune : int
        Kept draws and tuning (warm-up) steps per chain.
    chains, cores : int
        Chains, run ``cores`` at a time.
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    sampler : {"nutpie", "pymc"}, optional
        Default (None): nutpie when installed, as PyMC 6 chooses.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    target_accept: float = 0.8
    sampler: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("draws", "chains", "cores"):
            require(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        require(self.tune >= 0, "tune", self.tune, ">= 0")
        require(0 < self.target_accept < 1, "target_accept", self.target_accept, "in (0, 1)")
        require(
            self.sampler is None or self.sampler in _SAMPLERS,
            "sampler",
            self.sampler,
            f"one of {', '.join(_SAMPLERS)}",
        )


def fit_nuts(
    *,
    dataset: Dataset,
    settings: NUTSSettings = NUTSSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    progressbar: bool = True,
) -> FitResult:
    """Sample the BNN's posterior with NUTS.

    Parameters
    ----------
    dataset : Dataset
        Training rows to fit, test rows to predict.
    settings : NUTSSettings
        The sampler's settings.
    seed : int
        Seeds the sampler and the prediction.
    progressbar : bool
        Show the sampler's progress.

    Returns
    -------
    FitResult
        With ``sample_stats`` (divergences, tree depth, steps) in ``idata``.
    """
    s = settings
    sampler = s.sampler or default_sampler()
    draws, tune, chains, cores, target_accept = (
        s.draws,
        s.tune,
        s.chains,
        s.cores,
        s.target_accept,
    )
    config = {"seed": seed, **s.as_config(), "sampler": sampler}
    n_hidden, prior_sigma = s.n_hidden, s.prior_sigma
    t0 = time.perf_counter()
    model = build_bnn(
        dataset.X_train,
        dataset.y_train,
        n_hidden=n_hidden,
        prior_sigma=prior_sigma,
        feature_names=dataset.feature_names,
    )
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model, backend="numba", var_names=list(PARAMS))
        t1 = time.perf_counter()
        trace = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            target_accept=target_accept,
            progress_bar=progressbar,
            save_warmup=True,
        )
        t2 = time.perf_counter()
        # Leapfrog steps of tuning and sampling: each is one logp+gradient evaluation.
        n_grad = int(trace["sample_stats"]["n_steps"].sum())
        if "warmup_sample_stats" in trace.children:
            n_grad += int(trace["warmup_sample_stats"]["n_steps"].sum())
        label = f"nutpie {library_versions()['nutpie']}"
    elif sampler == "pymc":
        t1 = time.perf_counter()  # PyMC compiles inside pm.sample: counted as sampling
        with model:
            trace = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                random_seed=seed,
                target_accept=target_accept,
                progressbar=progressbar,
                nuts_sampler="pymc",
                var_names=list(PARAMS),
                compute_convergence_checks=False,
            )
        t2 = time.perf_counter()
        # PyMC drops tuning stats with discard_tuned_samples: kept draws only.
        n_grad = int(trace["sample_stats"]["n_steps"].sum())
        label = f"pymc.NUTS {library_versions()['pymc']}"
    else:  # pragma: no cover - NUTSSettings refuses other names
        raise AssertionError(sampler)
    idata = xr.DataTree()
    idata["posterior"] = trace["posterior"].to_dataset()[list(PARAMS)]
    stats = trace["sample_stats"].to_dataset()
    # Text-valued stats (nutpie's divergence messages) do not store in netCDF.
    idata["sample_stats"] = stats.drop_vars(
        [v for v in stats.data_vars if stats[v].dtype == object]
    )
    idata = predict_test(model, idata, dataset.X_test, seed=seed)
    t3 = time.perf_counter()
    timings = {
        "compile_s": t1 - t0,
        "fit_s": t2 - t1,
        "draw_s": 0.0,
        "predict_s": t3 - t2,
        "total_s": t3 - t0,
    }
    return FitResult(
        method="nuts",
        family="mcmc",
        idata=idata,
        loss=None,
        timings=timings,
        n_grad_evals=n_grad,
        convergence={},
        config=config,
        sampler=label,
    )


METHOD = Method(
    name="nuts",
    label="NUTS",
    family="mcmc",
    fit=fit_nuts,
    settings=NUTSSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="nutpie",
    description="No-U-Turn sampler: nutpie (numba backend) when installed, else PyMC's own",
)
