"""Numbers the README and the docs quote from committed results, rendered from the files.

A quoted passage sits between two HTML comments (invisible on GitHub and in the built
site)::

    <!-- quote: readme-rupture -->
    ...text rendered from docs/quotes/readme-rupture.md.j2...
    <!-- /quote -->

The template reads the committed result files through the package's own loaders
(:func:`bnn_models.report.build_report`, :func:`bnn_models.report.build_scaling`) or as
JSON (``results/releases/versions.json``), never a report's prose, and names the file each
number comes from. A template may also state a claim its prose makes ("NUTS beats the
published F1") with ``claim(condition, text)``: when new results break it, rendering
stops and says which sentence to rewrite.

``python -m docs.quotes --check`` (what the test runs) says which file, block and line
differ from their rendering, and which result-like numbers stand in prose outside any
block; ``python -m docs.quotes --write`` (``make quotes``) rewrites the blocks in place.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bnn_models.floor import distance
from bnn_models.inference import get_method
from bnn_models.io import write_text
from bnn_models.refsummary import ACCEPT_RHAT
from bnn_models.report import Report, Scaling, build_report, build_scaling
from bnn_models.report.decision import nuts_engines
from bnn_models.report.formats import sig
from bnn_models.report.minibatch import minibatch_table
from bnn_models.report.recommend import noise_floor
from bnn_models.report.run import MethodRun, load_methods
from bnn_models.report.sections import PUBLISHED
from bnn_models.report.stale import stale_configs
from bnn_models.results import load_pipeline
from bnn_models.schema import load_metrics

__all__ = [
    "ALLOWED",
    "ALLOWED_REGIONS",
    "QuoteError",
    "check",
    "pages",
    "render",
    "rendered_pages",
    "unquoted_numbers",
    "write",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: One quoted block: its name, its body (without the marker lines).
BLOCK = re.compile(
    r"^<!-- quote: (?P<name>[a-z0-9-]+) -->\n(?P<body>.*?)^<!-- /quote -->$",
    re.MULTILINE | re.DOTALL,
)

#: A number with a unit or form that results are quoted in: seconds, minutes, percent,
#: "x" ratios, nats, ESS/s, microseconds, "N times", or a decimal of two or more
#: places (0.0631, 0.384); not a version (3.12.1, 0.15.1) or a hash.
RESULT_NUMBER = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:s|ms|µs|us|min|h|%|x|nats|ESS/s|MB|GB)(?!\w)"
    r"|(?<![\w.])\d[\d,]*(?:\.\d+)?\s(?:to\s\d[\d.]*\s)?times\b"
    r"|(?<![\w.])\d+\.\d{2,}(?![\w.]*\d)"
)

#: Result-like numbers allowed in prose outside a block: (page, text on the line, why). Each
#: is a setting, a budget, a requirement or someone else's number, not one of our results.
ALLOWED: list[tuple[str, str, str]] = [
    ("README.md", "F1 0.8334", "the published study's number (arXiv 1911.09660), not ours"),
    ("README.md", "arXiv 1906.06250", "a paper's number"),
    ("README.md", "Python >= 3.12", "a requirement"),
    ("docs/getting-started.md", "F1 0.8334", "the published study's number, not ours"),
    ("docs/getting-started.md", "Python >= 3.12", "a requirement"),
    ("README.md", "10 s, 1 min and 10 min", "the report's budgets, a setting"),
    ("docs/getting-started.md", "10 s, 1 min and 10 min", "the report's budgets, a setting"),
    ("docs/deciding.md", "10 s, 1 min and 10 min", "the report's budgets, a setting"),
    ("docs/deciding.md", "above 1.01", "the R-hat threshold, a setting"),
    ("docs/ci.md", "Python 3.12", "a requirement"),
    ("docs/ci.md", "0.01 * |m|", "the gate's tolerance rule, a setting"),
    ("docs/literature.md", "111.19 nats", "a constant of the model that a test computes"),
    ("docs/literature.md", "Adam at 0.01", "a setting"),
    ("docs/literature.md", "under 2% of NUTS's", "the SG-MCMC gradient budget, a setting"),
    ("docs/your-data.md", "20% of the rows", "the test split, a setting"),
    ("docs/your-data.md", "central 80%", "the shift's split, a setting"),
]

#: Passages between ``<!-- unquoted: KEY -->`` and ``<!-- /unquoted -->`` that quote no
#: committed file, (page, KEY) -> why; a KEY not listed here is itself a problem.
ALLOWED_REGIONS: dict[tuple[str, str], str] = {
    ("docs/ci.md", "asv-history"): "timings of one `make asv-history` run, kept in .asv/ "
    "(git-ignored): no committed file holds them, and the page says when and how they were "
    "measured",
}


class QuoteError(ValueError):
    """A block that cannot be rendered: an unknown template, a missing result file, or a
    claim of the prose that the results no longer support."""


@dataclass
class RunQuote:
    """One committed run folder (``metrics.json``) as a template reads it."""

    folder: str
    doc: dict
    methods: dict[str, MethodRun]
    report: Report

    def method(self, name: str) -> MethodRun:
        """The run's method ``name``; a :class:`QuoteError` naming the file if absent."""
        if name not in self.methods:
            raise QuoteError(f"{self.folder}/metrics.json: no method {name!r}")
        return self.methods[name]

    def mean(self, name: str, key: str) -> float:
        """Mean over seeds of ``section.key`` (the report's number)."""
        return self.method(name).get(key)

    def per_seed(self, name: str, key: str) -> list[float]:
        """``section.key`` of each successful seed, in file order."""
        section, field = key.split(".", 1)
        return [float(e[section][field]) for e in self.method(name).ok]

    def seed(self, name: str, seed: int, key: str) -> float:
        """``section.key`` of one seed's fit."""
        section, field = key.split(".", 1)
        for e in self.method(name).ok:
            if e["seed"] == seed:
                return float(e[section][field])
        raise QuoteError(f"{self.folder}/metrics.json: {name} has no successful seed {seed}")

    def column(self, header: str) -> dict[str, str]:
        """The decision table's column ``header``: method label -> cell."""
        decision = self.report.decision
        if decision is None or header not in decision.header:
            raise QuoteError(f"{self.folder}: the decision table has no column {header!r}")
        i = decision.header.index(header)
        return {label: cells[i] for _, label, _, cells in decision.rows}

    def times_floor(self, name: str, key: str = "pred_tv_mean") -> float:
        """How many times the reference's noise floor the method's mean ``fidelity.key`` is."""
        floor = noise_floor(self.doc)
        if not floor or floor.get(key) is None:
            raise QuoteError(f"{self.folder}/metrics.json: no noise floor of {key} recorded")
        return distance(key, self.mean(name, f"fidelity.{key}")) / distance(key, floor[key])

    def config(self, name: str) -> dict:
        """The settings the method's first fit recorded."""
        return dict(self.method(name).entries[0]["config"])

    def nuts_engines(self) -> list[str]:
        """The run's NUTS engines, as its report's engine table picks them (MCMC methods
        whose fits record NUTS trees), by registry name."""
        return [m.name for m in nuts_engines(self.methods)]

    def at_defaults(self, name: str) -> bool:
        """Whether every fit of ``name`` ran at today's default settings for the run's profile.

        Unlike ``bnn-bench results check``, settings the run set on purpose (its
        ``--set`` overrides) count as changes: a template that quotes a method "at its
        defaults" must not quote a fit made at a smaller setting.
        """
        run = self.doc.get("run") or {}
        entries = self.method(name).entries
        return not stale_configs(
            {name: [e.get("config") for e in entries]}, quick=run.get("profile") == "quick"
        )

    @property
    def answer(self) -> str:
        """The recommendation by budget ("with 10 s to 1 min, A; with 10 min, B")."""
        rec = self.report.recommendation
        if rec is None:
            raise QuoteError(f"{self.folder}: the run has no recommendation")
        return rec.headline.split(": ", 1)[1].split(". Ranked")[0].split(". No reference")[0]

    @property
    def seeds(self) -> int:
        """How many seeds the run asked for."""
        return len(self.doc["run"]["seeds"])

    @property
    def cores(self) -> int:
        """Cores of the machine that made the run."""
        return int(self.doc["run"]["machine"]["cpu_count"])


