"""The metric table: every metric of the suite once, and the sections of ``metrics.json``.

A fit's entry in ``metrics.json`` holds one dict per *section* (``runtime``, ``elbo``,
``calibration``, ...), each computed by one section function (:data:`SECTIONS`). A
*metric* (:class:`Metric`) is one number of one section, named by its ``path``
(``"calibration.ece"``), with its unit, its better direction, and what the rest of the
suite does with it: the regression gate (``gate``), an asv ``track_`` benchmark
(``asv``), a column of the report's summary table (``column``). The gate's list
(:data:`bnn_models.gate.GATED`), the asv tracks (``benchmarks/``), the report's columns
and the docs' metrics page are all read from :data:`METRICS`, so adding a metric is one
:func:`register_metric` call (one entry of :mod:`bnn_models.metrics.builtin` for the
suite's own) and, for a number no section computes yet, its function.

Examples
--------
A metric of your own, computed from the fit (it lands in ``metrics.json`` under
``extra.mean_p``, in the report's summary table, and in the gate's list)::

    register_metric(Metric(
        name="mean_p", path="extra.mean_p", label="Mean predicted probability",
        unit="probability", direction="none", gate="t", column="prob",
        description="Mean over test rows and draws of the predicted probability.",
        compute=lambda result, ctx: float(result.p_test.mean()),
    ))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bnn_models.anytime import anytime
from bnn_models.data import Dataset
from bnn_models.fidelity import compute_fidelity
from bnn_models.inference import FitResult
from bnn_models.metrics.fit import diagnostics, elbo, reliability, runtime, spread
from bnn_models.reference import Reference
from bnn_models.scores import calibration
from bnn_models.uncertainty import shift_metrics

__all__ = [
    "ASV_SUITES",
    "DIRECTIONS",
    "GATES",
    "METRICS",
    "SECTIONS",
    "FitContext",
    "Metric",
    "Section",
    "TableView",
    "Track",
    "compute_sections",
    "get_metric",
    "register_metric",
    "unregister_metric",
]

Direction = Literal["lower", "higher", "none"]
#: The better direction of a metric: smaller, larger, or neither (a move either way is a
#: change in behaviour, e.g. a predictive spread or an interval coverage).
DIRECTIONS: tuple[str, ...] = ("lower", "higher", "none")

#: How a metric can be gated (:mod:`bnn_models.gate`): ``t``, the Student-t prediction
#: bound over seeds; ``t_per_row``, the same with at least one test row's worth of
#: tolerance (rates counted in rows: a seed that flips one row is no regression).
GATES: dict[str, str] = {
    "t": "Student-t prediction bound for the mean of n new seeds given the baseline's k",
    "t_per_row": "the same bound, at least one test row (1/n_test) wide",
}

#: The asv classes a metric can be tracked in, and the fits they read. Each class reads
#: one fit cache and is parametrised over the methods it applies to.
ASV_SUITES: dict[str, str] = {
    "FitCost": "every method's fit on the rupture data (benchmarks/fits.py)",
    "FitQuality": "every method's fit on the rupture data (benchmarks/fits.py)",
    "VIConvergence": "the vi methods' fits on the rupture data (benchmarks/fits.py)",
    "MCMCDiagnostics": "the mcmc methods' fits on the rupture data (benchmarks/fits.py)",
    "FitFidelity": "every method's fit, against the cached reference (benchmarks/fits.py)",
    "ShiftUncertainty": "fits on the bump-height shift of the rupture data "
    "(benchmarks/uncertainty.py)",
    "TruthCoverage": "fits on the teacher data, true probabilities known "
    "(benchmarks/uncertainty.py)",
}


@dataclass
class FitContext:
    """What a section or metric function may read besides the fit.

    Attributes
    ----------
    result : FitResult
        The successful fit.
    dataset : Dataset
        The data it was fitted on (``y_test``, ``p_test_true``, ``test_shifted``).
    seed : int
        The fit's seed (for metrics that draw, e.g. the reliability diagram's replicates).
    reference : Reference or None
        The reference posterior of the run (``--reference``), if any.
    """

    result: FitResult
    dataset: Dataset
    seed: int = 0
    reference: Reference | None = None
    _done: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def y_test(self) -> np.ndarray:
        """The test labels."""
        return self.dataset.y_test

    def section(self, name: str) -> dict | None:
        """The section ``name`` of this fit, computed once (a section may reuse another:
        runtime's ESS per second reuses the diagnostics' ESS)."""
        if name not in self._done:
            self._done[name] = SECTIONS[name].compute(self.result, self)
        return self._done[name]


#: A section function: the fit and its context -> the section's dict, or None where the
#: section does not apply (no ELBO for MCMC, no diagnostics for VI).
SectionFunction = Callable[[FitResult, FitContext], "dict | None"]
#: A metric function: the fit and its context -> the number, or None where it does not apply.
MetricFunction = Callable[[FitResult, FitContext], "float | int | None"]


@dataclass(frozen=True)
class Section:
    """One section of a fit's entry in ``metrics.json`` and the function that computes it."""

    name: str
    compute: SectionFunction
    description: str


