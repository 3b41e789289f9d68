"""The SBC report of ``bnn-bench sbc``: uniformity p-values per method and quantity, and the
PIT-ECDF figure; written as ``sbc.md`` and ``sbc.html`` beside ``sbc.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bnn_models import figures as figs
from bnn_models.errors import ResultsError
from bnn_models.io import atomic_path, write_text
from bnn_models.report.recommend import fit_fails
from bnn_models.sbc import SBC_SCHEMA, pit_values, summarise

__all__ = ["SBC_FIGURE", "load_sbc", "sbc_table", "write_sbc_report"]

SBC_FIGURE = "sbc_pit_ecdf.png"

#: Below this Bonferroni-adjusted p-value a method's ranks are called non-uniform.
ALPHA = 0.01


def load_sbc(out_dir: str | Path) -> dict:
    """``sbc.json`` of a folder.

    Raises
    ------
    ResultsError
        Missing, corrupted or of another schema; the message names the file.
    """
    path = Path(out_dir) / "sbc.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no SBC results (see 'bnn-bench sbc')") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: corrupted JSON ({err})") from err
    if not isinstance(doc, dict) or doc.get("schema") != SBC_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ResultsError(f"{path}: field 'schema' is {got!r}; expected {SBC_SCHEMA!r}")
    return doc


def sbc_table(doc: dict, summary: list[dict] | None = None) -> pd.DataFrame:
    """Per method: simulations, the p-value of each quantity, the adjusted smallest, verdict.
    ``summary``: :func:`~bnn_models.sbc.summarise` of ``doc``, when already computed."""
    rows = []
    for r in summary if summary is not None else summarise(doc):
        ok = [e for e in doc["simulations"] if e["method"] == r["method"] and e["status"] == "ok"]
        checked = [e for e in ok if "convergence" in e or "diagnostics" in e]
        row = {
            "Method": r["label"],
            "Simulations ok": str(r["ok"]),
            "Failed": str(r["failed"]),
            # simulations made before they recorded their checks: not counted
            "Own diagnostics pass": (
                f"{sum(not fit_fails(e) for e in checked)} of {len(checked)}"
                if len(checked) == len(ok) and ok
                else "not recorded"
            ),
        }
        for q in doc["quantities"]:
            p = r["p_values"].get(q)
            row[f"p: {q}"] = "n/a" if p is None else f"{p:.3g}"
        adjusted = r.get("p_adjusted")
        row["Smallest p x quantities"] = "n/a" if adjusted is None else f"{adjusted:.3g}"
        row["Ranks uniform?"] = (
            "n/a" if adjusted is None else ("yes" if adjusted >= ALPHA else f"no (< {ALPHA})")
        )
        rows.append(row)
    return pd.DataFrame(rows)


def tail_table(doc: dict, summary: list[dict] | None = None) -> pd.DataFrame:
    """Per method and quantity: the share of simulations whose truth ranks in the lowest
    and in the highest :data:`~bnn_models.sbc.TAIL` of the method's draws (nominal: TAIL
    each). Both high: over-confident; one side: biased."""
    rows = []
    for r in summary if summary is not None else summarise(doc):
        row = {"Method": r["label"]}
        for q in doc["quantities"]:
            low, high = r.get("tails", {}).get(q, (None, None))
            row[q] = "n/a" if low is None else f"{100 * low:.0f}% / {100 * high:.0f}%"
        rows.append(row)
    return pd.DataFrame(rows)


def _figure(doc: dict) -> bytes | None:
    pit, labels = {}, {}
    for method in doc["methods"]:
        ok = [e for e in doc["simulations"] if e["method"] == method and e["status"] == "ok"]
        if len(ok) >= 2:
            ranks = np.array([e["ranks"] for e in ok])
            pit[method] = pit_values(ranks, doc["n_ranked"], doc["seed"])
            labels[method] = ok[0]["label"]
    if not pit:
        return None
    return figs.png_bytes(figs.sbc_figure(pit, doc["quantities"], figs.method_styles(labels)))


def _notes(doc: dict) -> list[str]:
    d = doc["design"]
    return [
        f"Design: {d['source']} ({d['rows']} rows, {d['probes']} probe inputs), "
        f"{d['n_hidden']} hidden units, prior sd {d['prior_sigma']}. Each simulation draws "
        "the weights from the prior and the labels from the likelihood; each method fits "
        "those labels; the true value of each quantity is ranked among "
        f"{doc['n_ranked']} of the method's draws (evenly thinned).",
        "Quantities: p_probeK, the probability at probe input K; loglik, the "
        "log-likelihood of the simulated labels. Both are functions of the network, "
        "unchanged when hidden units are permuted (raw weights are not).",
        "p: ArviZ's uniformity test (pot_c) of the randomised PIT values (rank + U) / "
        f"({doc['n_ranked']} + 1); the smallest over the quantities times their number "
        f"(Bonferroni) below {ALPHA} calls the ranks non-uniform: the method's posterior is "
        "not the model's. Figure: ECDF of the PIT values minus the uniform CDF, one row per "
        "method, the y-axis shared down each quantity's column, in ArviZ's simultaneous 95% "
        "band (arviz-stats ecdf_pit, Säilynoja et al. 2022: a uniform sample's whole curve "
        "stays inside with probability 0.95; dots: where the curve leaves it); a "
        "curve rising early and falling back (truth ranked low too often), or its mirror, is "
        "a biased method; an S-shaped curve (truth in both tails) an over-confident one.",
        "Own diagnostics pass: the simulations whose fit passes its own checks (MCMC: "
        "R-hat over the probes' predictions at most 1.01 and bulk ESS at least 400; "
        "optimisation: its convergence rule fired before the step cap). The ranks of a fit "
        "that fails them test what the method gives at that budget, not its converged "
        "posterior.",
    ]


def write_sbc_report(out_dir: str | Path) -> list[Path]:
    """Write ``sbc.html``, ``sbc.md`` and ``figures/sbc_pit_ecdf.png`` into an SBC folder.

    Raises
    ------
    ResultsError
        No or an invalid ``sbc.json``.
    """
    from bnn_models.report.render import render_sbc

    out = Path(out_dir)
    doc = load_sbc(out)
    png = _figure(doc)
    written = []
    if png is not None:
        with atomic_path(out / "figures" / SBC_FIGURE) as tmp:
            tmp.write_bytes(png)
        written.append(out / "figures" / SBC_FIGURE)
    summary = summarise(doc)  # the uniformity tests, once for both tables
    tables = (sbc_table(doc, summary), tail_table(doc, summary))
    md, html = render_sbc(doc, tables, _notes(doc), f"figures/{SBC_FIGURE}" if png else None)
    return [write_text(out / "sbc.html", html), write_text(out / "sbc.md", md), *written]
