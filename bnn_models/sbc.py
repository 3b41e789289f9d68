"""Simulation-based calibration (SBC) of any registered method on the BNN.

Prior SBC (Talts et al. 2018, arXiv 1804.06788): draw the weights from the model's prior,
the labels from its likelihood on a fixed design, fit the method to those labels, and rank
the true value of each test quantity among the method's draws. When the method's
posterior is the model's, every rank is uniform; a method too sure of itself puts the
truth in the tails (a U-shaped rank histogram), one too vague piles it in the middle.

The test quantities are functions of the network, not its weights: the probability at a
few fixed probe inputs and the log-likelihood of the simulated labels (the data-dependent
quantity recommended by Modrák et al. 2023, arXiv 2211.02383). Raw weights would not do:
the hidden units are exchangeable, so the posterior is symmetric under their
permutations, which no chain crosses.

The ranks are turned into randomised PIT values, ``(rank + U) / (L + 1)`` with U uniform
on [0, 1) and L ranked draws (exactly uniform under the null), and tested with ArviZ's
``uniformity_test`` (the ``pot_c`` test of Tesso et al. 2026), whose p-value is small when
the ranks are not uniform. simuk (the SBC package for PyMC) drives ``pm.sample`` only, so
it cannot fit ADVI or the other registered methods: the loop is here, one task per
simulation on the same executors as every fit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

from bnn_models.data import Dataset
from bnn_models.errors import BadInput, check_count, check_seconds, check_seed
from bnn_models.executor import Executor
from bnn_models.inference import FitResult, Settings, get_method, rule_converged
from bnn_models.io import write_json
from bnn_models.lock import folder_lock
from bnn_models.metrics.fit import diagnostics
from bnn_models.model import PARAMS, PRIOR_SIGMA
from bnn_models.provenance import git_commit, library_versions, machine_info
from bnn_models.runner import signals_raise
from bnn_models.tasks import Outcome, Task

__all__ = [
    "N_RANKED",
    "SBC_SCHEMA",
    "Design",
    "Simulation",
    "design_from",
    "fit_ranks",
    "pit_values",
    "quantity_names",
    "rank_quantities",
    "run_sbc",
    "sbc_task",
    "sbc_tasks",
    "simulate",
    "summarise",
    "uniformity_pvalues",
]


@dataclass(frozen=True)
class Design:
    """The fixed inputs of every simulation: training rows and probe rows (standardised)."""

    X: np.ndarray
    probes: np.ndarray
    n_hidden: int
    prior_sigma: float = PRIOR_SIGMA
    source: str = ""

    def key(self) -> str:
        """A short hash of the design (inputs, width, prior): part of every task's key."""
        digest = hashlib.sha256()
        for a in (self.X, self.probes):
            digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        digest.update(f"{self.n_hidden}:{self.prior_sigma}".encode())
        return digest.hexdigest()[:16]


def design_from(dataset: Dataset, n_rows: int, n_probes: int, n_hidden: int) -> Design:
    """The first ``n_rows`` training rows and the first ``n_probes`` test rows of a dataset.

    Raises
    ------
    BadInput
        More rows or probes asked for than the dataset has.
    """
    check_count("--hidden", n_hidden)
    if not 2 <= n_rows <= len(dataset.X_train) or not 1 <= n_probes <= len(dataset.X_test):
        raise BadInput(
            f"sbc: {n_rows} rows and {n_probes} probes asked for; {dataset.name} has "
            f"{len(dataset.X_train)} training and {len(dataset.X_test)} test rows"
        )
    return Design(
        X=dataset.X_train[:n_rows],
        probes=dataset.X_test[:n_probes],
        n_hidden=n_hidden,
        source=f"{dataset.name}: first {n_rows} training rows, first {n_probes} test rows",
    )


def quantity_names(design: Design) -> list[str]:
    """``p_probe0``, ..., then ``loglik``."""
    return [f"p_probe{k}" for k in range(len(design.probes))] + ["loglik"]


def _forward(X: np.ndarray, W0: np.ndarray, b0: np.ndarray, W1: np.ndarray, b1: np.ndarray):
    """Logits of the network, for one weight set or a leading axis of draws."""
    hidden = np.maximum(np.einsum("nf,...fh->...nh", X, W0) + b0[..., None, :], 0.0)
    return np.einsum("...nh,...h->...n", hidden, W1) + b1[..., None]


