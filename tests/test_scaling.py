"""The cost-growth report of a sweep: slopes against growth laws made by hand, medians over
seeds, failed fits left out and named, the report files and the CLI on a sweep folder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bnn_models.cli import main
from bnn_models.errors import ResultsError
from bnn_models.io import write_json
from bnn_models.report import build_scaling, write_scaling_report
from bnn_models.report.scaling import coverage_table, point_table, slope_table
from bnn_models.schema import SCHEMA, SCHEMA_VERSION
from bnn_models.sweep import SWEEP_SCHEMA, parse_grid

ROWS = (400, 1600, 6400)
WIDTHS = (4, 12, 48)


def _fit(method: str, family: str, seed: int, n_train: int, width: int, status="ok") -> dict:
    """A fit entry whose numbers follow laws made by hand (slopes known exactly).

    Time: 0.01 * rows * width^0.5 * (1 + seed) (seeds 0 and 2 -> median factor 2);
    gradient evaluations: 10 * width^2; MCMC only: ESS/s = 1e4 / rows, gradients per draw
    = 7; VI only: iterations = 50 * rows^0.25. RMSE to truth: 1 / sqrt(rows).
    """
    runtime: dict = {
        "total_s": 0.01 * n_train * width**0.5 * (1 + seed),
        "grad_evals": 10 * width**2,
    }
    elbo = None
    if family == "mcmc":
        runtime |= {"ess_bulk_per_s": 1e4 / n_train, "grad_per_draw": 7.0}
    else:
        elbo = {"iterations": 50 * n_train**0.25, "converged": True}
    return {
        "method": method,
        "family": family,
        "label": method.upper(),
        "seed": seed,
        "status": status,
        "error": None if status == "ok" else "FitTimeout: over 5 s",
        "config": {"seed": seed, "n_hidden": width},
        "config_hash": f"{method}{seed}{width}",
        "runtime": runtime if status == "ok" else {},
        "elbo": elbo,
        "fidelity": {
            "truth_rmse": 1 / math.sqrt(n_train),
            # MCMC covers at the nominal rates; VI at 30% and 60%, half as wide
            "truth_coverage_50": 0.5 if family == "mcmc" else 0.3,
            "truth_coverage_90": 0.9 if family == "mcmc" else 0.6,
            "truth_width_50": 0.2 if family == "mcmc" else 0.1,
            "truth_width_90": 0.4 if family == "mcmc" else 0.2,
            # the cell's reference posterior: the same in every fit of the cell
            "truth_coverage_50_ref": 0.45,
            "truth_coverage_90_ref": 0.85,
            "truth_width_50_ref": 0.25,
            "truth_width_90_ref": 0.5,
        },
    }


def _write_sweep(tmp_path, cells: dict[str, tuple[dict, list[dict]]], quick: bool) -> object:
    """A sweep folder: ``cells`` maps each folder to its dataset record and fit entries
    (methods mc and vi, seeds 0 and 2)."""
    for folder, (dataset, fits) in cells.items():
        doc = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run": {
                "dataset": {"n_features": 8, **dataset},
                "methods": ["mc", "vi"],
                "seeds": [0, 2],
                "profile": "quick" if quick else "default",
                "machine": {"cpu": "test", "cpu_count": 2},
            },
            "fits": fits,
        }
        write_json(tmp_path / folder / "metrics.json", doc)
    index = {
        "schema": SWEEP_SCHEMA,
        "schema_version": 1,
        "commit": "abc",
        "created": "2026-11-30T00:00:00+00:00",
        "command": "bnn-bench sweep grid.toml",
        "grid": {"quick": quick},
        "cells": [{"folder": folder} for folder in cells],
    }
    write_json(tmp_path / "sweep.json", index)
    return tmp_path


def _sweep(tmp_path, failed: tuple = ()) -> object:
    """A sweep folder: a rows axis at width 12 and a width axis at 1600 rows."""
    cells = {}
    for n_train, width in sorted({(n, 12) for n in ROWS} | {(1600, w) for w in WIDTHS}):
        fits = [
            _fit(m, fam, s, n_train, width, "failed" if (m, s, n_train, width) in failed else "ok")
            for m, fam in (("mc", "mcmc"), ("vi", "vi"))
            for s in (0, 2)
        ]
        dataset = {"name": "teacher", "n_train": n_train}
        cells[f"teacher-n{n_train}-h{width}"] = (dataset, fits)
    return _write_sweep(tmp_path, cells, quick=True)


def _slope(rep, axis: str, method: str, quantity: str) -> float:
    s = rep.slopes
    row = s[(s["axis"] == axis) & (s["method"] == method)]
    assert len(row) == 1
    return float(row[quantity].iloc[0])


def test_slopes_recover_the_growth_laws_made_by_hand(tmp_path):
    rep = build_scaling(_sweep(tmp_path), figures=False)
    # time ~ rows^1 * width^0.5; gradients ~ width^2 (not rows); ESS/s ~ rows^-1 (MCMC)
    for method in ("mc", "vi"):
        assert _slope(rep, "rows", method, "total_s") == pytest.approx(1.0, abs=1e-12)
        assert _slope(rep, "width", method, "total_s") == pytest.approx(0.5, abs=1e-12)
        assert _slope(rep, "width", method, "grad_evals") == pytest.approx(2.0, abs=1e-12)
        assert _slope(rep, "rows", method, "grad_evals") == pytest.approx(0.0, abs=1e-12)
    assert _slope(rep, "rows", "mc", "ess_bulk_per_s") == pytest.approx(-1.0, abs=1e-12)
    assert _slope(rep, "rows", "vi", "iterations") == pytest.approx(0.25, abs=1e-12)
    assert np.isnan(_slope(rep, "rows", "vi", "ess_bulk_per_s"))  # VI has no ESS
    assert np.isnan(_slope(rep, "rows", "mc", "iterations"))  # MCMC has no ELBO trace
    # Every seed is a point: seeds 0 and 2 lie a factor 3 apart at every size, so each
    # lies log10(3)/2 off the line, and the slope's standard error is that spread's:
    # sqrt(SSR / (n - 2) / Sxx) over 3 sizes x 2 seeds.
    s = rep.slopes
    x = np.log10(np.repeat(ROWS, 2))
    sxx = float(((x - x.mean()) ** 2).sum())
    expected = math.sqrt(len(x) * (math.log10(3) / 2) ** 2 / (len(x) - 2) / sxx)
    assert s.loc[s["axis"] == "rows", "total_s_se"].to_numpy() == pytest.approx(expected)
    assert set(s.loc[s["axis"] == "rows", "points"]) == {6}  # fits, not grid points
    assert set(s["held_value"][s["axis"] == "rows"]) == {12}
    assert set(s["held_value"][s["axis"] == "width"]) == {1600}


def test_each_point_is_the_median_over_seeds(tmp_path):
    rep = build_scaling(_sweep(tmp_path), figures=False)
    pts = rep.points
    one = pts[(pts["method"] == "mc") & (pts["n_train"] == 400) & (pts["n_hidden"] == 12)]
    # seeds 0 and 2: factors 1 and 3, median 2 -> 0.01 * 400 * sqrt(12) * 2
    assert one["total_s"].iloc[0] == pytest.approx(0.01 * 400 * math.sqrt(12) * 2)
    assert one["seeds"].iloc[0] == 2
    assert one["n_params"].iloc[0] == (8 + 2) * 12 + 1  # W0, b0, W1 per unit, and b1


def test_a_failed_fit_is_left_out_and_named(tmp_path):
    rep = build_scaling(_sweep(tmp_path, failed={("mc", 2, 400, 12)}), figures=False)
    pts = rep.points
    one = pts[(pts["method"] == "mc") & (pts["n_train"] == 400) & (pts["n_hidden"] == 12)]
    assert one["seeds"].iloc[0] == 1
    assert one["total_s"].iloc[0] == pytest.approx(0.01 * 400 * math.sqrt(12))
    assert any("mc seed 2 in teacher-n400-h12 (failed)" in n for n in rep.notes)


def test_the_tables_show_the_slopes_and_every_point(tmp_path):
    rep = build_scaling(_sweep(tmp_path), figures=False)
    table = slope_table(rep.slopes)
    row = table[(table["Method"] == "MC") & table["Along"].str.startswith("training rows")]
    assert row["Along"].iloc[0] == "training rows 400-6,400"
    assert row["Held"].iloc[0] == "hidden width 12 (teacher)"
    assert row["end-to-end time (s)"].iloc[0] == "1.00 ± 0.24"  # the seeds' spread
    assert row["optimiser iterations"].iloc[0] == "n/a"
    points = point_table(rep.points)
    assert len(points) == 2 * 5  # two methods at five cells
    assert set(points["RMSE to truth"]) == {f"{1 / math.sqrt(n):.4f}" for n in ROWS}


def test_the_report_files_and_the_cli_on_a_sweep_folder(tmp_path, capsys):
    folder = _sweep(tmp_path)
    paths = write_scaling_report(folder)
    assert [p.name for p in paths] == [
        "scaling.html",
        "scaling.md",
        "scaling_rows.png",
        "scaling_width.png",
    ]
    html = (folder / "scaling.html").read_text()
    assert "Growth with training rows" in html and "data:image" not in html
    for name in ("scaling_rows.png", "scaling_width.png"):  # by reference, each file there
        assert f'<img src="figures/{name}"' in html and (folder / "figures" / name).is_file()
    md = (folder / "scaling.md").read_text()
    assert "(figures/scaling_rows.png)" in md and "| MC " in md
    # Each cell's own report, linked (relative, into the cell's folder).
    for cell in (c for c in folder.iterdir() if (c / "metrics.json").is_file()):
        assert f'<a href="{cell.name}/report.html">{cell.name}</a>' in html
        assert f"[{cell.name}]({cell.name}/report.md)" in md
    # The same results, the same bytes: page, Markdown and figures (drawn from the cells'
    # metrics.json alone, so no fit is needed to re-render a sweep's page).
    names = [p.name for p in paths]
    before = {n: (folder / n).read_bytes() for n in names[:2]}
    before |= {n: (folder / "figures" / n).read_bytes() for n in names[2:]}
    assert main(["report", str(folder)]) == 0
    assert "scaling.html" in capsys.readouterr().out
    after = {n: (folder / n).read_bytes() for n in names[:2]}
    after |= {n: (folder / "figures" / n).read_bytes() for n in names[2:]}
    assert after == before


def test_a_broken_sweep_index_is_named(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ResultsError, match="sweep.json: field 'schema' is 'other'"):
        build_scaling(tmp_path)


def test_a_rows_axis_and_a_width_axis_share_their_crossing_cell():
    grid = parse_grid(
        {
            "methods": ["advi"],
            "datasets": [
                {"name": "teacher", "n_train": [400, 1600, 6400], "hidden": [12]},
                {"name": "teacher", "n_train": 1600, "hidden": [4, 12, 48]},
            ],
        }
    )
    assert [c.folder for c in grid.cells] == [
        "teacher-n400-h12",
        "teacher-n1600-h12",
        "teacher-n6400-h12",
        "teacher-n1600-h4",
        "teacher-n1600-h48",
    ]


def test_the_committed_scaling_grid_has_both_axes():
    from pathlib import Path

    from bnn_models.sweep import load_grid

    grid = load_grid(Path(__file__).parents[1] / "grids" / "scaling.toml")
    rows = sorted(c.dataset["n_train"] for c in grid.cells if c.n_hidden == 12)
    widths = sorted(c.n_hidden for c in grid.cells if c.dataset["n_train"] == 1600)
    assert rows == [400, 1600, 6400, 25600] and widths == [4, 12, 24, 48, 96]
    assert len(grid.cells) == 8 and grid.methods == ["nuts", "advi", "fullrank_advi"]


def test_coverage_of_the_truth_is_pooled_over_every_fit(tmp_path):
    rep = build_scaling(_sweep(tmp_path), figures=False)
    table = coverage_table(rep.frame).set_index("Method")
    assert table.loc["MC", "Coverage of 90% intervals"] == "90.0% [90.0, 90.0]"
    assert table.loc["VI", "Coverage of 50% intervals"] == "30.0% [30.0, 30.0]"
    assert table.loc["VI", "Width of 90% intervals"] == "0.200 [0.200, 0.200]"
    assert table.loc["MC", "Fits"] == "10" and table.loc["MC", "Data sets"] == "5"
    assert table.loc["VI", "Own diagnostics pass"] == "10 of 10"
    ref = table.loc["reference posterior"]  # once per dataset, not once per fit
    assert ref["Coverage of 90% intervals"] == "85.0% [85.0, 85.0]" and ref["Data sets"] == "5"
    assert ref["Width of 50% intervals"] == "0.250 [0.250, 0.250]" and ref["Fits"] == "-"
    write_scaling_report(tmp_path)
    assert "## Coverage of the true probabilities" in (tmp_path / "scaling.md").read_text()


def test_the_header_names_each_commit_a_cell_was_fitted_at(tmp_path):
    folder = _sweep(tmp_path)
    assert dict(build_scaling(folder, figures=False).header)["Commit"] == "abc"
    again = folder / "teacher-n1600-h48" / "metrics.json"
    doc = json.loads(again.read_text())
    doc["run"]["commit"] = "def"  # that cell fitted again at another commit
    write_json(again, doc)
    commit = dict(build_scaling(folder, figures=False).header)["Commit"]
    assert commit == (
        "abc (teacher-n400-h12, teacher-n1600-h4, teacher-n1600-h12, teacher-n6400-h12); "
        "def (teacher-n1600-h48)"
    )


def _shift_sweep(tmp_path) -> object:
    """Two shifts of the same files, one cell each: method 'mc' flags the shifted rows
    (AUROC 0.8 + 0.01 * seed), 'vi' does not (0.5)."""
    cells = {}
    for shift in ("bump-height", "normal-stress"):
        fits = []
        for m, fam in (("mc", "mcmc"), ("vi", "vi")):
            for s in (0, 2):
                fit = _fit(m, fam, s, 1200, 12)
                fit["fidelity"] = {}
                fit["shift"] = {
                    "in_accuracy": 0.8,
                    "shifted_accuracy": 0.7 if shift == "bump-height" else 0.9,
                    "auroc_sd": 0.8 + 0.01 * s if m == "mc" else 0.5,
                    "auroc_mutual_info": 0.6,
                }
                fits.append(fit)
        dataset = {"name": "rupture", "n_train": 1200, "shift": {"name": shift}}
        cells[f"rupture-{shift}-h12"] = (dataset, fits)
    return _write_sweep(tmp_path, cells, quick=False)


def test_a_shift_sweep_keeps_each_shift_apart_and_is_titled_by_it(tmp_path):
    from bnn_models.report.scaling import shift_table

    rep = build_scaling(_shift_sweep(tmp_path), figures=False)
    assert rep.title == "bnn-bench: uncertainty under dataset shift (bump-height, normal-stress)"
    # two shifts of the same files are two grid points, each pooling its own 2 seeds
    assert sorted(rep.points["dataset"].unique()) == [
        "rupture (bump-height shift)",
        "rupture (normal-stress shift)",
    ]
    assert set(rep.points["seeds"]) == {2}
    table = shift_table(rep.frame).set_index(["Shift", "Method"])
    assert table.loc[("bump-height", "MC"), "AUROC by sd"] == "0.810 [0.800, 0.820]"
    assert table.loc[("normal-stress", "VI"), "Accuracy shifted"] == "90.0% [90.0%, 90.0%]"
    assert table.loc[("bump-height", "VI"), "Log loss in"] == "n/a"
    (tmp_path / "scaling.md").write_text("an earlier version named every sweep's report so")
    # Named by what it holds; the misnamed file of an earlier version is gone.
    assert [p.name for p in write_scaling_report(tmp_path)][:2] == ["shift.html", "shift.md"]
    assert not (tmp_path / "scaling.md").exists()
    md = (tmp_path / "shift.md").read_text()
    assert "## Quality and flagging under each shift" in md
    assert "Slopes" not in md and "no growth slopes" in md


def test_a_sweep_without_an_axis_is_titled_by_its_coverage(tmp_path):
    folder = _sweep(tmp_path)
    index = json.loads((folder / "sweep.json").read_text())
    index["cells"] = [{"folder": "teacher-n1600-h12"}]  # one point: no axis to fit
    write_json(folder / "sweep.json", index)
    rep = build_scaling(folder, figures=False)
    assert rep.title == "bnn-bench: coverage of the true probabilities over 1 dataset"
    assert rep.slopes.empty and coverage_table(rep.frame) is not None
    from bnn_models.report.scaling import shift_table

    assert shift_table(rep.frame) is None


def test_a_fit_failing_its_own_diagnostics_is_counted_where_its_numbers_are_shown(tmp_path):
    folder = _sweep(tmp_path)
    cell = folder / "teacher-n1600-h12" / "metrics.json"
    doc = json.loads(cell.read_text())
    vi = next(f for f in doc["fits"] if f["method"] == "vi" and f["seed"] == 2)
    vi["convergence"] = {"fired_at": None, "cap": 20000, "max_iter": 20000}  # ran to its cap
    mc = next(f for f in doc["fits"] if f["method"] == "mc" and f["seed"] == 0)
    mc["diagnostics"] = {"rhat_max_pred": 1.05, "ess_bulk_min_pred": 900.0}
    write_json(cell, doc)
    rep = build_scaling(folder, figures=False)
    table = coverage_table(rep.frame).set_index("Method")
    assert table.loc["VI", "Own diagnostics pass"] == "9 of 10"
    assert table.loc["MC", "Own diagnostics pass"] == "9 of 10"
    assert table.loc["reference posterior", "Own diagnostics pass"] == "-"
    points = point_table(rep.points)
    at = points[(points["Rows"] == "1,600") & (points["Width"] == "12")].set_index("Method")
    assert at.loc["VI", "Own diagnostics pass"] == "1 of 2"
    assert at.loc["MC", "Own diagnostics pass"] == "1 of 2"
    assert set(points["Own diagnostics pass"]) == {"2 of 2", "1 of 2"}


def test_the_header_names_the_settings_over_the_defaults(tmp_path):
    folder = _sweep(tmp_path)
    assert dict(build_scaling(folder, figures=False).header)["Settings"] == (
        "the methods' defaults"
    )
    for cell in folder.glob("*/metrics.json"):
        doc = json.loads(cell.read_text())
        doc["run"]["overrides"] = {"vi": {"max_iter": 80000}}
        write_json(cell, doc)
    header = dict(build_scaling(folder, figures=False).header)
    assert header["Settings"] == "the methods' defaults, but vi max_iter=80000"