def _calibration(result: FitResult, ctx: FitContext) -> dict:
    return calibration(result.p_test.mean(axis=0), ctx.y_test)


def _shift(result: FitResult, ctx: FitContext) -> dict | None:
    shifted = ctx.dataset.test_shifted
    return None if shifted is None else shift_metrics(result.p_test, ctx.y_test, shifted)


#: The sections of a fit's entry, in the order ``metrics.json`` writes them.
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "runtime",
            lambda r, ctx: runtime(r, ctx.section("diagnostics")),
            "seconds per stage, throughput, cost per gradient and per step "
            "(bnn_models.metrics.runtime)",
        ),
        Section(
            "elbo",
            lambda r, ctx: elbo(r),
            "ELBO convergence of a fit with a loss trace (bnn_models.metrics.elbo)",
        ),
        Section(
            "spread",
            lambda r, ctx: spread(r),
            "posterior spread in weight and function space (bnn_models.metrics.spread)",
        ),
        Section(
            "calibration",
            _calibration,
            "test-set scores of the mean predicted probability (bnn_models.metrics.calibration)",
        ),
        Section(
            "reliability",
            lambda r, ctx: reliability(r, ctx.y_test, seed=ctx.seed),
            "PAV reliability diagram data (bnn_models.metrics.reliability)",
        ),
        Section(
            "diagnostics",
            lambda r, ctx: diagnostics(r),
            "MCMC R-hat, ESS, divergences (bnn_models.metrics.diagnostics)",
        ),
        Section(
            "fidelity",
            lambda r, ctx: compute_fidelity(r, ctx.dataset, ctx.reference),
            "agreement with the reference posterior and the true probabilities "
            "(bnn_models.fidelity.compute_fidelity)",
        ),
        Section(
            "anytime",
            lambda r, ctx: anytime(r, ctx.dataset, ctx.reference),
            "fidelity and log loss against seconds and gradients at cheaper states of the "
            "fit (bnn_models.anytime.anytime)",
        ),
        Section(
            "shift",
            _shift,
            "quality and uncertainty on shifted test rows (bnn_models.uncertainty.shift_metrics)",
        ),
    )
}


@dataclass(frozen=True)
class Track:
    """How asv tracks a metric: one ``track_<name>`` in the asv class ``suite``.

    asv reads a larger number as worse; a metric that cannot be read that way is tracked
    through ``value`` (e.g. ``1 - AUROC``), with the direction of what is tracked.

    Attributes
    ----------
    name : str or None
        The benchmark is ``track_<name>`` (default: the metric's name).
    suite : str
        One of :data:`ASV_SUITES`: which fits it reads and which methods it covers.
    unit : str or None
        asv's unit (default: the metric's, with "(higher is better)" where that holds).
    value : callable or None
        What is tracked, from the metric's value (default: the value itself).
    direction : {"lower", "higher", "none"} or None
        The tracked number's better direction (default: the metric's).
    note : str
        Said in the benchmark's docstring, after the metric's description.
    """

    name: str | None = None
    suite: str = "FitQuality"
    unit: str | None = None
    value: Callable[[float], float] | None = None
    direction: Direction | None = None
    note: str = ""


