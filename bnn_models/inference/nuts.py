"""NUTS through nutpie (PyMC 6's default NUTS) or PyMC's own sampler.

One fit function serves every nutpie- or PyMC-driven MCMC method: its settings choose
the sampler (``nutpie`` or ``pymc``), nutpie's kernel (NUTS or microcanonical Langevin)
and the adaptation (a mass matrix, or nutpie's normalizing flow). The methods ``nuts``,
``nuts_pymc``, ``nuts_lowrank``, ``nuts_flow`` and ``mclmc`` differ only in their
settings' defaults.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from typing import Any

import pymc as pm

from bnn_models.data import Dataset
from bnn_models.inference._mcmc import ChainClock, MCMCSettings, mcmc_result
from bnn_models.inference._method import Method, require
from bnn_models.inference._result import FitResult, pytensor_backend
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = ["METHOD", "NUTSSettings", "default_sampler", "fit_nuts"]

_SAMPLERS = ("nutpie", "pymc")
_KERNELS = ("nuts", "mclmc")
_ADAPTATIONS = ("diag", "draw_diag", "low_rank", "flow")
_BACKENDS = ("numba", "jax")


def default_sampler() -> str:
    """``nutpie`` when importable (as PyMC 6 chooses), else ``pymc``."""
    return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"


@dataclass(frozen=True)
class NUTSSettings(MCMCSettings):
    """Settings of the nutpie and PyMC samplers (and :class:`MCMCSettings`).

    Attributes
    ----------
    sampler : {"nutpie", "pymc"}, optional
        Default (None): nutpie when installed, as PyMC 6 chooses.
    kernel : {"nuts", "mclmc"}
        nutpie's transition kernel: NUTS, or microcanonical Langevin (nutpie only).
    adaptation : {"diag", "draw_diag", "low_rank", "flow"}
        nutpie's adaptation: a mass matrix (``diag``, ``draw_diag``, ``low_rank``), or a
        normalizing flow trained during warm-up (``flow``: needs ``backend="jax"`` and
        flowjax; its arguments come from :meth:`transform_adapt`). PyMC's sampler:
        ``diag`` only.
    eigval_cutoff : float
        ``low_rank`` only: eigenvalues of the mass-matrix estimate between
        1/cutoff and cutoff are ignored (nutpie's ``mass_matrix_eigval_cutoff``).
    thin : int
        Keep every ``thin``-th draw: ``draws * thin`` transitions per chain.
    backend : {"numba", "jax"}
        What nutpie compiles the log density and its gradient to (nutpie only; PyMC's
        sampler runs on PyTensor's default mode).
    """

    sampler: str | None = None
    kernel: str = "nuts"
    adaptation: str = "diag"
    eigval_cutoff: float = 100.0
    thin: int = 1
    backend: str = "numba"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, options in (
            ("kernel", _KERNELS),
            ("adaptation", _ADAPTATIONS),
            ("backend", _BACKENDS),
        ):
            value = getattr(self, name)
            require(value in options, name, value, f"one of {', '.join(options)}")
        require(
            self.sampler is None or self.sampler in _SAMPLERS,
            "sampler",
            self.sampler,
            f"one of {', '.join(_SAMPLERS)}",
        )
        require(self.eigval_cutoff > 1, "eigval_cutoff", self.eigval_cutoff, "> 1")
        require(self.thin >= 1, "thin", self.thin, ">= 1")
        require(
            self.adaptation != "flow" or self.backend == "jax",
            "backend",
            self.backend,
            "'jax' with adaptation='flow' (nutpie trains the flow on JAX's gradient)",
        )
        require(
            not (self.fused and self.backend == "jax"),
            "fused",
            self.fused,
            "false with backend 'jax' (the fused likelihood has no JAX implementation)",
        )
        if self.sampler == "pymc":
            require(self.kernel == "nuts", "kernel", self.kernel, "'nuts' with sampler='pymc'")
            require(
                self.adaptation == "diag",
                "adaptation",
                self.adaptation,
                "'diag' with sampler='pymc'",
            )
            require(self.backend == "numba", "backend", self.backend, "unset with sampler='pymc'")

    def transform_adapt(self) -> dict[str, Any]:
        """Keyword arguments of nutpie's ``with_transform_adapt`` (``adaptation="flow"``
        only): none here, nutpie's own defaults; :class:`~bnn_models.inference.nuts_flow.
        FlowNUTSSettings` sets them."""
        return {}


def _steps(stats) -> int:
    """Leapfrog steps (gradient evaluations) recorded in nutpie or PyMC sample stats."""
    for name in ("n_steps", "num_steps"):
        if name in stats:
            return int(stats[name].astype("int64").sum())
    return 0


def fit_nuts(
    *,
    dataset: Dataset,
    settings: NUTSSettings = NUTSSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN's posterior with nutpie or PyMC's NUTS.

    Warm-up is timed apart from sampling: nutpie's and PyMC's per-chain progress
    reports give each chain's tuning and sampling seconds (:class:`ChainClock`).

    Parameters
    ----------
    dataset : Dataset
        Training rows to fit, test rows to predict.
    settings : NUTSSettings
        The sampler's settings.
    seed : int
        Seeds the sampler and the prediction.
    context : FitContext, optional
        Progress bar and deadline (:mod:`bnn_models.inference.context`; default: a
        progress bar, no limit). nutpie does not check the deadline: the runner's alarm
        stops it.

    Returns
    -------
    FitResult
        With ``sample_stats`` (divergences, tree depth, steps) in ``idata``.
    """
    context = context or FitContext()
    s = settings
    sampler = s.sampler or default_sampler()
    config = {"seed": seed, **s.as_config(), "sampler": sampler}
    t0 = time.perf_counter()
    model = s.build(dataset)
    clock = ChainClock()
    if sampler == "nutpie":
        import nutpie

        flow = s.adaptation == "flow"
        # PyTensor's symbolic gradient, compiled by the chosen backend; the flow adaptation
        # wants JAX's own gradient (nutpie's documented requirement)
        compiled = nutpie.compile_pymc_model(
            model,
            backend=s.backend,
            gradient_backend="jax" if flow else "pytensor",
            var_names=list(PARAMS),
        )
        if flow:
            compiled = compiled.with_transform_adapt(**s.transform_adapt())
        t1 = time.perf_counter()

        def progress(chains: list) -> None:
            for i, chain in enumerate(chains):
                if chain.started:
                    clock.set(i, chain.tuning, chain.runtime_ms / 1000)

        extra = {"mass_matrix_eigval_cutoff": s.eigval_cutoff} if s.adaptation == "low_rank" else {}
        trace = nutpie.sample(
            compiled,
            draws=s.draws * s.thin,
            tune=s.tune,
            chains=s.chains,
            cores=s.cores,
            seed=seed,
            target_accept=s.target_accept,
            sampler=s.kernel,
            adaptation=s.adaptation,
            progress_bar=context.progressbar,
            progress_callback=progress,
            progress_rate=50,
            save_warmup=True,
            **extra,
        )
        t2 = time.perf_counter()
        label = f"nutpie {library_versions()['nutpie']} ({s.kernel}, {s.adaptation})"
        backend = f"{s.backend} (nutpie)"
        compile_s, wall = t1 - t0, t2 - t1
    else:
        t1 = time.perf_counter()  # PyMC compiles inside pm.sample, before the first draw
        with model:
            trace = pm.sample(
                draws=s.draws * s.thin,
                tune=s.tune,
                chains=s.chains,
                cores=s.cores,
                random_seed=seed,
                target_accept=s.target_accept,
                progressbar=context.progressbar,
                nuts_sampler="pymc",
                var_names=list(PARAMS),
                compute_convergence_checks=False,
                discard_tuned_samples=False,
                callback=lambda trace, draw: clock.mark(draw.chain, draw.tuning),
            )
        t2 = time.perf_counter()
        first = clock.first(default=t1)
        label = f"pymc.NUTS {library_versions()['pymc']}"
        backend = pytensor_backend()
        compile_s, wall = first - t0, t2 - first
    warmup_s, sampling_s = clock.split(wall)
    stats = trace["sample_stats"].to_dataset()
    n_grad_sampling = _steps(stats)
    n_grad_warmup = (
        _steps(trace["warmup_sample_stats"].to_dataset())
        if "warmup_sample_stats" in trace.children
        else 0
    )
    posterior = trace["posterior"].to_dataset()
    if s.thin > 1:
        keep = slice(s.thin - 1, None, s.thin)
        posterior, stats = posterior.isel(draw=keep), stats.isel(draw=keep)
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=posterior,
        sample_stats=stats,
        seed=seed,
        t0=t0,
        compile_s=compile_s,
        warmup_s=warmup_s,
        sampling_s=sampling_s,
        grad_evals=(n_grad_warmup, n_grad_sampling),
        config=config,
        sampler=label,
        backend=backend,
    )


METHOD = Method(
    name="nuts",
    label="NUTS (nutpie)",
    family="mcmc",
    fit=fit_nuts,
    settings=NUTSSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="nutpie",
    accelerations=("fused",),
    defaults_from="studies/nuts_budget/results/nuts_budget.md",
    description="No-U-Turn sampler: nutpie (numba backend), diagonal mass matrix from "
    "draws and gradients",
)
