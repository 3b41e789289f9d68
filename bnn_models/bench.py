"""Run the comparison: fit each method and seed, measure, and save results atomically.

The results folder holds ``metrics.json`` (schema below) and ``fits/<method>-s<seed>.nc``
(one DataTree per fit). ``metrics.json`` is rewritten, atomically, after every fit, so
a killed run keeps every fit that finished; ``resume=True`` skips fits whose config
hash matches a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import platform
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from bnn_models._io import write_json
from bnn_models.data import Dataset
from bnn_models.fidelity import compute_fidelity
from bnn_models.inference import METHODS, QUICK, FitResult, library_versions, load_fit, save_fit
from bnn_models.metrics import compute_metrics

if TYPE_CHECKING:
    from bnn_models.reference import Reference

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Interrupted",
    "fit_config",
    "load_metrics",
    "machine_info",
    "parse_methods",
    "run_benchmark",
    "summarise_seeds",
]

SCHEMA = "bnn-bench/metrics"
SCHEMA_VERSION = 1
_TOP_KEYS = ("schema", "schema_version", "run", "fits")
_FIT_KEYS = ("method", "seed", "status", "config", "config_hash")


class Interrupted(BaseException):  # noqa: N818 - mirrors KeyboardInterrupt
    """Raised by SIGINT/SIGTERM during a run.

    A BaseException that is not KeyboardInterrupt: ``pm.fit`` swallows
    KeyboardInterrupt and would return a half-fitted approximation as if finished.
    """


class FitTimeout(Exception):
    """A fit ran past its time limit."""


def machine_info() -> dict:
    """Host, CPU and platform of this run."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def git_commit(cwd: Path | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when it has changes), or None."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty.strip() else "")


def parse_methods(text: str | list[str]) -> list[str]:
    """Validate a comma-separated list of method names."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if not names:
        raise ValueError("--methods: empty list; expected some of " + ",".join(METHODS))
    for name in names:
        if name not in METHODS:
            raise ValueError(
                f"--methods: unknown method {name!r}; expected some of {','.join(METHODS)}"
            )
    return list(dict.fromkeys(names))


def fit_config(method: str, *, quick: bool = False, overrides: dict | None = None) -> dict:
    """Keyword settings passed to a method (profile settings, then user overrides).

    Raises
    ------
    ValueError
        A setting the method does not take, or a value the method would reject.
    """
    params = inspect.signature(METHODS[method]).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    allowed = set(params) - {"dataset", "seed", "progressbar"}
    cfg = dict(QUICK[method]) if quick else {}
    for key, value in (overrides or {}).get(method, {}).items():
        if key not in allowed and not takes_any:
            raise ValueError(
                f"--set: method {method!r} has no setting {key!r}; settings: {', '.join(sorted(allowed))}"
            )
        cfg[key] = value
    return cfg


def _config_hash(method: str, seed: int, cfg: dict, dataset: Dataset) -> str:
    blob = json.dumps(
        {
            "method": method,
            "seed": seed,
            "config": cfg,
            "data": dataset.describe()["sha256"],
            "n_train": len(dataset.y_train),
            "rebalanced": dataset.rebalanced,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Interrupted(f"received {signal.Signals(signum).name}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if not seconds:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise FitTimeout(f"time limit of {seconds:g} s reached")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_metrics(path: str | Path) -> dict:
    """Read and validate a ``metrics.json``.

    Raises
    ------
    ValueError
        Missing, corrupted, or of another schema version; the message names the file
        and the field.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise ValueError(f"{path}: no metrics file (was the run finished? see 'bnn-bench run')")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: corrupted JSON ({err})") from err
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    for key in _TOP_KEYS:
        if key not in doc:
            raise ValueError(f"{path}: field {key!r} missing")
    if doc["schema"] != SCHEMA:
        raise ValueError(f"{path}: field 'schema' is {doc['schema']!r}, expected {SCHEMA!r}")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: field 'schema_version' is {doc['schema_version']!r}, this bnn-bench "
            f"reads version {SCHEMA_VERSION}"
        )
    if not isinstance(doc["fits"], list):
        raise ValueError(f"{path}: field 'fits' must be a list")
    for i, fit in enumerate(doc["fits"]):
        for key in _FIT_KEYS:
            if not isinstance(fit, dict) or key not in fit:
                raise ValueError(f"{path}: fits[{i}]: field {key!r} missing")
    return doc


