"""A version-set file: which library versions to compare, and the suite to run in each.

``bnn-bench versions FILE`` reads a TOML file such as ``results/releases/versions.toml``::

    [suite]
    methods = "ci"            # names, families or sets, as `bnn-bench run --methods`
    seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    asv_bench = "^ops\\\\."       # the asv benchmarks timed in each set
    timing_factor = 1.1       # a timing changed when it moved by this ratio (asv's rule)

    [[sets]]
    name = "pinned"           # the first set is the baseline the others are judged against
    description = "requirements.txt as committed"

    [[sets]]
    name = "pymc-6.4.0"
    pins = { pymc = "6.4.0" }                     # replace (or add) these pins; also
                                                  # "6.5.0rc1" or a local "dist/x.whl"
    no_deps = { "pymc-extras" = "0.15.1" }        # install these after, ignoring their metadata

Every set starts from the project's ``requirements.txt``; ``pins`` replaces the ``==`` pins
of the packages it names (or adds them), ``no_deps`` installs packages afterwards with
``pip install --no-deps`` (a release that a dependent's metadata still excludes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnn_models.errors import BadInput, check_seed
from bnn_models.io import read_toml

__all__ = [
    "DEFAULT_ASV_BENCH",
    "DEFAULT_FACTOR",
    "DEFAULT_SEEDS",
    "SuiteSpec",
    "VersionSet",
    "VersionsSpec",
    "canonical",
    "is_artifact",
    "load_spec",
    "parse_spec",
    "requirement",
    "requirements_for",
]

#: The gate's seeds: those of the CI methods in ``results/baseline_quick.json``.
DEFAULT_SEEDS = tuple(range(10))
#: The asv benchmarks each set runs: short, repeatable operations.
DEFAULT_ASV_BENCH = r"^ops\."
#: ``asv continuous``'s default: a timing changed when it moved by more than 10%.
DEFAULT_FACTOR = 1.1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``PyMC_Extras`` -> ``pymc-extras``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class VersionSet:
    """One set of library versions: pins over ``requirements.txt``, and ``--no-deps`` installs."""

    name: str
    pins: Mapping[str, str] = field(default_factory=dict)
    no_deps: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def changes(self) -> str:
        """The set in words: ``pymc==6.4.0; pymc-extras==0.15.1 (--no-deps)``."""

        def one(k: str, v: str) -> str:
            return f"{k} from {Path(v).name}" if is_artifact(v) else f"{k}=={v}"

        parts = [one(k, v) for k, v in self.pins.items()]
        parts += [f"{one(k, v)} (--no-deps)" for k, v in self.no_deps.items()]
        return "; ".join(parts) or "requirements.txt as committed"


@dataclass(frozen=True)
class SuiteSpec:
    """What runs in every set: the gate's methods on its seeds, and the asv benchmarks."""

    methods: str = "ci"
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    asv_bench: str = DEFAULT_ASV_BENCH
    timing_factor: float = DEFAULT_FACTOR


@dataclass(frozen=True)
class VersionsSpec:
    """A parsed version-set file: the suite, and the sets (the first is the baseline)."""

    suite: SuiteSpec
    sets: tuple[VersionSet, ...]
    source: str = ""

    @property
    def baseline(self) -> VersionSet:
        """The set the others are judged against."""
        return self.sets[0]


def is_artifact(version: str) -> bool:
    """A pin that names a local wheel or source archive instead of a version."""
    return version.endswith((".whl", ".tar.gz", ".zip"))


def _pins(raw: object, where: str, base: Path) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadInput(f'{where}: a table of package = "version", got {raw!r}')
    out: dict[str, str] = {}
    for name, version in raw.items():
        if not _NAME.match(str(name)):
            raise BadInput(f"{where}.{name}: not a package name")
        if isinstance(version, str) and is_artifact(version):
            path = (base / version).resolve()  # relative to the version-set file
            if not path.is_file():
                raise BadInput(f"{where}.{name}: no such file {path} (a local wheel or archive)")
            out[canonical(str(name))] = str(path)
            continue
        if not isinstance(version, str) or not _VERSION.match(version):
            raise BadInput(
                f'{where}.{name}: a version is an exact version string such as "6.4.0" '
                f'(or a release candidate, "6.5.0rc1", or a local .whl/.tar.gz), got {version!r}'
            )
        out[canonical(str(name))] = version
    return out


