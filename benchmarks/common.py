"""Shared pieces of the asv suite: the profile switch, fixed seeds, data, and the fit cache.

The profile comes from ``$BNN_BENCH_PROFILE`` (``quick`` or ``full``; default ``quick``),
as scikit-learn's ``SKLBENCH_PROFILE`` does:

- ``quick``: the fits of ``bnn-bench run --quick`` (each method's
  :attr:`~bnn_models.inference.Method.quick` settings, 30-60 s for all three methods on
  2 shared cores) and a 3 x 2 scaling grid. For CI and for checking that every
  benchmark runs (``asv run --quick``: about 1.5 minutes).
- ``full``: the methods' default settings, the real configuration of ``bnn-bench run``
  (NUTS 4 x 1000 draws, ADVI up to 30,000 and full-rank ADVI up to 80,000 steps), and the
  4 x 4 scaling grid. For tracking over commits; not run in CI.

Fit benchmarks carry the profile as their first parameter, so quick and full numbers
never land on the same line of an asv graph. Their methods come from the registry
(:data:`bnn_models.inference.METHODS`), chosen by family, so a newly registered method
is benchmarked with no change here.

Over history (``asv run A..B`` with built environments) the benchmarks are always this
checkout's while ``bnn_models`` is the wheel of the commit measured: what the suite uses
of ``bnn_models`` that an older commit may not have is looked up in setup through
:func:`required`, whose ``NotImplementedError`` asv records as a skip. Importing the
suite never needs more than the API the package has had since the suite's first commits
(the data loaders, the method registry, ``build_bnn``, the runner).
"""

from __future__ import annotations

import ast
import functools
import importlib
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
from threadpoolctl import threadpool_limits

from bnn_models.data import Dataset, load_rupture, make_teacher
from bnn_models.errors import BadInput
from bnn_models.inference import METHODS, resolve_methods
from bnn_models.reference import CACHE_ENV, resolve_reference
from bnn_models.runner import run_benchmark

if TYPE_CHECKING:
    from bnn_models.metrics import Metric

_REPO = Path(__file__).resolve().parents[1]

__all__ = [
    "FIT_SEED",
    "FIT_TIMEOUT",
    "HIDDEN",
    "MCMC_METHODS",
    "MCMC_REFERENCE",
    "METHODS_ENV",
    "METHOD_NAMES",
    "PROFILE",
    "PROFILE_ENV",
    "BACKENDS",
    "ROWS",
    "TEACHER_SEED",
    "VI_METHODS",
    "PACKED_FACTOR_METHODS",
    "VI_STEP_METHODS",
    "backend_params",
    "fit_all",
    "fit_entry",
    "get_profile",
    "chosen_methods",
    "discovered_params",
    "initial_vector",
    "installed",
    "metric_tracks",
    "methods_of",
    "one_blas_thread",
    "required",
    "rupture",
    "teacher",
    "tracked_value",
    "tracked_names",
    "vi_step_function",
]

#: Environment variable that picks the profile.
PROFILE_ENV = "BNN_BENCH_PROFILE"
_PROFILES = ("quick", "full")

#: Seed of every fit in the suite (the default seed of ``bnn-bench run``).
FIT_SEED = 0
#: Seed of the synthetic teacher data of the scaling benchmarks.
TEACHER_SEED = 0


def installed(path: str) -> Any:
    """The object at ``path`` (``"package.module:name"``) in the installed ``bnn_models``,
    or None where the commit being measured predates it.

    Only a missing module or attribute counts as predating: a module that exists but
    fails to import raises, so a broken commit still fails its benchmarks.

    Examples
    --------
    >>> installed("bnn_models.inference:METHODS") is METHODS
    True
    >>> installed("bnn_models.inference:no_such_name") is None
    True
    """
    module, _, name = path.partition(":")
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module.startswith(err.name):
            return None
        raise
    return getattr(found, name, None)


