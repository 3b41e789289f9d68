"""``report.md`` of ``bnn-bench versions``: the verdict per candidate first, then the evidence.

Rendered from ``versions.json`` alone (pandas tables in a Jinja2 template), so a committed
comparison re-renders without its environments.
"""

from __future__ import annotations

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from bnn_models.provenance import LIBRARIES

__all__ = ["render_markdown"]

#: Libraries every report lists, whether or not they differ between the sets.
_ALWAYS = ("python", "pymc", "pytensor", "arviz", "nutpie", "numpyro", "jax")


def _g(x: object, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _md(frame: pd.DataFrame) -> str:
    frame = frame.map(lambda v: str(v).replace("|", "\\|").replace("\n", " "))
    return frame.to_markdown(index=False, disable_numparse=True)


def _sets_table(doc: dict) -> str:
    sets = doc["sets"]
    libs = [lib for lib in ("python", *LIBRARIES) if any(s["versions"] for s in sets)]
    rows = []
    for lib in libs:
        got = [(s["versions"] or {}).get(lib) for s in sets]
        if lib in _ALWAYS or len({g for g in got if g}) > 1:
            rows.append(
                [
                    lib,
                    *[g or ("-" if s["versions"] else "") for g, s in zip(got, sets, strict=True)],
                ]
            )
    status = [s["status"] if s["status"] != "ok" else "ran" for s in sets]
    rows.append(["status", *status])
    rows.append(["environment built in", *[_secs(s["build_s"], s["env_reused"]) for s in sets]])
    rows.append(["suite ran in", *[_secs(_sum(s["fits_s"], s["asv_s"])) for s in sets]])
    rows.append(["load (1 min) before, after", *[_load(s.get("load_1m")) for s in sets]])
    cols = [
        "library",
        *[f"{s['name']}" + (" (baseline)" if i == 0 else "") for i, s in enumerate(sets)],
    ]
    return _md(pd.DataFrame(rows, columns=cols))


def _sum(*xs: float | None) -> float | None:
    known = [x for x in xs if x is not None]
    return sum(known) if len(known) == len(xs) else None


def _load(load: list[float] | None) -> str:
    return "" if not load else f"{load[0]:.2f}, {load[1]:.2f}"


def _secs(x: float | None, reused: bool | None = None) -> str:
    if x is None:
        return ""
    return f"{x:,.0f} s" + (" (reused)" if reused else "")


def _quality_table(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return "(no gated metric)"
    order = {"REGRESSED": 0, "better": 1, "ok": 2}
    frame = frame.assign(_o=frame["verdict"].map(order).fillna(3)).sort_values(
        ["_o", "excess"], ascending=[True, False], na_position="first"
    )
    out = pd.DataFrame(
        {
            "method": frame["method"],
            "metric": frame["metric"],
            "better": frame["better"],
            "baseline (mean ± sd)": [
                f"{_g(m)} ± {_g(s, 2)}" if m is not None and m == m else ""
                for m, s in zip(frame["baseline"], frame["sd"], strict=True)
            ],
            "candidate": [_g(v) for v in frame.get("now", [None] * len(frame))],
            "tolerance": [_g(v, 3) for v in frame.get("tolerance", [None] * len(frame))],
            "excess": [_g(v, 2) for v in frame.get("excess", [None] * len(frame))],
            "verdict": [
                v + (f" ({d})" if d else "")
                for v, d in zip(frame["verdict"], frame["detail"].fillna(""), strict=True)
            ],
        }
    )
    return _md(out.replace({"nan": ""}))


def _pm(v: float | None, e: float | None) -> str:
    """``value ± spread`` (no spread when unknown)."""
    if v is None:
        return ""
    return f"{_g(v, 3)} ± {_g(e, 2)}" if e is not None else _g(v, 3)


def _timing_table(rows: list[dict]) -> str:
    if not rows:
        return "(no timings)"
    out = [
        [
            r["benchmark"],
            _pm(r.get("baseline"), r.get("baseline_err")),
            _pm(r.get("candidate"), r.get("candidate_err")),
            _pm(r.get("ratio"), r.get("ratio_err")),
            r["verdict"],
        ]
        for r in rows
    ]
    cols = ["benchmark", "baseline (s)", "candidate (s)", "ratio", "verdict"]
    return _md(pd.DataFrame(out, columns=cols))


def _verdicts(doc: dict) -> list[str]:
    sets, comps = doc["sets"], doc["comparisons"]
    base = sets[0]["name"]
    lines = []
    for s in sets[1:]:
        head = f"**{s['name']}** ({s['changes']})"
        if s["status"] != "ok":
            lines.append(
                f"{head}: **could not be {'installed' if s['status'] == 'unavailable' else 'run'}** ({s['stage']}; message below)."
            )
            continue
        if s["name"] not in comps:
            lines.append(f"{head}: ran, but the baseline set {base} did not: nothing to compare.")
            continue
        c = comps[s["name"]]
        rows = [r for r in c["timings"] if r.get("verdict") in ("slower", "faster", "same")]
        slower = [r["benchmark"] for r in rows if r["verdict"] == "slower"]
        faster = [r["benchmark"] for r in rows if r["verdict"] == "faster"]
        if c["passed"]:
            q = f"quality within the gate's tolerance on all {c['n_gated']} gated metrics"
            if all(r.get("now") == r.get("baseline") for r in c["quality"]):
                q += " (every one equal to the baseline's: same seeds, same numbers)"
            elif closest := max(
                (r for r in c["quality"] if r.get("excess") is not None),
                key=lambda r: r["excess"],
                default=None,
            ):
                q += (
                    f" (closest: {closest['method']} {closest['metric']} at "
                    f"{closest['excess']:.2f} of its tolerance)"
                )
        else:
            bad = [
                f"{r['method']} {r['metric']}" for r in c["quality"] if r["verdict"] == "REGRESSED"
            ]
            q = f"**{c['n_regressed']} of {c['n_gated']} gated metrics regressed** ({', '.join(bad)})"
        t = f"timings: {len(slower)} of {len(rows)} slower" + (
            f" ({', '.join(slower)})" if slower else ""
        )
        t += f", {len(faster)} faster" + (f" ({', '.join(faster)})" if faster else "")
        if other := [r for r in c["timings"] if r not in rows]:
            t += "; " + ", ".join(f"{r['benchmark']} {r['verdict']}" for r in other)
        lines.append(f"{head} against {base}: {q}; {t}.")
    return lines


def _provenance(doc: dict) -> str:
    suite = doc["suite"]
    pairs = [
        ("command", f"`{doc['command']}`"),
        ("commit", doc["commit"]),
        ("created", doc["created"]),
        ("machine", f"{doc['machine'].get('cpu')}, {doc['machine'].get('cpu_count')} cores"),
        (
            "suite",
            f"`bnn-bench run --quick --methods {suite['methods']}` on seeds {suite['seeds']}; asv benchmarks `{suite['asv_bench']}`",
        ),
        ("wall time", f"{doc['wall_s']:,.0f} s"),
    ]
    return _md(pd.DataFrame(pairs, columns=["", ""]))


def render_markdown(doc: dict) -> str:
    """``report.md`` of a ``versions.json`` document."""
    sets = doc["sets"]
    cands = ", ".join(s["name"] for s in sets[1:])
    comparisons = [
        {
            "name": name,
            "baseline": c["baseline"],
            "k": len(c["baseline_seeds"]),
            "quality_table": _quality_table(c["quality"]),
            "notes": c["notes"],
            "timing_table": _timing_table(c["timings"]),
        }
        for name, c in doc["comparisons"].items()
    ]
    failed = [
        s
        | {
            "status_text": "could not be installed"
            if s["status"] == "unavailable"
            else "the suite could not run"
        }
        for s in sets
        if s["status"] != "ok"
    ]
    env = Environment(
        loader=PackageLoader("bnn_models.report", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown
    )
    return env.get_template("versions.md.j2").render(
        title=f"{cands} against {sets[0]['name']}",
        verdicts=_verdicts(doc),
        sets_table=_sets_table(doc),
        pip_checks=[
            (s["name"], s["pip_check"])
            for s in sets
            if s["pip_check"] and not s["pip_check"].startswith("No broken requirements")
        ],
        failed=failed,
        comparisons=comparisons,
        factor=doc["suite"]["timing_factor"],
        provenance=_provenance(doc),
    )
