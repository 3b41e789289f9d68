"""``svi_compare.md`` and ``loss_traces.png`` from ``svi_compare.json``: the verdicts,
pandas tables in the study's template, and the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from studies._common import render_template
from studies.svi_compare.anatomy import FIT_STEP, FULLRANK_STEP, GRAD, PACKED_STEP, breakdown

__all__ = ["figure", "render", "step_verdict", "summarise", "verdict"]

#: Columns of the markdown's tables, in order.
RUN_COLUMNS = ("method", "seed", "us_per_step", "compile_s", "fit_s", "final_loss")
RUN_COLUMNS += ("to_1pct_step", "to_1pct_s", "rule_step", "rule_s")
SUMMARY_COLUMNS = ("method", "us_per_step", "final_loss", "to_1pct_step", "to_1pct_s")
SUMMARY_COLUMNS += ("rule_step", "rule_s", "compile_s")
#: Goal 2 of issue 13: ADVI's step inside the fit, and full-rank's against it.
STEP_GOAL_US, FULLRANK_GOAL_RATIO = 100.0, 1.3


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def summarise(runs: list[dict]) -> list[dict]:
    """Per method: the median over seeds of each number, and the slowest time to 1%."""
    rows = []
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == method]
        row = {"method": method, "seeds": len(mine)}
        for key in SUMMARY_COLUMNS[1:]:
            row[key] = _median(r[key] for r in mine)
        row["to_1pct_s_max"] = max(
            (r["to_1pct_s"] for r in mine if r["to_1pct_s"] is not None), default=None
        )
        rows.append(row)
    return rows


def verdict(summary: list[dict]) -> list[str]:
    """The goal, per ADVI backend: median time to 1% against NumPyro's."""
    svi = next((r for r in summary if r["method"].startswith("numpyro")), None)
    lines = []
    for row in summary:
        if row is svi or svi is None or row["to_1pct_s"] is None or svi["to_1pct_s"] is None:
            continue
        ratio = row["to_1pct_s"] / svi["to_1pct_s"]
        met = "met" if ratio <= 1 else "not met"
        lines.append(
            f"{row['method']}: {row['to_1pct_s']:.2f} s to 1% against NumPyro SVI's "
            f"{svi['to_1pct_s']:.2f} s (median over seeds; {ratio:.2f}x): goal {met}"
        )
    return lines


def step_verdict(costs: list[dict], backends: list[str]) -> list[str]:
    """The step goals, per backend: ADVI's step inside ``pm.fit`` (with the suite's
    callbacks) against :data:`STEP_GOAL_US` and against the log density + gradient of the
    same run; full-rank ADVI's step against :data:`FULLRANK_GOAL_RATIO` times ADVI's on
    the same backend."""
    us = {(r["what"], r["backend"]): r["us"] for r in costs}
    lines = []
    for b in backends:
        step, grad = us.get((FIT_STEP, b)), us.get((GRAD, b))
        if step is None or grad is None:
            continue
        met = "met" if step <= STEP_GOAL_US else "not met"
        line = (
            f"`{b}`: ADVI {step:.1f} us per step inside `pm.fit` ({step / grad:.2f}x the "
            f"{grad:.1f} us log density + gradient): <= {STEP_GOAL_US:.0f} us {met}"
        )
        for what, row in (
            ("full-rank ADVI", FULLRANK_STEP),
            ("with its packed factor", PACKED_STEP),
        ):
            full = us.get((row, b))
            if full is not None:
                ok = "met" if full <= FULLRANK_GOAL_RATIO * step else "not met"
                line += (
                    f"; {what} {full:.1f} us, {full / step:.2f}x ADVI's: "
                    f"<= {FULLRANK_GOAL_RATIO}x {ok}"
                )
        lines.append(line)
    return lines


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g")