def discovered_params(benchmark: str) -> tuple[list[Any], ...] | None:
    """The parameter lists asv recorded for ``benchmark`` (``"ops.VIStepBackend"``) when
    it discovered the suite for the run under way; None outside asv or before a discovery.

    asv discovers the suite once per run, on its first commit (a range's newest), and has
    every commit run the combination at an index into the lists it recorded then. A class
    whose lists come from an API older commits lack (the VI backends) takes these where
    the commit measured cannot form its own, so that its ``setup`` is reached and skips
    with the reason, rather than asv failing on an index the commit's empty list lacks.
    """
    conf_dir = os.environ.get("ASV_CONF_DIR")
    if not conf_dir:
        return None
    try:  # asv's reader: the files are asv's, with its comments
        from asv.util import load_json
    except ImportError:  # an environment without asv itself: nothing to read it with
        return None
    conf = load_json(Path(conf_dir) / "asv.conf.json", js_comments=True)
    path = Path(conf_dir) / conf.get("results_dir", "results") / "benchmarks.json"
    if not path.is_file():
        return None
    for name, entry in load_json(path).items():
        if name.startswith(f"{benchmark}.") and isinstance(entry, dict):
            # asv stores each value as its repr
            return tuple([ast.literal_eval(v) for v in values] for values in entry["params"])
    return None


def required(path: str) -> Any:
    """:func:`installed`, for a benchmark's ``setup``: a commit without ``path`` raises
    ``NotImplementedError``, which asv records as a skip with this message.

    Raises
    ------
    NotImplementedError
        The installed ``bnn_models`` has no ``path``.
    """
    found = installed(path)
    if found is None:
        raise NotImplementedError(f"{path}: not in the bnn_models of the commit measured")
    return found


def methods_of(family: str) -> list[str]:
    """Installed methods of ``family`` (``mcmc``, ``vi``, ...), in registry order."""
    return [name for name in METHOD_NAMES if METHODS[name].family == family]


#: Environment variable choosing the methods of the suite, as ``bnn-bench run --methods``
#: takes them (names, families, sets such as ``ci`` or ``design``, ``all``;
#: comma-separated). Unset: every installed method. CI benchmarks the ``ci`` set
#: (:data:`bnn_models.inference.METHOD_SETS` says why).
METHODS_ENV = "BNN_BENCH_METHODS"


def chosen_methods() -> list[str]:
    """The methods ``$BNN_BENCH_METHODS`` names (every registered one when unset).

    Raises
    ------
    BadInput
        A name that is no method, family or set; the message names the variable and value.
    """
    value = os.environ.get(METHODS_ENV, "").strip() or "all"
    try:
        return resolve_methods(value)
    except BadInput as err:
        raise BadInput(f"${METHODS_ENV}={value!r}: {err}") from None


_CHOSEN = set(chosen_methods())

#: The chosen registered methods whose engine is installed, in registry order: a method
#: that cannot run here is no parameter of the suite (``bnn-bench run`` reports it skipped).
METHOD_NAMES = [name for name, method in METHODS.items() if method.installed and name in _CHOSEN]
#: Methods that run chains: tracked for R-hat and ESS.
MCMC_METHODS = methods_of("mcmc")
#: Methods that maximise an ELBO: tracked for its value and its convergence.
VI_METHODS = methods_of("vi")
#: VI methods built on one of PyMC's variational classes (the ClassVar
#: ``inference_class`` of their settings): those whose single step can be timed.
VI_STEP_METHODS = [m for m in VI_METHODS if hasattr(METHODS[m].settings, "inference_class")]
#: Those with the opt-in packed Cholesky factor (a ``packed_factor`` setting).
PACKED_FACTOR_METHODS = [
    m for m in VI_STEP_METHODS if "packed_factor" in METHODS[m].settings.__dataclass_fields__
]
#: PyTensor backends a PyMC user can compile the model's functions to, and their modes;
#: None where the commit measured predates ``bnn_models.inference.steps`` (the classes
#: over backends then take asv's recorded parameters: :func:`backend_params`).
BACKENDS: dict[str, str] | None = installed("bnn_models.inference.steps:VI_BACKENDS")
#: The method whose predictive spread the others' is compared with: the first
#: registered MCMC method (None when there is none).
MCMC_REFERENCE: str | None = MCMC_METHODS[0] if MCMC_METHODS else None


