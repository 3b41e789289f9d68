"""What a fit is given besides its data and settings: a progress switch and a deadline.

Every fit function takes ``context``, a :class:`FitContext`: the runner builds one per fit
with the run's time limit (``--time-limit``) and progress choice, so a method registered
from a notebook (:func:`bnn_models.inference.register`) honours them as the built-in ones
do, by calling :meth:`FitContext.check` between its steps.

The :class:`Deadline` is checked where it is safe to stop. Fits that iterate in Python
(PyMC's ``pm.fit``) check it between steps (:meth:`FitContext.check` is a ``pm.fit``
callback), which stops them cleanly. For engines that run outside Python (nutpie), the
runner's SIGALRM raises :class:`FitTimeout` when the engine next hands control back to
Python, as KeyboardInterrupt does, and again every second until the fit has ended (an
exception raised inside a ctypes callback, as during numba's compilation, is swallowed).
The alarm never raises inside a cooperating fit's compiled PyTensor function: an exception
thrown from a signal handler there crashed the process (a segmentation fault in PyTensor's
VM, seen in CI). SIGINT and SIGTERM are handed to a cooperating fit the same way
(:meth:`Deadline.interrupt`): raised in ADVI's compiled step, they crashed CI's run too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Deadline", "FitContext", "FitTimeout"]


class FitTimeout(Exception):
    """A fit ran past its time limit."""


@dataclass
class Deadline:
    """When a fit must stop, and whether it is checking that itself.

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
    interrupted : BaseException or None
        The interruption this fit received, however it was delivered. An engine may turn
        it into an error of its own (httpstan's client reports a reset connection), so the
        caller asks here whether a fit that failed was in fact stopped.

    Examples
    --------
    >>> Deadline.after(None).check()  # no limit: never raises
    >>> Deadline.after(60).expired()
    False
    """

    at: float | None = None
    seconds: float | None = None
    cooperative: bool = False
    pending: BaseException | None = None
    interrupted: BaseException | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """A deadline ``seconds`` from now (None or 0: no limit)."""
        deadline = cls()
        deadline.arm(seconds)
        return deadline

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


@dataclass(frozen=True)
class FitContext:
    """What the caller of a fit decides: progress bars, and when to stop.

    Attributes
    ----------
    progressbar : bool
        Show the engine's progress bar.
    deadline : Deadline
        The fit's time limit (default: none). A fit that iterates in Python calls
        :meth:`check` between its steps; one that cannot is stopped by the runner's alarm
        when it hands control back to Python.

    Examples
    --------
    A method of your own stops at the run's ``--time-limit`` by checking between steps:

    >>> def fit_mine(*, dataset, settings, seed, context=None):  # doctest: +SKIP
    ...     context = context or FitContext()
    ...     for step in range(settings.steps):
    ...         context.check()  # raises FitTimeout past the limit
    ...         ...
    """

    progressbar: bool = True
    deadline: Deadline = field(default_factory=Deadline)

    def check(self, *args: object) -> None:
        """Raise :class:`FitTimeout` past the deadline, or a pending interruption.

        Usable as a ``pm.fit`` callback (it accepts and ignores the callback's arguments).
        """
        self.deadline.check(*args)
