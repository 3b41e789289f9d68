"""Stan's NUTS on the same network written in Stan, through PyStan 3 (``httpstan``).

The Stan program (``bnn_models/inference/stan/bnn.stan``, package data) is
:func:`bnn_models.model.build_bnn` written in Stan: the same weights, priors, ReLU layer
and Bernoulli-logit likelihood, on the dataset's standardised ``X_train`` as given. The
width and the prior sd are data, so one compiled model serves every setting.
``tests/test_stan_model.py`` proves it the same model: Stan's log density minus PyMC's is
one constant at random points (``~`` drops the normal's ``-log(prior_sigma) - log(2 pi)/2``
per weight), and the gradients are equal.

Sampling: Stan's ``hmc_nuts_diag_e_adapt`` (diagonal mass matrix, windowed adaptation,
``delta`` = ``target_accept``, maximum tree depth 10), the suite's MCMC budget
(:class:`MCMCSettings`), ``random_seed`` the suite's seed, each chain started at PyMC's
jittered initial point (:func:`~bnn_models.inference._mcmc.initial_points`, the points
the NumPyro and BlackJAX engines start from). PyStan's ``Model.sample`` starts every chain
at once and keeps each seeded fit in httpstan's cache (a second fit with the same seed
would return it without sampling); this module calls httpstan's own HTTP interface
(``stan.common.HttpstanClient``, as PyStan does) to run ``cores`` chains at a time, like
every other engine, and to delete each chain's fit once read (one found already cached,
left by an interrupted run, is deleted and sampled anew). A fit stopped by the time limit
cannot stop its running chains (httpstan runs them in its worker processes): they finish
there.

Timings: ``compile_s`` is ``stan.build`` (stanc and the C++ compiler the first time,
about a minute; later a look-up in httpstan's cache) with PyMC's model build.
Stan reports each chain's warm-up and sampling seconds (its "Elapsed Time" messages);
the run's wall time is split in their ratio (:class:`ChainClock`). Gradient
evaluations: Stan's ``n_leapfrog__`` summed over warm-up (saved with ``save_warmup``)
and over the kept draws.

Caches: httpstan keeps each compiled program under its own cache folder,
``httpstan.cache.cache_directory()`` (``~/.cache/httpstan/<httpstan version>/models/``,
following ``XDG_CACHE_HOME``), keyed by the program's text; deleting a folder there
forces a rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shlex
import shutil
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.inference._mcmc import (
    ChainClock,
    MCMCSettings,
    initial_points,
    mcmc_result,
    posterior_dataset,
)
from bnn_models.inference._method import Method, Settings
from bnn_models.inference._result import FitResult
from bnn_models.inference.context import FitContext
from bnn_models.model import PARAMS
from bnn_models.provenance import library_versions

__all__ = [
    "METHOD",
    "build_stan_model",
    "compiler_missing",
    "dropped_constant",
    "fit_nuts_stan",
    "stan_data",
    "stan_program",
    "stan_vector",
]

#: Stan's sampler stats, by the names PyMC gives them.
_STATS = {
    "n_leapfrog__": ("n_steps", np.int64),
    "divergent__": ("diverging", bool),
    "treedepth__": ("tree_depth", np.int64),
    "stepsize__": ("step_size", float),
    "accept_stat__": ("acceptance_rate", float),
    "energy__": ("energy", float),
    "lp__": ("lp", float),
}
_ELAPSED = re.compile(r"([0-9.eE+-]+) seconds \((Warm-up|Sampling)\)")
_FUNCTION = "stan::services::sample::hmc_nuts_diag_e_adapt"


@contextlib.contextmanager
def _quiet_server() -> Iterator[None]:
    """httpstan keys its aiohttp application by strings, which aiohttp warns about on
    every start of PyStan's server: its style, not a fault of the fit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "It is recommended to use web.AppKey")
        yield


def stan_program() -> str:
    """The Stan program of the network (package data ``stan/bnn.stan``)."""
    return (resources.files("bnn_models.inference") / "stan" / "bnn.stan").read_text()


def compiler_missing() -> str | None:
    """Why PyStan cannot compile a Stan program here (no C++ compiler), or None.

    httpstan compiles with setuptools, which runs ``$CXX`` or else the compiler Python
    was built with (``sysconfig``'s ``CXX``); either must be on ``PATH``.
    """
    wanted = os.environ.get("CXX") or sysconfig.get_config_var("CXX") or "g++"
    candidates = [shlex.split(wanted)[0], "g++", "clang++"]
    if any(shutil.which(c) for c in candidates):
        return None
    return (
        f"no C++ compiler (g++/clang++) on PATH: PyStan compiles each Stan program with one "
        f"(looked for {', '.join(dict.fromkeys(candidates))})"
    )


