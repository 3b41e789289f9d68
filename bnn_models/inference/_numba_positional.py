"""PyTensor's numba backend with a positional entry point: the opt-in ``numba_positional``.

With ``numba__cache`` on (PyTensor's default) the numba linker wraps a compiled graph in
``def fn(*args): return graph(*args)``. numba receives one tuple; its C dispatcher cannot
fingerprint a ``numpy.random.Generator``, so for a graph with a random draw (every VI
step: the ELBO's Monte Carlo sample) it types the *whole tuple* in Python on every call
(``results/perf/advi_step_repro.md``: 124 of a 337 us ADVI step). The linker here
compiles the same graph behind ``def fn(i0, i1, ...)`` instead: the Generator alone is
typed in Python, every array in C. The graph, its rewrites, its numba code and its
numbers are PyTensor's own (the same draws to the last bit: ``tests/test_vi_backend.py``);
only the outer signature changes. It keeps PyTensor's disk cache, under its own key.

Registered as the PyTensor mode ``NUMBA_POSITIONAL``, so ``pm.fit(backend=
"numba_positional")`` and ``pytensor.function(..., mode="NUMBA_POSITIONAL")`` reach it.
A workaround for PyTensor 3.3 (pinned), until its linker calls with positional
arguments; it reads two of PyTensor's internals (the wrapper's source and its cache key)
and, where they are not what it expects, compiles PyTensor's own wrapper unchanged.
"""

from __future__ import annotations

from typing import Any

from pytensor.compile.mode import Mode, get_mode, predefined_modes, register_mode
from pytensor.link.numba.linker import NumbaLinker

__all__ = ["MODE_NAME", "PositionalNumbaLinker", "positional_entry"]

#: The name the mode is registered under (``get_mode`` upper-cases what it is given).
MODE_NAME = "NUMBA_POSITIONAL"

#: The source of PyTensor's caching wrapper (``numba_funcify_ensure_cache``).
_STAR_ARGS = "(*args): return jitable_func(*args)"


class PositionalNumbaLinker(NumbaLinker):
    """PyTensor's :class:`NumbaLinker`, whose outer function takes one argument per input."""

    def jit_compile(self, fn_and_cache: Any) -> Any:
        """``fn_and_cache``: what :meth:`fgraph_convert` made, the jitted graph and its
        cache key (None: not cached, no wrapper)."""
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
        from pytensor.link.numba.dispatch.basic import numba_njit

        fn, cache_key = fn_and_cache
        py: Any = getattr(fn, "py_func", None)
        if (
            cache_key is None
            or self.fgraph is None
            or _STAR_ARGS not in getattr(py, "__source__", "")
            or py not in CACHED_SRC_FUNCTIONS
        ):
            return super().jit_compile(fn_and_cache)
        names = ", ".join(f"i{k}" for k in range(len(self.fgraph.inputs)))
        entry = compile_numba_function_src(
            f"def {py.__name__}({names}): return jitable_func({names})",
            function_name=py.__name__,
            global_env=dict(py.__globals__),
            cache_key=f"{CACHED_SRC_FUNCTIONS[py]}_positional",
        )
        return numba_njit(entry, final_function=True, cache=True)


def positional_entry(fn: Any) -> bool:
    """Whether a compiled PyTensor function runs behind a positional numba entry point."""
    jitted = getattr(getattr(fn, "vm", None), "jit_fn", None)
    source = getattr(getattr(jitted, "py_func", None), "__source__", "")
    return bool(source) and "*args" not in source


def _register() -> None:
    if MODE_NAME not in predefined_modes:
        numba = get_mode("NUMBA")
        register_mode(MODE_NAME, Mode(PositionalNumbaLinker(), numba.provided_optimizer))


_register()