def _fit_entry(
    result: FitResult,
    seed: int,
    chash: str,
    fit_file: str | None,
    dataset: Dataset,
    reference: Reference | None = None,
) -> dict:
    entry = {
        "method": result.method,
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
        if result.method != "nuts" and not result.convergence.get("converged"):
            entry["warnings"] = [
                f"ELBO did not meet the convergence rule within {result.config['max_iter']} "
                "iterations: compare with care"
            ]
    return entry


def _failed(method: str, seed: int, cfg: dict, err: BaseException) -> FitResult:
    return FitResult(
        method=method,
        idata=xr.DataTree(),  # a failed fit has no draws
        loss=None,
        timings={},
        n_grad_evals=None,
        convergence={},
        config={"method": method, "seed": seed, **cfg},
        sampler="",
        status="failed",
        error=f"{type(err).__name__}: {err}",
    )


def summarise_seeds(fits: list[dict], *, prob: float = 0.9) -> dict:
    """Mean and central interval of every numeric metric across seeds, per method.

    Returns ``{method: {"n_seeds": k, "metrics": {"calibration.ece": {"mean", "lo",
    "hi", "sd"}, ...}}}``; intervals are the empirical ``prob`` quantiles over seeds.
    """
    out: dict = {}
    groups: dict[str, list[dict]] = {}
    for fit in fits:
        if fit["status"] == "ok":
            groups.setdefault(fit["method"], []).append(fit)
    for method, entries in groups.items():
        values: dict[str, list[float]] = {}
        for entry in entries:
            for section in ("runtime", "elbo", "spread", "calibration", "diagnostics", "fidelity"):
                for key, val in (entry.get(section) or {}).items():
                    if isinstance(val, int | float) and not isinstance(val, bool):
                        values.setdefault(f"{section}.{key}", []).append(float(val))
        stats = {}
        for key, vals in values.items():
            arr = np.asarray(vals)
            stats[key] = {
                "mean": float(arr.mean()),
                "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
                "lo": float(np.quantile(arr, (1 - prob) / 2)),
                "hi": float(np.quantile(arr, (1 + prob) / 2)),
                "n": int(arr.size),
            }
        out[method] = {"n_seeds": len(entries), "interval_prob": prob, "metrics": stats}
    return out


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
        Registry names (default: all).
    seeds : list of int, optional
        One fit per method and seed (default ``[0]``).
    quick : bool
        Use the small :data:`bnn_models.inference.QUICK` settings.
    overrides : dict, optional
        ``{method: {setting: value}}`` passed to the fit functions.
    resume : bool
        Keep finished fits of an earlier run in ``out_dir`` whose config hash matches.
    time_limit_s : float, optional
        Per-fit wall-clock limit; a fit past it is recorded as failed.
    max_divergence_rate : float
        NUTS fits with a larger share of divergent draws are recorded as failed.
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
        The metrics document, as written to ``out_dir/metrics.json``.
    """
    methods = parse_methods(methods or list(METHODS))
    seeds = list(seeds) if seeds is not None else [0]
    if not seeds:
        raise ValueError("--seeds: empty list of seeds")
    if time_limit_s is not None and time_limit_s <= 0:
        raise ValueError(f"--time-limit: must be > 0 seconds, got {time_limit_s}")
    configs = {m: fit_config(m, quick=quick, overrides=overrides) for m in methods}
    out = Path(out_dir)
    try:
        (out / "fits").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out: output directory {out} is not writable ({err.strerror})") from err
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
                cfg = configs[method]
                chash = _config_hash(method, seed, cfg, dataset)
                if chash in previous:
                    log(
                        f"[{method} seed {seed}] resumed: finished fit {previous[chash]['fit_file']} kept"
                    )
                    doc["fits"].append(previous[chash])
                    continue
                log(f"[{method} seed {seed}] fitting ...")
                t0 = time.perf_counter()
                try:
                    with _time_limit(time_limit_s):
                        result = METHODS[method](
                            dataset=dataset, seed=seed, progressbar=progressbar, **cfg
                        )
                except (ValueError, TypeError) as err:
                    if "must be" in str(err) or "unknown" in str(err):
                        raise  # a bad option: the user's error, not a failed fit
                    result = _failed(method, seed, cfg, err)
                except (Exception, FitTimeout) as err:  # a failed fit must not stop the others
                    result = _failed(method, seed, cfg, err)
                if result.ok and method == "nuts":
                    div = int(result.idata["sample_stats"]["diverging"].sum())
                    n = int(result.idata["sample_stats"]["diverging"].size)
                    if div > max_divergence_rate * n:
                        result = _failed(
                            method,
                            seed,
                            cfg,
                            RuntimeError(
                                f"{div} of {n} draws divergent (> {max_divergence_rate:.0%})"
                            ),
                        )
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
