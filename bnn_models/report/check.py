"""The text ``bnn-bench check`` prints: a gate's verdict and a baseline's contents, via pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bnn_models.gate import SHOWN, CheckResult

__all__ = ["format_baseline", "format_check"]


def _to_string(table: pd.DataFrame, width: int = 250) -> str:
    if "detail" in table and not table["detail"].fillna("").astype(bool).any():
        table = table.drop(columns="detail")  # no failed fit, no missing metric
    options = ["display.width", width, "display.max_columns", 20, "display.max_colwidth", 80]
    with pd.option_context(*options, "display.float_format", "{:.5g}".format):
        return table.to_string(index=False, na_rep="")


def _short(commit: object) -> str:
    text = str(commit)
    return text[:12] + ("-dirty" if text.endswith("-dirty") else "")


def format_check(result: CheckResult, show_all: bool = False) -> list[str]:
    """The lines ``bnn-bench check`` prints: header, notes, table and verdict.

    The table shows the regressed metrics, or every gated one with ``show_all``; the
    last line is ``PASSED: ...`` or ``FAILED: k of N gated metrics regressed``.
    """
    base, table = result.baseline, result.table
    src = base.get("sources") or [{}]
    lines = [
        f"bnn-bench check: run {', '.join(result.runs)} (profile {base['profile']}, "
        f"seeds {result.seeds}, commit {', '.join(_short(c) for c in result.commits)}) vs "
        f"baseline {result.baseline_path} ({len(base['seeds'])} seeds, commit "
        f"{_short(src[0].get('commit'))})"
    ]
    lines += [f"note: {note}" for note in result.notes]
    if show_all:
        lines.append(_to_string(table[SHOWN]))
    if len(better := result.better):
        names = ", ".join(f"{r.method} {r.metric}" for r in better.itertuples())
        lines.append(
            f"note: {len(better)} metric(s) better than the baseline by more than their "
            f"tolerance: {names} (refresh the baseline if intended)"
        )
    bad = result.regressed
    if len(bad):
        if not show_all:
            lines.append(_to_string(bad[SHOWN]))
        lines.append(f"tolerance rule (baseline): {base['rule']}")
        lines.append(f"FAILED: {len(bad)} of {len(table)} gated metrics regressed")
    else:
        worst = table.sort_values("excess").iloc[-1]
        lines.append(
            f"PASSED: {len(table)} gated metrics within tolerance (closest: {worst.method} "
            f"{worst.metric} at {worst.excess:.2f} of its tolerance)"
        )
    return lines


def format_baseline(doc: dict, path: str | Path | None = None) -> list[str]:
    """The lines ``bnn-bench check --write-baseline`` prints: what baseline ``doc`` holds.

    ``path``, where it was written, is named in the first line.
    """
    where = f"wrote {path}: " if path is not None else "baseline: "
    names = {"direction": "better", "mean": "mean", "sd": "sd", "k": "k"}
    names["tolerance"] = "tolerance (1 seed)"
    rows = [
        {"method": m, "metric": name, **{col: st.get(key) for key, col in names.items()}}
        for m, entries in doc["metrics"].items()
        for name, st in entries.items()
    ]
    failed = [
        f"{m} seed {seed} failed (a check expects it to fail again): {why}"
        for m, seeds in doc.get("failures", {}).items()
        for seed, why in seeds.items()
    ]
    return [
        f"bnn-bench check: {where}profile {doc['profile']}, seeds {doc['seeds']}",
        _to_string(pd.DataFrame(rows), width=200),
        *failed,
    ]