def figure(doc: dict, path: Path) -> None:
    """Smoothed loss traces of every run, against step and against seconds, as the gap
    to the lowest point of the run set (log scale, so that the tail shows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnn_models.io import atomic_path

    runs = doc["runs"]
    # 1 nat below the lowest point of any smoothed trace: every gap is >= 1 on the log axis.
    floor = min(min(r["smooth_trace"]) for r in runs) - 1.0
    smooth, thin = doc["settings"]["smooth"], doc["settings"]["thin"]
    colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(r["method"] for r in runs))}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for r in runs:
        trace = np.asarray(r["smooth_trace"])
        steps = smooth + thin * np.arange(trace.size)
        gap = trace - floor
        label = r["method"] if r["seed"] == runs[0]["seed"] else None
        for ax, x in zip(axes, (steps, steps * r["us_per_step"] * 1e-6), strict=True):
            ax.plot(x, gap, color=colours[r["method"]], lw=0.8, alpha=0.8, label=label)
        if r["to_1pct_step"] is not None:
            at = int(np.clip((r["to_1pct_step"] - smooth) // thin, 0, trace.size - 1))
            axes[1].plot(r["to_1pct_s"], gap[at], "o", color=colours[r["method"]], ms=4)
    axes[0].set(xlabel="step", ylabel=f"{smooth}-step mean loss - {floor:.1f} nats (log)")
    axes[1].set(xlabel="fitting seconds (compilation excluded); dots: within 1% of final")
    for ax in axes:
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    seeds = ", ".join(str(s) for s in doc["settings"]["seeds"])
    fig.suptitle(f"Negative ELBO on the rupture data (seeds: {seeds}; the same colour per method)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def _profile_part(prof: dict, name: str) -> dict | None:
    """The top Ops of the profile whose description names ``name``: microseconds per call
    and share, summed (None: none among the top Ops)."""
    rows = [r for r in prof["top_ops"] if name in r["op"]]
    if not rows:
        return None
    return {"us": sum(r["us_per_call"] for r in rows), "share": sum(r["share"] for r in rows)}


def _anatomy(doc: dict, summary: list[dict]) -> dict:
    costs = pd.DataFrame(doc["anatomy"]["costs"])
    calls = costs.pivot(index="what", columns="backend", values="us")
    calls = calls.reindex(list(dict.fromkeys(costs["what"]))).reset_index()
    prof = doc["anatomy"]["profile"]
    lookup = {(r["what"], r["backend"]): r["us"] for r in doc["anatomy"]["costs"]}
    backends = doc["settings"]["advi_backends"]
    return {
        "verdict": step_verdict(doc["anatomy"]["costs"], backends),
        "calls": _md(calls),
        "parts": {b: _md(pd.DataFrame(breakdown(doc["anatomy"]["costs"], b))) for b in backends},
        "profile": prof,
        "top_ops": _md(pd.DataFrame(prof["top_ops"])[["op", "inputs", "us_per_call", "share"]]),
        "op_classes": _md(
            pd.DataFrame(prof["op_classes"])[["class", "us_per_call", "share"]].head(8)
        ),
        "draw": _profile_part(prof, "normal_rv"),
        "adam": _profile_part(prof, "Sqrt"),
        "us": lambda what, backend="default": lookup.get((what, backend), float("nan")),
        "fit_us": {
            r["method"]: r["us_per_step"] for r in summary if r["method"].startswith("advi")
        },
    }


def render(doc: dict) -> str:
    """``svi_compare.md`` from the measurements: pandas tables in the template."""
    runs = pd.DataFrame(doc["runs"])
    summary = summarise(doc["runs"])
    return render_template(
        "svi_compare/svi_compare.md.j2",
        doc=doc,
        verdict=verdict(summary),
        summary=_md(pd.DataFrame(summary)[list(SUMMARY_COLUMNS)]),
        runs=_md(runs[list(RUN_COLUMNS)]),
        anatomy=_anatomy(doc, summary) if "anatomy" in doc else None,
    )
