"""The report's model of a run: its methods in run order, their numbers, fits and styles.

Nothing here tells methods apart by name: a method is what its fit entries hold (its
``family``, its ``label``, its metric sections), and the comparison baseline is the first
MCMC method of the run that has a successful fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bnn_models import figures as figs
from bnn_models.inference import FitResult, load_fit, rule_converged
from bnn_models.report.formats import Stat, reason
from bnn_models.schema import NOT_RUN, flatten_metrics, summarise_seeds

__all__ = [
    "BASELINE_FAMILY",
    "MethodRun",
    "Row",
    "baseline",
    "converged",
    "failure_text",
    "seeds_not_ok",
    "group_widths",
    "load_methods",
    "seed_text",
    "skip_reason",
    "styles",
]

#: Family of the methods the report compares every other method with.
BASELINE_FAMILY = "mcmc"


@dataclass
class MethodRun:
    """Everything the report says about one method of a run: its fit entries, their
    statistics over seeds, the fit it draws (not the registry's
    :class:`bnn_models.inference.Method`, which it may outlive: a report reads saved runs)."""

    name: str
    entries: list[dict]  # every fit entry of this method, in file order
    stats: dict[str, Stat] = field(default_factory=dict)
    shown: dict = field(default_factory=dict)  # the fit entry whose figures are drawn
    fit: FitResult | None = None
    fit_note: str | None = None

    @property
    def ok(self) -> list[dict]:
        """The successful fit entries."""
        return [e for e in self.entries if e["status"] == "ok"]

    @property
    def failed(self) -> list[dict]:
        """The failed fit entries."""
        return [e for e in self.entries if e["status"] != "ok"]

    @property
    def label(self) -> str:
        """Readable name, from the fit entries (the method's name when it has none)."""
        return str(self.entries[0]["label"]) if self.entries else self.name

    @property
    def family(self) -> str | None:
        """``"mcmc"``, ``"vi"``, ...: from the fit entries; None without any."""
        return str(self.entries[0]["family"]) if self.entries else None

    def get(self, key: str) -> float:
        """Value (mean over seeds) of ``section.key``; NaN when not recorded."""
        stat = self.stats.get(key)
        return float("nan") if stat is None else stat.mean


def load_methods(out: Path, doc: dict, *, load: bool = True) -> dict[str, MethodRun]:
    """Every method of the run, in the run's order, with its numbers (and fit, if ``load``).

    A method's numbers are the mean and interval over its seeds where it has several
    (the document's ``seed_summary``, or one computed here), else its one fit's. Fits
    that were not run (:data:`~bnn_models.schema.NOT_RUN`: the run lost its scheduler)
    are absent, not failures; a method without any other fit is left out.
    """
    names = list(doc["run"].get("methods") or [])
    names += [f["method"] for f in doc["fits"] if f["method"] not in names]
    summary = doc.get("seed_summary")
    if summary is None and any(
        sum(f["method"] == m and f["status"] == "ok" for f in doc["fits"]) > 1 for m in names
    ):
        summary = summarise_seeds(doc["fits"])
    out_methods = {}
    for name in names:
        entries = [f for f in doc["fits"] if f["method"] == name]
        m = MethodRun(name, [f for f in entries if f["status"] != NOT_RUN])
        if entries and not m.entries:
            continue  # none of its fits ran: absent
        if m.ok:
            m.shown = min(m.ok, key=lambda e: e["seed"])
            per_seed = (summary or {}).get(name)
            if per_seed and per_seed.get("n_seeds", 1) > 1:
                m.stats = {
                    k: Stat(v["mean"], v["lo"], v["hi"], int(v["n"]))
                    for k, v in per_seed["metrics"].items()
                }
            else:
                m.stats = {k: Stat(v) for k, v in flatten_metrics(m.shown).items()}
            if load:
                m.fit, m.fit_note = _load(out, m.shown)
        out_methods[name] = m
    return out_methods


def _load(out: Path, entry: dict) -> tuple[FitResult | None, str | None]:
    name = entry.get("fit_file")
    if not name:
        return None, "no fit file recorded"
    path = out / name
    if not path.is_file():
        return None, f"{name} is absent (fit files are not committed; rerun 'bnn-bench run')"
    try:
        return load_fit(path), None
    except ValueError as err:
        return None, str(err)


def converged(entry: dict) -> bool:
    """Whether a fit entry's convergence rule fired before its step cap
    (:func:`bnn_models.inference.rule_converged`), recomputed from what it recorded so that
    runs saved before the cap counted read the same; False for a fit without a rule."""
    conv = entry.get("convergence") or {}
    if "fired_at" in conv:
        return rule_converged(conv)
    el = entry.get("elbo") or {}
    return bool(el.get("converged", el.get("rule_fired_at") is not None))


def baseline(methods: dict[str, MethodRun]) -> MethodRun | None:
    """The first MCMC method in run order with a successful fit; None when there is none."""
    return next((m for m in methods.values() if m.family == BASELINE_FAMILY and m.ok), None)


def styles(methods: dict[str, MethodRun]) -> dict[str, figs.Style]:
    """Colour, marker and label of every method, fixed by the method registry (the same in
    every report)."""
    return figs.method_styles({name: m.label for name, m in methods.items()})


def seed_text(m: MethodRun) -> str:
    """'seed 3', '5 seeds', or '4 of 5 seeds' when some failed."""
    seeds = [e["seed"] for e in m.entries]
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return f"{len(m.ok)} of {len(seeds)} seeds" if m.failed else f"{len(seeds)} seeds"


def skip_reason(m: MethodRun) -> str | None:
    """Why a method was not run at all (every entry skipped), or None."""
    if m.entries and all(e["status"] == "skipped" for e in m.entries):
        return reason(m.entries[0].get("error"))
    return None


def failure_text(m: MethodRun) -> str:
    """Each failed seed of a method with its reason: ``seed 2: NaN occurred.; seed 4: ...``;
    a seed where the method does not apply says so: ``seed 1 (not applicable): ...``."""
    return "; ".join(
        f"seed {e['seed']}{_apart(e['status'])}: {reason(e.get('error'))}" for e in m.failed
    )


def seeds_not_ok(m: MethodRun) -> str:
    """``2 of 5 seeds failed``, or ``1 of 3 seeds not applicable`` (counted apart)."""
    counts: dict[str, int] = {}
    for e in m.failed:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    return "; ".join(
        f"{n} of {len(m.entries)} seeds {status.replace('_', ' ')}" for status, n in counts.items()
    )


def _apart(status: str) -> str:
    """What a non-ok status other than a failure adds after the seed."""
    return "" if status == "failed" else f" ({status.replace('_', ' ')})"


@dataclass(frozen=True)
class Row:
    """One method's row of a table: its cells as text with units, or why it has none."""

    method: str
    label: str
    seeds: str
    cells: list[str] | None  # None: nothing to show (every fit failed, or not compared)
    failure: str | None = None
    color: str = "#000000"


def group_widths(groups: list[str]) -> list[tuple[str, int]]:
    """Runs of equal neighbours: ``["a", "a", "b"]`` -> ``[("a", 2), ("b", 1)]``."""
    out: list[tuple[str, int]] = []
    for group in groups:
        if out and out[-1][0] == group:
            out[-1] = (group, out[-1][1] + 1)
        else:
            out.append((group, 1))
    return out