@dataclass
class SweepQuote:
    """One committed sweep folder (``sweep.json`` and its cells) as a template reads it."""

    folder: str
    index: dict
    scaling: Scaling

    def pays(self, method: str, against: str) -> list[dict]:
        """The minibatch table's rows of ``method`` against ``against``, by rows."""
        frame = self.scaling.minibatch
        if frame is None:
            raise QuoteError(f"{self.folder}: no minibatch table")
        rows = frame[(frame["method"] == method) & (frame["against"] == against)]
        if rows.empty:
            raise QuoteError(f"{self.folder}: no minibatch row of {method} against {against}")
        return rows.sort_values("n_train").to_dict("records")  # type: ignore[return-value]

    def from_rows(self, method: str, against: str) -> str:
        """The minibatch table's "pays from" cell of ``method`` against ``against``."""
        table = minibatch_table(self.scaling.minibatch)
        first = self.pays(method, against)[0]
        label, against_label = first["label"], first["against_label"]
        if table is None:
            raise QuoteError(f"{self.folder}: no minibatch table")
        row = table[(table["Minibatch method"] == label) & (table["Against"] == against_label)]
        return str(row["Pays from"].iloc[0])


def _claim(condition: object, text: str) -> str:
    """Nothing when ``condition`` holds; else stop, naming the sentence to rewrite."""
    if not condition:
        raise QuoteError(f"the results no longer support the claim: {text}")
    return ""


