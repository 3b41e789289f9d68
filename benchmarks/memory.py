"""Peak memory of one fit of each method (the process's maximum resident set size)."""

from __future__ import annotations

import timeit

from benchmarks.common import FIT_SEED, FIT_TIMEOUT, METHOD_NAMES, PROFILE, rupture
from bnn_models.inference import METHODS


class PeakMemFit:
    """One fit with the profile's settings; includes the imported libraries' memory."""

    params = ([PROFILE], METHOD_NAMES)
    param_names = ["profile", "method"]
    timer = timeit.default_timer
    timeout = FIT_TIMEOUT
    number = 1
    repeat = 1

    def setup(self, profile: str, method: str) -> None:
        self.data = rupture()
        self.settings = METHODS[method].configure(quick=profile == "quick")

    def peakmem_fit(self, profile: str, method: str) -> None:
        result = METHODS[method](
            dataset=self.data, seed=FIT_SEED, progressbar=False, settings=self.settings
        )
        if not result.ok:
            raise RuntimeError(f"{method} fit failed: {result.error}")