def stan_data(dataset: Dataset, settings: Settings) -> dict[str, Any]:
    """The Stan program's data: ``dataset``'s training rows, the width and the prior sd."""
    X = np.asarray(dataset.X_train, dtype=float)
    return {
        "N": X.shape[0],
        "K": X.shape[1],
        "H": settings.n_hidden,
        "X": X,
        "y": np.asarray(dataset.y_train).astype(int),
        "prior_sigma": float(settings.prior_sigma),
    }


def build_stan_model(
    dataset: Dataset, settings: Settings, *, seed: int | None = None, quiet: bool = True
) -> Any:
    """The compiled Stan model on ``dataset`` (``stan.build``; compiled once per program
    text, then found in httpstan's cache).

    ``quiet``: PyStan's console messages (and stanc's warnings that the priors depend
    on data, here the prior sd) are dropped.

    Raises
    ------
    BadInput
        The settings turn on an acceleration the Stan program does not have.
    """
    import stan

    if settings.fused:
        raise BadInput("nuts_stan: fused must be false (the Stan program has no fused Op)")
    sink = io.StringIO()
    with (
        _quiet_server(),
        contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext(),
        contextlib.redirect_stderr(sink) if quiet else contextlib.nullcontext(),
    ):
        return stan.build(stan_program(), data=stan_data(dataset, settings), random_seed=seed)


def dropped_constant(n_params: int, prior_sigma: float) -> float:
    """What Stan's ``~`` leaves out of the log density: each weight's Normal(0,
    ``prior_sigma``) constant, ``-log(prior_sigma) - log(2 pi) / 2`` (the Bernoulli has
    none). PyMC's log density is Stan's plus this."""
    return -n_params * (np.log(prior_sigma) + 0.5 * np.log(2 * np.pi))


def stan_vector(point: dict[str, np.ndarray]) -> np.ndarray:
    """A point of PyMC's model (name -> value) as Stan's unconstrained vector: the
    parameters in the program's order, each matrix column-major (as Stan stores it)."""
    return np.concatenate([np.ravel(point[name], order="F") for name in PARAMS])


def _stan_version() -> str:
    """Stan's version in httpstan's headers (``?`` where they are not found)."""
    try:
        import httpstan

        header = (resources.files(httpstan) / "include" / "stan" / "version.hpp").read_text()
    except (ImportError, OSError):
        return "?"
    parts = re.findall(r"#define STAN_(?:MAJOR|MINOR|PATCH) (\d+)", header)
    return ".".join(parts) if len(parts) == 3 else "?"


def _elapsed(output: bytes) -> tuple[float, float]:
    """``(warm-up, sampling)`` seconds of one chain, from Stan's Elapsed Time messages."""
    found = {kind: 0.0 for kind in ("Warm-up", "Sampling")}
    for line in output.splitlines():
        if b'"logger"' in line and b"seconds (" in line:
            for value, kind in _ELAPSED.findall(line.decode()):
                found[kind] = float(value)
    return found["Warm-up"], found["Sampling"]


async def _run_chains(model: Any, payloads: list[dict], cores: int, progress: bool) -> list[bytes]:
    """Each chain's Stan output (httpstan's fit messages), ``cores`` chains at a time."""
    import stan.common

    outputs: list[bytes] = [b""] * len(payloads)
    slots = asyncio.Semaphore(cores)
    async with stan.common.HttpstanClient() as client:

        async def chain(i: int, payload: dict) -> None:
            async with slots:
                for _ in range(2):
                    resp = await client.post(f"/{model.model_name}/fits", json=payload)
                    if resp.status != 201:
                        raise RuntimeError(f"httpstan refused chain {i + 1}: {resp.json()}")
                    op = resp.json()
                    if not op["done"]:
                        break
                    # a fit of this seed left in httpstan's cache: delete it, sample anew
                    await client.delete(f"/{op['result']['name']}")
                shown = ""
                while not op["done"]:
                    await asyncio.sleep(0.05)
                    op = (await client.get(f"/{op['name']}")).json()
                    now = op.get("metadata", {}).get("progress", "")
                    if progress and now != shown:
                        shown = now
                        sys.stderr.write(f"[stan chain {i + 1}] {now}\n")
                name = op["result"].get("name")
                if name is None:
                    raise RuntimeError(f"Stan chain {i + 1}: {op['result'].get('message')}")
                outputs[i] = (await client.get(f"/{name}")).content
                await client.delete(f"/{name}")

        await asyncio.gather(*(chain(i, p) for i, p in enumerate(payloads)))
    return outputs