def _span(values: Iterable[float], fmt: Callable[[float], str] = sig, sep: str = "-") -> str:
    """'lo-hi' of the values, formatted; one value when both ends read the same."""
    vals = [float(v) for v in values]
    lo, hi = fmt(min(vals)), fmt(max(vals))
    return lo if lo == hi else f"{lo}{sep}{hi}"


def _pct_span(values: Iterable[float]) -> str:
    """'63-71%' (or '93%') of shares."""
    return _span([100 * v for v in values], "{:.0f}".format) + "%"


def _environment(results: Path, studies: Path = ROOT / "studies") -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # Markdown, not HTML
    )

    @cache
    def run(folder: str) -> RunQuote:
        path = results / folder
        doc = load_metrics(path / "metrics.json")
        methods = load_methods(path, doc, load=False)
        return RunQuote(f"results/{folder}", doc, methods, build_report(path, doc, figures=False))

    @cache
    def sweep(folder: str) -> SweepQuote:
        path = results / folder
        index = json.loads((path / "sweep.json").read_text())
        return SweepQuote(f"results/{folder}", index, build_scaling(path, figures=False))

    @cache
    def read_json(name: str) -> Any:
        path = results / name
        if not path.is_file():
            raise QuoteError(f"results/{name}: no such file")
        return json.loads(path.read_text())

    @cache
    def study(name: str) -> Any:
        """A study's result file, ``studies/<name>`` (``"nuts_budget/results/x.json"``)."""
        path = studies / name
        if not path.is_file():
            raise QuoteError(f"studies/{name}: no such file")
        return json.loads(path.read_text())

    def study_module(name: str) -> Any:
        """A study's module, ``studies.<name>`` (``"nuts_budget.nuts_budget"``): a template
        calls its own summary of its result file instead of computing it again."""
        return importlib.import_module(f"studies.{name}")

    def defaults(method: str) -> dict:
        """Today's default settings of ``method``: what a rerun of a study whose result file
        records no settings (only its ``overrides``) runs under."""
        return asdict(get_method(method).settings())

    env.globals.update(
        run=run,
        study=study,
        study_module=study_module,
        frame=pd.DataFrame,
        defaults=defaults,
        accept_rhat=ACCEPT_RHAT,
        sweep=sweep,
        json=read_json,
        claim=_claim,
        span=_span,
        sig=sig,
        min=min,
        max=max,
        published=PUBLISHED,
        sig2=lambda x: sig(x, 2),
    )
    env.filters.update(
        sig=sig,
        pct=lambda x, d=0: f"{100 * x:.{d}f}%",
        fixed=lambda x, d=3: f"{x:.{d}f}",
        commas=lambda x: f"{int(round(x)):,}",
        short=lambda commit: str(commit)[:7],
        span=_span,
        pct_span=_pct_span,
        median=lambda xs: float(np.median(list(xs))),
    )
    env.tests.update(
        match=lambda value, pattern: re.match(pattern, str(value)) is not None,
        search=lambda value, pattern: re.search(pattern, str(value)) is not None,
    )
    return env


def render(name: str, results: str | Path | None = None) -> str:
    """The text of block ``name`` from ``docs/quotes/<name>.md.j2`` and the result files
    under ``results`` (default: the project's ``results/``)."""
    results = Path(results) if results is not None else ROOT / "results"
    if not (HERE / f"{name}.md.j2").is_file():
        raise QuoteError(f"no template docs/quotes/{name}.md.j2 for the block {name!r}")
    try:
        text = _environment(results).get_template(f"{name}.md.j2").render()
    except QuoteError as err:
        raise QuoteError(f"docs/quotes/{name}.md.j2: {err}") from err
    return text.strip("\n") + "\n"


