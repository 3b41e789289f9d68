"""Opt-in accelerations: custom PyTensor Ops and linkers, imported only when a setting asks.

Nothing here is imported by ``import bnn_models`` or ``import bnn_models.inference``:
each module builds on PyTensor/PyMC internals and is loaded by the setting that asks for
it (``fused``, ``packed_factor``, ``backend="numba_positional"``).
"""
