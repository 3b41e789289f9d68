"""The report's framing sections: the run's header, the published study, details, asv link.

Everything here is computed from the run's ``metrics.json``; the only numbers from
elsewhere are the published study's, each with its source (:data:`PUBLISHED`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bnn_models.data import RUPTURE_FILES
from bnn_models.report.formats import reason, sig
from bnn_models.report.run import MethodRun
from bnn_models.schema import flatten_metrics

__all__ = [
    "PUBLISHED",
    "PUBLISHED_HEADER",
    "asv_link",
    "details",
    "header",
    "not_comparable",
    "published",
]

# The paper's current version (v2) lists S. Ahamed and M. M. Uddin; the data and the classical
# models are S. Ahamed and E. Daub's (arXiv:1906.06250).
_PAPER = (
    'S. Ahamed et al., "Estimating uncertainty of earthquake rupture using Bayesian neural '
    'network", arXiv:1911.09660'
)
#: The published study's test-set results on the same 400-row rupture test file.
PUBLISHED: dict[str, Any] = {
    "f1_weighted": 0.8334,
    "accuracy": 0.835,
    "paper": _PAPER,
    "f1_source": f"{_PAPER} (8-12-1 BNN fitted with variational inference): weighted F1 "
    "on the test set",
    "accuracy_source": "the study's notebook in msahamed/machine_learning_earthquake_rupture "
    "(commit 876f31d): accuracy on the test set",
    "url": "https://arxiv.org/abs/1911.09660",
    # the study's split: the train and validate files together, and the test file
    "n_train": 1600,
    "n_test": 400,
}

PUBLISHED_HEADER = [
    "",
    "Seeds",
    "Weighted F1",
    "Accuracy",
    "F1 - published",
    "Accuracy - published",
]

_SECTIONS = ("runtime", "elbo", "spread", "calibration", "diagnostics")


# --------------------------------------------------------------------------- published


def not_comparable(dataset: dict) -> str | None:
    """Why a run's data and split are not the published study's, in one sentence; None
    when they are (the pinned rupture files, their own train and test rows, no shift).

    Parameters
    ----------
    dataset : dict
        The run's ``run.dataset`` record (:meth:`bnn_models.data.Dataset.describe`).

    Examples
    --------
    >>> not_comparable({"name": "teacher"})
    "Not comparable: the published numbers are for the rupture data; this run used 'teacher', so there is nothing to compare."
    """
    name = dataset.get("name")
    if name != "rupture":
        return (
            f"Not comparable: the published numbers are for the rupture data; this run used "
            f"{name!r}, so there is nothing to compare."
        )
    shift = dataset.get("shift")
    if shift:
        central = shift.get("central")
        part = f"the central {central:.0%}" if isinstance(central, float) else "a part"
        return (
            f"Not comparable: trained on {part} of {shift.get('feature', 'one feature')} "
            f"(shift {shift.get('name')!r}), not on the study's training files."
        )
    hashes = dataset.get("sha256") or {}
    other = [f for f, h in RUPTURE_FILES.items() if hashes.get(f) != h]
    if other:
        return (
            f"Not comparable: {', '.join(other)}: not the study's "
            f"{'files' if len(other) > 1 else 'file'} (SHA256 differs from the pinned one)."
        )
    n_train, n_test = dataset.get("n_train"), dataset.get("n_test")
    # upsampling the minority class, as the study did, adds training rows
    if n_test != PUBLISHED["n_test"] or (
        n_train != PUBLISHED["n_train"] and not dataset.get("rebalanced")
    ):
        return (
            f"Not comparable: {n_train} training and {n_test} test rows, not the study's "
            f"{PUBLISHED['n_train']:,} and {PUBLISHED['n_test']:,}."
        )
    return None


def published(doc: dict, methods: dict[str, MethodRun]) -> tuple[list[list[str]], list[str]]:
    """The published study's row and one row per method (:data:`PUBLISHED_HEADER`), and notes.

    Only a run on the study's data and split is compared (:func:`not_comparable`): the
    rupture files of the pinned hashes, their own train and test rows, no shift. Otherwise
    there are no rows and one note says why. The notes of a comparable run say whether its
    training rows were rebalanced as the study's.
    """
    ds = doc["run"].get("dataset", {})
    why = not_comparable(ds)
    if why is not None:
        return [], [why]
    test_hash = (ds.get("sha256") or {}).get("rupturemodel_test.txt")
    notes = [
        f"Test set: rupturemodel_test.txt, {ds.get('n_test')} rows, SHA256 "
        f"{(test_hash or 'unknown')[:16]}..., the file the study used (pinned hash)."
    ]
    notes.append(
        f"Training: {ds.get('n_train')} rows (train and validate files, as in the study). "
        + (
            "The minority class was upsampled, as in the study."
            if ds.get("rebalanced")
            else "The study upsampled the minority class of the training rows; this run did not "
            "(bnn-bench run --rebalance does), which moves the base rate and the 0.5-threshold "
            "metrics."
        )
    )
    notes.append(
        f"Published F1: {PUBLISHED['f1_source']} ({PUBLISHED['url']}). "
        f"Published accuracy: {PUBLISHED['accuracy_source']}."
    )
    rows = [
        [
            "Published study (VI)",
            "seed not reported",
            f"{PUBLISHED['f1_weighted']:.4f}",
            f"{PUBLISHED['accuracy']:.1%}",
            "",
            "",
        ]
    ]
    for m in methods.values():
        if not m.ok:
            rows.append([m.label, "failed", "n/a", "n/a", "n/a", "n/a"])
            continue
        f1, acc = m.stats.get("calibration.f1_weighted"), m.stats.get("calibration.accuracy")
        if f1 is None or acc is None:
            rows.append([m.label, "not recorded", "n/a", "n/a", "n/a", "n/a"])
            continue
        rows.append(
            [
                m.label,
                f"{len(m.ok)} seeds (mean)" if f1.n > 1 else f"seed {m.shown['seed']}",
                f1.show("f1"),
                acc.show("pct"),
                f"{f1.mean - PUBLISHED['f1_weighted']:+.4f}",
                f"{100 * (acc.mean - PUBLISHED['accuracy']):+.1f} pp",
            ]
        )
    return rows, notes


# --------------------------------------------------------------------------- asv


def _project_root(out: Path) -> Path | None:
    """The project folder holding ``out``: the nearest one up with an ``asv.conf.json``."""
    for root in [out.resolve(), *out.resolve().parents]:
        if (root / "asv.conf.json").is_file():
            return root
    return None


def asv_link(out: Path) -> tuple[str, str] | None:
    """(href, text) of the asv dashboard when the project holding ``out`` has asv results.

    asv reads its configuration (JSON with ``//`` comments); without asv installed (it is
    a development dependency) there is no link.
    """
    root = _project_root(out)
    if root is None:
        return None
    conf_path = root / "asv.conf.json"
    try:
        from asv.util import UserError, load_json
    except ImportError:
        return None
    try:
        conf = load_json(str(conf_path), js_comments=True)
    except (OSError, ValueError, UserError):
        return None
    if not isinstance(conf, dict):
        return None
    results = root / conf.get("results_dir", "results")
    found = results.is_dir() and any(
        p.name not in ("benchmarks.json", "machine.json") for p in results.glob("*/*.json")
    )
    if not found:
        return None
    if conf.get("dashboard_url"):
        return conf["dashboard_url"], "published asv dashboard"
    index = root / conf.get("html_dir", "html") / "index.html"
    rel = Path(*[".."] * len(out.resolve().relative_to(root).parts)) / index.relative_to(root)
    return rel.as_posix(), "asv dashboard (build it with 'make asv-publish')"


# --------------------------------------------------------------------------- header, details


def _numerics(numerics: dict | None) -> str:
    """PyTensor's settings that decide the numbers (recorded since the run records them).

    Examples
    --------
    >>> _numerics({"floatX": "float64", "mode": "Mode", "linker": "auto",
    ...            "numba__fastmath": True, "numba__cache": True})
    'floatX float64, mode Mode, linker auto, numba fastmath on, numba cache on'
    >>> _numerics(None)
    'not recorded'
    """
    if not numerics:
        return "not recorded"
    on = {True: "on", False: "off"}
    return ", ".join(
        f"numba {key.removeprefix('numba__')} {on.get(value, value)}"
        if key.startswith("numba__")
        else f"{key} {value}"
        for key, value in numerics.items()
    )


def header(doc: dict, methods: dict[str, MethodRun]) -> list[tuple[str, str]]:
    """(key, text) pairs: what was run, on what data, by which code, on which machine, when."""
    run = doc["run"]
    ds = run.get("dataset", {})
    ver = run.get("versions", {})
    mach = run.get("machine", {})
    seeds = run.get("seeds", [])
    hashes = "; ".join(f"{k}: {v}" for k, v in sorted((ds.get("sha256") or {}).items()))
    libs = ", ".join(
        f"{name} {ver[key]}"
        for name, key in (
            ("Python", "python"),
            ("PyMC", "pymc"),
            ("PyTensor", "pytensor"),
            ("ArviZ", "arviz"),
            ("arviz-stats", "arviz-stats"),
            ("nutpie", "nutpie"),
            ("NumPy", "numpy"),
            ("xarray", "xarray"),
        )
        if ver.get(key)
    )
    samplers = ", ".join(
        f"{m.label}: {m.shown['sampler']}"
        + (f" [{m.shown['backend']}]" if m.shown.get("backend") else "")
        for m in methods.values()
        if m.shown and m.shown.get("sampler")
    )
    return [
        ("Methods", ", ".join(m.label for m in methods.values())),
        (
            "Profile",
            f"{run.get('profile')}; overrides: "
            f"{json.dumps(run.get('overrides') or {}, sort_keys=True)}"
            + (f"; time limit {run['time_limit_s']} s per fit" if run.get("time_limit_s") else ""),
        ),
        ("Seeds", ", ".join(str(s) for s in seeds)),
        ("Command", run.get("command") or "not recorded"),
        (
            "Dataset",
            f"{ds.get('name')}: {ds.get('n_train')} training rows, {ds.get('n_test')} "
            f"test rows, {ds.get('n_features')} features "
            f"({', '.join(ds.get('feature_names') or [])}); share of label 1: "
            f"{ds.get('train_positive_rate', float('nan')):.3f} train, "
            f"{ds.get('test_positive_rate', float('nan')):.3f} test; "
            f"{'rebalanced' if ds.get('rebalanced') else 'not rebalanced'}",
        ),
        ("Data SHA256", hashes or "not recorded"),
        ("Commit", run.get("commit") or "not recorded (not a git checkout)"),
        (
            "Machine",
            f"{mach.get('hostname')}: {mach.get('cpu')}, {mach.get('cpu_count')} CPUs, "
            f"{mach.get('platform')}",
        ),
        ("Versions", libs),
        ("PyTensor numerics", _numerics(run.get("numerics"))),
        ("Samplers [backend]", samplers or "none"),
        ("Run started", run.get("created") or "not recorded"),
    ]


def _section_order(key: str) -> tuple[int, str]:
    section = key.split(".")[0]
    return (_SECTIONS.index(section) if section in _SECTIONS else len(_SECTIONS), key)


def details(methods: dict[str, MethodRun]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Titled tables, one column per fit: status, configuration, every scalar metric."""
    fits = [(m, e) for m in methods.values() for e in m.entries]
    cols = [f"{m.label} s{e['seed']}" for m, e in fits]
    flat = [flatten_metrics(e) if e["status"] == "ok" else {} for _, e in fits]
    keys = sorted({k for f in flat for k in f}, key=_section_order)
    metrics = [[k] + [sig(f[k], 4) if k in f else "" for f in flat] for k in keys]
    status = [
        ["status"] + [e["status"] for _, e in fits],
        ["sampler"] + [e.get("sampler") or "" for _, e in fits],
        ["error"] + [reason(e["error"]) if e.get("error") else "" for _, e in fits],
        ["fit file"] + [e.get("fit_file") or "" for _, e in fits],
        ["config hash"] + [e.get("config_hash") or "" for _, e in fits],
    ]
    if any(e.get("backend") for _, e in fits):  # results written before fits recorded it
        status.insert(2, ["backend"] + [e.get("backend") or "" for _, e in fits])
    cfg_keys = sorted({k for _, e in fits for k in (e.get("config") or {})})
    config = [
        [k]
        + [
            json.dumps((e.get("config") or {}).get(k)) if k in (e.get("config") or {}) else ""
            for _, e in fits
        ]
        for k in cfg_keys
    ]
    return [
        ("Every fit: status", ["", *cols], status),
        ("Every fit: configuration", ["setting", *cols], config),
        (
            "Every fit: all scalar metrics (section.key, units in the key names)",
            ["metric", *cols],
            metrics,
        ),
    ]
