"""Why one ADVI step compiled by PyTensor's NUMBA mode costs 2-3x the log density + gradient.

Standalone (numpy, pytensor, pymc only): an 8-12-1 ReLU network on 1,600 random rows, the
mean-field ADVI objective as PyMC builds it (eps ~ N(0, 1) drawn in the graph, z = mu +
softplus(rho) * eps, sliced into W0, b0, W1, b1) and Adam updates, timed as sub-graphs:

- NUMBA: PyTensor's default mode as shipped.
- NUMBA+pos: the same, with the outer jitted function taking positional arguments instead
  of ``*args`` (:func:`positional_numba_entry`, a monkeypatch of ``NumbaLinker``).
- CVM: the C backend (``pm.fit(backend="c")``).

The cause: with ``numba__cache`` on (the default) PyTensor wraps the whole graph in
``def fn(*args)``; numba receives one tuple, and when a tuple holds a value its C
dispatcher cannot fingerprint (a ``numpy.random.Generator``: any graph with a random draw)
it types the *whole tuple* in Python on every call, ~7 us per input.

With positional arguments the Generator alone stays: numba types it in Python and unboxes
it through its ``ctypes`` interface (``numba/core/boxing.py``,
``unbox_numpy_random_bitgenerator``: attribute lookups and ``ctypes.cast`` of its function
pointers) on every call. :func:`generator_costs` times that in numba alone, for numba.

Standalone: the file alone is the reproduction. Usage:
``python -m studies.upstream_repros.advi_step_repro [--out DIR] [--repeats N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from numba.core.typing.typeof import Purpose, typeof
from pymc.progress_bar import default_progress_theme
from pytensor.compile.mode import get_mode
from pytensor.link.numba.linker import NumbaLinker

N, D, H = 1600, 8, 12
P = D * H + H + H + 1  # 121 parameters
BACKENDS = ("NUMBA", "NUMBA+pos", "CVM")
#: Steps per round of the pm.fit comparison (:func:`fit_loop_costs`).
FIT_STEPS = 3000


def positional_numba_entry() -> None:
    """Make NUMBA's outer function take positional arguments (keeps the disk cache)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit

    original = NumbaLinker.jit_compile

    def jit_compile(self, fn_and_cache):
        fn, key = fn_and_cache
        py = fn.py_func
        if key is None or "(*args)" not in getattr(py, "__source__", ""):
            return original(self, fn_and_cache)
        names = ", ".join(f"i{k}" for k in range(len(self.fgraph.inputs)))
        new = compile_numba_function_src(
            f"def {py.__name__}({names}): return jitable_func({names})",
            function_name=py.__name__,
            global_env=dict(py.__globals__),
            cache_key=CACHED_SRC_FUNCTIONS[py] + "_positional",
        )
        return numba_njit(new, final_function=True, cache=True)

    NumbaLinker.jit_compile = jit_compile


def graphs() -> dict:
    """Sub-graphs of the ADVI step: name -> (inputs, outputs, updates, arguments)."""
    rng = np.random.default_rng(0)
    X = pytensor.shared(rng.normal(size=(N, D)), name="X")
    y = pytensor.shared(rng.integers(0, 2, N).astype(np.int32), name="y")
    mu = pytensor.shared(rng.normal(size=P) * 0.1, name="mu")
    rho = pytensor.shared(np.full(P, -2.0), name="rho")
    gen = pytensor.shared(np.random.default_rng(1), name="rng")

    def logp(th):
        W0, b0, W1, b1 = th[: D * H].reshape((D, H)), th[D * H : -H - 1], th[-H - 1 : -1], th[-1]
        logit = pt.maximum(X @ W0 + b0, 0.0) @ W1 + b1
        loglik = pt.switch(pt.eq(y, 1), -pt.softplus(-logit), -pt.softplus(logit)).sum()
        return loglik + (-0.5 * th**2 - 0.9189385332046727).sum()

    def elbo_loss(eps):  # PyMC's -ELBO with obj_n_mc=1: logq - logp at one draw
        logq = (-0.5 * eps**2 - 0.9189385332046727 - pt.log(pt.softplus(rho))).sum()
        return logq - logp((mu + pt.softplus(rho) * eps)[0])

    theta, eps_in = pt.vector("theta"), pt.matrix("eps")
    draw = pt.random.normal(size=(1, P), rng=gen)
    next_rng = {gen: draw.owner.outputs[0]}
    loss_in, loss = elbo_loss(eps_in), elbo_loss(draw)
    adam = pm.adam(loss, [mu, rho], learning_rate=1e-2)
    x0, e0 = rng.normal(size=P) * 0.1, rng.normal(size=(1, P))
    return {
        "logp+grad(theta), no RNG": ([theta], [logp(theta), pt.grad(logp(theta), theta)], {}, [x0]),
        "ELBO+grad, eps as input": ([eps_in], [loss_in, *pt.grad(loss_in, [mu, rho])], {}, [e0]),
        "draw eps only": ([], draw, next_rng, []),
        "ELBO, eps drawn": ([], loss, next_rng, []),
        "ELBO+grad, eps drawn": ([], [loss, *pt.grad(loss, [mu, rho])], next_rng, []),
        "ADVI step (ELBO+grad+Adam)": ([], loss, {**adam, **next_rng}, []),
    }


