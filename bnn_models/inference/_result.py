"""The result every inference method returns, and its round trip to disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import xarray as xr

from bnn_models.errors import BadInput
from bnn_models.io import atomic_path
from bnn_models.provenance import library_versions

__all__ = ["FitResult", "load_fit", "pytensor_backend", "rule_converged", "save_fit"]

#: PyTensor linker -> the backend its compiled functions run on.
_LINKERS = {
    "NumbaLinker": "numba",
    "PositionalNumbaLinker": "numba-positional",
    "JAXLinker": "jax",
    "PytorchLinker": "pytorch",
    "MLXLinker": "mlx",
    "CLinker": "c",
    "OpWiseCLinker": "c",
    "PerformLinker": "python",
}


def pytensor_backend(mode: str | None = None) -> str:
    """The backend of PyTensor functions compiled in ``mode``, e.g. ``pytensor numba``.

    None: PyTensor's default mode, which ``pm.fit``, ``pm.sample`` and PyMC's other
    compiled functions use unless told otherwise (``PYTENSOR_FLAGS=mode=...`` changes
    it, so it is read when the fit runs, not assumed).

    Examples
    --------
    >>> pytensor_backend("JAX"), pytensor_backend("CVM"), pytensor_backend("FAST_COMPILE")
    ('pytensor jax', 'pytensor c', 'pytensor python')
    """
    from pytensor.compile.mode import get_mode

    linker = get_mode(mode).linker
    name = type(linker).__name__
    if name == "VMLinker":  # CVM: C thunks in a C loop; FAST_COMPILE: Python thunks
        return "pytensor c" if getattr(linker, "c_thunks", False) else "pytensor python"
    return f"pytensor {_LINKERS.get(name, name)}"


def rule_converged(convergence: dict) -> bool:
    """Whether an iterative fit converged: its rule fired before the fit's step cap.

    A rule that fires at the cap itself (the last step the fit was allowed) says nothing:
    the fit stopped because it ran out of steps, and would have stopped there anyway. The
    cap is ``convergence["cap"]``; records made before it was written give it as
    ``max_iter`` plus the steps of a warm-start stage, which ``fired_at`` counts too.

    Parameters
    ----------
    convergence : dict
        A fit's ``convergence`` record (:attr:`FitResult.convergence`).

    Returns
    -------
    bool
        False when the rule never fired, or fired at or after the cap.

    Examples
    --------
    >>> rule_converged({"fired_at": 20000, "max_iter": 20000})
    False
    >>> rule_converged({"fired_at": 15000, "max_iter": 20000})
    True
    """
    fired = convergence.get("fired_at")
    if fired is None:
        return False
    cap = convergence.get("cap")
    if cap is None:
        max_iter = convergence.get("max_iter")
        if max_iter is None:
            return True  # no cap recorded: nothing to have run into
        cap = int(max_iter) + int((convergence.get("warm_start") or {}).get("iterations") or 0)
    return int(fired) < int(cap)


@dataclass(frozen=True)
class FitResult:
    """What one method's fit produced.

    Attributes
    ----------
    method : str
        Registry name of the method (set by :class:`~bnn_models.inference.Method`).
    idata : xarray.DataTree
        ``posterior`` (chain, draw, ...) with ``W0``, ``b0``, ``W1``, ``b1`` for every
        method; ``predictions`` with ``p`` (chain, draw, obs), the probability of
        label 1 for each test row; ``sample_stats`` where the method has them (MCMC:
        divergences, tree depth, steps); ``vi_importance`` where the method has a
        density q (``log_p`` = log p(theta, y) and ``log_q`` = log q(theta) per draw,
        for PSIS).
    loss : numpy.ndarray or None
        The objective at every iteration (negative ELBO for VI); None without one.
    timings : dict
        Seconds: ``compile_s`` (building and compiling the functions, including the
        first call of the VI sampler), ``fit_s`` (sampling or optimising),
        ``draw_s`` (drawing from the VI approximation), ``predict_s`` (test-set
        probabilities), ``total_s``.
    n_grad_evals : int or None
        Gradient evaluations of the log density (NUTS leapfrog steps incl. tuning;
        VI iterations times Monte Carlo samples).
    convergence : dict
        Iterative fits: the rule (window, tolerance), the iteration it fired (``fired_at``,
        or None), ``max_iter``, ``cap`` (the last iteration the fit could reach, numbered
        as ``fired_at``) and ``converged`` (:func:`rule_converged`). Empty where there is
        no such rule.
    config : dict
        Every setting of the fit, the seed included.
    sampler : str
        What produced the draws, e.g. ``nutpie 0.16.11`` or ``pymc.ADVI 6.4.0``.
    backend : str
        What the log density and its gradient were compiled to and ran on, e.g.
        ``numba (nutpie)``, ``jax`` or ``pytensor numba`` (:func:`pytensor_backend`);
        empty where no fit ran.
    versions : dict
        Library versions at fit time.
    status : str
        ``ok`` or ``failed``.
    error : str or None
        Why it failed.
    family : str
        The method's family (set by :class:`~bnn_models.inference.Method`).
    warnings : tuple of str
        What the fit itself says to compare with care (e.g. a convergence rule that did
        not fire).
    counts : dict
        Work done, where the method counts it: MCMC ``grad_evals_warmup`` and
        ``grad_evals_sampling`` (their sum is ``n_grad_evals``); other methods what
        they have (e.g. ``hessian_min_eig``).
    """

    method: str
    idata: xr.DataTree
    loss: np.ndarray | None
    timings: dict[str, float]
    n_grad_evals: int | None
    convergence: dict
    config: dict
    sampler: str
    backend: str = ""
    versions: dict = field(default_factory=library_versions)
    status: str = "ok"
    error: str | None = None
    family: str = ""
    warnings: tuple[str, ...] = ()
    counts: dict = field(default_factory=dict)

    @property
    def p_test(self) -> np.ndarray:
        """Test-set probability draws, shape (samples, test rows)."""
        p = self.idata["predictions"]["p"]
        return p.stack(sample=("chain", "draw")).transpose("sample", ...).values

    @property
    def ok(self) -> bool:
        """Whether the fit succeeded."""
        return self.status == "ok"


_META = [f.name for f in fields(FitResult) if f.name not in ("idata", "loss")]


def save_fit(result: FitResult, path: str | Path) -> Path:
    """Write a FitResult to one netCDF file, atomically (temp file, then rename)."""
    path = Path(path)
    tree = result.idata.copy()
    if result.loss is not None:
        tree["loss"] = xr.DataTree(xr.Dataset({"loss": ("iteration", np.asarray(result.loss))}))
    meta = {name: getattr(result, name) for name in _META}
    tree.attrs = {**tree.attrs, "bnn_bench_fit": json.dumps(meta, sort_keys=True)}
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return path


def load_fit(path: str | Path) -> FitResult:
    """Read a FitResult written by :func:`save_fit`."""
    path = Path(path)
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
        meta = json.loads(tree.attrs["bnn_bench_fit"])
    except Exception as err:
        raise BadInput(
            f"{path}: not a readable bnn-bench fit file ({type(err).__name__}: {err})"
        ) from err
    loss: np.ndarray | None = None
    if "loss" in tree.children:
        loss = np.asarray(tree["loss"]["loss"].values)
        del tree["loss"]
    attrs = {k: v for k, v in tree.attrs.items() if k != "bnn_bench_fit"}
    tree.attrs = attrs
    known = {f.name for f in fields(FitResult)}
    meta = {k: v for k, v in meta.items() if k in known}
    meta["warnings"] = tuple(meta.get("warnings") or ())
    if not meta.get("family"):
        # Files of schema 1 have no family: it follows from what they hold.
        meta["family"] = "mcmc" if "sample_stats" in tree.children else "vi"
    return FitResult(idata=tree, loss=loss, **meta)
