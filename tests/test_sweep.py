"""Sweeps: grid files are checked key by key; cells are ordinary results folders."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bnn_models.cli import main
from bnn_models.errors import BadInput
from bnn_models.executor import SerialExecutor
from bnn_models.report import build_scaling
from bnn_models.schema import load_metrics
from bnn_models.sweep import load_grid, parse_grid, run_sweep

GRID = """
methods = ["advi"]
seeds = 2
hidden = [3]
quick = true
reference = "none"
[[datasets]]
name = "teacher"
n_train = [100, 150]
n_test = 50
[set.advi]
max_iter = 600
draws = 50
window = 100
"""


def test_a_grid_file_is_cut_into_cells(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    grid = load_grid(path)
    assert [c.folder for c in grid.cells] == ["teacher-n100-h3", "teacher-n150-h3"]
    assert grid.seeds == [0, 1] and grid.methods == ["advi"] and grid.n_fits == 4
    assert grid.overrides == {"advi": {"max_iter": 600, "draws": 50, "window": 100}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture"}], "sedes": 2},
            "unknown key 'sedes'",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture"}], "seeds": "3"},
            "key 'seeds' is '3'",
        ),
        ({"methods": ["advi"], "datasets": []}, "key 'datasets' is []"),
        ({"methods": [], "datasets": [{"name": "rupture"}]}, "key 'methods' is []"),
        ({"methods": ["advi"], "datasets": [{"name": "mnist"}]}, "key 'name' is 'mnist'"),
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture", "n_train": [100]}]},
            "'n_train' is for the teacher data only",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "n_trian": 5}]},
            "datasets[0]: unknown key 'n_trian'",
        ),
        ({"methods": ["advi"], "datasets": [{"name": "teacher"}], "hidden": [0]}, "key 'hidden'"),
        ({"methods": ["advi"], "datasets": [{"name": "teacher"}], "quick": "yes"}, "key 'quick'"),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "shift": "bump-height"}]},
            "datasets[0]: key 'shift' is for the rupture data only, not 'teacher'",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture", "shift": "tilt"}]},
            "key 'shift' is 'tilt'",
        ),
        # seeds: a count >= 1, or seeds in [0, 2**32 - 1] (PyMC's range)
        ({"methods": ["advi"], "datasets": [{"name": "teacher"}], "seeds": 0}, "key 'seeds' is 0"),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "seeds": [0, -1]},
            "key 'seeds' is [0, -1]; expected an integer in [0, 2**32 - 1]",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "seeds": [2**32]},
            "key 'seeds' is [4294967296]",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "seed": [1, -2]}]},
            "datasets[0]: key 'seed' is [1, -2]",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "seed": -2}]},
            "datasets[0]: key 'seed' is -2",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "n_train": 0}]},
            "datasets[0]: key 'n_train' is 0",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "n_test": 0}]},
            "datasets[0]: key 'n_test' is 0",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher", "hidden": [4, 0]}]},
            "datasets[0]: key 'hidden' is [4, 0]",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture", "rebalance": "yes"}]},
            "datasets[0]: key 'rebalance' is 'yes'",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "rupture", "label": 1.5}]},
            "datasets[0]: key 'label' is 1.5",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "time_limit": 0},
            "key 'time_limit' is 0",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "time_limit": float("nan")},
            "key 'time_limit' is nan",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "reference": "some"},
            "key 'reference' is 'some'",
        ),
        (
            {"methods": ["advi"], "datasets": [{"name": "teacher"}], "set": {"advi": 3}},
            "key 'set' is {'advi': 3}",
        ),
    ],
)
def test_a_bad_grid_names_the_key_and_the_value(raw, message):
    with pytest.raises(BadInput, match="^grid: .*" + re.escape(message)):
        parse_grid(raw)


def test_a_bad_grid_file_exits_2_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text("methods = [advi\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", "serial"]) == 2
    assert f"{path}: not valid TOML" in capsys.readouterr().err
    path.write_text(GRID.replace("seeds = 2", "seeds = 2\nworkers = 4"))
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", "serial"]) == 2
    assert "unknown key 'workers'" in capsys.readouterr().err
    assert not out.exists()


def test_data_seeds_and_shifts_make_cells_of_their_own():
    grid = parse_grid(
        {
            "methods": ["advi"],
            "datasets": [
                {"name": "teacher", "n_train": 200, "seed": [0, 1]},
                {"name": "rupture", "shift": "normal-stress"},
            ],
        }
    )
    assert [c.folder for c in grid.cells] == [
        "teacher-n200-d0-h12",
        "teacher-n200-d1-h12",
        "rupture-normal-stress-h12",
    ]
    assert [c.dataset.get("seed") for c in grid.cells] == [0, 1, None]
    assert grid.cells[2].dataset["shift"] == "normal-stress"


def test_the_options_describe_the_same_grid_as_the_file(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    from bnn_models.cli import _grid_from_options, build_parser

    args = build_parser().parse_args(
        ["sweep", "--out", "x", "--dataset", "teacher", "--n-train", "100,150", "--hidden", "3"]
        + ["--methods", "advi", "--seeds", "2", "--quick"]
    )
    options = parse_grid(_grid_from_options(args))
    assert [c.folder for c in options.cells] == [c.folder for c in load_grid(path).cells]
    assert options.seeds == [0, 1] and options.quick


def test_a_sweep_writes_one_results_folder_per_cell_and_resumes_without_refitting(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    grid = load_grid(path)
    lines: list[str] = []
    index = run_sweep(grid, tmp_path / "out", executor=SerialExecutor(), log=lines.append)
    assert index["ran"] == 4 and [c["folder"] for c in index["cells"]] == [
        "teacher-n100-h3",
        "teacher-n150-h3",
    ]
    for cell, n_train in zip(index["cells"], (100, 150), strict=True):
        doc = load_metrics(tmp_path / "out" / cell["folder"])
        assert doc["run"]["dataset"]["n_train"] == n_train
        assert [(f["method"], f["seed"], f["status"]) for f in doc["fits"]] == [
            ("advi", 0, "ok"),
            ("advi", 1, "ok"),
        ]
        assert {f["config"]["n_hidden"] for f in doc["fits"]} == {3}
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["fits"] == 4
    # The cost-growth report of the real fits: one line along the rows, its slope finite.
    rep = build_scaling(tmp_path / "out", figures=False)
    (line,) = rep.slopes.itertuples(index=False)
    assert (line.axis, line.start, line.stop, line.held_value) == ("rows", 100, 150, 3)
    assert np.isfinite(line.total_s) and np.isfinite(line.grad_evals)
    again = run_sweep(
        grid, tmp_path / "out", executor=SerialExecutor(), resume=True, log=lines.append
    )
    assert again["ran"] == 0
