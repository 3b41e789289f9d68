"""The runner: fit each method and seed, measure, and save results atomically.

The results folder holds ``metrics.json`` (schema below) and ``fits/<method>-s<seed>.nc``
(one DataTree per fit). ``metrics.json`` is rewritten, atomically, after every fit, so
a killed run keeps every fit that finished; ``resume=True`` skips fits whose config
hash matches a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import xarray as xr

from bnn_models._io import write_json
from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.fidelity import compute_fidelity
from bnn_models.inference import (
    FitResult,
    Settings,
    get_method,
    load_fit,
    resolve_methods,
    save_fit,
)
from bnn_models.inference._deadline import DEADLINE, FitTimeout
from bnn_models.metrics import compute_metrics
from bnn_models.provenance import git_commit, library_versions, machine_info
from bnn_models.reference import Reference
from bnn_models.schema import SCHEMA, SCHEMA_VERSION, load_metrics, summarise_seeds

__all__ = [
    "FitTimeout",
    "Interrupted",
    "fit_settings",
    "load_fits",
    "run_benchmark",
]


class Interrupted(BaseException):  # noqa: N818 - mirrors KeyboardInterrupt
    """Raised by SIGINT/SIGTERM during a run.

    A BaseException that is not KeyboardInterrupt: ``pm.fit`` swallows
    KeyboardInterrupt and would return a half-fitted approximation as if finished.
    """


def fit_settings(
    methods: list[str], *, quick: bool = False, overrides: dict | None = None
) -> dict[str, Settings]:
    """Each method's settings: defaults, then the quick profile, then ``overrides``.

    Raises
    ------
    BadInput
        Overrides of a method not in ``methods``, an unknown setting or a bad value.
    """
    overrides = overrides or {}
    for name in overrides:
        if name not in methods:
            raise BadInput(f"--set: method {name!r} is not among --methods {','.join(methods)}")
    return {m: get_method(m).configure(quick=quick, overrides=overrides.get(m)) for m in methods}


def _config_hash(method: str, seed: int, settings: Settings, dataset: Dataset) -> str:
    blob = json.dumps(
        {
            "method": method,
            "seed": seed,
            "config": settings.as_config(),
            "data": dataset.describe()["sha256"],
            "n_train": len(dataset.y_train),
            "rebalanced": dataset.rebalanced,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _raise_is_lost(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` would be swallowed, not reach the run.

    A signal handler runs in the frame it interrupts; in a ctypes callback (llvmlite's, while
    numba compiles) ctypes prints and drops the exception, and the run would go on.
    """
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("llvmlite")


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def again(signum: int, delay: float, *, if_pending: bool = False) -> None:
        def kill() -> None:
            if not if_pending or DEADLINE.pending is not None:
                os.kill(os.getpid(), signum)

        threading.Timer(delay, kill).start()

    def handler(signum: int, frame: FrameType | None) -> None:
        exc = Interrupted(f"received {signal.Signals(signum).name}")
        if _raise_is_lost(frame):
            again(signum, 0.2)  # when the raise can reach the run
            return
        if DEADLINE.cooperative:
            # The fit raises it at its next check, not inside a compiled PyTensor function
            # (that crashed the process); if it has stopped checking, signal again.
            DEADLINE.interrupt(exc)
            again(signum, 1.0, if_pending=True)
            return
        DEADLINE.pending = None
        raise exc

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Arm the fit's :data:`DEADLINE`; SIGALRM ends fits that do not check it themselves."""
    DEADLINE.arm(seconds)
    if not seconds:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        # Fire again in a second until the fit ends: an exception raised inside a ctypes
        # callback (numba compiling through llvmlite) is swallowed, and a cooperating fit
        # may have moved on to a stage that does not check (drawing, predicting).
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        if _raise_is_lost(frame):
            return  # try again in a second
        if not DEADLINE.cooperative:
            raise DEADLINE.error()
        DEADLINE.cooperative = False

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        DEADLINE.arm(None)