def _suite(raw: object, where: str) -> SuiteSpec:
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: [suite] must be a table, got {raw!r}")
    known = {"methods", "seeds", "asv_bench", "timing_factor"}
    if unknown := sorted(set(raw) - known):
        raise BadInput(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    methods = raw.get("methods", "ci")
    if isinstance(methods, list):
        methods = ",".join(str(m) for m in methods)
    if not isinstance(methods, str) or not methods:
        raise BadInput(f"{where}.methods: names, families or sets, got {methods!r}")
    seeds = raw.get("seeds", list(DEFAULT_SEEDS))
    if not isinstance(seeds, list) or len(seeds) < 3 or len(set(map(str, seeds))) != len(seeds):
        raise BadInput(
            f"{where}.seeds: a list of at least 3 distinct seeds (the gate's spread needs "
            f"them), got {seeds!r}"
        )
    seeds = [check_seed(f"{where}.seeds", s) for s in seeds]
    bench = raw.get("asv_bench", DEFAULT_ASV_BENCH)
    try:
        re.compile(bench)
    except (re.error, TypeError):
        raise BadInput(f"{where}.asv_bench: not a regular expression: {bench!r}") from None
    factor = raw.get("timing_factor", DEFAULT_FACTOR)
    if not isinstance(factor, int | float) or isinstance(factor, bool) or factor < 1:
        raise BadInput(f"{where}.timing_factor: a ratio >= 1, got {factor!r}")
    return SuiteSpec(methods, tuple(seeds), bench, float(factor))


def parse_spec(
    raw: Mapping[str, Any], source: str = "<versions>", base: Path | None = None
) -> VersionsSpec:
    """A version-set document (parsed TOML) as a :class:`VersionsSpec`.

    Raises
    ------
    BadInput
        A missing, unknown or invalid field; the message names the file and the field.
    """
    base = base or Path.cwd()
    if unknown := sorted(set(raw) - {"suite", "sets"}):
        raise BadInput(f"{source}: unknown table {unknown[0]!r} (known: suite, sets)")
    suite = _suite(raw.get("suite", {}), f"{source}: suite")
    sets_raw = raw.get("sets")
    if not isinstance(sets_raw, list) or len(sets_raw) < 2:
        raise BadInput(
            f"{source}: field 'sets' needs at least two [[sets]] (a baseline and a candidate)"
        )
    sets: list[VersionSet] = []
    for i, entry in enumerate(sets_raw):
        where = f"{source}: sets[{i}]"
        if not isinstance(entry, dict):
            raise BadInput(f"{where}: must be a table")
        if unknown := sorted(set(entry) - {"name", "pins", "no_deps", "description"}):
            raise BadInput(
                f"{where}.{unknown[0]}: unknown key (known: name, pins, no_deps, description)"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadInput(f"{where}.name: letters, digits, '.', '_' or '-', got {name!r}")
        if name in {s.name for s in sets}:
            raise BadInput(f"{where}.name: {name!r} names two sets")
        pins = _pins(entry.get("pins", {}), f"{where}.pins", base)
        no_deps = _pins(entry.get("no_deps", {}), f"{where}.no_deps", base)
        sets.append(VersionSet(name, pins, no_deps, str(entry.get("description", ""))))
    return VersionsSpec(suite, tuple(sets), source)


def load_spec(path: str | Path) -> VersionsSpec:
    """Read a version-set file (:func:`parse_spec`); :class:`BadInput` names file and field."""
    path = Path(path)
    return parse_spec(read_toml(path, "version-set file"), str(path), path.parent)


def requirement(name: str, version: str) -> str:
    """One requirement line: ``name==version``, or ``name @ file:///...`` for a local artifact.

    Examples
    --------
    >>> requirement("pymc", "6.4.0"), requirement("pymc", "/w/pymc-6.5.0-py3-none-any.whl")
    ('pymc==6.4.0', 'pymc @ file:///w/pymc-6.5.0-py3-none-any.whl')
    """
    return f"{name} @ {Path(version).as_uri()}" if is_artifact(version) else f"{name}=={version}"


def requirements_for(vset: VersionSet, requirements: str) -> str:
    """The pinned requirements of ``vset``: ``requirements`` with its pins replaced or added,
    and its ``no_deps`` packages left out (installed afterwards, past the resolver).

    Examples
    --------
    >>> print(requirements_for(VersionSet("x", {"pymc": "6.4.0"}), "numpy==2.0\\nPyMC==6.3.2\\n"))
    numpy==2.0
    pymc==6.4.0
    <BLANKLINE>
    """
    left = dict(vset.pins)
    lines = []
    for line in requirements.splitlines():
        name = re.split(r"[=<>!~;\[ ]", line.strip(), maxsplit=1)[0]
        key = canonical(name) if name and not line.lstrip().startswith("#") else ""
        if key in vset.no_deps:
            continue  # installed afterwards with --no-deps: the resolver must not see it
        if key in left:
            lines.append(requirement(key, left.pop(key)))
        else:
            lines.append(line)
    lines += [requirement(k, v) for k, v in left.items()]
    return "\n".join(lines) + "\n"
