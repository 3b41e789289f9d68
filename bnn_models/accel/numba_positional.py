"""PyTensor's numba backend without its per-call Python work: the opt-in ``numba_positional``.

Two costs of PyTensor 3.3's numba linker are paid in Python on every call of a compiled
function that draws random numbers (every VI step: the ELBO's Monte Carlo sample), and
neither is in the graph's numbers:

- With ``numba__cache`` on (PyTensor's default) the linker wraps a compiled graph in
  ``def fn(*args): return graph(*args)``. numba receives one tuple; its C dispatcher
  cannot fingerprint a ``numpy.random.Generator``, so it types the *whole tuple* in
  Python on every call (``studies/upstream_repros/results/advi_step_repro.md``: 124 of a 337 us ADVI step).
  Here the same graph is compiled behind ``def fn(i0, i1, ...)`` instead: every array is
  typed in C.
- numba unboxes a ``Generator`` through its ``ctypes`` interface on every call (a
  ``ctypes.cast`` per function pointer). Where a graph's only use of a Generator input is
  one in-place normal draw with constant size and parameters (PyMC's ADVI and full-rank
  ADVI steps), the linker here makes that draw with NumPy before the call
  (``RandomVariable.rng_fn``, the op's own Python implementation, on the same Generator;
  a one-element mean or sd as a Python float, NumPy's fast path: 2 us against 7 with
  (1, 1) arrays) and passes the draws to the compiled graph in its place: the Generator
  never enters numba (8.5 us per call there against 0.2 for an array, at ea877e4). NumPy's normal and numba's are the same algorithm on the same bit generator:
  the same draws to the last bit and the same Generator state afterwards
  (``tests/test_vi_backend.py``).

The rest of the graph, its rewrites and its numba code are PyTensor's own; it keeps
PyTensor's disk cache, under its own key. Registered as the PyTensor mode
``NUMBA_POSITIONAL``, so ``pm.fit(backend="numba_positional")`` and
``pytensor.function(..., mode="NUMBA_POSITIONAL")`` reach it. A workaround for PyTensor
3.3 (pinned), until its linker calls with positional arguments; it reads two of
PyTensor's internals (the wrapper's source and its cache key) and, where they are not
what it expects, compiles PyTensor's own wrapper unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytensor.compile.mode import Mode, get_mode, predefined_modes, register_mode
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.link.numba.linker import NumbaLinker
from pytensor.tensor.random.basic import NormalRV
from pytensor.tensor.random.op import RandomVariableWithCoreShape

__all__ = ["MODE_NAME", "PositionalNumbaLinker", "host_draws", "positional_entry"]

#: The name the mode is registered under (``get_mode`` upper-cases what it is given).
MODE_NAME = "NUMBA_POSITIONAL"

#: The source of PyTensor's caching wrapper (``numba_funcify_ensure_cache``).
_STAR_ARGS = "(*args): return jitable_func(*args)"


def host_draws(fgraph: FunctionGraph) -> list[Apply]:
    """The random draws of ``fgraph`` that :class:`PositionalNumbaLinker` makes in NumPy:
    in-place float64 normal draws whose Generator is an input of the graph used by that
    draw alone, with constant size, mean and sd."""
    found = []
    for node in fgraph.toposort():
        if not isinstance(node.op, RandomVariableWithCoreShape):
            continue
        [rv_node] = node.op.fgraph.apply_nodes
        _, rng, size, *params = node.inputs
        if (
            isinstance(rv_node.op, NormalRV)
            and rv_node.op.inplace
            and rng in fgraph.inputs
            and len(fgraph.clients[rng]) == 1
            and all(isinstance(v, Constant) for v in (size, *params))
            and node.outputs[1].type.dtype == "float64"
        ):
            found.append(node)
    return found


class PositionalNumbaLinker(NumbaLinker):
    """PyTensor's :class:`NumbaLinker`, whose outer function takes one argument per input,
    and whose Generators stay out of numba where :func:`host_draws` finds their draws."""

    #: Make the draws :func:`host_draws` finds in NumPy (False: in numba, PyTensor's way;
    #: a subclass sets it, as PyTensor re-creates a linker from its class alone).
    host_draw = True

    def jit_compile(self, fn_and_cache: Any) -> Any:
        """``fn_and_cache``: what :meth:`fgraph_convert` made, the jitted graph and its
        cache key (None: not cached, no wrapper)."""
        n_inputs = None if self.fgraph is None else len(self.fgraph.inputs)
        positional = _positional(fn_and_cache, n_inputs)
        return super().jit_compile(fn_and_cache) if positional is None else positional

    def create_jitable_thunk(self, compute_map, order, input_storage, output_storage, storage_map):
        """PyTensor's thunk where no draw qualifies; else one that draws in NumPy, then
        calls the graph with the draws in place of the draw's node (see the module)."""
        fgraph = self.fgraph
        nodes = host_draws(fgraph) if fgraph is not None and self.host_draw else []
        if not nodes:
            return super().create_jitable_thunk(
                compute_map, order, input_storage, output_storage, storage_map
            )
        inner, equiv = fgraph.clone_get_equiv()
        draws = []  # (the Generator's storage, the op's NumPy draw, its parameters, size)
        rng_outputs = {}  # output position -> the storage of the Generator it returns
        for node in nodes:
            _, rng, size, *params = node.inputs
            [rv_node] = node.op.fgraph.apply_nodes
            drawn = equiv[node.outputs[1]]
            placeholder = drawn.type()
            inner.add_input(placeholder)
            inner.replace(drawn, placeholder, reason="host_draw")
            draws.append(
                (
                    storage_map[rng],
                    rv_node.op.rng_fn,
                    [p.data.item() if p.data.size == 1 else p.data for p in params],
                    tuple(int(s) for s in size.data),
                )
            )
            rng_outputs |= {
                k: storage_map[rng] for k, o in enumerate(fgraph.outputs) if o is node.outputs[0]
            }
        for k in sorted(rng_outputs, reverse=True):
            inner.remove_output(k, reason="host_draw")
        for node in nodes:
            inner.remove_input(inner.inputs.index(equiv[node.inputs[1]]), reason="host_draw")
        generators = {node.inputs[1] for node in nodes}
        kept = [storage_map[v] for v in fgraph.inputs if v not in generators]
        converted = self.fgraph_convert(inner)
        jitted = _positional(converted, len(inner.inputs))
        if jitted is None:
            jitted = super().jit_compile(converted)
        results = [storage_map[o] for k, o in enumerate(fgraph.outputs) if k not in rng_outputs]
        generator_results = [(storage_map[fgraph.outputs[k]], s) for k, s in rng_outputs.items()]

        def thunk() -> None:
            drawn = [draw(rng[0], *params, size) for rng, draw, params, size in draws]
            try:
                outputs = jitted(*(x[0] for x in kept), *drawn)
            except Exception:
                from pytensor.link.utils import raise_with_op

                raise_with_op(fgraph, nodes[0], thunk)
            for storage, value in zip(results, outputs, strict=True):
                storage[0] = value
            for storage, rng in generator_results:
                storage[0] = rng[0]  # drawn in place: the same Generator, moved on

        thunk.inputs = [storage_map[v] for v in fgraph.inputs]  # type: ignore[attr-defined]
        thunk.outputs = [storage_map[o] for o in fgraph.outputs]  # type: ignore[attr-defined]
        thunk.lazy = False  # type: ignore[attr-defined]
        return [thunk], [nodes[0]], jitted


def _positional(fn_and_cache: Any, n_inputs: int | None) -> Callable | None:
    """The jitted graph behind ``def fn(i0, ..., i{n_inputs - 1})``, in PyTensor's cache;
    None where PyTensor's wrapper is not the one expected (or not cached)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit

    fn, cache_key = fn_and_cache
    py: Any = getattr(fn, "py_func", None)
    if (
        cache_key is None
        or n_inputs is None
        or _STAR_ARGS not in getattr(py, "__source__", "")
        or py not in CACHED_SRC_FUNCTIONS
    ):
        return None
    names = ", ".join(f"i{k}" for k in range(n_inputs))
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