def _divergence_failure(result: FitResult, max_rate: float) -> str | None:
    """Why a result with sample stats has too many divergent draws (None: it has not)."""
    if "sample_stats" not in result.idata.children:
        return None
    stats = result.idata["sample_stats"]
    if "diverging" not in stats:
        return None
    div, n = int(stats["diverging"].sum()), int(stats["diverging"].size)
    if div > max_rate * n:
        return f"{div} of {n} draws divergent (> {max_rate:.2%})"
    return None


def _not_installed(method: str) -> str | None:
    """Why ``method`` cannot run here (its engine is not importable), or None."""
    m = get_method(method)
    if m.installed:
        return None
    return f"engine {m.engine!r} is not installed (pip install {m.engine})"


def _skipped_entry(method: str, seed: int, settings: Settings, chash: str, why: str) -> dict:
    """The entry of a fit that was not attempted: status ``skipped`` and the reason."""
    m = get_method(method)
    return {
        "method": method,
        "family": m.family,
        "label": m.label,
        "seed": seed,
        "status": "skipped",
        "error": why,
        "config": {"method": method, "seed": seed, **settings.as_config()},
        "config_hash": chash,
        "sampler": "",
        "convergence": {},
        "fit_file": None,
    }


def _fit_entry(
    result: FitResult,
    seed: int,
    chash: str,
    fit_file: str | None,
    dataset: Dataset,
    reference: Reference | None = None,
) -> dict:
    method = get_method(result.method)
    entry = {
        "method": result.method,
        "family": method.family,
        "label": method.label,
        "seed": seed,
        "status": result.status,
        "error": result.error,
        "config": result.config,
        "config_hash": chash,
        "sampler": result.sampler,
        "convergence": result.convergence,
        "fit_file": fit_file,
    }
    if result.ok:
        entry.update(compute_metrics(result, dataset.y_test, seed=seed))
        entry["fidelity"] = compute_fidelity(result, dataset, reference)
        if result.warnings:
            entry["warnings"] = list(result.warnings)
    return entry


def _first_lines(text: str, keep: int = 5) -> str:
    """An error's first ``keep`` lines (PyMC's NaN error repeats a line per weight)."""
    lines = text.splitlines()
    more = f"\n(+{len(lines) - keep} more lines)" if len(lines) > keep else ""
    return "\n".join(lines[:keep]) + more


def _failed(method: str, seed: int, settings: Settings, err: BaseException | str) -> FitResult:
    return FitResult(
        method=method,
        idata=xr.DataTree(),  # a failed fit has no draws
        loss=None,
        timings={},
        n_grad_evals=None,
        convergence={},
        config={"method": method, "seed": seed, **settings.as_config()},
        sampler="",
        status="failed",
        error=_first_lines(err if isinstance(err, str) else f"{type(err).__name__}: {err}"),
        family=get_method(method).family,
    )