def _by_chain(fit: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """``fit[name]``, shape ``(*shape, draws * chains)`` with the chains interleaved
    (draw-major), as ``(chain, draw, *shape)``."""
    values = np.asarray(fit[name]).reshape(*shape, -1, fit.num_chains)
    return np.moveaxis(values, [-1, -2], [0, 1])


def fit_nuts_stan(
    *,
    dataset: Dataset,
    settings: MCMCSettings = MCMCSettings(),  # noqa: B008 - frozen, so a safe default
    seed: int = 0,
    context: FitContext | None = None,
) -> FitResult:
    """Sample the BNN's posterior with Stan's NUTS (the same network, written in Stan).

    Parameters
    ----------
    dataset : Dataset
        Training rows to fit, test rows to predict (with PyMC's model, from Stan's draws).
    settings : MCMCSettings
        The suite's MCMC budget; ``target_accept`` is Stan's ``delta``.
    seed : int
        Stan's ``random_seed`` (chain ``k`` draws from Stan's stream ``k``), the initial
        points and the prediction.
    context : FitContext, optional
        Progress lines (each chain's iteration, on stderr) and deadline (the runner's
        alarm, when the fit next polls httpstan).

    Returns
    -------
    FitResult
        Draws under PyMC's names and dims; ``sample_stats`` in PyMC's names (``n_steps``,
        ``diverging``, ``tree_depth``, ``step_size``, ``acceptance_rate``, ``energy``,
        ``lp``), ``lp`` and ``energy`` with the constants Stan drops put back
        (:func:`dropped_constant`), so that they are PyMC's.
    """
    import stan.fit

    context = context or FitContext()
    s = settings
    config = {"seed": seed, **s.as_config()}
    t0 = time.perf_counter()
    model = s.build(dataset)
    posterior = build_stan_model(dataset, s, seed=seed, quiet=not context.progressbar)
    t1 = time.perf_counter()
    payloads = [
        {
            "function": _FUNCTION,
            "chain": k + 1,
            "data": posterior.data,
            "init": {name: np.asarray(point[name]).tolist() for name in PARAMS},
            "random_seed": seed,
            "num_samples": s.draws,
            "num_warmup": s.tune,
            "save_warmup": True,
            "delta": s.target_accept,
        }
        for k, point in enumerate(initial_points(model, s.chains, seed))
    ]
    with _quiet_server():
        outputs = asyncio.run(_run_chains(posterior, payloads, s.parallel, context.progressbar))
    t2 = time.perf_counter()
    clock = ChainClock()
    for k, output in enumerate(outputs):
        warm, sampling = _elapsed(output)
        clock.set(k, True, warm)
        clock.set(k, False, warm + sampling)
    warmup_s, sampling_s = clock.split(t2 - t1)
    fit = stan.fit.Fit(
        tuple(outputs),
        s.chains,
        posterior.param_names,
        posterior.constrained_param_names,
        posterior.dims,
        s.tune,
        s.draws,
        1,
        True,
    )
    kept = slice(s.tune, None)
    dims = dict(zip(posterior.param_names, posterior.dims, strict=True))
    draws = {name: _by_chain(fit, name, tuple(dims[name]))[:, kept] for name in PARAMS}
    steps = _by_chain(fit, "n_leapfrog__", ()).astype(np.int64)
    stats = xr.Dataset(
        {
            new: (("chain", "draw"), _by_chain(fit, old, ())[:, kept].astype(kind))
            for old, (new, kind) in _STATS.items()
        }
    )
    # PyMC's log density, and energy, keep the constants Stan's `~` drops
    constant = dropped_constant(sum(int(np.prod(d)) for d in posterior.dims), s.prior_sigma)
    stats["lp"] = stats["lp"] + constant
    stats["energy"] = stats["energy"] - constant
    post = posterior_dataset(model, draws)
    return mcmc_result(
        model=model,
        dataset=dataset,
        posterior=post,
        sample_stats=stats.assign_coords(post[["chain", "draw"]].coords),
        seed=seed,
        t0=t0,
        compile_s=t1 - t0,
        warmup_s=warmup_s,
        sampling_s=sampling_s,
        grad_evals=(int(steps[:, : s.tune].sum()), int(steps[:, kept].sum())),
        config=config,
        sampler=f"stan {_stan_version()} (pystan {library_versions(('pystan',))['pystan']}, "
        "hmc_nuts_diag_e_adapt)",
        backend="stan (C++)",
    )


METHOD = Method(
    name="nuts_stan",
    label="NUTS (Stan)",
    family="mcmc",
    fit=fit_nuts_stan,
    settings=MCMCSettings,
    quick={"draws": 150, "tune": 150, "chains": 2},
    engine="stan",
    distribution="pystan",
    requires=compiler_missing,
    description="Stan's NUTS (diagonal mass matrix, windowed adaptation) on the same network "
    "written in Stan, through PyStan 3 (httpstan, compiled C++)",
)
