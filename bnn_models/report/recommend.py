"""What to use, for which budget: the recommendation that opens every report."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recommendation"]


@dataclass(frozen=True)
class Recommendation:
    """The "What to use" block at the top of a report.

    Attributes
    ----------
    headline : str
        One or two sentences: the answer.
    header : list of str
        The table's columns.
    rows : list of list of str
        One row per budget.
    notes : list of str
        Bullets under the table.
    """

    headline: str  # one or two sentences
    header: list[str]  # table columns
    rows: list[list[str]]  # one row per budget
    notes: list[str]  # bullets under the table