def run_benchmark(
    dataset: Dataset,
    out_dir: str | Path,
    *,
    methods: list[str] | None = None,
    seeds: list[int] | None = None,
    quick: bool = False,
    overrides: dict | None = None,
    resume: bool = False,
    time_limit_s: float | None = None,
    max_divergence_rate: float = 0.05,
    progressbar: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
    reference: Reference | None = None,
) -> dict:
    """Fit every method for every seed on ``dataset`` and write the results.

    Parameters
    ----------
    dataset : Dataset
        Data to fit and test.
    out_dir : path
        Results folder; ``metrics.json`` and ``fits/`` go there.
    methods : list of str, optional
        Registry names or families (``mcmc``, ``vi``, ...; default: all).
    seeds : list of int, optional
        One fit per method and seed (default ``[0]``).
    quick : bool
        Use each method's quick settings (:attr:`bnn_models.inference.Method.quick`).
    overrides : dict, optional
        ``{method: {setting: value}}`` over the settings (values may be strings).
    resume : bool
        Keep finished fits of an earlier run in ``out_dir`` whose config hash matches.
    time_limit_s : float, optional
        Per-fit wall-clock limit; a fit past it is recorded as failed.
    max_divergence_rate : float
        Fits whose sample stats record a larger share of divergent draws are recorded
        as failed.
    progressbar : bool
        Show the samplers' progress bars.
    log : callable
        Where progress lines go.
    command : str, optional
        The command line, recorded in the metadata.
    reference : Reference, optional
        Reference posterior (:mod:`bnn_models.reference`): every fit gets its
        ``fidelity`` metrics against it (:func:`bnn_models.fidelity.compute_fidelity`),
        and the run's metadata its description (``run.reference``).

    Returns
    -------
    dict
        The metrics document, as written to ``out_dir/metrics.json``. A method whose
        engine is not installed gets entries of status ``skipped`` with the reason.

    Raises
    ------
    BadInput
        An unknown method or setting, a bad value, no seeds, an unwritable folder.
    """
    methods = resolve_methods(methods)
    seeds = list(seeds) if seeds is not None else [0]
    if not seeds:
        raise BadInput("--seeds: empty list of seeds")
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"--seeds: {seeds} repeats a seed")
    if time_limit_s is not None and time_limit_s <= 0:
        raise BadInput(f"--time-limit: must be > 0 seconds, got {time_limit_s}")
    configs = fit_settings(methods, quick=quick, overrides=overrides)
    out = Path(out_dir)
    try:
        (out / "fits").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise BadInput(f"--out: output directory {out} is not writable ({err.strerror})") from err
    for stale in [*out.glob(".*.tmp"), *(out / "fits").glob(".*.tmp")]:
        stale.unlink()  # left by a process killed with SIGKILL mid-write
    metrics_path = out / "metrics.json"
    previous: dict[str, dict] = {}
    if resume and metrics_path.exists():
        for fit in load_metrics(metrics_path)["fits"]:
            if fit["status"] == "ok" and fit.get("fit_file") and (out / fit["fit_file"]).is_file():
                previous[fit["config_hash"]] = fit
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "command": command,
            "machine": machine_info(),
            "versions": library_versions(),
            "dataset": dataset.describe(),
            "methods": methods,
            "seeds": seeds,
            "profile": "quick" if quick else "default",
            "overrides": overrides or {},
            "time_limit_s": time_limit_s,
            "reference": reference.describe() if reference is not None else None,
        },
        "fits": [],
    }
    with _signals_raise():
        for seed in seeds:
            for method in methods:
                settings = configs[method]
                chash = _config_hash(method, seed, settings, dataset)
                if chash in previous:
                    log(
                        f"[{method} seed {seed}] resumed: finished fit {previous[chash]['fit_file']} kept"
                    )
                    doc["fits"].append(previous[chash])
                    continue
                if (why := _not_installed(method)) is not None:
                    log(f"[{method} seed {seed}] skipped: {why}")
                    doc["fits"].append(_skipped_entry(method, seed, settings, chash, why))
                    write_json(metrics_path, doc)
                    continue
                log(f"[{method} seed {seed}] fitting ...")
                t0 = time.perf_counter()
                try:
                    with _time_limit(time_limit_s):
                        result = get_method(method)(
                            dataset=dataset, seed=seed, progressbar=progressbar, settings=settings
                        )
                except BadInput:
                    raise  # what the user gave cannot be used: not a failed fit
                except Exception as err:  # a failed fit (FitTimeout too) must not stop the others
                    result = _failed(method, seed, settings, err)
                if result.ok and (why := _divergence_failure(result, max_divergence_rate)):
                    result = _failed(method, seed, settings, f"RuntimeError: {why}")
                fit_file = None
                if result.ok:
                    fit_file = f"fits/{method}-s{seed}.nc"
                    save_fit(result, out / fit_file)
                entry = _fit_entry(result, seed, chash, fit_file, dataset, reference)
                doc["fits"].append(entry)
                write_json(metrics_path, doc)
                state = "ok" if result.ok else f"FAILED ({result.error})"
                log(f"[{method} seed {seed}] {state} in {time.perf_counter() - t0:.1f} s")
    if len(seeds) > 1:
        doc["seed_summary"] = summarise_seeds(doc["fits"])
    write_json(metrics_path, doc)
    return doc


def load_fits(out_dir: str | Path, doc: dict) -> dict[tuple[str, int], FitResult]:
    """Load the saved FitResults named in a metrics document."""
    out = Path(out_dir)
    return {
        (f["method"], f["seed"]): load_fit(out / f["fit_file"])
        for f in doc["fits"]
        if f["status"] == "ok" and f.get("fit_file")
    }
