"""The comparison report: numbers from the run, failures shown, byte-for-byte regeneration,
and the HTML checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnn_models import figures as figs
from bnn_models.bench import load_metrics, run_benchmark, summarise_seeds
from bnn_models.data import RUPTURE_FILES
from bnn_models.report import (
    FIGURE_FILES,
    PUBLISHED,
    build_report,
    render_html,
    render_markdown,
    summary_rows,
    verdicts,
    write_report,
)

#: Seconds per method: a small network on the conftest teacher data.
_TINY = {
    "nuts": {"draws": 100, "tune": 100, "chains": 2, "n_hidden": 4},
    "advi": {"max_iter": 1500, "draws": 100, "window": 250, "n_hidden": 4},
    "fullrank_advi": {
        "max_iter": 1500,
        "draws": 100,
        "window": 250,
        "n_hidden": 4,
        "learning_rate": 3e-3,
    },
}
_REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory, teacher_small) -> Path:
    """A finished three-method run on the tiny teacher data, without its report."""
    out = tmp_path_factory.mktemp("saved_run")
    run_benchmark(teacher_small, out, overrides=_TINY, progressbar=False, log=lambda s: None)
    return out


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
    names = ["report.html", "report.md", *[f"figures/{n}" for n in FIGURE_FILES]]
    return {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}


# --------------------------------------------------------------------------- content


def test_writes_html_md_and_every_figure(reported_run):
    paths = write_report(reported_run)
    assert paths[0] == reported_run / "report.html" and paths[1] == reported_run / "report.md"
    assert [p.name for p in paths[2:]] == list(FIGURE_FILES)
    html = (reported_run / "report.html").read_text()
    md = (reported_run / "report.md").read_text()
    assert 'id="summary-table"' in html
    # Self-contained: every image inline, nothing fetched from elsewhere.
    assert html.count('<img src="data:image/png;base64,') == len(FIGURE_FILES)
    assert not re.search(r'<(script|link)\b|src="(?!data:)', html)
    for name in FIGURE_FILES:
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


def test_summary_cells_are_the_run_numbers(reported_run):
    doc = load_metrics(reported_run)
    fits = {f["method"]: f for f in doc["fits"]}
    rep = build_report(reported_run, figures=False)
    header = ["Method", *rep.columns]
    rows = {r.method: dict(zip(header[1:], r.cells, strict=True)) for r in rep.rows}
    assert list(rows) == ["nuts", "advi", "fullrank_advi"]
    nuts_total = fits["nuts"]["runtime"]["total_s"]
    for method, cells in rows.items():
        fit = fits[method]
        assert cells["Accuracy"] == f"{100 * fit['calibration']['accuracy']:.1f}%"
        assert cells["ECE"] == f"{fit['calibration']['ece']:.3f}"
        assert cells["Log loss"] == f"{fit['calibration']['log_loss']:.3f} nats"
        assert cells["Total time (s)"].endswith(" s")
        if method == "nuts":
            assert cells["Speed-up vs NUTS"] == "reference"
            assert cells["Divergences"] == f"{fit['diagnostics']['divergences']:,}"
            assert cells["Final ELBO (nats)"] == "n/a"
        else:
            assert cells["Speed-up vs NUTS"] == f"{nuts_total / fit['runtime']['total_s']:.1f}x"
            ratio = fit["spread"]["pred_sd_mean"] / fits["nuts"]["spread"]["pred_sd_mean"]
            assert cells["Predictive sd vs NUTS"] == f"{100 * ratio:.0f}%"
            assert cells["Final ELBO (nats)"] == f"{fit['elbo']['final_elbo']:,.1f} nats"
            assert cells["Divergences"] == "n/a"


def _doc(total: dict, sd: dict, ece: dict, acc: dict) -> dict:
    """A hand-made metrics document with known numbers."""
    fits = []
    for m in total:
        fits.append(
            {
                "method": m,
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
                if m == "nuts"
                else {
                    "final_elbo": -900.0,
                    "iter_to_1pct": 100,
                    "rule_fired_at": 200,
                    "iterations": 200,
                    "converged": True,
                    "window": 50,
                },
                "spread": {"pred_sd_mean": sd[m]},
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
                if m == "nuts"
                else None,
            }
        )
    return {"run": {"methods": list(total), "dataset": {"name": "teacher"}}, "fits": fits}


def test_verdicts_from_known_numbers():
    from bnn_models.report import _methods

    doc = _doc(
        {"nuts": 14.0, "fullrank_advi": 1.0},
        {"nuts": 0.1, "fullrank_advi": 0.061},
        {"nuts": 0.05, "fullrank_advi": 0.08},
        {"nuts": 0.9, "fullrank_advi": 0.85},
    )
    text = " ".join(verdicts(_methods(Path("."), doc, load=False)))
    assert "full-rank ADVI was 14.0x faster than NUTS" in text
    assert "its mean predictive sd was 61% of NUTS'" in text
    assert "Its ECE was 0.080 against NUTS' 0.050 (worse)" in text
    assert "rule fired at iteration 200" in text
    # High R-hat on weights only: the permutation-mode explanation, not "did not mix".
    assert "permutation" in text and "itself uncertain" not in text
    slow = _doc(
        {"nuts": 2.0, "advi": 5.0},
        {"nuts": 0.1, "advi": 0.1},
        {"nuts": 0.1, "advi": 0.1},
        {"nuts": 0.9, "advi": 0.9},
    )
    assert "2.5x slower than NUTS" in " ".join(verdicts(_methods(Path("."), slow, load=False)))


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
    # Figures still drawn for the methods that ran.
    assert (out / "figures" / "reliability.png").is_file()


def test_seed_summary_shows_mean_and_interval(saved_run, tmp_path):
    def two_seeds(doc):
        extra = copy.deepcopy(doc["fits"])
        for fit in extra:
            fit["seed"] = 1
            fit["calibration"]["ece"] += 0.01
            fit["runtime"]["total_s"] *= 1.5
        doc["fits"] += extra
        doc["run"]["seeds"] = [0, 1]
        doc["seed_summary"] = summarise_seeds(doc["fits"])

    out = _copy(saved_run, tmp_path / "seeds", two_seeds)
    doc = load_metrics(out)
    rep = build_report(out, figures=False)
    header = rep.columns
    for row in rep.rows:
        cells = dict(zip(header, row.cells, strict=True))
        stat = doc["seed_summary"][row.method]["metrics"]["calibration.ece"]
        assert cells["ECE"] == f"{stat['mean']:.3f} [{stat['lo']:.3f}, {stat['hi']:.3f}]"
        assert row.seeds == "2 seeds"
    assert any("interval over seeds" in n for n in rep.notes)
    assert "<br><small>[" in render_html(rep)


def test_unknown_sections_are_listed_not_fatal(saved_run, tmp_path):
    def add_fidelity(doc):
        for fit in doc["fits"]:
            fit["fidelity"] = {"k_hat": 0.7, "per_point": [1, 2], "nested": {"a": 1}}

    out = _copy(saved_run, tmp_path / "fidelity", add_fidelity)
    assert "fidelity.k_hat" in render_markdown(build_report(out, figures=False))


def test_missing_fit_files_leave_those_figures_out(reported_run, tmp_path):
    out = _copy(reported_run, tmp_path / "nofits")
    shutil.rmtree(out / "fits")
    with pytest.warns(UserWarning, match="is absent"):
        paths = write_report(out)
    names = {p.name for p in paths}
    # From metrics.json alone: runtime, reliability, predictive sd.
    assert {"summary_runtime.png", "reliability.png", "predictive_sd.png"} <= names
    for name in ("elbo_traces.png", "weight_sd.png", "nuts_trace.png", "nuts_rank.png"):
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


# --------------------------------------------------------------------------- figures


def test_figures_are_deterministic_pngs():
    rng = np.random.default_rng(0)
    spread = {
        m: {
            "pred_mean": rng.uniform(size=50).tolist(),
            "pred_sd": rng.uniform(0, 0.2, size=50).tolist(),
            "pred_sd_mean": 0.1,
        }
        for m in ("nuts", "advi", "mystery")
    }
    one = figs.png_bytes(figs.predictive_sd_figure(spread))
    two = figs.png_bytes(figs.predictive_sd_figure(spread))
    assert one == two and one[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"tIME" not in one and b"Software" not in one
    # One colour per method, everywhere; a spare style for names not registered.
    assert figs.method_style("advi")["color"] != figs.method_style("nuts")["color"]
    assert figs.method_style("mystery") == figs.method_style("mystery")


# --------------------------------------------------------------------------- browser

_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const table = document.getElementById("summary-table");
  const out = document.createElement("pre");
  out.id = "bnn-check";
  out.textContent = JSON.stringify({
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    widths: images.map(i => i.naturalWidth),
    summary_rows: table ? table.tBodies[0].rows.length : -1,
    summary_visible: table ? table.getBoundingClientRect().height > 0 : false,
  });
  document.body.appendChild(out);
});
</script>
"""


