"""The comparison report: numbers from the run, failures shown, byte-for-byte regeneration,
methods told apart by family and position (never by name), and the HTML checked in a real
headless browser when one is installed."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnn_models import figures as figs
from bnn_models.cli import main
from bnn_models.data import RUPTURE_FILES
from bnn_models.inference import METHODS, FitContext, NUTSSettings, fit_nuts
from bnn_models.metrics import METRICS
from bnn_models.reference import Reference
from bnn_models.report import (
    FIGURE_FILES,
    PUBLISHED,
    build_report,
    render_html,
    render_markdown,
    summary_markdown,
    summary_rows,
    summary_table,
    verdicts,
    write_report,
)
from bnn_models.report.figure_data import FIGURE_DATA
from bnn_models.report.formats import possessive
from bnn_models.report.run import load_methods
from bnn_models.runner import run_benchmark
from bnn_models.schema import load_metrics
from tests.conftest import TINY, build_once

_REPO = Path(__file__).resolve().parents[1]
#: Figures of a one-seed run without a named shift: every one but the comparison across
#: seeds and the shift figure.
_ONE_SEED = [
    n for n in FIGURE_FILES if n not in ("seed_intervals.png", "shift_accuracy_coverage.png")
]


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory, teacher_small) -> Path:
    """A finished three-method run on the tiny teacher data against a small reference
    (a separate NUTS run given as external draws), without its report."""

    def build(out: Path) -> None:
        settings = NUTSSettings(draws=150, tune=150, chains=2, n_hidden=4)
        nuts = fit_nuts(
            dataset=teacher_small,
            settings=settings,
            seed=99,
            context=FitContext(progressbar=False),
        )
        ref = Reference.from_draws(
            nuts.idata, teacher_small, n_hidden=4, prior_sigma=1.0, key="tiny"
        )
        run_benchmark(
            teacher_small,
            out,
            methods=list(TINY),
            overrides=TINY,
            progressbar=False,
            log=lambda s: None,
            reference=ref,
        )

    # made once for all of make test's workers; tests copy it before they change anything
    return build_once("report_saved_run", build)


@pytest.fixture(scope="session")
def reported_run(saved_run, tmp_path_factory) -> Path:
    """A copy of ``saved_run`` with its report written."""
    out = tmp_path_factory.mktemp("reported") / "run"
    shutil.copytree(saved_run, out)
    write_report(out)
    return out


def _copy(src: Path, dst: Path, edit=None) -> Path:
    """Copy a results folder; ``edit(doc)`` changes its metrics document in place."""
    shutil.copytree(src, dst)
    if edit is not None:
        doc = json.loads((dst / "metrics.json").read_text())
        edit(doc)
        (dst / "metrics.json").write_text(json.dumps(doc, indent=2, sort_keys=True))
    return dst


def _files(folder: Path) -> dict[str, bytes]:
    figures = [*FIGURE_FILES, FIGURE_DATA]
    names = ["report.html", "report.md", *[f"figures/{n}" for n in figures]]
    return {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}


def _mcmc(doc: dict) -> dict:
    """The first MCMC fit entry: the report's comparison baseline."""
    return next(f for f in doc["fits"] if f["family"] == "mcmc")


def _seconds(x: float) -> str:
    """Three significant digits, by hand, trailing zeros dropped: 0.0123 s, 1.1 s, 123 s."""
    digits = 3 - (int(np.floor(np.log10(abs(x)))) + 1)
    text = f"{round(x, digits):.{max(digits, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} s"


# --------------------------------------------------------------------------- content


