"""Opt-in accelerations: custom PyTensor Ops and linkers, imported only when a setting asks.

Nothing here is imported by ``import bnn_models`` or ``import bnn_models.inference``: each
module builds on PyTensor and PyMC internals, so it is loaded only by the setting that
turns it on (:mod:`bnn_models.inference.accelerations` lists them, and which methods
support each), and only after :func:`check_versions` has found PyTensor and PyMC within
the versions it was tested with (:data:`TESTED_WITH`).

- :mod:`~bnn_models.accel.fused` (``--set METHOD.fused=true``): the network's dense ReLU
  layer and Bernoulli likelihood as one Op with a numba kernel. For the PyTensor-compiled
  methods (nutpie's NUTS, PyMC's samplers, the VI methods, the ensemble); not for JAX
  engines, nor for Laplace (no second derivative).
- :mod:`~bnn_models.accel.packed_factor` (``--set fullrank_advi.packed_factor=true``):
  full-rank ADVI's draw and log-determinant on PyMC's packed Cholesky factor.
- :mod:`~bnn_models.accel.numba_positional` (``--set advi.backend=numba_positional``):
  the VI step behind a positional numba entry point.

The studies in ``studies/performance`` and ``studies/svi_compare`` measure what each buys.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet

from bnn_models.errors import AccelerationUnavailable

__all__ = ["TESTED_WITH", "check_versions", "installed_versions"]

#: The library versions the accelerations were tested with (the pinned set of
#: requirements.txt and its patch releases); outside them they are refused.
TESTED_WITH: dict[str, str] = {"pytensor": ">=3.3.8,<3.4", "pymc": ">=6.3.2,<6.4"}


def installed_versions() -> dict[str, str | None]:
    """The installed version of each library of :data:`TESTED_WITH` (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in TESTED_WITH:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def check_versions(acceleration: str) -> None:
    """Refuse ``acceleration`` where PyTensor or PyMC is outside :data:`TESTED_WITH`.

    Raises
    ------
    AccelerationUnavailable
        Naming the acceleration, the installed versions and the tested ranges.
    """
    installed = installed_versions()
    outside = [
        name
        for name, spec in TESTED_WITH.items()
        if (have := installed[name]) is None or have not in SpecifierSet(spec)
    ]
    if outside:
        have = ", ".join(f"{n} {installed[n]}" for n in TESTED_WITH)
        tested = ", ".join(f"{n}{s}" for n, s in TESTED_WITH.items())
        raise AccelerationUnavailable(
            f"the {acceleration} acceleration was tested with {tested}; installed: {have}. "
            "Use the default settings, or install the tested versions (requirements.txt)"
        )
