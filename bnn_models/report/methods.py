"""The table ``bnn-bench methods`` prints: the registry, with family, engine and version."""

from __future__ import annotations

import pandas as pd

from bnn_models.inference import METHODS

__all__ = ["methods_table"]


def methods_table() -> pd.DataFrame:
    """One row per registered method: name, label, family, engine, its version, whether it
    is installed, and what it is."""
    return pd.DataFrame(
        [
            {
                "name": m.name,
                "label": m.label,
                "family": m.family,
                "engine": m.engine,
                "version": m.engine_version or "-",
                "installed": "yes" if m.installed else "no",
                "description": m.description,
            }
            for m in METHODS.values()
        ]
    )
