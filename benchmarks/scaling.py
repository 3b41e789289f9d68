"""How the cost of the inner loops grows with training rows and with hidden width.

Teacher data (a fixed 8-12-1 network, ``make_teacher``) with ``rows`` training rows,
fitted by the BNN with ``hidden`` units. asv's graph of a parametrised benchmark puts
one parameter on the x axis and draws a line per value of the other: with ``rows`` on
the x axis the lines show how the cost grows with the data, with ``hidden`` with the
width. On a shared machine the largest cells also show BLAS threads fighting for cores.
The quick profile runs a corner of the grid (see ``benchmarks.common``).
"""

from __future__ import annotations

import timeit

import pymc as pm

from benchmarks.common import (
    HIDDEN,
    ROWS,
    VI_STEP_METHODS,
    initial_vector,
    one_blas_thread,
    teacher,
    vi_step_function,
)
from bnn_models.model import build_bnn


def _model(rows: int, hidden: int) -> pm.Model:
    data = teacher(rows)
    return build_bnn(data.X_train, data.y_train, n_hidden=hidden)


class LogpGradScaling:
    """One log density + gradient evaluation, over rows and hidden width."""

    params = (ROWS, HIDDEN)
    param_names = ["rows", "hidden"]
    timer = timeit.default_timer
    timeout = 300

    def setup(self, rows: int, hidden: int) -> None:
        self.blas = one_blas_thread()
        model = _model(rows, hidden)
        self.fn = model.logp_dlogp_function(ravel_inputs=True)
        self.x = initial_vector(model)
        self.fn(self.x)

    def time_logp_dlogp(self, rows: int, hidden: int) -> None:
        self.fn(self.x)


class ADVIStepScaling:
    """One step of the first registered VI method, over rows and hidden width.

    That is mean-field ADVI today, with its default settings (``vi_step_function``).
    The class keeps its name so that its asv history carries on.
    """

    #: The VI method timed (None: none registered, the benchmark is skipped).
    vi_method = VI_STEP_METHODS[0] if VI_STEP_METHODS else None

    params = (ROWS, HIDDEN)
    param_names = ["rows", "hidden"]
    timer = timeit.default_timer
    timeout = 300

    def setup(self, rows: int, hidden: int) -> None:
        if self.vi_method is None:
            raise NotImplementedError("no VI method registered")  # asv: skipped
        self.blas = one_blas_thread()
        self.step = vi_step_function(_model(rows, hidden), self.vi_method)
        self.step()

    def time_advi_step(self, rows: int, hidden: int) -> None:
        self.step()
