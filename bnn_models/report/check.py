"""What ``bnn-bench check`` prints (a gate's verdict, a baseline's contents) and writes
(the verdict as GitHub-flavoured Markdown, for a CI job summary), via pandas and Jinja2."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bnn_models.gate import SHOWN, CheckResult
from bnn_models.io import write_text
from bnn_models.report.render import _env, _markdown

__all__ = ["check_markdown", "format_baseline", "format_check", "write_check_markdown"]


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
    lines += [f"note: {note}" for note in _better_note(result)]
    bad = result.regressed
    if len(bad):
        if not show_all:
            lines.append(_to_string(bad[SHOWN]))
        lines.append(f"tolerance rule (baseline): {base['rule']}")
    lines.append(": ".join(_verdict(result)))
    return lines


def _verdict(result: CheckResult) -> tuple[str, str]:
    """``PASSED`` and what passed, or ``FAILED`` and ``k of N gated metrics regressed``."""
    table, bad = result.table, result.regressed
    if len(bad):
        return "FAILED", f"{len(bad)} of {len(table)} gated metrics regressed"
    worst = table.sort_values("excess").iloc[-1]
    return "PASSED", (
        f"{len(table)} gated metrics within tolerance (closest: {worst.method} "
        f"{worst.metric} at {worst.excess:.2f} of its tolerance)"
    )


def _better_note(result: CheckResult) -> list[str]:
    if not len(better := result.better):
        return []
    names = ", ".join(f"{r.method} {r.metric}" for r in better.itertuples())
    return [
        f"{len(better)} metric(s) better than the baseline by more than their tolerance: "
        f"{names} (refresh the baseline if intended)"
    ]


def _num(value: object, spec: str = ".4g") -> str:
    """A number as the Markdown table shows it; empty for a missing one (a failed fit's row)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, spec)


def _markdown_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The gated metrics as the Markdown table shows them, regressed rows first."""
    order = table.assign(_bad=table["verdict"] != "REGRESSED")
    order = order.sort_values("_bad", kind="stable")  # stable: the table's order within each
    rows = pd.DataFrame(
        {
            "method": order["method"],
            "metric": order["metric"],
            "better": order["better"],
            "baseline mean ± sd": [
                "" if math.isnan(m) else f"{m:.4g} ± {s:.2g}"
                for m, s in zip(
                    order["baseline"].astype(float), order["sd"].astype(float), strict=True
                )
            ],
            "now": [_num(v) for v in order["now"]],
            "tolerance": [_num(v, ".3g") for v in order["tolerance"]],
            "excess": [_num(v, ".2f") for v in order["excess"]],
            "verdict": [f"**{v}**" if v == "REGRESSED" else v for v in order["verdict"]],
        }
    )
    if order["detail"].fillna("").astype(bool).any():  # a failed fit or a missing metric
        rows["detail"] = order["detail"].fillna("").to_numpy()
    return rows


def check_markdown(result: CheckResult) -> str:
    """A gate's verdict as GitHub-flavoured Markdown (a CI job summary).

    A heading with ``PASSED`` or ``FAILED``, the run's and the baseline's commits and
    seeds, the notes as a list, and every gated metric in a table (method, metric,
    better, baseline mean ± sd, now, tolerance, excess in tolerances, verdict),
    regressed rows first.
    """
    base = result.baseline
    # a baseline pooled from several runs (make baseline: all methods, then more CI seeds)
    made_at = sorted({_short(s.get("commit")) for s in base.get("sources") or [{}]})
    data = base["dataset"]
    dataset = data["name"] + (f" (shift {data['shift']})" if data.get("shift") else "")
    provenance = pd.DataFrame(
        [
            ["**where**", ", ".join(f"`{r}`" for r in result.runs), f"`{result.baseline_path}`"],
            [
                "**commit**",
                ", ".join(f"`{_short(c)}`" for c in result.commits),
                ", ".join(f"`{c}`" for c in made_at),
            ],
            ["**seeds**", str(result.seeds), f"{base['seeds']} ({len(base['seeds'])})"],
            ["**profile, data**", *[f"{base['profile']}, {dataset}"] * 2],  # checked alike
        ],
        columns=["", "run", "baseline"],
    )
    return (
        _env()
        .get_template("check.md.j2")
        .render(
            verdict=_verdict(result),
            provenance=_markdown(provenance),
            notes=[*result.notes, *_better_note(result)],
            table=_markdown(_markdown_rows(result.table)),
            rule=base["rule"],
        )
    )


def write_check_markdown(result: CheckResult, path: str | Path) -> Path:
    """Write :func:`check_markdown` to ``path`` atomically; returns ``path``."""
    return write_text(path, check_markdown(result))


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
