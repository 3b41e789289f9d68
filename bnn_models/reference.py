"""The reference posterior: a long, many-chain NUTS run, cached and reused.

Approximations are judged against it (:mod:`bnn_models.fidelity`), in the manner of
posteriordb's reference draws. The cache key hashes the model's settings and the
source of :func:`bnn_models.model.build_bnn`, the data arrays and the sampler
configuration; a cached reference with the same key is reused, never recomputed.

Its own convergence is judged in function space: relabelling the hidden units (and
other per-unit symmetries) leaves the network's function unchanged, so chains in
different relabellings give the raw weights a high R-hat while the test-set
probabilities mix. The acceptance criterion is therefore R-hat <= 1.01 and bulk ESS
>= 400 for every test-set probability; the weights' diagnostics, raw and after
relabelling (:data:`bnn_models.posterior.ALIGNMENTS`), are reported beside them.

Files (``--cache``, else ``$BNN_BENCH_CACHE/reference``, else ``.bnn_cache/reference``):
``<data>-<key>.nc`` (the draws) and ``<data>-<key>.json`` (the summary, which alone
serves as a compact reference: :mod:`bnn_models.refsummary`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.inference import FitContext, FitResult, load_fit, save_fit
from bnn_models.inference.nuts import NUTSSettings, fit_nuts
from bnn_models.io import write_json
from bnn_models.lock import folder_lock
from bnn_models.model import N_HIDDEN, PRIOR_SIGMA, build_bnn
from bnn_models.posterior import (
    align_hidden,
    hidden_template,
)
from bnn_models.refsummary import (
    ACCEPT_ESS_BULK,
    ACCEPT_RHAT,
    NEEDS_DRAWS,
    QUICK_REFERENCE,
    REFERENCE_SCHEMA,
    REFERENCE_SCHEMA_VERSION,
    ReferenceSettings,
    compact_fields,
    read_summary,
    summarise_reference,
    weights_from_summary,
)

__all__ = [
    "ACCEPT_ESS_BULK",
    "ACCEPT_RHAT",
    "CACHE_ENV",
    "DEFAULT_CACHE",
    "QUICK_REFERENCE",
    "REFERENCE_SCHEMA",
    "Reference",
    "ReferenceSettings",
    "build_reference",
    "cache_folder",
    "refresh_summary",
    "data_hash",
    "find_reference",
    "load_reference",
    "reference_key",
    "resolve_reference",
]

#: Environment variable naming the cache root (default ``.bnn_cache`` in the working
#: directory); references go in its ``reference`` folder.
CACHE_ENV = "BNN_BENCH_CACHE"

#: Default cache folder, relative to the working directory (git-ignored).
DEFAULT_CACHE = Path(".bnn_cache") / "reference"
#: Committed reference summaries (compact: no draws), searched after the cache.
COMMITTED = Path("results") / "reference"


def data_hash(dataset: Dataset) -> str:
    """SHA256 of the arrays a fit sees (:meth:`bnn_models.data.Dataset.array_hash`)."""
    return dataset.array_hash()


def _model_source_hash() -> str:
    return hashlib.sha256(inspect.getsource(build_bnn).encode()).hexdigest()


def _model_settings(n_hidden: int, prior_sigma: float) -> dict:
    return {"n_hidden": n_hidden, "prior_sigma": prior_sigma, "source_sha256": _model_source_hash()}


def reference_key(data_sha256: str, model: dict, config: dict) -> str:
    """Cache key: hash of the data hash, the model settings and the sampler config."""
    blob = json.dumps({"data": data_sha256, "model": model, "config": config}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reference:
    """A reference posterior, as built, loaded from the cache, or from its summary alone.

    Attributes
    ----------
    summary : dict
        The JSON summary (schema ``bnn-bench/reference``): key, data hash, model,
        config, diagnostics, acceptance, predictive mean and sd per test point, and
        the ``compact`` section (:mod:`bnn_models.refsummary`).
    idata : xarray.DataTree or None
        ``posterior`` (chain, draw, ...), ``predictions`` (``p``), ``sample_stats``;
        None for a compact reference (the summary alone, e.g. the committed one).
    path : pathlib.Path or None
        The cached draws file.
    template : numpy.ndarray
        Hidden-unit template for :func:`bnn_models.fidelity.align_hidden`.
    within_chain_sd, pooled_sd : xarray.Dataset
        Per-weight sd within each chain after alignment, root-mean-squared over chains;
        and over all draws, unaligned.
    """

    summary: dict
    idata: xr.DataTree | None
    path: Path | None = None
    template: np.ndarray = field(init=False, repr=False)
    within_chain_sd: xr.Dataset = field(init=False, repr=False)
    pooled_sd: xr.Dataset = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.idata is None:
            if "compact" not in self.summary:
                raise BadInput(
                    f"reference {self.summary.get('key')}: neither draws nor a compact summary"
                )
            template, within, pooled = weights_from_summary(self.summary["compact"])
        else:
            post = self.idata["posterior"].to_dataset()
            template = hidden_template(post)
            aligned = align_hidden(post, method="match", template=template)
            within = aligned.var(dim="draw", ddof=1).mean(dim="chain") ** 0.5
            pooled = post.std(dim=("chain", "draw"))
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "within_chain_sd", within)
        object.__setattr__(self, "pooled_sd", pooled)

    @property
    def has_draws(self) -> bool:
        """False for a compact reference: the metrics of ``NEEDS_DRAWS`` are n/a."""
        return self.idata is not None

    @classmethod
    def from_draws(
        cls,
        idata: xr.DataTree,
        dataset: Dataset,
        *,
        n_hidden: int,
        prior_sigma: float,
        key: str = "external",
    ) -> Reference:
        """A reference from draws obtained elsewhere (an exact sampler, another library).

        Parameters
        ----------
        idata : xarray.DataTree
            ``posterior`` with ``W0``, ``b0``, ``W1``, ``b1`` over (chain, draw) and
            ``predictions`` with ``p`` (chain, draw, obs) on ``dataset``'s test rows.
        dataset : Dataset
            The data the draws condition on.
        n_hidden, prior_sigma : int, float
            The model the draws are of.
        key : str
            A name for the reference (not cached; no diagnostics).
        """
        p = idata["predictions"]["p"].stack(sample=("chain", "draw"))
        p = p.transpose("sample", ...).values
        summary = {
            "schema": REFERENCE_SCHEMA,
            "schema_version": REFERENCE_SCHEMA_VERSION,
            "key": key,
            "dataset": dataset.describe(),
            "data_hash": data_hash(dataset),
            "model": _model_settings(n_hidden, prior_sigma),
            "config": {
                "chains": int(idata["posterior"].sizes["chain"]),
                "draws": int(idata["posterior"].sizes["draw"]),
            },
            "pred_mean": p.mean(axis=0).tolist(),
            "pred_sd": p.std(axis=0).tolist(),
            "diagnostics": {"function_space": {}, "weight_space": {}},
        }
        return cls(summary=summary, idata=idata)

    @property
    def key(self) -> str:
        """The cache key."""
        return self.summary["key"]

    @property
    def p_test(self) -> np.ndarray:
        """Test-set probability draws, shape (samples, test rows)."""
        if self.idata is None:
            raise BadInput(
                f"reference {self.key}: a compact summary has no draws ({', '.join(NEEDS_DRAWS)} "
                "need them; build the reference with 'bnn-bench reference')"
            )
        p = self.idata["predictions"]["p"]
        return p.stack(sample=("chain", "draw")).transpose("sample", ...).values

    @property
    def pred_mean(self) -> np.ndarray:
        """Posterior predictive mean of the probability of label 1, per test row."""
        return np.asarray(self.summary["pred_mean"])

    @property
    def pred_sd(self) -> np.ndarray:
        """Posterior predictive sd of the probability of label 1, per test row."""
        return np.asarray(self.summary["pred_sd"])

    def mismatch(self, dataset: Dataset, config: dict) -> str | None:
        """Why this reference does not fit a fit of ``dataset`` with ``config`` (None: it does)."""
        if data_hash(dataset) != self.summary["data_hash"]:
            return (
                f"reference {self.key} is of other data ({self.summary['dataset']['name']}, "
                f"data hash {self.summary['data_hash'][:12]})"
            )
        model = self.summary["model"]
        for name in ("n_hidden", "prior_sigma"):
            if name in config and config[name] != model[name]:
                return f"reference {self.key} has {name}={model[name]}, the fit {config[name]}"
        return None

    def describe(self) -> dict:
        """Plain-JSON description for a run's metadata (no draws)."""
        keep = (
            "key",
            "created",
            "commit",
            "data_hash",
            "model",
            "config",
            "acceptance",
            "pred_mean",
            "pred_sd",
            "truth",
            "alignment",
            "noise_floor",
        )
        out = {k: self.summary.get(k) for k in keep}
        diag = self.summary["diagnostics"]
        out["diagnostics"] = {
            "function_space": {
                k: v for k, v in diag["function_space"].items() if not isinstance(v, list)
            },
            "weight_space": {
                name: {k: v for k, v in d.items() if k != "by_var"}
                for name, d in diag["weight_space"].items()
            },
        }
        out["path"] = str(self.path) if self.path else None
        out["draws"] = self.has_draws
        return out


