"""Sweeps: datasets x training sizes x hidden widths x methods x seeds, one task per fit.

A grid (a TOML file, or the same keys from ``bnn-bench sweep`` options) is cut into cells,
one per dataset, training size and width; each cell is an ordinary results folder
(``metrics.json``, ``fits/``: the report and the gate read it as a run's), and
``sweep.json`` lists the cells. Every fit of every cell goes to one executor
(:mod:`bnn_models.executor`), so a cluster stays busy across cells.

Grid keys::

    methods = ["advi", "fullrank_advi"]   # names or families ("vi", "all")
    seeds = 8                             # a count (0..7) or a list [0, 3, 7]
    hidden = [4, 12]                      # hidden widths (default [12])
    quick = true                          # the methods' quick settings
    reference = "auto"                    # fidelity reference: auto or none
    [[datasets]]                          # one table per dataset
    name = "teacher"                      # a name of bnn_models.data.DATASETS (or data = "file.csv")
    n_train = [400, 1600]                 # datasets that take it (teacher); a number or a list
    n_test = 400
    seed = [0, 1, 2]                      # data seeds (teacher, splits): a cell each
    hidden = [4, 96]                      # this dataset's widths, over the top-level ones
    [[datasets]]
    name = "rupture"
    shift = "bump-height"                 # a named shift (bnn-bench run --shift)
    [set.advi]                            # settings over the methods' (--set)
    learning_rate = 0.003
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bnn_models.data import DATASETS, SHIFTS, Dataset, load_dataset
from bnn_models.errors import MAX_SEED, BadInput, check_seconds
from bnn_models.executor import Executor
from bnn_models.io import read_toml, write_json
from bnn_models.lock import folder_lock
from bnn_models.model import N_HIDDEN
from bnn_models.provenance import git_commit
from bnn_models.reference import resolve_reference
from bnn_models.runner import execute_plans, plan_run

__all__ = ["SWEEP_SCHEMA", "Cell", "Grid", "load_grid", "parse_grid", "run_sweep"]

SWEEP_SCHEMA = "bnn-bench/sweep"

_TOP = {"methods", "seeds", "hidden", "quick", "reference", "datasets", "set", "time_limit"}
_DATASET = {"name", "data", "label", "n_train", "n_test", "seed", "rebalance", "hidden", "shift"}


@dataclass(frozen=True)
class Cell:
    """One dataset at one training size and width: one results folder."""

    folder: str
    dataset: dict
    n_hidden: int


@dataclass(frozen=True)
class Grid:
    """A parsed grid: its cells and what each cell runs."""

    cells: list[Cell]
    methods: list[str]
    seeds: list[int]
    quick: bool
    reference: str
    overrides: dict[str, dict[str, Any]]
    time_limit_s: float | None
    source: dict

    @property
    def n_fits(self) -> int:
        """Fits in the whole grid."""
        return len(self.cells) * len(self.methods) * len(self.seeds)


def _bad(where: str, key: str, value: object, want: str) -> BadInput:
    return BadInput(f"{where}: key {key!r} is {value!r}; expected {want}")


def _ints(where: str, key: str, value: object, *, least: int, most: int | None = None) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, int)
        and not isinstance(v, bool)
        and v >= least
        and (most is None or v <= most)
        for v in values
    ):
        bounds = f">= {least}" if most is None else f"in [{least}, 2**32 - 1]"
        raise _bad(where, key, value, f"an integer {bounds} or a non-empty list of them")
    return list(values)


def _cells(where: str, entries: object, widths: list[int]) -> list[Cell]:
    if not isinstance(entries, list) or not entries:
        raise _bad(where, "datasets", entries, "a non-empty list of tables ([[datasets]])")
    cells = []
    for i, entry in enumerate(entries):
        at = f"{where}: datasets[{i}]"
        if not isinstance(entry, dict):
            raise BadInput(f"{at} is {entry!r}; expected a table")
        if unknown := sorted(set(entry) - _DATASET):
            raise BadInput(
                f"{at}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_DATASET))})"
            )
        name = entry.get("name", "table" if "data" in entry else None)
        if not isinstance(name, str) or ("data" not in entry and name not in DATASETS):
            names = " or ".join(map(repr, DATASETS))
            raise _bad(at, "name", name, f"{names} (or data = FILE)")
        takes = DATASETS[name].options if "data" not in entry else ()
        for key in ("n_train", "n_test", "shift"):  # a dataset's own options
            if key in entry and key not in takes:
                takers = [n for n, spec in DATASETS.items() if key in spec.options]
                raise BadInput(
                    f"{at}: key {key!r} is for the {' and '.join(takers)} data only, not {name!r}"
                )
        sizes: list[int | None] = [None]
        if "n_train" in entry:
            sizes = list(_ints(at, "n_train", entry["n_train"], least=10))
        data_seeds: list[int | None] = [None]
        if isinstance(entry.get("seed"), list):  # one cell per data seed (teacher, splits)
            data_seeds = list(_ints(at, "seed", entry["seed"], least=0, most=MAX_SEED))
        elif "seed" in entry:
            _ints(at, "seed", entry["seed"], least=0, most=MAX_SEED)
        if "n_test" in entry:
            _ints(at, "n_test", entry["n_test"], least=1)
        if not isinstance(entry.get("rebalance", False), bool):
            raise _bad(at, "rebalance", entry["rebalance"], "true or false")
        label = entry.get("label", -1)
        if isinstance(label, bool) or not isinstance(label, int | str):
            raise _bad(at, "label", label, "a column name or index")
        stem = Path(entry["data"]).stem if "data" in entry else name
        if "shift" in entry:
            if entry["shift"] not in SHIFTS:
                raise _bad(at, "shift", entry["shift"], f"one of {', '.join(SHIFTS)}")
            stem += f"-{entry['shift']}"
        own_widths = _ints(at, "hidden", entry["hidden"], least=1) if "hidden" in entry else widths
        for n_train in sizes:
            for data_seed in data_seeds:
                spec = {k: v for k, v in entry.items() if k not in ("n_train", "hidden")}
                if n_train is not None:
                    spec["n_train"] = n_train
                if data_seed is not None:
                    spec["seed"] = data_seed
                for width in own_widths:
                    size = f"-n{n_train}" if n_train is not None else ""
                    size += f"-d{data_seed}" if data_seed is not None else ""
                    cell = Cell(f"{stem}{size}-h{width}", spec, width)
                    if cell not in cells:  # a rows axis and a width axis share their crossing
                        cells.append(cell)
    folders = [c.folder for c in cells]
    if len(set(folders)) != len(folders):
        raise BadInput(f"{where}: two datasets give the same cell folder ({', '.join(folders)})")
    return cells


def parse_grid(raw: dict, where: str = "grid") -> Grid:
    """Check a grid's keys and types; ``where`` names it in errors (the file).

    Raises
    ------
    BadInput
        An unknown key, a value of the wrong type, an empty grid; the message names the
        key and the value.
    """
    from bnn_models.inference import resolve_methods

    if unknown := sorted(set(raw) - _TOP):
        raise BadInput(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP))})")
    methods_raw = raw.get("methods")
    if isinstance(methods_raw, str):
        methods_raw = [methods_raw]
    if not isinstance(methods_raw, list) or not methods_raw:
        raise _bad(where, "methods", methods_raw, "a non-empty list of method names or families")
    if not all(isinstance(m, str) for m in methods_raw):
        raise _bad(where, "methods", methods_raw, "a list of strings")
    methods = resolve_methods(",".join(methods_raw))
    seeds_raw = raw.get("seeds", 1)
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        seeds = list(range(_ints(where, "seeds", seeds_raw, least=1)[0]))
    else:
        seeds = _ints(where, "seeds", seeds_raw, least=0, most=MAX_SEED)
    if len(set(seeds)) != len(seeds):
        raise _bad(where, "seeds", seeds_raw, "seeds without repeats")
    widths = _ints(where, "hidden", raw.get("hidden", N_HIDDEN), least=1)
    quick = raw.get("quick", False)
    if not isinstance(quick, bool):
        raise _bad(where, "quick", quick, "true or false")
    reference = raw.get("reference", "auto")
    if reference not in ("auto", "none"):
        raise _bad(where, "reference", reference, "'auto' or 'none'")
    overrides = raw.get("set", {})
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise _bad(where, "set", overrides, "tables of settings per method ([set.advi])")
    limit = raw.get("time_limit")
    try:
        limit = check_seconds("time_limit", limit)
    except BadInput:
        raise _bad(where, "time_limit", limit, "a finite number of seconds > 0") from None
    cells = _cells(where, raw.get("datasets"), widths)
    return Grid(cells, methods, seeds, quick, reference, overrides, limit, raw)


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file (TOML).

    Raises
    ------
    BadInput
        Missing or unreadable file, TOML syntax, or :func:`parse_grid`'s errors.
    """
    path = Path(path)
    return parse_grid(read_toml(path, "grid file"), str(path))