def pages(root: str | Path = ROOT) -> list[Path]:
    """The pages whose numbers are checked: README.md, docs/*.md, and the README of each
    study whose results a step of ``results/pipeline.toml`` makes (the docs site shows
    it; a study kept as a historical record quotes its own record and is not checked)."""
    root = Path(root)
    studies = []
    if (root / "results" / "pipeline.toml").is_file():
        for folder in load_pipeline(root / "results" / "pipeline.toml").folders():
            parts = Path(folder).parts
            if len(parts) == 3 and parts[0] == "studies" and parts[2] == "results":
                studies.append(root / "studies" / parts[1] / "README.md")
    return [
        root / "README.md",
        *sorted((root / "docs").glob("*.md")),
        *sorted(p for p in studies if p.is_file()),
    ]


def rendered_pages(
    root: str | Path = ROOT, results: str | Path | None = None
) -> dict[Path, tuple[str, str]]:
    """Each page that holds a block: (its text now, its text with every block rendered)."""
    out: dict[Path, tuple[str, str]] = {}
    for page in pages(root):
        text = page.read_text()
        if not BLOCK.search(text):
            continue
        new = BLOCK.sub(
            lambda m: f"<!-- quote: {m['name']} -->\n{render(m['name'], results)}<!-- /quote -->",
            text,
        )
        out[page] = (text, new)
    return out


def _differences(page: str, old: str, new: str) -> list[str]:
    """One line per block that differs: page, block, the first line that differs."""
    problems = []
    olds = {m["name"]: m["body"] for m in BLOCK.finditer(old)}
    for m in BLOCK.finditer(new):
        was = olds.get(m["name"], "").splitlines()
        now = m["body"].splitlines()
        if was == now:
            continue
        for i, (a, b) in enumerate(zip([*was, ""], [*now, ""], strict=False), 1):
            if a != b:
                problems.append(
                    f"{page}: block {m['name']!r}, line {i}: the page has {a!r}, "
                    f"the results give {b!r}"
                )
                break
        else:  # pragma: no cover - same lines but a different count; difflib says where
            problems.append(f"{page}: block {m['name']!r}: " + " ".join(difflib.ndiff(was, now)))
    return problems


def _prose(page: str, text: str) -> tuple[list[tuple[int, str]], list[str]]:
    """(line number, line) outside quote blocks, allowed unquoted passages, fenced code and
    inline code (a Jinja tag or expression in a template counts as code), and the unquoted
    passages whose key :data:`ALLOWED_REGIONS` does not list."""
    keep, unknown = [], []
    fenced = skipped = False
    for i, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("```", ":::")):
            fenced = not fenced
            continue
        opened = re.match(r"<!-- (quote|unquoted): ([\w-]+) -->$", stripped)
        if opened:
            skipped = True
            if opened[1] == "unquoted" and (page, opened[2]) not in ALLOWED_REGIONS:
                unknown.append(f"{page}:{i}: unquoted passage {opened[2]!r} not in ALLOWED_REGIONS")
                skipped = False
            continue
        if stripped in ("<!-- /quote -->", "<!-- /unquoted -->"):
            skipped = False
            continue
        if fenced or skipped:
            continue
        keep.append((i, re.sub(r"`[^`]*`|\{\{.*?\}\}|\{%.*?%\}|\]\([^)]*\)", " ", line)))
    return keep, unknown


def unquoted_numbers(files: Iterable[Path], root: str | Path = ROOT) -> list[str]:
    """Result-like numbers in prose outside any quote block, not on :data:`ALLOWED`:
    ``"page:line: number in 'line'"`` each."""
    root = Path(root)
    found = []
    for path in files:
        page = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        text = path.read_text()
        lines = text.splitlines()
        prose, unknown = _prose(page, text)
        found += unknown
        for i, line in prose:
            if any(where == page and allowed in lines[i - 1] for where, allowed, _ in ALLOWED):
                continue
            found += [
                f"{page}:{i}: {m.group(0)!r} in {lines[i - 1].strip()!r}"
                for m in RESULT_NUMBER.finditer(line)
            ]
    return found


def check(root: str | Path = ROOT, results: str | Path | None = None) -> list[str]:
    """Every quote block that differs from its rendering, and every result-like number in
    prose outside a block (:func:`unquoted_numbers`); empty when the pages are current."""
    root = Path(root)
    problems = []
    for page, (old, new) in rendered_pages(root, results).items():
        problems += _differences(page.relative_to(root).as_posix(), old, new)
    templates = sorted(HERE.glob("*.md.j2"))
    return problems + unquoted_numbers([*pages(root), *templates], root)


def write(root: str | Path = ROOT, results: str | Path | None = None) -> list[Path]:
    """Rewrite every quote block of the pages in place; the pages that changed."""
    changed = []
    for page, (old, new) in rendered_pages(root, results).items():
        if new != old:
            changed.append(write_text(page, new))
    return changed