def _tree(result: FitResult) -> xr.DataTree:
    if result.idata is None:
        raise RuntimeError(f"reference: the NUTS fit holds no draws ({result.error})")
    return result.idata


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache: ``cache_dir``, else ``$BNN_BENCH_CACHE/reference``, else the default."""
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get(CACHE_ENV)
    return Path(root) / "reference" if root else DEFAULT_CACHE


def load_reference(path: str | os.PathLike) -> Reference:
    """Load a reference from its draws file (``.nc``) and summary (``.json``), or from a
    summary alone that has the ``compact`` section (a compact reference, no draws).

    Raises
    ------
    BadInput
        A file that is not a bnn-bench reference, or a summary without its draws file
        and without a compact section.
    """
    path = Path(path)
    nc, js = path.with_suffix(".nc"), path.with_suffix(".json")
    if not js.is_file():
        raise BadInput(f"{js}: missing; a reference is a .json summary (and its .nc draws)")
    summary = read_summary(js)
    if nc.is_file():
        return Reference(summary=summary, idata=_tree(load_fit(nc)), path=nc)
    if "compact" not in summary:
        raise BadInput(f"{nc}: missing, and {js} has no compact section to use instead")
    return Reference(summary=summary, idata=None, path=js)


def refresh_summary(path: str | os.PathLike) -> Path:
    """Add the ``compact`` section to a cached reference's summary (from its draws).

    For summaries written before the section existed; the draws, key and
    diagnostics are unchanged. Returns the summary's path.
    """
    ref = load_reference(path)
    if ref.idata is None:
        raise BadInput(f"{path}: no draws to summarise")
    post = ref.idata["posterior"].to_dataset()
    summary = {**ref.summary, "compact": compact_fields(post, ref.p_test, ref.template)}
    js = Path(path).with_suffix(".json")
    write_json(js, summary)
    return js


def find_reference(
    dataset: Dataset,
    cache_dir: str | os.PathLike | None = None,
    *,
    n_hidden: int = N_HIDDEN,
    prior_sigma: float = PRIOR_SIGMA,
) -> Reference | None:
    """The reference of ``dataset`` and this model with the most draws, or None.

    Only references of the same data (by :func:`data_hash`), the same model settings
    and the same source of :func:`~bnn_models.model.build_bnn` qualify. Looks in the
    cache folder, then in the committed :data:`COMMITTED` folder (compact summaries);
    one with draws is preferred to a compact one.
    """
    want_data, want_model = data_hash(dataset), _model_settings(n_hidden, prior_sigma)
    best: tuple[tuple[bool, int, bool, bool], Path] | None = None
    for folder in (cache_folder(cache_dir), COMMITTED):
        for js in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                summary = read_summary(js)
            except BadInput:
                continue
            draws = js.with_suffix(".nc").is_file()
            if (
                summary["data_hash"] != want_data
                or summary["model"] != want_model
                or not (draws or "compact" in summary)
            ):
                continue
            # Most draws; then the one that knows its noise floor, then the default seed
            rank = (
                draws,
                int(summary["config"]["chains"]) * int(summary["config"]["draws"]),
                summary.get("noise_floor") is not None,
                summary["config"].get("seed") == ReferenceSettings().seed,
            )
            if best is None or rank > best[0]:
                best = (rank, js)
    return load_reference(best[1]) if best else None


def build_reference(
    dataset: Dataset,
    settings: ReferenceSettings = ReferenceSettings(),  # noqa: B008 - frozen
    *,
    cache_dir: str | os.PathLike | None = None,
    n_hidden: int = N_HIDDEN,
    prior_sigma: float = PRIOR_SIGMA,
    cores: int | None = None,
    progressbar: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> Reference:
    """Build the reference posterior of ``dataset``, or reuse the cached one.

    Parameters
    ----------
    dataset : Dataset
        The data.
    settings : ReferenceSettings
        The NUTS run (nutpie through :func:`bnn_models.inference.nuts.fit_nuts`).
    cache_dir : path, optional
        Cache folder (default :data:`DEFAULT_CACHE`).
    n_hidden, prior_sigma : int, float
        Passed to :func:`bnn_models.model.build_bnn`.
    cores : int, optional
        Chains run at once (default: as many as the machine's CPUs, at most
        ``chains``); not part of the key, as it does not change the draws.
    progressbar : bool
        Show the sampler's progress.
    log : callable
        Where progress lines go.
    command : str, optional
        The command line, recorded in the summary.

    Returns
    -------
    Reference

    Raises
    ------
    RuntimeError
        The NUTS run failed.
    FolderLocked
        Another process is building the same reference (a :class:`BadInput`).
    """
    chains, draws, tune, seed = settings.chains, settings.draws, settings.tune, settings.seed
    target_accept = settings.target_accept
    config = {
        "chains": chains,
        "draws": draws,
        "tune": tune,
        "seed": seed,
        "target_accept": target_accept,
        "sampler": "nutpie",
    }
    model = _model_settings(n_hidden, prior_sigma)
    key = reference_key(data_hash(dataset), model, config)
    folder = cache_folder(cache_dir)
    nc = folder / f"{dataset.name}-{key}.nc"
    # One builder per reference (others of the same cache go on): the lock is its own.
    with folder_lock(folder, command=command, name=f".{nc.stem}.lock"):
        if nc.is_file() and nc.with_suffix(".json").is_file():
            log(f"reference {key}: reusing the cached {nc}")
            return load_reference(nc)
        cores = cores or min(chains, os.cpu_count() or 1)
        log(
            f"reference {key}: NUTS on {dataset.name}, {chains} chains x {draws} draws "
            f"(tune {tune}, seed {seed}, {cores} at a time) ..."
        )
        nuts_settings = NUTSSettings(
            n_hidden=n_hidden,
            prior_sigma=prior_sigma,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            target_accept=settings.target_accept,
            sampler="nutpie",
        )
        context = FitContext(progressbar=progressbar)
        result = fit_nuts(dataset=dataset, settings=nuts_settings, seed=seed, context=context)
        if not result.ok:
            raise RuntimeError(f"reference {key}: NUTS failed ({result.error})")
        save_fit(result, nc)
        summary = summarise_reference(
            result, dataset, key=key, model=model, config=config, command=command, file_name=nc.name
        )
        write_json(nc.with_suffix(".json"), summary)
        log(f"reference {key}: written {nc} and {nc.with_suffix('.json').name}")
        return Reference(summary=summary, idata=_tree(result), path=nc)


def resolve_reference(
    spec: str | None,
    dataset: Dataset,
    *,
    cache_dir: str | os.PathLike | None = None,
    n_hidden: int = N_HIDDEN,
    prior_sigma: float = PRIOR_SIGMA,
) -> Reference | None:
    """The reference named by ``bnn-bench run --reference``.

    Parameters
    ----------
    spec : {"auto", "none"} or path
        ``none`` (or None): no reference. ``auto``: the cached reference matching the
        data and model, if there is one (never builds one). A folder: the same search
        in that folder. A ``.nc``/``.json`` file: that reference, which must match.

    Raises
    ------
    BadInput
        A named folder without a matching reference, or a named reference of other data
        or another model.
    """
    if spec is None or spec == "none":
        return None
    if spec == "auto":
        return find_reference(dataset, cache_dir, n_hidden=n_hidden, prior_sigma=prior_sigma)
    path = Path(spec)
    if path.is_dir():
        ref = find_reference(dataset, path, n_hidden=n_hidden, prior_sigma=prior_sigma)
        if ref is None:
            raise BadInput(
                f"--reference: {path} holds no reference of this data ({dataset.name}) and "
                f"model (n_hidden={n_hidden}); build one with 'bnn-bench reference'"
            )
        return ref
    if not path.exists():
        raise BadInput(f"--reference: {spec!r} is neither auto, none nor an existing path")
    ref = load_reference(path)
    reason = ref.mismatch(dataset, {"n_hidden": n_hidden, "prior_sigma": prior_sigma})
    if reason is not None:
        raise BadInput(f"--reference: {path}: {reason}")
    if ref.summary["model"]["source_sha256"] != _model_source_hash():
        raise BadInput(f"--reference: {path}: built from another version of build_bnn; rebuild it")
    return ref