def _chromium() -> str:
    """Debian's chromium; installed with apt-get when absent and we are root."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "chromium is not installed and cannot be (needs root and apt-get); .ci/run installs it"
        )
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "fonts-dejavu-core"]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True)
        subprocess.run(cmd, capture_output=True, check=True)
    return shutil.which("chromium") or pytest.fail("apt-get installed no chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    return _chromium()


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


def check_in_browser(chromium: str, html: Path, tmp: Path, screenshot: Path) -> dict:
    """Load a report in headless chromium: what it rendered, and a screenshot."""
    probe = tmp / "probe.html"
    probe.write_text(html.read_text().replace("</body>", _CHECK + "</body>"))
    dom = _browse(chromium, probe, tmp, "--dump-dom").stdout
    found = re.search(r'<pre id="bnn-check">(.*?)</pre>', dom, re.S)
    assert found, f"the check script did not run; chromium printed: {dom[:500]}"
    _browse(chromium, html, tmp, "--window-size=1600,2600", f"--screenshot={screenshot}")
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_report_renders_in_a_real_browser(reported_run, chromium, tmp_path):
    shot = tmp_path / "screenshot.png"
    seen = check_in_browser(chromium, reported_run / "report.html", tmp_path, shot)
    assert seen["summary_rows"] == 3 and seen["summary_visible"]
    assert seen["images"] == len(FIGURE_FILES) and seen["broken"] == []
    assert min(seen["widths"]) > 300
    assert shot.is_file() and shot.stat().st_size > 20_000


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
