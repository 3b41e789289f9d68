"""The per-fit time limit, checked where it is safe to stop.

The runner arms a :class:`Deadline` for each fit. Fits that iterate in Python (PyMC's
``pm.fit``) check it between steps (:meth:`Deadline.check`, a ``pm.fit`` callback), which
stops them cleanly. For engines that run outside Python (nutpie), the runner's SIGALRM
raises :class:`FitTimeout` when the engine next hands control back to Python, as
KeyboardInterrupt does, and again every second until the fit has ended (an exception
raised inside a ctypes callback, as during numba's compilation, is swallowed). The alarm never raises inside a cooperating fit's compiled
PyTensor function: an exception thrown from a signal handler there crashed the process
(a segmentation fault in PyTensor's VM, seen in CI). SIGINT and SIGTERM are handed to a
cooperating fit the same way (:meth:`Deadline.interrupt`): raised in ADVI's compiled step,
they crashed CI's run too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["DEADLINE", "Deadline", "FitTimeout"]


class FitTimeout(Exception):
    """A fit ran past its time limit."""


@dataclass
class Deadline:
    """When the current fit must stop, and whether it is checking that itself.

    Attributes
    ----------
    at : float or None
        ``time.monotonic()`` limit; None: no limit.
    seconds : float or None
        The limit as given, for the message.
    cooperative : bool
        True while a fit checks the deadline itself (the alarm then leaves it alone).
    pending : BaseException or None
        An interruption (SIGINT/SIGTERM) handed to a cooperating fit, raised at its next
        :meth:`check` rather than inside a compiled function.
    """

    at: float | None = None
    seconds: float | None = None
    cooperative: bool = False
    pending: BaseException | None = None

    def arm(self, seconds: float | None) -> None:
        """Start the limit of one fit (None: no limit)."""
        self.seconds = seconds
        self.at = None if not seconds else time.monotonic() + seconds
        self.cooperative = False

    def expired(self) -> bool:
        """Whether the limit has passed."""
        return self.at is not None and time.monotonic() >= self.at

    def error(self) -> FitTimeout:
        """The exception that ends the fit."""
        return FitTimeout(f"time limit of {self.seconds:g} s reached")

    def interrupt(self, exc: BaseException) -> None:
        """Have the cooperating fit raise ``exc`` at its next :meth:`check`.

        It survives :meth:`arm`: a fit that ends before checking again leaves it for the
        caller, which delivers it another way (the runner signals itself again).
        """
        self.pending = exc
        self.cooperative = False

    def check(self, *args: object) -> None:
        """Raise a pending interruption, or :class:`FitTimeout` past the limit.

        Usable as a ``pm.fit`` callback. Each call marks the fit as cooperative.
        """
        self.cooperative = True
        if self.pending is not None:
            exc, self.pending = self.pending, None
            raise exc
        if self.expired():
            raise self.error()


#: The deadline of the fit running in this process.
DEADLINE = Deadline()
