"""The opt-in accelerations a method may support: one table, importable without them.

Each acceleration is turned on by one setting (``--set METHOD.SETTING=VALUE``) and lives
in a module of :mod:`bnn_models.accel`, which builds on PyTensor and PyMC internals. That
module is imported only when a fit's settings ask for it (:func:`load`), after checking
that the installed PyTensor and PyMC are within the versions it was tested with. A
method lists the accelerations it supports in its record
(:attr:`~bnn_models.inference.Method.accelerations`); ``--set`` refuses the others before
anything runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ACCELERATIONS", "Acceleration", "asked_by", "load"]


@dataclass(frozen=True)
class Acceleration:
    """One opt-in acceleration.

    Attributes
    ----------
    name : str
        Its key in :data:`ACCELERATIONS` and in a method's ``accelerations``.
    setting : str
        The settings field that turns it on.
    value : object
        The field's value that turns it on.
    module : str
        The module of :mod:`bnn_models.accel` it lives in, imported only when asked for.
    description : str
        What it does, in one sentence.
    """

    name: str
    setting: str
    value: Any
    module: str
    description: str

    @property
    def flag(self) -> str:
        """How a user turns it on: ``SETTING=VALUE`` of ``--set METHOD.SETTING=VALUE``."""
        value = str(self.value).lower() if isinstance(self.value, bool) else self.value
        return f"{self.setting}={value}"

    def asked_by(self, settings: object) -> bool:
        """Whether ``settings`` turn it on."""
        value = getattr(settings, self.setting, None)
        return type(value) is type(self.value) and value == self.value


#: Every opt-in acceleration, by name.
ACCELERATIONS: dict[str, Acceleration] = {
    a.name: a
    for a in (
        Acceleration(
            "fused",
            "fused",
            True,
            "bnn_models.accel.fused",
            "the dense ReLU layer and the Bernoulli likelihood as one custom PyTensor Op "
            "(a numba kernel, one pass over the rows); the same log density, no second "
            "derivative and no JAX implementation",
        ),
        Acceleration(
            "packed_factor",
            "packed_factor",
            True,
            "bnn_models.accel.packed_factor",
            "full-rank ADVI's draw z = mu + L eps and log det L as one custom Op on PyMC's "
            "packed Cholesky factor, no dense factor built by advanced indexing; the same "
            "steps, fewer microseconds per step",
        ),
        Acceleration(
            "numba_positional",
            "backend",
            "numba_positional",
            "bnn_models.accel.numba_positional",
            "the VI step compiled by PyTensor's numba backend behind a positional entry "
            "point, its normal draw made in NumPy; the same numbers, less overhead per step",
        ),
    )
}


def asked_by(settings: object) -> Iterator[Acceleration]:
    """The accelerations ``settings`` turn on."""
    return (a for a in ACCELERATIONS.values() if a.asked_by(settings))


def load(acceleration: Acceleration) -> None:
    """Import ``acceleration``'s module, once the installed libraries have been checked.

    Raises
    ------
    bnn_models.errors.AccelerationUnavailable
        PyTensor or PyMC is outside the versions the accelerations were tested with.
    """
    from bnn_models import accel

    accel.check_versions(acceleration.name)
    importlib.import_module(acceleration.module)
