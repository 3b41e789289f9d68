"""The bnn-bench command: a tiny run end to end, its metrics.json, resume and bad input."""

from __future__ import annotations

import json

import pytest

from bnn_models.bench import SCHEMA_VERSION, load_metrics
from bnn_models.cli import main

TINY_SET = [
    "--set",
    "advi.max_iter=1200",
    "--set",
    "advi.window=200",
    "--set",
    "advi.draws=100",
]


def _tiny_run_args(out) -> list[str]:
    """Two seeds of a tiny ADVI fit on small teacher data."""
    teacher = ["--dataset", "teacher", "--n-train", "200", "--n-test", "100"]
    return [
        "run",
        *teacher,
        "--methods",
        "advi",
        "--hidden",
        "4",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
        *TINY_SET,
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return main(_tiny_run_args(out)), out


def test_run_writes_versioned_metrics(tiny_run, capsys):
    code, out = tiny_run
    assert code == 0
    doc = load_metrics(out)
    assert doc["schema_version"] == SCHEMA_VERSION
    run = doc["run"]
    for key in ("commit", "machine", "versions", "seeds", "dataset", "created"):
        assert key in run
    assert run["seeds"] == [0, 1] and run["dataset"]["sha256"]
    assert [f["seed"] for f in doc["fits"]] == [0, 1]
    fit = doc["fits"][0]
    for section in ("runtime", "elbo", "spread", "calibration"):
        assert isinstance(fit[section], dict), section
    assert (out / fit["fit_file"]).is_file()
    summary = doc["seed_summary"]["advi"]
    assert summary["n_seeds"] == 2 and "calibration.ece" in summary["metrics"]
    assert not list(out.glob(".*.tmp"))


def test_resume_skips_finished_fits(tiny_run, capsys):
    _, out = tiny_run
    before = json.loads((out / "metrics.json").read_text())
    code = main([*_tiny_run_args(out), "--resume"])
    assert code == 0
    assert capsys.readouterr().out.count("resumed") == 2
    after = json.loads((out / "metrics.json").read_text())
    assert after["fits"] == before["fits"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--methods", "nuts,hmc"], "unknown method 'hmc'"),
        (["run", "--methods", "advi", "--hidden", "0"], "hidden width must be >= 1"),
        (["run", "--methods", "advi", "--set", "advi.max_iter=0"], "max_iter must be >= 1"),
        (["run", "--methods", "nuts", "--set", "nuts.chains=-1"], "chains must be >= 1"),
        (["run", "--data", "/nonexistent/file.csv"], "/nonexistent/file.csv"),
        (["run", "--data", "BAD", "--label", "y"], "row 4, column 'y': label 7 is not 0 or 1"),
        (["run", "--data", "BAD", "--label", "zz"], "label column 'zz' not found"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(args, message, capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,7\n")
    args = [str(bad) if a == "BAD" else a for a in args]
    code = main(
        [
            *args,
            "--dataset",
            "teacher",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_malformed_seeds_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--seeds", "1,x"])
    assert info.value.code == 2 and "--seeds" in capsys.readouterr().err
