"""Typed errors: what the user gave is wrong (``BadInput``), everything else is a bug.

``bnn-bench`` maps :class:`BadInput` to exit status 2 with its message alone; any other
exception is a bug and exits 1 with its traceback. Library code raises these and never
chooses exit codes itself. A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

__all__ = ["BadInput", "ResultsError"]


class BadInput(ValueError):  # noqa: N818 - reads as what it is, like KeyError
    """Input the user gave cannot be used: a file, a field, an option or a value.

    The message names the file (or option), the field and the value, and says what was
    expected. A ``ValueError`` subclass, so callers that catch ``ValueError`` keep working.
    """


class ResultsError(BadInput):
    """A results folder or document (``metrics.json``, a baseline) is missing or invalid."""