def _dataset(cell: Cell, data_dir: str | None) -> Dataset:
    spec = cell.dataset
    return load_dataset(
        spec.get("name", "table"),
        data_dir=data_dir,
        data_file=spec.get("data"),
        label=spec.get("label", -1),
        rebalance=spec.get("rebalance", False),
        seed=spec.get("seed", 0),
        n_train=spec.get("n_train", 1600),
        n_test=spec.get("n_test", 400),
        shift=spec.get("shift"),
    )


def _prefixed(log: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda line: log(f"{prefix}: {line}")


def run_sweep(
    grid: Grid,
    out_dir: str | Path,
    *,
    executor: Executor | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict:
    """Run every fit of ``grid``; each cell into ``out_dir/<cell>``; returns ``sweep.json``.

    Raises
    ------
    BadInput
        Bad data or settings of a cell, an unreachable scheduler, an unwritable folder:
        before anything is written; :class:`~bnn_models.lock.FolderLocked`: another
        process writes ``out_dir`` or one of its cells.
    """
    out = Path(out_dir)
    with folder_lock(out, command=command):  # one sweep per folder; each cell locked too
        return _run_sweep(grid, out, executor, resume, data_dir, log, command)


def _run_sweep(
    grid: Grid,
    out: Path,
    executor: Executor | None,
    resume: bool,
    data_dir: str | None,
    log: Callable[[str], None],
    command: str | None,
) -> dict:
    plans = []
    for cell in grid.cells:
        dataset = _dataset(cell, data_dir)
        overrides = {
            m: {**grid.overrides.get(m, {}), "n_hidden": cell.n_hidden} for m in grid.methods
        }
        plans.append(
            plan_run(
                dataset,
                out / cell.folder,
                methods=grid.methods,
                seeds=grid.seeds,
                quick=grid.quick,
                overrides=overrides,
                resume=resume,
                time_limit_s=grid.time_limit_s,
                progressbar=False,
                log=_prefixed(log, cell.folder),
                command=command,
                reference=resolve_reference(grid.reference, dataset, n_hidden=cell.n_hidden),
            )
        )
    to_run = sum(len(p.tasks) for p in plans)
    log(f"sweep: {len(grid.cells)} cells, {grid.n_fits} fits, {to_run} to run -> {out}")
    execute_plans(plans, executor, log)
    index = {
        "schema": SWEEP_SCHEMA,
        "schema_version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": command,
        "grid": grid.source,
        "cells": [
            {"folder": c.folder, "dataset": c.dataset, "n_hidden": c.n_hidden} for c in grid.cells
        ],
        "fits": grid.n_fits,
        "ran": to_run,
    }
    write_json(out / "sweep.json", index)
    return index