def test_writes_html_md_and_every_figure(reported_run):
    paths = write_report(reported_run)
    assert paths[0] == reported_run / "report.html" and paths[1] == reported_run / "report.md"
    assert [p.name for p in paths[2:]] == [*_ONE_SEED, FIGURE_DATA]
    html = (reported_run / "report.html").read_text()
    md = (reported_run / "report.md").read_text()
    assert 'id="summary-table"' in html
    # Each figure stored once: the page shows the PNG files beside it by relative path,
    # nothing embedded and nothing fetched from elsewhere.
    assert "data:image" not in html
    assert html.count('<img src="figures/') == len(_ONE_SEED)
    assert not re.search(r'<(script|link)\b|src="(?!figures/)', html)
    for name in _ONE_SEED:
        assert f'<img src="figures/{name}"' in html
        assert f"](figures/{name})" in md
        assert (reported_run / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Header: what, on what, by what, when: all from the run's metadata.
    doc = load_metrics(reported_run)
    run = doc["run"]
    for text in (
        run["created"],
        run["versions"]["pymc"],
        run["versions"]["pytensor"],
        run["versions"]["arviz"],
        run["machine"]["hostname"],
        *run["dataset"]["sha256"].values(),
        f"floatX {run['numerics']['floatX']}",
        "numba fastmath " + ("on" if run["numerics"]["numba__fastmath"] else "off"),
    ):
        assert text in html and text in md
    assert (run["commit"] or "not recorded") in html


def test_regenerates_byte_for_byte(reported_run, tmp_path):
    before = _files(reported_run)
    write_report(reported_run)
    assert _files(reported_run) == before
    # ... and in another folder, by the command, in a process with other hash seeds.
    other = _copy(reported_run, tmp_path / "elsewhere")
    for name in before:
        (other / name).unlink()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-m", "bnn_models.cli", "report", str(other)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert _files(other) == before


def test_rerenders_without_its_fits_to_the_same_bytes(reported_run, tmp_path):
    """A committed folder has no fits/: its fit-based figures come from figure_data.npz."""
    before = _files(reported_run)
    fit_based = ("elbo_traces.png", "weight_sd.png", "mcmc_trace.png", "mcmc_rank.png")
    assert all(f"figures/{n}" in before for n in (*fit_based, FIGURE_DATA))
    clone = tmp_path / "clone"
    shutil.copytree(reported_run, clone, ignore=shutil.ignore_patterns("fits"))
    assert not (clone / "fits").exists()
    subprocess.run(
        [sys.executable, "-m", "bnn_models.cli", "report", str(clone)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert _files(clone) == before
    # A figure-data file of another metrics.json is not used: those figures say why.
    doc = json.loads((clone / "metrics.json").read_text())
    doc["run"]["command"] = "edited"
    (clone / "metrics.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="fit files are not committed"):
        write_report(clone)
    for name in (*fit_based, FIGURE_DATA):
        assert not (clone / "figures" / name).exists()
    assert "Not drawn: " in (clone / "report.md").read_text()


def test_stale_figures_are_deleted(reported_run, tmp_path):
    out = _copy(reported_run, tmp_path / "stale")
    for name in ("nuts_trace.png", "nuts_rank.png", "seed_intervals.png"):  # earlier names
        (out / "figures" / name).write_bytes(b"old")
    write_report(out)
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted([*_ONE_SEED, FIGURE_DATA])


def test_a_sweeps_cell_is_compact_unless_figures_are_asked_for(reported_run, tmp_path):
    """A sweep's committed cells stay small: no figures (the sweep's page draws what
    varies across cells), the page says so; ``bnn-bench report --figures`` draws them."""
    (tmp_path / "sweep.json").write_text("{}")  # the folder is a sweep's cell
    out = _copy(reported_run, tmp_path / "cell")
    assert main(["report", str(out)]) == 0
    assert not (out / "figures").exists()
    assert "Not drawn: this folder is one cell of a sweep" in (out / "report.md").read_text()
    assert "<img" not in (out / "report.html").read_text()
    assert main(["report", str(out), "--figures"]) == 0
    assert _files(out) == _files(reported_run)


def test_summary_cells_are_the_run_numbers(reported_run):
    doc = load_metrics(reported_run)
    fits = {f["method"]: f for f in doc["fits"]}
    ref = _mcmc(doc)
    rep = build_report(reported_run, figures=False)
    rows = {r.method: dict(zip(rep.columns, r.cells, strict=True)) for r in rep.rows}
    assert list(rows) == doc["run"]["methods"]
    assert [r.label for r in rep.rows] == [fits[m]["label"] for m in rows]
    speedup = f"Speed-up vs {ref['label']}"
    sd_vs = f"Ratio of mean predictive sd to {possessive(ref['label'])}"
    for method, cells in rows.items():
        fit = fits[method]
        assert cells["Accuracy"] == f"{100 * fit['calibration']['accuracy']:.1f}%"
        assert cells["ECE"] == f"{fit['calibration']['ece']:.3f}"
        assert cells["Log loss"] == f"{fit['calibration']['log_loss']:.3f} nats"
        assert cells["Total time (s)"] == _seconds(fit["runtime"]["total_s"])
        rt = fit["runtime"]
        if "us_per_grad" in rt:  # NUTS: 2 chains of the test config on 1 core
            per_core = rt["us_per_grad"] * min(fit["config"]["chains"], fit["config"]["cores"])
            assert cells["Per gradient, per core (µs)"] == f"{per_core:.3g} µs"
        else:
            assert cells["Per gradient, per core (µs)"] == "n/a"
        if fit["elbo"]:
            # the method's own steps: a mean-field warm start's steps and time left out
            warm = fit["convergence"].get("warm_start") or {"iterations": 0}
            steps = fit["convergence"]["iterations"] - warm["iterations"]
            per_step = 1e6 * (rt["fit_s"] - rt.get("warm_start_s", 0.0)) / steps
            assert cells["Per VI step (µs)"] == f"{per_step:.3g} µs"
        else:
            assert cells["Per VI step (µs)"] == "n/a"
        if fit is ref:
            assert cells[speedup] == cells[sd_vs] == "reference"
            assert cells["Divergences"] == f"{fit['diagnostics']['divergences']:,}"
            assert cells["Final ELBO (nats)"] == "n/a"
        else:
            ratio = ref["runtime"]["total_s"] / fit["runtime"]["total_s"]
            assert cells[speedup] == f"{ratio:.1f}x"
            ratio = fit["spread"]["pred_sd_mean"] / ref["spread"]["pred_sd_mean"]
            assert cells[sd_vs] == f"{100 * ratio:.0f}%"
            assert cells["Final ELBO (nats)"] == f"{fit['elbo']['final_elbo']:,.1f} nats"
            assert cells["Divergences"] == "n/a"


def test_seconds_helper_by_hand():
    values = (0.012345, 1.2345, 12.345, 123.45, 1.1, 1.0996, 2.0)
    assert [_seconds(x) for x in values] == [
        "0.0123 s",
        "1.23 s",
        "12.3 s",
        "123 s",
        "1.1 s",  # trailing zeros dropped, as the report's %.3g does
        "1.1 s",
        "2 s",
    ]


#: name -> (family, label) of the methods of the hand-made documents.
_KINDS = {
    "nuts": ("mcmc", "NUTS"),
    "hmc": ("mcmc", "HMC"),
    "advi": ("vi", "ADVI (mean-field)"),
    "fullrank_advi": ("vi", "full-rank ADVI"),
    "deep_ensemble": ("ensemble", "deep ensemble"),
}


def _doc(total: dict, sd: dict, ece: dict, acc: dict) -> dict:
    """A hand-made metrics document with known numbers."""
    fits = []
    for m in total:
        family, label = _KINDS[m]
        mcmc = family == "mcmc"
        fits.append(
            {
                "method": m,
                "family": family,
                "label": label,
                "seed": 0,
                "status": "ok",
                "error": None,
                "config": {},
                "config_hash": m,
                "sampler": "",
                "fit_file": None,
                "runtime": {
                    "total_s": total[m],
                    "compile_s": 0.0,
                    "fit_s": total[m],
                    "draw_s": 0.0,
                    "predict_s": 0.0,
                },
                "elbo": None
                if family != "vi"
                else {
                    "final_elbo": -900.0,
                    "iter_to_1pct": 100,
                    "rule_fired_at": 200,
                    "iterations": 200,
                    "converged": True,
                    "window": 50,
                },
                "spread": {"pred_sd_mean": sd[m], "pred_mean": [0.2, 0.8], "pred_sd": [sd[m]] * 2},
                "reliability": {
                    "forecast": [0.2, 0.8],
                    "cep": [0.25, 0.75],
                    "band_low": [0.1, 0.6],
                    "band_high": [0.4, 0.9],
                    "ci_prob": 0.9,
                },
                "calibration": {
                    "ece": ece[m],
                    "accuracy": acc[m],
                    "brier": 0.1,
                    "log_loss": 0.3,
                    "f1_weighted": acc[m],
                    "roc_auc": 0.9,
                },
                "diagnostics": {
                    "rhat_max_pred": 1.002,
                    "rhat_max_weights": 1.6,
                    "ess_bulk_min_pred": 400.0,
                    "divergences": 0,
                }
                if mcmc
                else None,
            }
        )
    return {"run": {"methods": list(total), "dataset": {"name": "teacher"}}, "fits": fits}


def test_verdicts_from_known_numbers():
    doc = _doc(
        {"nuts": 14.0, "fullrank_advi": 1.0},
        {"nuts": 0.1, "fullrank_advi": 0.061},
        {"nuts": 0.05, "fullrank_advi": 0.08},
        {"nuts": 0.9, "fullrank_advi": 0.85},
    )
    text = " ".join(verdicts(load_methods(Path("."), doc, load=False)))
    assert "full-rank ADVI was 14.0x faster than NUTS (1 s against 14 s in total)" in text
    # no reference: the ratio of mean predictive sds, named as such
    assert "the ratio of its mean predictive sd to NUTS' was 61% (0.061 against 0.100)" in text
    assert "Its ECE was 0.080 against NUTS' 0.050 (worse), its accuracy 85.0% against 90.0%" in text
    assert "rule fired at iteration 200" in text
    # High R-hat on weights only: the permutation-mode explanation, not "did not mix".
    assert "NUTS: largest R-hat 1.002 over the test predictions and 1.600 over the weights" in text
    assert "permutation" in text and "itself uncertain" not in text
    tie = _doc(  # ECEs that differ only past the printed digits are equal, not worse
        {"nuts": 14.0, "advi": 1.0},
        {"nuts": 0.1, "advi": 0.1},
        {"nuts": 0.0412, "advi": 0.0414},
        {"nuts": 0.9, "advi": 0.9},
    )
    text = " ".join(verdicts(load_methods(Path("."), tie, load=False)))
    assert "Its ECE was 0.041 against NUTS' 0.041 (equal)" in text
    slow = _doc(
        {"nuts": 2.0, "advi": 5.0},
        {"nuts": 0.1, "advi": 0.1},
        {"nuts": 0.1, "advi": 0.1},
        {"nuts": 0.9, "advi": 0.9},
    )
    assert "2.5x slower than NUTS" in " ".join(verdicts(load_methods(Path("."), slow, load=False)))


def test_baseline_is_the_first_mcmc_method_by_family_not_name(tmp_path):
    """An ensemble first, then an MCMC method labelled HMC: the baseline is HMC."""
    doc = _doc(
        {"deep_ensemble": 3.0, "hmc": 12.0, "nuts": 24.0},
        {"deep_ensemble": 0.05, "hmc": 0.1, "nuts": 0.1},
        {"deep_ensemble": 0.1, "hmc": 0.1, "nuts": 0.1},
        {"deep_ensemble": 0.9, "hmc": 0.9, "nuts": 0.9},
    )
    rep = build_report(tmp_path, doc, figures=False)
    sd_vs = "Ratio of mean predictive sd to HMC's"
    assert "Speed-up vs HMC" in rep.columns and sd_vs in rep.columns
    cells = {r.method: dict(zip(rep.columns, r.cells, strict=True)) for r in rep.rows}
    assert cells["hmc"]["Speed-up vs HMC"] == "reference"
    assert cells["deep_ensemble"]["Speed-up vs HMC"] == "4.0x"  # 12 s / 3 s
    assert cells["nuts"]["Speed-up vs HMC"] == "0.5x"  # 12 s / 24 s
    assert cells["deep_ensemble"][sd_vs] == "50%"
    text = " ".join(rep.verdicts)
    assert "deep ensemble was 4.0x faster than HMC" in text and "to HMC's was 50% (0.050" in text
    assert "NUTS was 2.0x slower than HMC" in text
    # Diagnostics for every fit that has them; the baseline named as the reference.
    assert "HMC: largest R-hat 1.002" in text and "NUTS: largest R-hat 1.002" in text
    assert any("Speed-up: HMC's total time" in n for n in rep.notes)
    assert any(n.startswith("Diagnostics (HMC, NUTS only)") for n in rep.notes)
    # Colours fixed by the registry, not by the run: the same as in any other report.
    assert [r.color for r in rep.rows] == [
        figs.method_style(r.method, r.label).color for r in rep.rows
    ]
    assert rep.rows[-1].color == figs.PALETTE[list(METHODS).index("nuts")][0]


def test_without_an_mcmc_method_the_comparisons_are_na(tmp_path):
    doc = _doc(
        {"advi": 2.0, "fullrank_advi": 5.0},
        {"advi": 0.05, "fullrank_advi": 0.07},
        {"advi": 0.1, "fullrank_advi": 0.1},
        {"advi": 0.9, "fullrank_advi": 0.9},
    )
    with pytest.warns(UserWarning, match="no fit file recorded"):
        rep = build_report(tmp_path, doc)
    for row in rep.rows:
        cells = dict(zip(rep.columns, row.cells, strict=True))
        assert cells["Speed-up vs MCMC"] == cells["Ratio of mean predictive sd to MCMC's"] == "n/a"
    assert rep.verdicts[0].startswith(
        "ADVI (mean-field) took 2 s; its mean predictive sd was 0.050."
    )
    assert any("no MCMC method has a successful fit" in n for n in rep.notes)
    figures = {f.name: f for f in rep.figures}
    for name in ("weight_sd.png", "mcmc_trace.png", "mcmc_rank.png"):
        assert figures[name].png is None
        assert figures[name].caption == "Not drawn: no MCMC method has a successful fit in this run"
    assert "Not drawn: no MCMC method" in render_markdown(rep)


def test_summary_table_one_row_per_fit():
    doc = _doc(
        {"nuts": 14.0, "advi": 1.0}, {"nuts": 0.1, "advi": 0.06}, *[{"nuts": 0.9, "advi": 0.8}] * 2
    )
    doc["fits"].append(
        {**doc["fits"][1], "seed": 1, "status": "failed", "error": "FitTimeout: 5 s"}
    )
    table = summary_table(doc)
    assert list(table[["method", "seed", "status"]].itertuples(index=False, name=None)) == [
        ("nuts", 0, "ok"),
        ("advi", 0, "ok"),
        ("advi", 1, "failed"),
    ]
    assert table["total_s"].tolist()[:2] == [14.0, 1.0]
    assert table.loc[1, "converged_at"] == 200 and pd.isna(table.loc[0, "converged_at"])
    assert table.loc[2, "error"] == "FitTimeout: 5 s" and pd.isna(table.loc[2, "ece"])
    # a column per metric of the metric table that the report shows or the gate checks,
    # by its name, where some fit has it
    shown = {n for n, m in METRICS.items() if m.column or m.gate}
    assert {"final_elbo", "pred_sd_mean", "ece", "roc_auc", "divergences"} <= set(table.columns)
    assert set(table.columns) & set(METRICS) <= shown
    assert table.loc[0, "ece"] == doc["fits"][0]["calibration"]["ece"]


def test_title_names_at_most_three_methods():
    from bnn_models.report.content import _title

    assert _title(["A", "B", "C"], "rupture") == "bnn-bench: A, B and C on rupture"
    assert _title([f"M{i}" for i in range(13)], "rupture") == "bnn-bench: 13 methods on rupture"


def test_first_screen_order_contents_and_links(reported_run, tmp_path):
    """Title, contents, What to use, decision table, then the run's metadata folded; every
    h2 in the contents with its anchor; file names linked."""
    from bnn_models.report.recommend import Recommendation

    out = _copy(reported_run, tmp_path / "run")
    rep = build_report(out, figures=False)
    rec = Recommendation("Use X up to 10 s.", ["Budget", "Use"], [["10 s", "X"]], ["a note"])
    rep = dataclasses.replace(rep, recommendation=rec)
    html, md = render_html(rep), render_markdown(rep)
    order = ["<h1>", 'id="what-to-use"', "Use X up to 10 s.", 'id="decision"', "<details>"]
    at = [html.index(t) for t in order]
    assert at == sorted(at) and html.index('id="run-header"') > html.index("<details>")
    order = ["# bnn-bench", "## What to use", "| 10 s", "## Decision table", "<details>"]
    at = [md.index(t) for t in order]
    assert at == sorted(at) and md.index("**Commit**") > md.index("<details>")
    # Every h2 has an id, and the contents link each one; Markdown with GitHub's anchors.
    ids = re.findall(r'<h2 id="([^"]+)">', html)
    assert len(ids) == html.count("<h2") and ids
    for i in ids:
        assert f'<a href="#{i}">' in html
    for title in re.findall(r"^## (.+)$", md, re.M):
        anchor = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        assert f"](#{anchor})" in md
    # The files the report names, linked; fit files named but not linked (git-ignored:
    # a committed report would link to nothing, and its bytes would depend on the fits).
    fit = load_metrics(out)["fits"][0]["fit_file"]
    assert fit in html and f'href="{fit}"' not in html and f"]({fit})" not in md
    assert '<a href="metrics.json">metrics.json</a>' in html
    # Without a recommendation, no empty section.
    plain = render_html(dataclasses.replace(build_report(out, figures=False), recommendation=None))
    assert 'id="what-to-use"' not in plain and "#what-to-use" not in plain


def test_html_escapes_what_the_run_provides(tmp_path):
    doc = _doc(
        {"nuts": 2.0, "advi": 1.0}, *[{"nuts": 0.1, "advi": 0.1}] * 2, {"nuts": 0.9, "advi": 0.9}
    )
    doc["fits"][1]["label"] = "<script>alert(1)</script> & co"
    doc["run"]["command"] = "bnn-bench run --set 'a<b'"
    html = render_html(build_report(tmp_path, doc, figures=False))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "a&lt;b" in html


def test_failed_fit_shown_with_reason(saved_run, tmp_path):
    def fail_advi(doc):
        for fit in doc["fits"]:
            if fit["method"] == "advi":
                for key in (
                    "runtime",
                    "elbo",
                    "spread",
                    "calibration",
                    "reliability",
                    "diagnostics",
                ):
                    fit.pop(key, None)
                fit.update(
                    status="failed", error="FitTimeout: time limit of 5 s reached", fit_file=None
                )

    out = _copy(saved_run, tmp_path / "failed", fail_advi)
    write_report(out)
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for text in (html, md):
        assert "failed (seed 0: FitTimeout: time limit of 5 s reached)" in text
        assert "ADVI (mean-field) failed: seed 0: FitTimeout" in text
    rows = {r.method: r for r in summary_rows(load_metrics(out))}
    assert rows["advi"].cells is None and rows["nuts"].cells is not None
    assert '<span class="failed">failed (seed 0: FitTimeout' in html
    # Figures still drawn for the methods that ran.
    assert (out / "figures" / "reliability.png").is_file()


def _two_seeds(doc: dict) -> None:
    """Seed 1 beside seed 0: ECE 0.10 and 0.20, mean |Δp| 0.02 and 0.04, VI k-hat 0.4 and 1.2."""
    extra = copy.deepcopy(doc["fits"])
    for fit in extra:
        fit["seed"] = 1
    for seed, fits in enumerate((doc["fits"], extra)):
        for fit in fits:
            fit["calibration"]["ece"] = (0.10, 0.20)[seed]
            fit["fidelity"]["pred_tv_mean"] = (0.02, 0.04)[seed]
            if fit["family"] == "vi":
                fit["fidelity"]["psis_khat"] = (0.4, 1.2)[seed]
    doc["fits"] += extra
    doc["run"]["seeds"] = [0, 1]
    doc.pop("seed_summary", None)  # the report computes it


def test_seed_summary_shows_mean_and_interval(saved_run, tmp_path):
    out = _copy(saved_run, tmp_path / "seeds", _two_seeds)
    rep = build_report(out, figures=False)
    for row in rep.rows:
        cells = dict(zip(rep.columns, row.cells, strict=True))
        # Mean 0.15; central 90% over two seeds: 0.10 + 0.05 * 0.10 to 0.20 - 0.05 * 0.10.
        assert cells["ECE"] == "0.150 [0.105, 0.195]"
        assert row.seeds == "2 seeds"
    assert any("central 90% interval over seeds" in n for n in rep.notes)
    assert "0.150<br><small>[0.105, 0.195]</small>" in render_html(rep)
    assert "| 0.150 [0.105, 0.195] " in summary_markdown(rep)

    # A summary stored in the document is the one shown.
    def stored(doc):
        _two_seeds(doc)
        stat = {"mean": 0.5, "sd": 0.1, "lo": 0.25, "hi": 0.75, "n": 2}
        doc["seed_summary"] = {
            f["method"]: {"n_seeds": 2, "interval_prob": 0.9, "metrics": {"calibration.ece": stat}}
            for f in doc["fits"]
        }

    out = _copy(saved_run, tmp_path / "stored", stored)
    for row in build_report(out, figures=False).rows:
        assert "0.500 [0.250, 0.750]" in row.cells


def test_unknown_sections_are_listed_not_fatal(saved_run, tmp_path):
    def add_fidelity(doc):
        for fit in doc["fits"]:
            fit["fidelity"] = {"k_hat": 0.7, "per_point": [1, 2], "nested": {"a": 1}}

    out = _copy(saved_run, tmp_path / "fidelity", add_fidelity)
    assert "fidelity.k_hat" in render_markdown(build_report(out, figures=False))


# --------------------------------------------------------------------------- fidelity


def _fidelity_cells(rep) -> dict[str, dict[str, str]]:
    """Method -> "group: column" -> cell of the fidelity table."""
    fid = rep.fidelity
    groups = [g for g, n in fid.groups for _ in range(n)]
    names = [f"{g}: {c}" for g, c in zip(groups, fid.columns, strict=True)]
    return {r.method: dict(zip(names, r.cells, strict=True)) for r in fid.rows if r.cells}


def test_fidelity_section_shows_the_run_numbers(reported_run):
    doc = load_metrics(reported_run)
    rep = build_report(reported_run, figures=False)
    assert rep.fidelity is not None
    cells = _fidelity_cells(rep)
    assert list(cells) == doc["run"]["methods"]
    text = " ".join(rep.fidelity.verdicts)
    for fit in doc["fits"]:
        f, c = fit["fidelity"], cells[fit["method"]]
        assert f["reference"] == "tiny"
        assert c["Predictions: Same class"] == f"{100 * f['class_agreement']:.1f}%"
        assert c["Predictions: Mean |Δp| (TV)"] == f"{f['pred_tv_mean']:.3f}"
        assert c["Predictions: Predictive sd vs reference"] == f"{f['pred_sd_ratio_gmean']:.2f}"
        assert c["Predictions: sd ratio, 5% to 95% of points"] == (
            f"{f['pred_sd_ratio_q05']:.2f} to {f['pred_sd_ratio_q95']:.2f}"
        )
        assert c["Predictions: Means off by > 0.3 ref. sd"] == (
            f"{100 * f['share_mean_off_0p3sd']:.0f}%"
        )
        assert c["Weights, units matched: sd ratio, median"] == f"{f['weight_sd_ratio_median']:.2f}"
        w1 = f["weight_sd_ratio_by_var"]["W1"]["median"]
        assert f"W1 {w1:.2f}" in c["Weights, units matched: median per variable"]
        khat = c["Importance sampling (VI): k-hat (ok below 0.7)"]
        if fit["family"] == "mcmc":
            assert khat == "n/a"
        else:
            ok = f["psis_khat"] < 0.7
            assert khat == f"{f['psis_khat']:.2f} " + ("(ok)" if ok else "(> 0.7)")
            corrected = c["Importance sampling (VI): corrected mean |Δp|"]
            assert corrected == (f"{f['psis_pred_tv_mean']:.3f}" if ok else "n/a (k-hat >= 0.7)")
        label = fit["label"]
        assert f"{label}: its predictive sd was {f['pred_sd_ratio_gmean']:.0%}" in text
    # Teacher data: the columns against the true probabilities.
    assert "True probabilities: 90% interval coverage" in cells["advi"]
    # External draws carry no diagnostics: said, not invented.
    assert rep.fidelity.diagnostics[0][1] == "not recorded"
    assert "records no diagnostics" in " ".join(rep.fidelity.explanation)
    html = (reported_run / "report.html").read_text()
    md = (reported_run / "report.md").read_text()
    assert '<h2 id="fidelity">Fidelity to the reference</h2>' in html
    assert 'id="fidelity-table"' in html and "## Fidelity to the reference" in md
    # The section's figures follow its tables, numbered after the others.
    assert md.index("## Fidelity to the reference") < md.index("figures/fidelity_sd.png")
    assert md.index("figures/mcmc_rank.png") < md.index("## Fidelity to the reference")
    assert "Figure 10. PSIS k-hat per VI fit" in md  # after the anytime figure and 8 others
    # Grouped headers: two rows in HTML, "group: column" in Markdown, pipes escaped.
    assert '<th colspan="7" halign="left">Predictions</th>' in html
    assert "| Predictions: Mean \\|Δp\\| (TV) " in md


def _with_diagnostics(doc: dict) -> None:
    """Known reference diagnostics: weights that do not mix, predictions nearly so."""
    ref = doc["run"]["reference"]
    ref["config"].update(tune=1000, seed=5, target_accept=0.8, sampler="nutpie")
    ref["acceptance"] = {
        "rhat_max_pred": {"value": 1.0123, "limit": 1.01, "ok": False},
        "ess_bulk_min_pred": {"value": 512.0, "limit": 400, "ok": True},
        "passed": False,
    }
    ref["diagnostics"] = {
        "function_space": {
            "n_points": 100,
            "rhat_max": 1.0123,
            "rhat_median": 1.0011,
            "ess_bulk_min": 512.0,
            "ess_bulk_median": 2048.0,
            "ess_tail_min": 700.0,
        },
        "weight_space": {
            "raw": {"rhat_max": 1.5432, "ess_bulk_min": 11.0, "ess_tail_min": 13.0},
            "sort_w1": {"rhat_max": 1.0301, "ess_bulk_min": 301.0, "ess_tail_min": 333.0},
            "match": {"rhat_max": 1.0202, "ess_bulk_min": 402.0, "ess_tail_min": 444.0},
        },
    }


def test_reference_diagnostics_in_function_and_weight_space(saved_run, tmp_path):
    out = _copy(saved_run, tmp_path / "diag", _with_diagnostics)
    fid = build_report(out, figures=False).fidelity
    assert fid.diagnostics == [
        ["Test-set probabilities (100; function space)", "1.0123", "1.0011", "512", "2,048", "700"],
        ["Weights, raw (as sampled)", "1.5432", "", "11", "", "13"],
        ["Weights, hidden units sorted by W1 per draw", "1.0301", "", "301", "", "333"],
        ["Weights, hidden units matched to a template per draw", "1.0202", "", "402", "", "444"],
    ]
    reference = dict(fid.reference)
    assert reference["Acceptance"].startswith("FAILED: largest R-hat of the test-set")
    assert "1.0123 (limit 1.01: not ok)" in reference["Acceptance"]
    assert reference["Sampler"] == (
        "2 chains x 150 draws (tune 1000), seed 5, target_accept 0.8, nutpie"
    )
    text = " ".join(fid.explanation)
    assert "raw weights' largest R-hat is 1.543 (smallest bulk ESS 11)" in text
    assert "after matching the hidden units to a template 1.020" in text
    assert "W1" in text and "permutation" in text
    # The predictions are above 1.01 here too: no claim that they pass.
    assert "would fail" not in text
    assert "FAILED its own acceptance" in fid.verdicts[0]

    # Predictions that mix, weights that do not: said so.
    def mixing(doc):
        _with_diagnostics(doc)
        doc["run"]["reference"]["diagnostics"]["function_space"]["rhat_max"] = 1.004

    out = _copy(saved_run, tmp_path / "mixing", mixing)
    text = " ".join(build_report(out, figures=False).fidelity.explanation)
    assert "raw weights would fail the usual R-hat <= 1.01 check while the predictions" in text


def test_fidelity_verdicts_from_known_numbers(tmp_path):
    doc = _doc(
        {"nuts": 14.0, "advi": 1.0},
        {"nuts": 0.1, "advi": 0.07},
        {"nuts": 0.05, "advi": 0.08},
        {"nuts": 0.9, "advi": 0.85},
    )
    doc["run"]["reference"] = {"key": "r", "config": {"chains": 8, "draws": 1000}}
    for fit in doc["fits"]:
        vi = fit["family"] == "vi"
        fit["fidelity"] = {
            "reference": "r",
            "gate_sd": 0.3,
            "khat_threshold": 0.7,
            "class_agreement": 0.9,
            "pred_tv_mean": 0.05,
            "pred_sd_ratio_gmean": 0.7 if vi else 1.0,
            "pred_sd_ratio_median": 0.72 if vi else 1.0,  # another summary: never shown
            "pred_sd_ratio_q05": 0.5,
            "pred_sd_ratio_q95": 0.9,
            "share_mean_off_0p3sd": 0.25,
            "psis_khat": 2.1 if vi else None,
        }
    fid = build_report(tmp_path, doc, figures=False).fidelity
    advi = fid.verdicts[1]
    assert advi.startswith("ADVI (mean-field): its predictive sd was 70% of the reference's")
    assert "5% to 95% of points: 50% to 90%" in advi
    assert "same class for 90.0% of test points; 25% of the points' means" in advi
    assert "k-hat 2.10 > 0.7: the approximation is not reliable for importance correction" in advi
    assert "k-hat" not in fid.verdicts[0]  # NUTS has no importance ratios
    # k-hat under the threshold: correctable, with the corrected numbers.
    doc["fits"][1]["fidelity"].update(
        psis_khat=0.4, psis_pred_sd_ratio_gmean=0.95, psis_pred_tv_mean=0.01
    )
    advi = build_report(tmp_path, doc, figures=False).fidelity.verdicts[1]
    assert "k-hat 0.40 < 0.7: importance sampling can correct it; corrected, its " in advi
    assert "predictive sd is 95% of the reference's" in advi


def test_no_reference_no_section(saved_run, tmp_path):
    def drop(doc):
        doc["run"]["reference"] = None
        for fit in doc["fits"]:
            fit["fidelity"] = None

    out = _copy(saved_run, tmp_path / "noref", drop)
    rep = build_report(out, figures=False)
    assert rep.fidelity is None
    paths = write_report(out)
    assert [p.name for p in paths[2:]] == [
        *[n for n in _ONE_SEED if n not in ("fidelity_sd.png", "khat.png")],
        FIGURE_DATA,
    ]
    for text in ((out / "report.html").read_text(), (out / "report.md").read_text()):
        assert "Fidelity to the reference" not in text and "fidelity-table" not in text


def test_khat_without_reference_joins_the_figures(saved_run, tmp_path):
    out = _copy(saved_run, tmp_path / "khat", lambda doc: doc["run"].update(reference=None))
    rep = build_report(out)
    assert rep.fidelity is None
    sections = {f.name: f.section for f in rep.figures}
    assert sections["khat.png"] == "figures" and "fidelity_sd.png" not in sections
    assert "PSIS k-hat per VI fit" in render_markdown(rep)


def test_fidelity_across_seeds(saved_run, tmp_path):
    out = _copy(saved_run, tmp_path / "seeds", _two_seeds)
    families = {f["method"]: f["family"] for f in load_metrics(out)["fits"]}
    rep = build_report(out)
    cells = _fidelity_cells(rep)
    for method, c in cells.items():
        # 0.02 and 0.04: mean 0.03, interval 0.02 + 0.05 * 0.02 to 0.04 - 0.05 * 0.02.
        assert c["Predictions: Mean |Δp| (TV)"] == "0.030 [0.021, 0.039]"
        khat = c["Importance sampling (VI): k-hat (ok below 0.7)"]
        if families[method] == "vi":
            # 0.4 and 1.2: mean 0.8, interval 0.44 to 1.16; one of the two above 0.7.
            assert khat == "0.80 [0.44, 1.16]; > 0.7 in 1 of 2 seeds"
        else:
            assert khat == "n/a"
    assert any("interval over seeds" in n for n in rep.fidelity.notes)
    figures = {f.name: f for f in rep.figures}
    for name in ("fidelity_sd.png", "khat.png", "seed_intervals.png"):
        assert figures[name].section == "fidelity" and figures[name].png is not None
    # Figures that show every seed do not say they show one fit per method.
    assert "one fit per method" not in figures["seed_intervals.png"].caption.lower()
    html = render_html(rep)
    assert html.index('id="fidelity"') < html.index('id="fig-seed_intervals"')


def test_missing_fit_files_leave_those_figures_out(reported_run, tmp_path):
    out = _copy(reported_run, tmp_path / "nofits")
    shutil.rmtree(out / "fits")
    (out / "figures" / FIGURE_DATA).unlink()  # nor what those figures plot
    with pytest.warns(UserWarning, match="is absent"):
        paths = write_report(out)
    names = {p.name for p in paths}
    # From metrics.json alone: runtime, reliability, predictive sd.
    assert {"summary_runtime.png", "reliability.png", "predictive_sd.png"} <= names
    for name in ("elbo_traces.png", "weight_sd.png", "mcmc_trace.png", "mcmc_rank.png"):
        assert name not in names and not (out / "figures" / name).exists()
    assert "Not drawn: " in (out / "report.md").read_text()


def test_published_comparison_only_on_the_pinned_rupture_split(saved_run, tmp_path):
    def as_rupture(doc):
        doc["run"]["dataset"].update(
            name="rupture", n_test=400, n_train=1600, sha256=dict(RUPTURE_FILES), rebalanced=False
        )

    rep = build_report(saved_run, figures=False)
    assert rep.published == [] and "nothing to compare" in rep.published_notes[0]
    out = _copy(saved_run, tmp_path / "rupture", as_rupture)
    rep = build_report(out, figures=False)
    assert rep.published[0][2:4] == [f"{PUBLISHED['f1_weighted']:.4f}", "83.5%"]
    f1 = {f["method"]: f["calibration"]["f1_weighted"] for f in load_metrics(out)["fits"]}
    assert [r[2] for r in rep.published[1:]] == [f"{v:.4f}" for v in f1.values()]
    assert [r[4] for r in rep.published[1:]] == [
        f"{v - PUBLISHED['f1_weighted']:+.4f}" for v in f1.values()
    ]
    assert "pinned hash" in rep.published_notes[0]
    assert "did not" in rep.published_notes[1]  # not rebalanced, unlike the study
    assert "0.8334" in render_markdown(rep)


def test_asv_link_when_results_exist(saved_run, tmp_path):
    project = tmp_path / "project"
    out = _copy(saved_run, project / "results" / "run")
    (project / "asv.conf.json").write_text(
        '// comment\n{"version": 1, "results_dir": ".asv/results", "html_dir": ".asv/html"}\n'
    )
    assert build_report(out, figures=False).asv is None
    machine = project / ".asv" / "results" / "box"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text("{}")
    assert build_report(out, figures=False).asv is None  # machine.json alone is no result
    (machine / "abc123-virtualenv-py3.12.json").write_text("{}")
    href, text = build_report(out, figures=False).asv
    assert href == "../../.asv/html/index.html" and "asv" in text


def test_no_asv_link_without_asv(saved_run, tmp_path, monkeypatch):
    """asv is a development dependency: without it, the report has no link, and no error."""
    project = tmp_path / "project"
    out = _copy(saved_run, project / "results" / "run")
    (project / "asv.conf.json").write_text('{"version": 1, "results_dir": "r"}\n')
    (project / "r" / "box").mkdir(parents=True)
    (project / "r" / "box" / "abc-py3.12.json").write_text("{}")
    assert build_report(out, figures=False).asv is not None
    monkeypatch.setitem(sys.modules, "asv.util", None)  # import asv.util raises ImportError
    assert build_report(out, figures=False).asv is None


# --------------------------------------------------------------------------- figures


def test_figures_are_deterministic_pngs():
    rng = np.random.default_rng(0)
    spread = {
        m: {
            "pred_mean": rng.uniform(size=50).tolist(),
            "pred_sd": rng.uniform(0, 0.2, size=50).tolist(),
            "pred_sd_mean": 0.1,
        }
        for m in ("a", "b", "c")
    }
    styles = figs.method_styles({"a": "A", "b": "B", "c": "C"})
    one = figs.png_bytes(figs.predictive_sd_figure(spread, styles))
    two = figs.png_bytes(figs.predictive_sd_figure(spread, styles))
    assert one == two and one[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"tIME" not in one and b"Software" not in one


def test_styles_follow_the_registry_not_the_run():
    """Colours and markers by registration position, whatever order a run lists methods in:
    every registered method its own colour and marker."""
    assert len(figs.PALETTE) >= len(METHODS)
    assert (
        len({c for c, _ in figs.PALETTE}) == len({m for _, m in figs.PALETTE}) == len(figs.PALETTE)
    )
    styles = figs.method_styles({n: m.label for n, m in METHODS.items()})
    assert [(s.color, s.marker) for s in styles.values()] == list(figs.PALETTE[: len(METHODS)])
    assert [s.label for s in styles.values()] == [m.label for m in METHODS.values()]
    # The same name elsewhere in the run's order keeps its registry style.
    advi = list(METHODS).index("advi")
    assert figs.method_styles({"x": "X", "advi": "ADVI"})["advi"].color == figs.PALETTE[advi][0]


def test_fidelity_figures_are_deterministic_pngs():
    rng = np.random.default_rng(1)
    ref_sd = rng.uniform(0.01, 0.2, size=60)
    fid = {"pred_sd_ratio_gmean": 0.9, "pred_sd_ratio_q05": 0.5, "pred_sd_ratio_q95": 1.5}
    styles = figs.method_styles({"mcmc": "MCMC", "vi": "VI", "vi2": "VI 2"})
    sd = {m: (ref_sd * rng.uniform(0.5, 2, size=60)).tolist() for m in ("mcmc", "vi")}
    khat = {"vi": {0: 2.1, 1: 1.7}, "vi2": {0: 0.4}}
    stat = {"mean": 0.1, "lo": 0.08, "hi": 0.12, "values": [0.08, 0.1, 0.12]}
    panels = [
        {"title": "ECE", "methods": {"vi": stat, "mcmc": stat}, "line": None},
        {"title": "k-hat", "methods": {"vi": stat}, "line": (0.7, "0.7"), "fmt": "{:.2f}"},
    ]
    for make in (
        lambda: figs.fidelity_sd_figure(sd, ref_sd, {"mcmc": fid, "vi": fid}, styles),
        lambda: figs.khat_figure(khat, styles),
        lambda: figs.seed_interval_figure(panels, styles),
    ):
        one, two = figs.png_bytes(make()), figs.png_bytes(make())
        assert one == two and one[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- browser

_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const table = document.getElementById("summary-table");
  const fidelity = document.getElementById("fidelity-table");
  const decision = document.getElementById("decision-table");
  const out = document.createElement("pre");
  out.id = "bnn-check";
  out.textContent = JSON.stringify({
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    widths: images.map(i => i.naturalWidth),
    shown_widths: images.map(i => i.getBoundingClientRect().width),
    decision_top: decision ? decision.getBoundingClientRect().top : -1,
    header_hidden: (() => {
      const h = document.getElementById("run-header");
      return h ? !h.checkVisibility() : false;
    })(),
    summary_rows: table ? table.tBodies[0].rows.length : -1,
    summary_visible: table ? table.getBoundingClientRect().height > 0 : false,
    fidelity_rows: fidelity ? fidelity.tBodies[0].rows.length : -1,
    decision_rows: decision ? decision.tBodies[0].rows.length : -1,
    decision_width: decision ? decision.getBoundingClientRect().right : -1,
    viewport: document.documentElement.clientWidth,
    page_width: document.documentElement.scrollWidth,
  });
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The installed chromium; the test is skipped without one (this suite installs nothing)."""
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("no chromium on this machine; .ci/run installs it")
    return found


def _browse(chromium: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp / 'profile'}",
            "--virtual-time-budget=10000",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def check_in_browser(
    chromium: str, html: Path, tmp: Path, screenshot: Path, width: int = 1280
) -> dict:
    """Load a report in headless chromium ``width`` px wide: what it rendered, and a
    screenshot."""
    probe = tmp / "probe.html"
    # The probe lives elsewhere: <base> resolves the page's figures/ paths beside ``html``.
    base = f'<head><base href="{html.parent.resolve().as_uri()}/">'
    text = html.read_text().replace("<head>", base, 1)
    probe.write_text(text.replace("</body>", _CHECK + "</body>"))
    size = f"--window-size={width},2600"
    dom = _browse(chromium, probe, tmp, size, "--dump-dom").stdout
    found = re.search(r'<pre id="bnn-check">(.*?)</pre>', dom, re.S)
    assert found, f"the check script did not run; chromium printed: {dom[:500]}"
    _browse(chromium, html, tmp, size, f"--screenshot={screenshot}")
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.browser
def test_report_renders_in_a_real_browser(reported_run, chromium, tmp_path):
    shot = tmp_path / "screenshot.png"
    seen = check_in_browser(chromium, reported_run / "report.html", tmp_path, shot)
    assert seen["summary_rows"] == 3 and seen["summary_visible"]
    assert seen["images"] == len(_ONE_SEED) and seen["broken"] == []
    assert seen["fidelity_rows"] == 3
    # the decision table fits a 1280 px window: no horizontal scrolling
    assert seen["decision_rows"] == 3 and 0 < seen["decision_width"] <= seen["viewport"]
    assert min(seen["widths"]) > 300
    # First screen (1280 x 800): What to use, then the decision table starting within it;
    # the run's metadata folded.
    assert 0 < seen["decision_top"] < 800 and seen["header_hidden"]
    # No figure shown wider than the 1200 px its text is sized for.
    assert 0 < max(seen["shown_widths"]) <= 1200 + 2  # and its 1 px border
    assert shot.is_file() and shot.stat().st_size > 20_000


@pytest.mark.browser
@pytest.mark.skipif(
    not (_REPO / "results" / "rupture" / "report.html").is_file(),
    reason="no committed report in results/rupture",
)
def test_committed_report_renders(chromium, tmp_path):
    """The committed report; BNN_BENCH_UPDATE_SCREENSHOT=1 refreshes its screenshot."""
    report = _REPO / "results" / "rupture" / "report.html"
    shot = tmp_path / "screenshot.png"
    seen = check_in_browser(chromium, report, tmp_path, shot)
    assert seen["summary_rows"] >= 1 and seen["broken"] == [] and seen["images"] >= 1
    if os.environ.get("BNN_BENCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, report.parent / "screenshot.png")


@pytest.mark.browser
@pytest.mark.skipif(
    not (_REPO / "results" / "rupture-methods" / "report.html").is_file(),
    reason="no committed report in results/rupture-methods",
)
def test_committed_methods_report_fits_1280_px(chromium, tmp_path):
    """Every method's report: the decision table, one row per method, within 1280 px."""
    report = _REPO / "results" / "rupture-methods" / "report.html"
    shot = tmp_path / "screenshot.png"
    seen = check_in_browser(chromium, report, tmp_path, shot, width=1280)
    assert seen["decision_rows"] >= 10 and seen["broken"] == []
    assert 0 < seen["decision_width"] <= seen["viewport"] <= 1280
    if os.environ.get("BNN_BENCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, report.parent / "screenshot.png")
