"""Typed errors: what the user gave is wrong (``BadInput``), everything else is a bug.

``bnn-bench`` maps :class:`BadInput` to exit status 2 with its message alone; any other
exception is a bug and exits 1 with its traceback. Library code raises these and never
chooses exit codes itself. A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_SEED",
    "AccelerationUnavailable",
    "BadInput",
    "ResultsError",
    "check_count",
    "check_seconds",
    "check_seed",
]

#: The largest seed: PyMC's ``random_seed`` (NumPy's legacy seeding) takes [0, 2**32 - 1].
MAX_SEED = 2**32 - 1


class BadInput(ValueError):  # noqa: N818 - reads as what it is, like KeyError
    """Input the user gave cannot be used: a file, a field, an option or a value.

    The message names the file (or option), the field and the value, and says what was
    expected. A ``ValueError`` subclass, so callers that catch ``ValueError`` keep working.
    """


class ResultsError(BadInput):
    """A results folder or document (``metrics.json``, a baseline) is missing or invalid."""


class AccelerationUnavailable(BadInput):
    """An opt-in acceleration asked for where it cannot run: the installed PyTensor or PyMC
    is outside the versions it was tested with (:mod:`bnn_models.accel`)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_seed(name: str, value: object) -> int:
    """``value`` if it is a seed (an integer in [0, 2**32 - 1]), else :class:`BadInput`.

    ``name`` is the option or key the value came from, for the message.

    Examples
    --------
    >>> check_seed("--seed", 7)
    7
    >>> check_seed("--seed", -1)
    Traceback (most recent call last):
    ...
    bnn_models.errors.BadInput: --seed: a seed must be an integer in [0, 2**32 - 1], got -1
    """
    if not (_is_int(value) and 0 <= value <= MAX_SEED):  # type: ignore[operator]
        raise BadInput(f"{name}: a seed must be an integer in [0, 2**32 - 1], got {value!r}")
    return value  # type: ignore[return-value]


def check_count(name: str, value: object, least: int = 1) -> int:
    """``value`` if it is an integer >= ``least``, else :class:`BadInput` naming ``name``.

    Examples
    --------
    >>> check_count("--sims", 0)
    Traceback (most recent call last):
    ...
    bnn_models.errors.BadInput: --sims: must be an integer >= 1, got 0
    """
    if not (_is_int(value) and value >= least):  # type: ignore[operator]
        raise BadInput(f"{name}: must be an integer >= {least}, got {value!r}")
    return value  # type: ignore[return-value]


def check_seconds(name: str, value: object) -> float | None:
    """``value`` if it is None (no limit) or a finite number of seconds > 0.

    Examples
    --------
    >>> check_seconds("--time-limit", float("nan"))
    Traceback (most recent call last):
    ...
    bnn_models.errors.BadInput: --time-limit: must be a finite number of seconds > 0, got nan
    """
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value > 0):  # type: ignore[arg-type, operator]
        raise BadInput(f"{name}: must be a finite number of seconds > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]
