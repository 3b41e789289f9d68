"""Settings a saved run recorded that differ from today's defaults (stale results).

A report reads a run that may be older than the code: a method's defaults may have changed
since (full-rank ADVI's warm start, for one). Each fit records its settings in its
``config``; they are compared with what :meth:`bnn_models.inference.Method.configure` gives
today for the run's profile (``--quick`` runs with the quick settings). Settings the run set
on purpose (``run.overrides``, from ``--set`` or a grid) and the fit's identity (its method
and seed) are not defaults and are left out. Two kinds of difference are not staleness: a
default of None means "chosen when the fit runs" (NUTS's sampler), and the fit records what
was chosen; and an opt-in acceleration's switch the record lacks, left off today, is the
behaviour the run had before the switch existed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bnn_models.errors import BadInput
from bnn_models.inference import ACCELERATIONS, get_method
from bnn_models.report.run import MethodRun

__all__ = ["NOT_RECORDED", "REMOVED", "StaleSetting", "build_stale", "stale_configs"]

#: Recorded value of a setting the run did not record (it did not exist then).
NOT_RECORDED = "not recorded"
#: Current value of a setting the run recorded that no longer exists.
REMOVED = "removed"

# the fit's identity, recorded beside its settings: never a default
_IDENTITY = frozenset({"method", "seed"})
# settings that turn an opt-in acceleration on; off, they are what ran before they existed
_SWITCHES = {a.setting: a.value for a in ACCELERATIONS.values()}


@dataclass(frozen=True)
class StaleSetting:
    """One setting of one method whose recorded value differs from today's default.

    Attributes
    ----------
    method : str
        The method's label, as the report names it.
    setting : str
        The setting's name (``--set METHOD.SETTING``).
    recorded : str
        The value the run used, as JSON text, or :data:`NOT_RECORDED`.
    current : str
        Today's default for the run's profile, as JSON text, or :data:`REMOVED`.
    """

    method: str
    setting: str
    recorded: str
    current: str


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    # as a saved run holds it: tuples as lists, other objects as their text
    return json.loads(json.dumps(config, default=str))


def stale_configs(
    configs: Mapping[str, Sequence[Mapping[str, Any] | None]],
    *,
    quick: bool = False,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[StaleSetting]:
    """Every recorded setting that differs from today's default for the profile.

    Parameters
    ----------
    configs : dict of str to list of dict
        Each method's recorded settings (one per fit, or one for the method).
    quick : bool
        The run's profile: today's quick settings are the defaults it is held to.
    overrides : dict, optional
        Settings the run set on purpose, per method (left out).
    labels : dict, optional
        The name each method is given in :attr:`StaleSetting.method` (default: its
        registry name).

    Returns
    -------
    list of StaleSetting
        As :func:`build_stale` describes.

    Examples
    --------
    >>> from bnn_models.inference import get_method
    >>> today = get_method("advi").configure().as_config()
    >>> stale_configs({"advi": [{**today, "max_iter": 1}]})
    [StaleSetting(method='advi', setting='max_iter', recorded='1', current='30000')]
    """
    overrides, labels = overrides or {}, labels or {}
    out: list[StaleSetting] = []
    for name, recorded_configs in configs.items():
        try:
            method = get_method(name)
            current = _plain(method.configure(quick=quick).as_config())
        except (KeyError, BadInput):
            continue  # gone from the registry, or today's defaults need what is not installed
        # What the fit records beside its settings (facts of the run) is no setting.
        skip = _IDENTITY | set(overrides.get(name) or {}) | set(method.recorded_facts)
        seen: set[StaleSetting] = set()
        for recorded in recorded_configs:
            if not isinstance(recorded, Mapping):
                continue
            for key in sorted((set(recorded) | set(current)) - skip):
                if current.get(key, "") is None and recorded.get(key) is not None:
                    continue  # chosen at fit time, and recorded as chosen
                if key not in recorded and key in _SWITCHES and current[key] != _SWITCHES[key]:
                    continue  # an acceleration the run could not ask for, off today
                was = _text(recorded[key]) if key in recorded else NOT_RECORDED
                now = _text(current[key]) if key in current else REMOVED
                if was != now:
                    seen.add(StaleSetting(labels.get(name, name), key, was, now))
        out += sorted(seen, key=lambda s: (s.setting, s.recorded))
    return out


def build_stale(doc: dict, methods: dict[str, MethodRun]) -> list[StaleSetting]:
    """Every setting a run recorded that differs from today's default for its profile.

    Parameters
    ----------
    doc : dict
        The run's ``metrics.json`` document.
    methods : dict of str to MethodRun
        The run's methods (:func:`bnn_models.report.run.load_methods`).

    Returns
    -------
    list of StaleSetting
        In the run's method order, then by setting name; one entry per distinct recorded
        value. A setting that exists today but not in the record is listed with recorded
        value :data:`NOT_RECORDED`; one recorded but gone today with current value
        :data:`REMOVED`. Methods no longer in the registry, and settings the run overrode,
        are not listed. Empty for a run made with today's defaults.

    Examples
    --------
    >>> build_stale({"run": {}, "fits": []}, {})
    []
    """
    run = doc.get("run") or {}
    return stale_configs(
        {name: [e.get("config") for e in m.entries] for name, m in methods.items()},
        quick=run.get("profile") == "quick",
        overrides=run.get("overrides") or {},
        labels={name: m.label for name, m in methods.items()},
    )
