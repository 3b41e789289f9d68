"""Number formats of the report: one value, or a mean with its interval over seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnn_models.schema import SEED_INTERVAL_PROB

__all__ = ["FORMATS", "Stat", "over_seeds", "possessive", "sig"]


def sig(x: float, digits: int = 3) -> str:
    """``digits`` significant digits; whole numbers with thousands separators from 10**digits.

    Examples
    --------
    >>> sig(0.0123456), sig(12.345), sig(123456.7), sig(float("nan"))
    ('0.0123', '12.3', '123,457', 'n/a')
    """
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 10**digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


#: Unit kind -> (number format, unit suffix).
FORMATS: dict[str, tuple[Callable[[float], str], str]] = {
    "s": (sig, " s"),
    "x": (lambda x: f"{x:.1f}", "x"),
    "nats": (lambda x: f"{x:,.1f}", " nats"),
    "nats3": (lambda x: f"{x:.3f}", " nats"),
    "prob": (lambda x: f"{x:.3f}", ""),
    "f1": (lambda x: f"{x:.4f}", ""),
    "pct": (lambda x: f"{100 * x:.1f}", "%"),
    "pct0": (lambda x: f"{100 * x:.0f}", "%"),
    "int": (lambda x: f"{int(round(x)):,}", ""),
    "rhat": (lambda x: f"{x:.3f}", ""),
    "ratio": (lambda x: f"{x:.2f}", ""),
    "per_s": (sig, " /s"),
    "us": (sig, " µs"),
    "num": (sig, ""),
}


@dataclass(frozen=True)
class Stat:
    """One metric of one method: a value, or a mean with an interval over seeds."""

    mean: float
    lo: float | None = None
    hi: float | None = None
    n: int = 1

    def show(self, kind: str) -> str:
        """The value with its unit, then the interval over seeds where there is one.

        Examples
        --------
        >>> Stat(0.1234).show("prob"), Stat(0.5, 0.25, 0.75, n=3).show("pct")
        ('0.123', '50.0% [25.0, 75.0]')
        """
        num, unit = FORMATS[kind]
        if not np.isfinite(self.mean):
            return "n/a"
        if self.n > 1 and self.lo is not None and self.hi is not None:
            return f"{num(self.mean)}{unit} [{num(self.lo)}, {num(self.hi)}]"
        return f"{num(self.mean)}{unit}"


def over_seeds(values: list[float]) -> Stat:
    """Mean and central interval over seeds, as :func:`bnn_models.schema.summarise_seeds`."""
    arr = np.asarray(values, dtype=float)
    lo, hi = np.quantile(arr, [(1 - SEED_INTERVAL_PROB) / 2, (1 + SEED_INTERVAL_PROB) / 2])
    return Stat(float(arr.mean()), float(lo), float(hi), int(arr.size))


def reason(error: object, limit: int = 200) -> str:
    """A failure's reason for a table cell: its first line, at most ``limit`` characters,
    and how many lines were left out (a library's error can repeat a line per weight).

    Examples
    --------
    >>> reason("NaN occurred.\nW0 is NaN.\nW1 is NaN.")
    'NaN occurred. (+2 lines)'
    """
    lines = str(error or "no reason recorded").strip().splitlines() or ["no reason recorded"]
    first = lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"
    return first + (f" (+{len(lines) - 1} lines)" if len(lines) > 1 else "")


def possessive(label: str) -> str:
    """``NUTS'``, ``HMC's``: the label as an English possessive."""
    return f"{label}'" if label.endswith(("s", "S")) else f"{label}'s"
