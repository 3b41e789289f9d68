"""What the fit-based figures plot, kept beside the report so that it re-renders without fits.

Four figures need the fit files, which are not committed: the ELBO traces (each VI fit's
loss history), the weight sds (each fit's posterior sd per weight) and the MCMC baseline's
trace and rank plots (a few of its (chain, draw) quantities). When a report is written
with the fits present, those numbers go to ``figures/figure_data.npz``; when a fit is
absent, its numbers come from that file. The figures are always drawn from these arrays
(never from the fits directly), so a folder re-rendered without its fits gives the same
bytes. Long series are stored as float32, which is what a figure can show; the file is a
zip written with fixed timestamps, so the same numbers give the same bytes, and it names
the SHA256 of the ``metrics.json`` it belongs to: a file left from another run is ignored.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from bnn_models import figures as figs
from bnn_models.errors import ResultsError
from bnn_models.io import atomic_path
from bnn_models.report.run import MethodRun

__all__ = [
    "FIGURE_DATA",
    "FigureData",
    "collect_figure_data",
    "load_figure_data",
    "save_figure_data",
]

#: The file under ``DIR/figures/``.
FIGURE_DATA = "figure_data.npz"

#: Zip members' timestamp: fixed, so that the bytes depend on the numbers alone.
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class FigureData:
    """The numbers the fit-based figures plot, by method (in the run's order)."""

    losses: dict[str, np.ndarray] = field(default_factory=dict)  # loss per iteration
    weight_sd: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # per parameter
    trace: xr.Dataset | None = None  # the baseline's chosen (chain, draw) quantities
    trace_method: str | None = None
    digest: str = ""  # SHA256 of the metrics.json these numbers belong to

    def holds(self, method: str) -> bool:
        """Whether any of ``method``'s numbers are held."""
        return method in self.losses or method in self.weight_sd or self.trace_method == method

    def empty(self) -> bool:
        """Whether nothing is held (no file is written then)."""
        return not self.losses and not self.weight_sd and self.trace is None

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for the file, in a fixed order, the metrics' SHA256 first."""
        out: dict[str, np.ndarray] = {"metrics_sha256": np.array(self.digest)}
        for m, loss in self.losses.items():
            out[f"loss:{m}"] = loss
        for m, sds in self.weight_sd.items():
            for p, sd in sds.items():
                out[f"weight_sd:{m}:{p}"] = sd
        if self.trace is not None and self.trace_method is not None:
            out["trace:method"] = np.array(self.trace_method)
            out["trace:names"] = np.array([str(v) for v in self.trace.data_vars])
            for i, v in enumerate(self.trace.data_vars):
                out[f"trace:{i}"] = self.trace[v].values
        return out


def _trace_dataset(names: list[str], values: list[np.ndarray]) -> xr.Dataset:
    """(chain, draw) variables with plain integer coordinates, the same from fits or file."""
    chains, draws = values[0].shape
    return xr.Dataset(
        {n: (("chain", "draw"), v) for n, v in zip(names, values, strict=True)},
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )


def _from_fits(methods: Mapping[str, MethodRun], ref: MethodRun | None) -> FigureData:
    data = FigureData()
    for name, m in methods.items():
        if m.fit is None:
            continue
        if m.shown.get("elbo") and m.fit.loss is not None:
            data.losses[name] = np.asarray(m.fit.loss, dtype=np.float32)
        if ref is not None:  # only drawn against an MCMC baseline
            data.weight_sd[name] = {
                p: np.asarray(v, dtype=np.float64) for p, v in figs.weight_sds(m.fit).items()
            }
    if ref is None or ref.fit is None or ref.fit.idata is None:
        return data
    if ref.fit.idata["posterior"].sizes["chain"] > 1:  # trace and rank plots compare chains
        chosen = figs.pick_trace_variables(ref.fit)
        names = [str(v) for v in chosen.data_vars]
        values = [np.asarray(chosen[v].values, dtype=np.float32) for v in chosen.data_vars]
        data.trace, data.trace_method = _trace_dataset(names, values), ref.name
    return data


def load_figure_data(path: str | Path, digest: str) -> FigureData | None:
    """The saved numbers, or None when there is no file or it belongs to another
    ``metrics.json`` (its SHA256 is not ``digest``).

    Raises
    ------
    ResultsError
        The file is not a readable npz; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ResultsError(f"{path}: not a readable figure-data file ({err})") from err
    if str(arrays.get("metrics_sha256", "")) != digest:
        return None
    data = FigureData(digest=digest)
    for key, value in arrays.items():
        kind, _, rest = key.partition(":")
        if kind == "loss":
            data.losses[rest] = value
        elif kind == "weight_sd":
            method, _, param = rest.partition(":")
            data.weight_sd.setdefault(method, {})[param] = value
    if "trace:names" in arrays:
        names = [str(n) for n in arrays["trace:names"]]
        data.trace = _trace_dataset(names, [arrays[f"trace:{i}"] for i in range(len(names))])
        data.trace_method = str(arrays["trace:method"])
    return data


def collect_figure_data(
    out: Path, methods: Mapping[str, MethodRun], ref: MethodRun | None, digest: str
) -> FigureData:
    """The fit-based figures' numbers: from each method's fit where it was loaded, else
    from ``out/figures/figure_data.npz`` (when it belongs to this ``metrics.json``); keyed
    in the run's method order."""
    fresh = _from_fits(methods, ref)
    saved = load_figure_data(out / "figures" / FIGURE_DATA, digest) or FigureData()
    data = FigureData(digest=digest)
    for name in methods:
        if (loss := fresh.losses.get(name, saved.losses.get(name))) is not None:
            data.losses[name] = loss
        if (sds := fresh.weight_sd.get(name, saved.weight_sd.get(name))) is not None:
            data.weight_sd[name] = sds
    if fresh.trace is not None:
        data.trace, data.trace_method = fresh.trace, fresh.trace_method
    elif saved.trace is not None and ref is not None and saved.trace_method == ref.name:
        data.trace, data.trace_method = saved.trace, saved.trace_method
    return data


def save_figure_data(path: str | Path, data: FigureData) -> Path:
    """Write ``data`` as an npz whose bytes depend on the numbers alone (fixed member
    timestamps and order, deflate compression)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in data.arrays().items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(value, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return Path(path)