def backend_params(benchmark: str, *lists: list[Any]) -> tuple[list[Any], ...]:
    """``params`` of a class over ``lists`` and the backends (last): the backends of the
    installed ``bnn_models``, or where it has none, what asv recorded at discovery
    (:func:`discovered_params`; none recorded: no combination)."""
    if BACKENDS is not None:
        return (*lists, list(BACKENDS))
    return discovered_params(benchmark) or (*lists, [])


def get_profile() -> str:
    """The profile named by ``$BNN_BENCH_PROFILE`` (default ``quick``).

    Raises
    ------
    ValueError
        A value other than ``quick`` or ``full``.
    """
    value = os.environ.get(PROFILE_ENV, "quick").strip().lower() or "quick"
    if value not in _PROFILES:
        raise ValueError(f"${PROFILE_ENV}={value!r}: expected one of {', '.join(_PROFILES)}")
    return value


PROFILE = get_profile()

#: Training rows of the scaling benchmarks (teacher data), per profile.
_ROWS = {"quick": [400, 3200, 25600], "full": [400, 1600, 6400, 25600]}
#: Hidden widths of the scaling benchmarks, per profile.
_HIDDEN = {"quick": [12, 96], "full": [12, 24, 48, 96]}
ROWS = _ROWS[PROFILE]
HIDDEN = _HIDDEN[PROFILE]

#: Seconds allowed to the fits of one profile: asv's ``timeout`` of ``setup_cache`` and
#: of the peak-memory fits (quick: 15 times what they take on 2 shared cores).
FIT_TIMEOUT = {"quick": 900, "full": 3 * 3600}[PROFILE]


@functools.cache
def rupture() -> Dataset:
    """The rupture split (``$BNN_BENCH_DATA_DIR``, else the pinned download)."""
    return load_rupture()


@functools.cache
def teacher(rows: int) -> Dataset:
    """Teacher data (8-12-1 ReLU network) with ``rows`` training rows and 400 test rows."""
    return make_teacher(n_train=rows, n_test=400, seed=TEACHER_SEED)


#: The methods of the uncertainty benchmarks (fits on other data, so kept few): those of
#: the design card's set (:data:`bnn_models.inference.METHOD_SETS`) that the suite runs.
def _design_methods() -> list[str]:
    try:
        return resolve_methods("design")
    except BadInput:  # a commit before the method sets: no uncertainty benchmarks
        return []


UNCERTAINTY_METHODS = [m for m in _design_methods() if m in METHOD_NAMES]


def fit_all(
    profile: str,
    out_dir: str | Path | None = None,
    *,
    dataset: Dataset | None = None,
    methods: list[str] | None = None,
) -> dict:
    """Fit every registered method once on the rupture data with the profile's settings.

    Runs :func:`bnn_models.runner.run_benchmark`, the code behind ``bnn-bench run``, so
    the suite tracks exactly the numbers ``metrics.json`` reports.

    Parameters
    ----------
    profile : {"quick", "full"}
        ``quick`` uses each method's quick settings, ``full`` its defaults.
    out_dir : path, optional
        Where the run's files go (default: a temporary folder in the current one,
        which for ``setup_cache`` is asv's cache folder).
    dataset : Dataset, optional
        Other data than the rupture split (then no reference: fidelity is n/a).
    methods : list of str, optional
        Fewer methods than every installed one.

    Returns
    -------
    dict
        ``{"profile": str, "run": <run metadata>, "fits": {method: <fit entry>}}``,
        each entry as in ``metrics.json`` (failed fits keep ``status`` and ``error``).
    """
    if profile not in _PROFILES:
        raise ValueError(f"profile: expected one of {', '.join(_PROFILES)}, got {profile!r}")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(dir=Path.cwd()))
    # asv runs from its own folder: look for the reference in this checkout's cache.
    cache_dir = Path(os.environ.get(CACHE_ENV) or _REPO / ".bnn_cache") / "reference"
    data = rupture() if dataset is None else dataset
    doc = run_benchmark(
        data,
        out,
        reference=None
        if dataset is not None
        else resolve_reference("auto", data, cache_dir=cache_dir),
        methods=METHOD_NAMES if methods is None else methods,
        seeds=[FIT_SEED],
        quick=profile == "quick",
        progressbar=False,
        log=lambda line: None,
        command=f"asv setup_cache ({profile})",
    )
    return {
        "profile": profile,
        "run": doc["run"],
        "fits": {fit["method"]: fit for fit in doc["fits"]},
    }


