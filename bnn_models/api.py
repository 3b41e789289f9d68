"""The Python API a notebook user reaches for: :func:`compare` and its :class:`Comparison`.

>>> from bnn_models import compare, load_dataset            # doctest: +SKIP
>>> runs = compare(load_dataset("teacher"), methods="vi", seeds=[0, 1], quick=True)
>>> runs.table()                                             # doctest: +SKIP
>>> runs.report("my-report")                                 # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bnn_models.data import Dataset
from bnn_models.reference import Reference
from bnn_models.report import summary_table, write_report
from bnn_models.runner import run_benchmark
from bnn_models.schema import load_metrics

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """The results of :func:`compare`: the metrics document and the folder holding the fits.

    Attributes
    ----------
    doc : dict
        The metrics document (schema :data:`bnn_models.schema.SCHEMA`).
    folder : pathlib.Path
        Where ``metrics.json`` and the fit files are.
    """

    doc: dict
    folder: Path

    @classmethod
    def load(cls, folder: str | Path) -> Comparison:
        """The results of an earlier run (``bnn-bench run --out FOLDER``)."""
        return cls(load_metrics(folder), Path(folder))

    def table(self) -> pd.DataFrame:
        """One row per fit: method, seed, status, times, ELBO, spread, calibration."""
        return summary_table(self.doc)

    def report(self, path: str | Path | None = None) -> list[Path]:
        """Write ``report.html``, ``report.md`` and figures; into ``path`` if given.

        With ``path``, the metrics and fit files are read from this comparison's folder
        and the report written into ``path`` (its ``metrics.json`` is a copy).
        """
        if path is None or Path(path).resolve() == self.folder.resolve():
            return write_report(self.folder)
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        fits = target / "fits"
        if not fits.exists() and (self.folder / "fits").is_dir():
            fits.symlink_to((self.folder / "fits").resolve(), target_is_directory=True)
        (target / "metrics.json").write_bytes((self.folder / "metrics.json").read_bytes())
        return write_report(target)


def compare(
    dataset: Dataset,
    *,
    methods: str | list[str] | None = "all",
    seeds: list[int] | int = 1,
    quick: bool = False,
    overrides: dict | None = None,
    out: str | Path | None = None,
    reference: Reference | None = None,
    progressbar: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> Comparison:
    """Fit ``methods`` on ``dataset`` for each seed and return the results.

    Parameters
    ----------
    dataset : Dataset
        E.g. ``load_dataset("rupture")``, ``make_teacher(...)``, ``load_table(path)``.
    methods : str or list of str
        Names, families (``mcmc``, ``vi``, ...) or ``"all"``.
    seeds : list of int or int
        The seeds, or a count of seeds from 0.
    quick : bool
        Each method's quick settings (seconds per fit).
    overrides : dict, optional
        ``{method: {setting: value}}``.
    out : path, optional
        Results folder (default: a new temporary folder).
    reference : Reference, optional
        Reference posterior for the fidelity metrics.
    progressbar : bool
        Show the samplers' progress bars.
    log : callable
        Where progress lines go (default: nowhere; ``print`` shows them).

    Returns
    -------
    Comparison
    """
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="bnn-bench-"))
    doc = run_benchmark(
        dataset,
        folder,
        methods=[methods] if isinstance(methods, str) else methods,
        seeds=list(range(seeds)) if isinstance(seeds, int) else list(seeds),
        quick=quick,
        overrides=overrides,
        reference=reference,
        progressbar=progressbar,
        log=log,
        command="bnn_models.compare",
    )
    return Comparison(doc, folder)
