"""The package's shape: one way down through the layers, no import circle, small modules.

Read from the source with :mod:`ast` (nothing is imported), so a violation is found
even in a function-level import that no test happens to run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bnn_models"

#: The layers, lowest first: a module may import its own rank or a lower one. A
#: subpackage's modules take the rank of the subpackage; ``bnn_models/__init__`` (lazy
#: notebook entry points) is left out.
RANKS: dict[str, int] = {
    "errors": 0,
    "provenance": 0,
    "io": 0,
    "lock": 0,
    "_worker": 0,
    "schema": 0,
    "data": 1,
    "model": 2,
    "accel": 2,
    "inference": 3,
    "posterior": 3,
    "scores": 3,
    "reference": 4,
    "refsummary": 4,
    "metrics": 5,
    "fidelity": 5,
    "anytime": 5,
    "floor": 5,
    "uncertainty": 5,
    "sbc": 6,
    "figures": 5,
    "tasks": 6,
    "executor": 6,
    "runner": 6,
    "sweep": 6,
    "report": 7,
    "gate": 7,
    "api": 8,
    "versions": 8,
    "results": 8,
    "cli": 9,
}

#: Most lines in one module (cut by concept beyond that).
MAX_LINES = 500

#: The only files that may name the NUTS method by its registry key: its own module
#: and the registry. Everything else asks a method's family or what a result holds.
NUTS_NAMED_IN = {"bnn_models/inference/nuts.py", "bnn_models/inference/__init__.py"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(nodes: list[ast.stmt] | list[ast.AST]) -> list[ast.Import | ast.ImportFrom]:
    """Every import in ``nodes``, at any depth, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            found += _import_nodes(node.orelse)
        else:
            found += _import_nodes(list(ast.iter_child_nodes(node)))
    return found


def _known(name: str) -> str | None:
    """``name`` if it is a module of the package, else its closest parent that is."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name of ``from BASE import ...`` written in ``module``."""
    base = node.module or ""
    if node.level:  # relative: from the module's package, up level - 1 packages
        package = (module if is_package else module.rpartition(".")[0]).split(".")
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return base


def _imports(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Modules of the package that ``source`` (of ``module``) imports, at any depth."""
    out: set[str] = set()
    for node in _import_nodes(ast.parse(source).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            # ``from bnn_models import reference`` imports the module bnn_models.reference
            base = _base(node, module, is_package)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target.split(".")[0] == "bnn_models" and (found := _known(target)):
                out.add(found)
    # the package's lazy notebook entry points are not a layer; a module is not its own import
    return out - {"bnn_models", module}


def _missing(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Package modules that ``source`` imports but that do not exist (e.g. after a rename)."""
    names = []
    for node in _import_nodes(ast.parse(source).body):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        else:
            names.append(_base(node, module, is_package))
    return [n for n in names if n.split(".")[0] == "bnn_models" and n not in MODULES]


GRAPH: dict[str, set[str]] = {
    m: _imports(p.read_text(), m, is_package=p.name == "__init__.py")
    for m, p in MODULES.items()
    if m != "bnn_models"
}


def _rank(module: str) -> int | None:
    top = module.split(".")[1]
    return RANKS.get(top)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (first module repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2  # noqa: N806 - the textbook names of depth-first search
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, BLACK) == GREY:
                return [*stack[stack.index(nxt) :], nxt]
            if colour.get(nxt) == WHITE and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_circle():
    # the checker itself, on a graph with a known answer
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_sees_function_level_imports_and_skips_type_checking():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import bnn_models.data\n"
        "from bnn_models import compare\n"
        "from . import schema\n"
        "if TYPE_CHECKING:\n"
        "    from bnn_models.cli import main\n"
        "else:\n"
        "    import bnn_models.model\n"
        "def f():\n"
        "    from bnn_models import reference as ref, runner\n"
        "    from bnn_models.inference._method import Method\n"
        "    from ..report import write_report\n"
    )
    assert _imports(source, "bnn_models.inference.nuts") == {
        "bnn_models.data",
        "bnn_models.inference",  # ``from . import schema``: no such module in inference/
        "bnn_models.model",
        "bnn_models.reference",
        "bnn_models.runner",
        "bnn_models.inference._method",
        "bnn_models.report",
    }
    assert "bnn_models.runner" in GRAPH["bnn_models.cli"]  # imported inside a function


def test_every_import_of_the_package_names_an_existing_module():
    # an import of a renamed module would otherwise drop out of the graph unseen
    assert _missing(
        "import bnn_models.bench\nfrom bnn_models.runner import x", "bnn_models.api"
    ) == ["bnn_models.bench"]
    missing = {
        m: names
        for m, p in MODULES.items()
        if (names := _missing(p.read_text(), m, is_package=p.name == "__init__.py"))
    }
    assert not missing, f"imports of modules that do not exist: {missing}"


def test_every_module_has_a_layer():
    unranked = sorted(m for m in GRAPH if _rank(m) is None)
    assert not unranked, f"modules without a layer in RANKS: {unranked}"


def test_no_import_circle():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_module_imports_a_higher_layer():
    upward = sorted(
        f"{m} (layer {_rank(m)}) imports {t} (layer {_rank(t)})"
        for m, targets in GRAPH.items()
        for t in targets
        if _rank(m) is not None and _rank(t) is not None and _rank(t) > _rank(m)
    )
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_module_over_the_line_limit():
    long = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _text_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            path.read_text()
        except UnicodeDecodeError:
            continue  # images and other binary files
        files.append(path)
    return files


@pytest.mark.parametrize("folder", ["bnn_models", "benchmarks"])
def test_nuts_is_named_only_by_its_module_and_the_registry(folder):
    literal = re.compile(r"""(['"])nuts\1""")
    where = sorted(
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in _text_files(ROOT / folder)
        if str(path.relative_to(ROOT)) not in NUTS_NAMED_IN
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    )
    assert not where, "the method named by its key outside the registry:\n" + "\n".join(where)