@dataclass(frozen=True)
class Metric:
    """One metric: where it sits in ``metrics.json`` and what the suite does with it.

    Attributes
    ----------
    name : str
        Unique id (e.g. ``ece``).
    path : str
        ``section.key`` inside a fit's entry of ``metrics.json`` (``calibration.ece``);
        baselines key their statistics by it.
    label : str
        Readable name; the report's column header.
    unit : str
        Unit of the value (``s``, ``nats``, ``probability``, ``fraction of rows``, ...).
    direction : {"lower", "higher", "none"}
        Which way is better (``none``: a move either way is a change).
    description : str
        One line: what it measures.
    compute : callable or None
        ``compute(result, ctx) -> number | None``: the metric's own function. None: the
        section function of its section computes it (:attr:`source`).
    gate : {None, "t", "t_per_row"}
        Whether and how the regression gate checks it (:data:`GATES`).
    asv : bool or Track
        Whether asv tracks it (True: a default :class:`Track`).
    column : bool or str
        Whether it is a column of the report's summary table, and in which format (a
        kind of :data:`bnn_models.report.formats.FORMATS`; True: plain significant digits).
    group : str or None
        The report's column group (default: the section's name, capitalised).
    """

    name: str
    path: str
    label: str
    unit: str
    direction: Direction
    description: str
    compute: MetricFunction | None = None
    gate: str | None = None
    asv: bool | Track = False
    column: bool | str = False
    group: str | None = None

    @property
    def section(self) -> str:
        """The section of ``metrics.json`` it sits in."""
        return self.path.split(".", 1)[0]

    @property
    def key(self) -> str:
        """Its key inside the section."""
        return self.path.split(".", 1)[1]

    @property
    def source(self) -> MetricFunction | SectionFunction:
        """The function that computes it: its own, or its section's."""
        return self.compute if self.compute is not None else SECTIONS[self.section].compute

    @property
    def track(self) -> Track | None:
        """Its asv track, defaults filled in; None when asv does not track it."""
        if self.asv is False:
            return None
        t = Track() if self.asv is True else self.asv
        direction = t.direction or self.direction
        unit = t.unit or (f"{self.unit} (higher is better)" if direction == "higher" else self.unit)
        return Track(t.name or self.name, t.suite, unit, t.value, direction, t.note)

    @property
    def column_format(self) -> str | None:
        """The report cell's format kind; None when it is no column."""
        if self.column is False:
            return None
        return "num" if self.column is True else str(self.column)

    @property
    def column_group(self) -> str:
        """The report's column group."""
        return self.group or self.section.capitalize()

    def value(self, entry: dict) -> float | None:
        """Its finite number in a fit entry of ``metrics.json``; None where absent.

        Examples
        --------
        >>> METRICS["ece"].value({"calibration": {"ece": 0.05}}), METRICS["ece"].value({})
        (0.05, None)
        """
        value = (entry.get(self.section) or {}).get(self.key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
            return value if np.isfinite(value) else None
        return None


#: The table: metric name -> record, in the order the report lists them.
METRICS: dict[str, Metric] = {}


def _check(metric: Metric) -> None:
    if metric.name in METRICS:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    section, dot, key = metric.path.partition(".")
    if not (section and dot and key):
        raise ValueError(f"metric {metric.name!r}: path {metric.path!r} is not 'section.key'")
    if metric.compute is None and section not in SECTIONS:
        raise ValueError(
            f"metric {metric.name!r}: section {section!r} computes nothing; give the "
            f"metric a compute function or use a section of {', '.join(SECTIONS)}"
        )
    if same := [m.name for m in METRICS.values() if m.path == metric.path]:
        raise ValueError(f"metric {metric.name!r}: path {metric.path!r} is {same[0]!r}'s")
    if metric.direction not in DIRECTIONS:
        raise ValueError(
            f"metric {metric.name!r}: direction {metric.direction!r}; expected one of "
            f"{', '.join(DIRECTIONS)}"
        )
    if metric.gate is not None and metric.gate not in GATES:
        raise ValueError(
            f"metric {metric.name!r}: gate {metric.gate!r}; expected None or one of "
            f"{', '.join(GATES)}"
        )
    track = metric.track
    if track is not None:
        if track.suite not in ASV_SUITES:
            raise ValueError(
                f"metric {metric.name!r}: asv suite {track.suite!r}; expected one of "
                f"{', '.join(ASV_SUITES)}"
            )
        if clash := [
            m.name for m in METRICS.values() if m.track is not None and m.track.name == track.name
        ]:
            raise ValueError(f"metric {metric.name!r}: track_{track.name} is {clash[0]!r}'s")


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS`: from then on runs compute it (where it has its
    own function), and the gate, asv and the report include it as it says.

    Raises
    ------
    ValueError
        A metric of that name, path or asv track exists; a path not ``section.key``; a
        section without a function and no ``compute``; an unknown direction, gate or
        asv suite.
    """
    _check(metric)
    METRICS[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove a metric added with :func:`register_metric`."""
    METRICS.pop(name, None)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``.

    Raises
    ------
    KeyError
        No such metric; the message lists the registered names.
    """
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; registered: {', '.join(METRICS)}") from None


class TableView(Mapping[str, Any]):
    """A read-only mapping built from :data:`METRICS` each time it is read, so that a metric
    registered later is in it (the gate's :data:`~bnn_models.gate.GATED`)."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build

    def __getitem__(self, key: str) -> Any:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return f"TableView({self._build()!r})"


def compute_sections(
    result: FitResult,
    dataset: Dataset,
    *,
    seed: int = 0,
    reference: Reference | None = None,
) -> dict[str, dict | None]:
    """Every section of a successful fit's entry in ``metrics.json``.

    The sections' functions first (:data:`SECTIONS`, in order), then every metric that
    has its own function: its value goes under its path, in a section of its own if new
    (a section that does not apply to the fit, None, stays None).

    Returns
    -------
    dict
        ``{section: dict or None}``.
    """
    ctx = FitContext(result, dataset, seed, reference)
    out: dict[str, dict | None] = {name: ctx.section(name) for name in SECTIONS}
    for metric in METRICS.values():
        if metric.compute is None:
            continue
        section = out.setdefault(metric.section, {})
        if section is not None:
            section[metric.key] = metric.compute(result, ctx)
    return out