def fit_entry(cache: dict, profile: str, method: str) -> dict:
    """The successful fit of ``method`` in a :func:`fit_all` cache.

    Raises
    ------
    RuntimeError
        The fit failed (asv then records the benchmark as failed, and CI fails), or the
        cache holds another profile's fits.
    """
    if cache["profile"] != profile:
        raise RuntimeError(f"cache holds fits of profile {cache['profile']!r}, not {profile!r}")
    fit = cache["fits"].get(method)
    if fit is None:
        raise RuntimeError(f"{method}: no fit in the cache")
    if fit["status"] != "ok":
        raise RuntimeError(f"{method} fit failed: {fit.get('error')}")
    return fit


def initial_vector(model: object) -> np.ndarray:
    """The model's initial point at :data:`FIT_SEED`, raveled as ``logp_dlogp_function`` takes it."""
    return required("bnn_models.inference.steps:initial_vector")(model, FIT_SEED)


def vi_step_function(
    model: pm.Model,
    method: str,
    backend: str | None = None,
    start: dict[str, np.ndarray] | None = None,
    **overrides: Any,
) -> object:
    """:func:`bnn_models.inference.steps.vi_step_function` at :data:`FIT_SEED`."""
    step_function = required("bnn_models.inference.steps:vi_step_function")
    return step_function(model, method, backend, start, seed=FIT_SEED, **overrides)


def _direction_text(direction: str) -> str:
    return {
        "lower": "Direction: lower is better.",
        "higher": 'Direction: HIGHER is better; asv\'s "worse" on an increase is an improvement.',
        "none": "Direction: none. A move either way is a change in behaviour; asv's "
        '"worse" on an increase means nothing here.',
    }[direction]


def tracked_value(entry: dict, metric: Metric) -> float:
    """What asv tracks of ``metric`` in a fit entry: its value through the track's
    ``value``; NaN (asv's n/a) where the fit has no such number (no ELBO for MCMC, no
    reference, no density q)."""
    track = metric.track
    value = metric.value(entry)
    if value is None or track is None:
        return math.nan
    return float(track.value(value) if track.value is not None else value)


def _track_function(metric: Metric) -> Callable[..., float]:
    track = metric.track
    assert track is not None  # only tracked metrics get a function

    def track_metric(self: object, cache: dict, profile: str, method: str) -> float:
        return tracked_value(fit_entry(cache, profile, method), metric)

    track_metric.__name__ = track_metric.__qualname__ = f"track_{track.name}"
    note = f" {track.note}" if track.note else ""
    track_metric.__doc__ = (
        f"{metric.description}{note}\n\n``{metric.path}`` of metrics.json "
        f"(metric {metric.name!r}). {_direction_text(track.direction or metric.direction)}"
    )
    track_metric.unit = track.unit  # type: ignore[attr-defined]
    return track_metric


def metric_tracks(cls: type) -> type:
    """Give the asv class ``cls`` one ``track_<name>`` per metric of the metric table
    (:data:`bnn_models.metrics.METRICS`) whose track names this class as its suite, each
    with its ``.unit`` and a docstring that states its direction."""
    for metric in _metric_table().values():
        track = metric.track
        if track is not None and track.suite == cls.__name__:
            setattr(cls, f"track_{track.name}", _track_function(metric))
    return cls


def tracked_names() -> list[str]:
    """The ``track_`` benchmarks the metric table asks for, in table order."""
    return [f"track_{m.track.name}" for m in _metric_table().values() if m.track is not None]


def _metric_table() -> dict[str, Metric]:
    # A commit before the metric table has no generated tracks (asv: benchmark not found).
    return installed("bnn_models.metrics:METRICS") or {}


def one_blas_thread() -> object:
    """Limit BLAS to one thread in this benchmark's process; returns the limiter.

    The short timings measure the single-thread cost of the graph. With BLAS threads on
    a shared 2-core machine, the largest scaling cells of unchanged code varied 11-fold
    between two ``asv continuous`` runs (thread contention, not the code). asv runs every
    benchmark in its own process, so the limit does not reach the fits.
    """
    return threadpool_limits(limits=1, user_api="blas")