def best_us(f, args, n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            f(*args)
        times.append((time.perf_counter() - t) / n)
    return min(times) * 1e6


def generator_costs(repeats: int) -> dict[str, float]:
    """Best us per call of empty jitted functions: what passing a Generator costs in numba."""
    rng, x = np.random.default_rng(0), np.zeros(P)
    array_only = numba.njit(lambda x: 0)
    with_generator = numba.njit(lambda g, x: 0)
    cases = {
        "njit call, one array argument": (array_only, (x,)),
        "njit call, a Generator and an array": (with_generator, (rng, x)),
        "numba typeof(Generator), in Python": (lambda g: typeof(g, Purpose.argument), (rng,)),
    }
    for f, args in cases.values():
        f(*args)  # compile
    return {name: round(best_us(f, args, 2000, repeats), 2) for name, (f, args) in cases.items()}


def fit_loop_costs(repeats: int, n: int = FIT_STEPS) -> dict[str, float]:
    """Best us per step of PyMC's own ADVI step (``pm.ADVI`` on a PyMC model of the same
    network and shapes, NUMBA+pos): the compiled step called in a Python loop, and
    ``pm.fit``'s own loop around a step that costs nothing, against the same step inside
    ``pm.fit`` (timed from its first step's callback to its return,
    so compilation stays out), without and with the progress bar (which ``bnn-bench run``
    shows unless ``--no-progress``; here drawn to a pipe or file, as in CI)."""
    rng = np.random.default_rng(0)
    with pm.Model() as model:
        X = pm.Data("X", rng.normal(size=(N, D)))
        y = pm.Data("y", rng.integers(0, 2, N))
        W0 = pm.Normal("W0", 0.0, 1.0, shape=(D, H))
        b0 = pm.Normal("b0", 0.0, 1.0, shape=H)
        W1 = pm.Normal("W1", 0.0, 1.0, shape=H)
        b1 = pm.Normal("b1", 0.0, 1.0)
        pm.Bernoulli("obs", logit_p=pt.maximum(X @ W0 + b0, 0.0) @ W1 + b1, observed=y)
    mode = {"mode": get_mode("NUMBA")}  # positional: called after positional_numba_entry

    def in_fit(progressbar: bool) -> float:
        first: list[float] = []
        with model:
            pm.ADVI(random_seed=1).fit(
                n,
                obj_optimizer=pm.adam(learning_rate=1e-2),
                progressbar=progressbar,
                compile_kwargs=mode,
                callbacks=[lambda *_: first or first.append(time.perf_counter())],
            )
        return (time.perf_counter() - first[0]) / (n - 1) * 1e6

    with model:
        step = pm.ADVI(random_seed=1).objective.step_function(
            score=True, obj_optimizer=pm.adam(learning_rate=1e-2), compile_kwargs=mode
        )
    step()
    loss = step()

    def loop_alone() -> float:
        """``pm.fit``'s own loop (PyMC 6.3 ``_iterate_with_loss``: progress update, NaN
        check, the loss stored, a running mean every 10 steps), no progress bar, driving a
        step that only returns the last loss: the loop's Python work per step, alone."""
        with model:
            inference = pm.ADVI(random_seed=1)
        t = time.perf_counter()
        inference._iterate_with_loss(0, n, lambda: loss, False, default_progress_theme, [])
        return (time.perf_counter() - t) / n * 1e6

    cases: dict[str, list[float]] = {
        "the compiled step, called in a Python loop": [],
        "pm.fit's own loop around a step that only returns a number": [],
        "inside pm.fit, progressbar=False": [],
        "inside pm.fit, progressbar=True": [],
    }
    for _ in range(repeats):  # interleaved, best kept
        loop, work, quiet, shown = cases.values()
        loop.append(best_us(step, (), n, 1))
        work.append(loop_alone())
        quiet.append(in_fit(False))
        shown.append(in_fit(True))
    return {name: round(min(v), 1) for name, v in cases.items()}


def git_commit() -> str | None:
    """The checkout's commit (``-dirty`` with uncommitted changes); None outside git."""
    here = Path(__file__).resolve().parent
    try:
        run = [["git", "rev-parse", "HEAD"], ["git", "status", "--porcelain"]]
        head, dirty = (
            subprocess.run(c, cwd=here, capture_output=True, text=True, check=True).stdout.strip()
            for c in run
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write advi_step_repro.md and .json here")
    ap.add_argument("--repeats", type=int, default=4, help="interleaved rounds (best kept)")
    opts = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    fns = {}
    for backend in BACKENDS:
        if backend == "NUMBA+pos":
            positional_numba_entry()  # affects the NUMBA functions compiled after this
        for name, (ins, outs, updates, args) in graphs().items():
            mode = get_mode("CVM" if backend == "CVM" else "NUMBA")
            f = pytensor.function(ins, outs, updates=updates, mode=mode, trust_input=True)
            f(*args)  # compile and warm up
            fns[name, backend] = (f, args)
    step = fns["ADVI step (ELBO+grad+Adam)", "NUMBA"][0]
    step_args = tuple(c[0] for c in step.vm.__defaults__[1])  # what the jitted fn receives
    times: dict = {key: [] for key in fns}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(opts.repeats):  # interleave: shared, noisy cores
            for key, (f, args) in fns.items():
                times[key].append(best_us(f, args, 200, 3))
        typeof_us = best_us(lambda: typeof(step_args, Purpose.argument), (), 200, 3)
        generator = generator_costs(opts.repeats * 3)
        fit_loop = fit_loop_costs(opts.repeats)
    table = {name: {b: round(min(times[name, b]), 1) for b in BACKENDS} for name, *_ in fns}
    versions = {
        "commit": git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pytensor": pytensor.__version__,
        "pymc": pm.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    lines = [
        "# One ADVI step compiled by PyTensor's NUMBA mode: where the time goes",
        "",
        f"Made by `python -m studies.upstream_repros.advi_step_repro` at commit `{versions['commit']}`; "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "commit")
        + f". {N} rows, {D} features, {H} hidden; best of {opts.repeats} interleaved rounds"
        " of 3 x 200 calls, one BLAS thread. NUMBA+pos: the outer jitted function takes"
        " positional arguments instead of `*args` (a monkeypatch of PyTensor's NumbaLinker)",
        "",
        "| sub-graph (best us per call) | " + " | ".join(BACKENDS) + " |",
    ]
    lines.append("|---" * (len(BACKENDS) + 1) + "|")
    lines += [
        f"| {n} | " + " | ".join(f"{v[b]:.1f}" for b in BACKENDS) + " |" for n, v in table.items()
    ]
    lines.append(
        f"\nnumba typeof() of the ADVI step's {len(step_args)}-input tuple, paid by the *args "
        f"wrapper on every call: {typeof_us:.1f} us"
    )
    lines += [
        "",
        "What passing a `numpy.random.Generator` costs numba on every call, positional"
        " arguments or not (empty jitted functions; the rest of the second row over the third"
        " is numba's unboxing of the Generator through its ctypes interface):",
        "",
        "| numba alone (best us per call) | us |",
        "|---|---|",
        *(f"| {name} | {us:.2f} |" for name, us in generator.items()),
        "",
        f"PyMC's own ADVI step (`pm.ADVI` on a PyMC model of the same network, NUMBA+pos,"
        f" {FIT_STEPS} steps a round): called by hand; `pm.fit`'s own loop (PyMC 6.3:"
        " progress update, NaN check, the loss stored, a running mean every 10 steps) around"
        " a step that only returns a number, i.e. the loop's work alone; and the step inside"
        " `pm.fit` (from the first step's callback to the fit's return: compilation apart),"
        " the progress bar drawn to a pipe or file, as in CI:",
        "",
        "| the step (best us per step) | us |",
        "|---|---|",
        *(f"| {name} | {us:.1f} |" for name, us in fit_loop.items()),
    ]
    text = "\n".join(lines)
    print(text)
    if opts.out:
        opts.out.mkdir(parents=True, exist_ok=True)
        doc = {"us_per_call": table, "typeof_args_us": round(typeof_us, 1), "n": N, "hidden": H}
        doc["generator_us_per_call"] = generator
        doc["pymc_step_us"] = fit_loop
        doc["versions"] = versions
        for fname, body in (
            ("advi_step_repro.md", text + "\n"),
            ("advi_step_repro.json", json.dumps(doc, indent=2)),
        ):
            fd, tmp = tempfile.mkstemp(dir=opts.out, prefix=f".{fname}.")
            with os.fdopen(fd, "w") as fh:
                fh.write(body)
            os.chmod(tmp, 0o644)
            os.replace(tmp, opts.out / fname)


if __name__ == "__main__":
    main()