def _loglik(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bernoulli log-likelihood on the logit scale, summed over rows (stable softplus)."""
    return np.sum(y * logit - np.logaddexp(0.0, logit), axis=-1)


@dataclass(frozen=True)
class Simulation:
    """One simulated dataset: the true weights, the labels and the true quantities.

    ``weights`` is empty in a worker's copy, rebuilt from its task without them.
    """

    index: int
    weights: dict[str, np.ndarray]
    y: np.ndarray
    truth: np.ndarray
    redraws: int

    def dataset(self, design: Design) -> Dataset:
        """The simulated labels on the design, probes as the test rows (labels unused)."""
        return Dataset(
            name="sbc",
            X_train=design.X,
            y_train=self.y,
            X_test=design.probes,
            y_test=np.zeros(len(design.probes), dtype=np.int64),
            feature_names=tuple(f"x{j}" for j in range(design.X.shape[1])),
            sha256={"design": design.key()},
            info={"sbc_simulation": self.index, "source": design.source},
        )


def simulate(design: Design, index: int, seed: int = 0) -> Simulation:
    """Simulation ``index``: weights from the prior, labels from the likelihood.

    Labels of one class only are drawn again (with new weights): the fit needs both. This
    conditions on an event of the labels alone, which leaves the ranks uniform (the
    posterior given such labels is the same either way); ``redraws`` counts them.
    """
    rng = np.random.default_rng([seed, index])
    n_features, h, s = design.X.shape[1], design.n_hidden, design.prior_sigma
    redraws = 0
    while True:
        w = {
            "W0": rng.normal(0, s, (n_features, h)),
            "b0": rng.normal(0, s, h),
            "W1": rng.normal(0, s, h),
            "b1": np.asarray(rng.normal(0, s)),
        }
        logit = _forward(design.X, w["W0"], w["b0"], w["W1"], w["b1"])
        y = (rng.uniform(size=logit.size) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        if 0 < y.sum() < y.size:
            break
        redraws += 1
        if redraws == 1000:  # a prior this extreme is a configuration error
            raise BadInput(f"sbc: 1000 simulations in a row gave labels of one class ({design})")
    probe = _forward(design.probes, w["W0"], w["b0"], w["W1"], w["b1"])
    truth = np.append(1 / (1 + np.exp(-probe)), _loglik(logit, y))
    return Simulation(index, w, y, truth, redraws)


def _draw_quantities(result: FitResult, design: Design, y: np.ndarray) -> np.ndarray:
    """The test quantities of every draw of a fit, shape (draws, quantities)."""
    post = result.idata["posterior"]
    w = {v: post[v].stack(sample=("chain", "draw")).transpose("sample", ...).values for v in PARAMS}
    logit = _forward(design.X, w["W0"], w["b0"], w["W1"], w["b1"])
    probe = result.p_test  # (draws, probes), the fit's own predictions
    return np.column_stack([probe, _loglik(logit, y)])


def rank_quantities(
    draws: np.ndarray, truth: np.ndarray, n_ranked: int, rng: np.random.Generator
) -> np.ndarray:
    """Rank of each true quantity among ``n_ranked`` draws (0..n_ranked), ties at random.

    Parameters
    ----------
    draws : numpy.ndarray, shape (draws, quantities)
        In sampling order; thinned to ``n_ranked`` evenly spaced draws (thinning lowers the
        autocorrelation of MCMC draws, which would make the ranks non-uniform by itself).
    truth : numpy.ndarray, shape (quantities,)
    n_ranked : int
    rng : numpy.random.Generator
        Breaks ties (a point estimate repeated, or probabilities rounding to 1).

    Raises
    ------
    BadInput
        Fewer draws than ``n_ranked``.
    """
    if len(draws) < n_ranked:
        raise BadInput(f"sbc: {len(draws)} draws, fewer than the {n_ranked} to rank")
    kept = draws[np.linspace(0, len(draws) - 1, n_ranked).round().astype(int)]
    below = (kept < truth).sum(axis=0)
    ties = (kept == truth).sum(axis=0)
    return below + np.floor(rng.uniform(size=truth.size) * (ties + 1)).astype(int)


def fit_ranks(
    result: FitResult, design: Design, sim: Simulation, n_ranked: int, seed: int = 0
) -> np.ndarray:
    """Ranks of a simulation's true quantities among a successful fit's draws."""
    draws = _draw_quantities(result, design, sim.y)
    return rank_quantities(draws, sim.truth, n_ranked, np.random.default_rng([seed, sim.index]))


def uniformity_pvalues(ranks: np.ndarray, n_ranked: int, seed: int = 0) -> np.ndarray:
    """Per quantity, the p-value of ArviZ's uniformity test of the randomised PIT values.

    Parameters
    ----------
    ranks : numpy.ndarray, shape (simulations, quantities)
        Integers in 0..n_ranked.
    n_ranked : int
    seed : int
        Seeds the randomisation ``(rank + U) / (n_ranked + 1)``.

    Returns
    -------
    numpy.ndarray, shape (quantities,)
    """
    import arviz_stats  # noqa: F401 - registers the .azstats accessor

    pit = pit_values(ranks, n_ranked, seed)
    da = xr.DataArray(pit, dims=("simulation", "quantity"))
    p_value = da.azstats.uniformity_test(dim="simulation")
    # The accessor returns the p-value first (then the Shapley values of each point).
    p = p_value[0] if isinstance(p_value, tuple) else p_value
    return np.asarray(p, dtype=float)


def pit_values(ranks: np.ndarray, n_ranked: int, seed: int = 0) -> np.ndarray:
    """Randomised PIT ``(rank + U) / (n_ranked + 1)``: exactly uniform on [0, 1) under
    the null, continuous (as ArviZ's tests expect)."""
    rng = np.random.default_rng(seed)
    return (np.asarray(ranks) + rng.uniform(size=np.shape(ranks))) / (n_ranked + 1)


# --------------------------------------------------------------------------- running it

#: Draws each true quantity is ranked among (ranks 0..99: 100 cells).
N_RANKED = 99

SBC_SCHEMA = "bnn-bench/sbc"


def _task_key(method: str, settings: Settings, design: Design, index: int, seed: int) -> str:
    blob = json.dumps(
        {"method": method, "config": settings.as_config(), "design": design.key()}
        | {"simulation": index, "seed": seed, "n_ranked": N_RANKED},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sbc_tasks(
    methods: Sequence[str],
    design: Design,
    n_sims: int,
    *,
    seed: int = 0,
    quick: bool = False,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    time_limit_s: float | None = None,
) -> list[Task]:
    """One task per method and simulation (simulation ``i`` is the fit's seed ``i``).

    Raises
    ------
    BadInput
        An unknown method or setting.
    """
    check_count("--sims", n_sims)
    check_seed("--seed", seed)
    time_limit_s = check_seconds("--time-limit", time_limit_s)
    sims = [simulate(design, i, seed) for i in range(n_sims)]  # once, for every method
    tasks = []
    for method in methods:
        own = {**(overrides or {}).get(method, {}), "n_hidden": design.n_hidden}
        settings = get_method(method).configure(quick=quick, overrides=own)
        for sim in sims:
            data = sim.dataset(design)
            # The task carries what ranking needs (the truth), so a worker never simulates
            # again; the true weights stay with the client.
            data.info["sbc"] = {
                "simulation": sim.index,
                "seed": seed,
                "n_ranked": N_RANKED,
                "truth": sim.truth.tolist(),
                "redraws": sim.redraws,
            }
            key = _task_key(method, settings, design, sim.index, seed)
            tasks.append(
                Task(key, method, sim.index, settings, data, "", time_limit_s=time_limit_s)
            )
    return tasks


def _own_checks(result: FitResult) -> dict:
    """What a fit's own checks need, as a run's fit entry holds it: the rule's firing and
    cap (optimisation), R-hat and bulk ESS over the probes' predictions (MCMC)."""
    out: dict = {}
    conv = result.convergence or {}
    if "fired_at" in conv:
        out["convergence"] = {
            "fired_at": conv["fired_at"],
            **{k: conv[k] for k in ("cap", "max_iter") if conv.get(k) is not None},
            "converged": rule_converged(conv),
        }
    diag = diagnostics(result)
    if diag:
        out["diagnostics"] = {k: diag[k] for k in ("rhat_max_pred", "ess_bulk_min_pred")}
    return out


def sbc_task(task: Task, reference: object = None) -> Outcome:
    """Fit one simulation and rank its true quantities (an :class:`Outcome` whose entry
    holds ``ranks``; a failed fit is a failed entry, with the reason)."""
    t0 = time.perf_counter()
    info = task.dataset.info["sbc"]
    design = Design(
        X=task.dataset.X_train,
        probes=task.dataset.X_test,
        n_hidden=task.settings.n_hidden,
        prior_sigma=task.settings.prior_sigma,
    )
    truth = np.asarray(info["truth"], dtype=float)
    sim = Simulation(info["simulation"], {}, task.dataset.y_train, truth, info["redraws"])
    entry: dict = {
        "method": task.method,
        "family": get_method(task.method).family,
        "label": get_method(task.method).label,
        "seed": task.seed,
        "config_hash": task.key,
        "status": "ok",
        "error": None,
        "ranks": None,
        "redraws": sim.redraws,
    }
    try:
        result = get_method(task.method)(
            dataset=task.dataset, seed=task.seed, progressbar=False, settings=task.settings
        )
        if not result.ok:
            raise RuntimeError(result.error)
        entry["ranks"] = fit_ranks(result, design, sim, info["n_ranked"], info["seed"]).tolist()
        entry["grad_evals"] = result.n_grad_evals
        entry.update(_own_checks(result))
    except BadInput:
        raise
    except Exception as err:  # one failed simulation must not stop the others
        entry.update(status="failed", error=f"{type(err).__name__}: {err}".splitlines()[0])
    elapsed = time.perf_counter() - t0
    entry["elapsed_s"] = elapsed
    return Outcome(task.key, entry, None, elapsed)


def run_sbc(
    methods: Sequence[str],
    design: Design,
    n_sims: int,
    out_dir: str | Path,
    *,
    executor: Executor,
    seed: int = 0,
    quick: bool = False,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict:
    """Run every simulation of every method; write ``out_dir/sbc.json`` after each one.

    With ``resume``, simulations already in ``sbc.json`` (same key) are kept, not rerun,
    and so are those of other methods: one folder can gather several calls (e.g. 100
    simulations of the VI methods, then 30 of NUTS).

    Raises
    ------
    BadInput
        An unknown method or setting, or an existing ``sbc.json`` without ``resume``;
        :class:`~bnn_models.lock.FolderLocked`: another process writes ``out_dir``.
    """
    out = Path(out_dir)
    path = out / "sbc.json"
    tasks = sbc_tasks(methods, design, n_sims, seed=seed, quick=quick, overrides=overrides)
    with folder_lock(out, command=command):  # one writer per folder, for the run's life
        previous: dict = {"methods": [], "n_sims": {}, "simulations": []}
        if path.exists():
            if not resume:
                raise BadInput(f"{path} exists: pass --resume to keep its simulations, or --out")
            previous = json.loads(path.read_text())
            if previous.get("design", {}).get("key") != design.key():
                raise BadInput(f"{path}: simulated on another design; choose another --out")
        done = {e["config_hash"]: e for e in previous["simulations"]}
        # Earlier simulations of other methods (or more of them) stay: one folder, many runs.
        n_sims_of = {**previous["n_sims"], **dict.fromkeys(methods, n_sims)}
        doc: dict = {
            "schema": SBC_SCHEMA,
            "schema_version": 1,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "command": command,
            "machine": machine_info(),
            "versions": library_versions(),
            "design": {
                "source": design.source,
                "rows": len(design.X),
                "probes": len(design.probes),
                "n_hidden": design.n_hidden,
                "prior_sigma": design.prior_sigma,
                "key": design.key(),
            },
            "quantities": quantity_names(design),
            "methods": list(dict.fromkeys([*previous["methods"], *methods])),
            "n_sims": n_sims_of,
            "seed": seed,
            "n_ranked": N_RANKED,
            "quick": quick,
            # Each method's settings, and those set on purpose (the design's width among
            # them): what `bnn-bench results check` compares with today's defaults.
            "configs": {
                **previous.get("configs", {}),
                **{t.method: t.settings.as_config() for t in tasks},
            },
            "overrides": {
                **previous.get("overrides", {}),
                **{
                    m: {**(overrides or {}).get(m, {}), "n_hidden": design.n_hidden}
                    for m in methods
                },
            },
            "simulations": list(done.values()),
        }
        todo = [t for t in tasks if t.key not in done]
        log(f"sbc: {len(tasks)} simulations, {len(tasks) - len(todo)} kept, {len(todo)} to run")
        write_json(path, doc)
        with signals_raise():
            for outcome in executor.map(todo, {}):
                doc["simulations"].append(outcome.entry)
                write_json(path, doc)
                e = outcome.entry
                state = "ok" if e["status"] == "ok" else f"FAILED ({e['error']})"
                log(f"[{e['method']} simulation {e['seed']}] {state} in {e['elapsed_s']:.1f} s")
        return doc


#: Tail mass of the PIT shown per side: under the null, this share of simulations falls
#: below it and this share above 1 minus it.
TAIL = 0.05


def summarise(doc: dict) -> list[dict]:
    """Per method: simulations ok and failed, per quantity the uniformity p-value and the
    share of PIT values in each :data:`TAIL` (``tails``: quantity -> (low, high))."""
    out = []
    names = doc["quantities"]
    for method in doc["methods"]:
        sims = [e for e in doc["simulations"] if e["method"] == method]
        ok = [e for e in sims if e["status"] == "ok"]
        row: dict = {
            "method": method,
            "label": sims[0]["label"] if sims else method,
            "ok": len(ok),
            "failed": len(sims) - len(ok),
            "p_values": {},
        }
        if len(ok) >= 2:
            ranks = np.array([e["ranks"] for e in ok])
            pit = pit_values(ranks, doc["n_ranked"], doc["seed"])
            p = uniformity_pvalues(ranks, doc["n_ranked"], doc["seed"])
            row["p_values"] = dict(zip(names, map(float, p), strict=True))
            row["p_min"] = float(min(p))
            # Several quantities tested at once: Bonferroni on the smallest p-value.
            row["p_adjusted"] = float(min(1.0, len(names) * min(p)))
            row["tails"] = {
                q: (float(np.mean(pit[:, i] < TAIL)), float(np.mean(pit[:, i] >= 1 - TAIL)))
                for i, q in enumerate(names)
            }
        out.append(row)
    return out
