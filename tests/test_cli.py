"""The bnn-bench command: a tiny run end to end, its metrics.json, resume and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnn_models import cli
from bnn_models.cli import SeedSpec, main
from bnn_models.inference import METHODS
from bnn_models.schema import SCHEMA_VERSION, load_metrics
from tests.conftest import TINY, tiny_set


def _tiny_run_args() -> list[str]:
    """Two seeds of a tiny ADVI fit on small teacher data, into the default folder."""
    teacher = ["--dataset", "teacher", "--n-train", "200", "--n-test", "100"]
    return [
        "run",
        *teacher,
        "--methods",
        "advi",
        "--hidden",
        str(TINY["advi"]["n_hidden"]),
        "--seeds",
        "2",
        "--no-progress",
        "--no-report",
        *tiny_set("advi"),
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The run, from a fresh working folder and without --out: it goes to runs/teacher."""
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        code = main(_tiny_run_args())
    return code, cwd


def test_run_writes_versioned_metrics_to_the_default_folder(tiny_run, capsys):
    code, cwd = tiny_run
    assert code == 0
    assert sorted(p.name for p in cwd.iterdir()) == ["runs"]  # nothing else written
    out = cwd / "runs" / "teacher"
    doc = load_metrics(out)
    assert doc["schema_version"] == SCHEMA_VERSION
    run = doc["run"]
    for key in ("commit", "machine", "versions", "seeds", "dataset", "created"):
        assert key in run
    assert run["seeds"] == [0, 1] and run["dataset"]["sha256"]
    assert [f["seed"] for f in doc["fits"]] == [0, 1]
    fit = doc["fits"][0]
    assert (fit["method"], fit["family"], fit["label"]) == ("advi", "vi", METHODS["advi"].label)
    assert fit["config"]["max_iter"] == TINY["advi"]["max_iter"]  # --set strings converted
    assert isinstance(fit["config"]["max_iter"], int)
    assert fit["config"]["n_hidden"] == TINY["advi"]["n_hidden"]
    for section in ("runtime", "elbo", "spread", "calibration"):
        assert isinstance(fit[section], dict), section
    assert fit["diagnostics"] is None  # no chains to compare
    assert (out / fit["fit_file"]).is_file()
    summary = doc["seed_summary"]["advi"]
    assert summary["n_seeds"] == 2 and "calibration.ece" in summary["metrics"]
    assert not list(out.glob(".*.tmp"))


def test_resume_skips_finished_fits(tiny_run, capsys):
    _, cwd = tiny_run
    out = cwd / "runs" / "teacher"
    before = json.loads((out / "metrics.json").read_text())
    code = main([*_tiny_run_args(), "--out", str(out), "--resume"])
    assert code == 0
    assert capsys.readouterr().out.count("resumed") == 2
    after = json.loads((out / "metrics.json").read_text())
    assert after["fits"] == before["fits"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--methods", "nuts,hmc"], "--methods: unknown method 'hmc'"),
        (["run", "--methods", "advi", "--hidden", "0"], "--hidden: hidden width must be >= 1"),
        (
            ["run", "--methods", "advi", "--set", "advi.max_iter=0"],
            "advi: max_iter must be >= 1, got 0",
        ),
        (
            ["run", "--methods", "nuts", "--set", "nuts.chains=-1"],
            "nuts: chains must be >= 1, got -1",
        ),
        (
            ["run", "--methods", "advi", "--set", "advi.max_iter=lots"],
            "--set advi.max_iter: expected int, got 'lots'",
        ),
        (
            ["run", "--methods", "advi", "--set", "nuts.draws=10"],
            "--set: method 'nuts' is not among --methods advi",
        ),
        (["run", "--methods", ","], "--methods: empty list"),
        (["run", "--methods", "advi", "--time-limit", "0"], "--time-limit: must be a finite"),
        (["run", "--methods", "advi", "--time-limit", "nan"], "seconds > 0, got nan"),
        (["run", "--methods", "advi", "--time-limit", "inf"], "seconds > 0, got inf"),
        # seeds: PyMC takes [0, 2**32 - 1]; refused before anything runs, not inside a fit
        (
            ["run", "--methods", "advi", "--seed", "-1"],
            "--seed: a seed must be an integer in [0, 2**32 - 1], got -1",
        ),
        (["run", "--methods", "advi", "--seed", str(2**32)], "got 4294967296"),
        (
            ["run", "--methods", "advi", "--seed", str(2**32 - 1), "--seeds", "2"],
            "--seeds: a seed must be an integer in [0, 2**32 - 1], got 4294967296",
        ),
        (["run", "--methods", "advi", "--seeds", "3,-1"], "--seeds: a seed must be"),
        (["run", "--methods", "advi", "--data-seed", "-3"], "--data-seed: a seed must be"),
        (["run", "--methods", "advi", "--n-train", "0"], "teacher: sizes must be >= 1"),
        (["run", "--methods", "advi", "--n-test", "0"], "teacher: sizes must be >= 1"),
        (["run", "--methods", "advi", "--workers", "0"], "--workers: must be an integer >= 1"),
        (
            ["run", "--methods", "advi", "--scheduler", "auto", "--workers", "-2"],
            "--workers: must be an integer >= 1, got -2",
        ),
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
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and "internal error" not in err  # the message alone
    assert not (tmp_path / "o" / "metrics.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reference", "--quick", "--seed", "-1"], "reference: seed: a seed must be an integer"),
        (["reference", "--seed", str(2**32)], "reference: seed: a seed must be"),
        (["reference", "--chains", "1"], "reference: chains must be >= 2 for R-hat, got 1"),
        (["reference", "--draws", "0"], "reference: draws must be >= 1, got 0"),
        (["reference", "--tune", "-1"], "reference: tune must be >= 0, got -1"),
        (["sbc", "--sims", "0"], "--sims: must be an integer >= 1, got 0"),
        (["sbc", "--seed", "-1"], "--seed: a seed must be an integer in [0, 2**32 - 1]"),
        (["sbc", "--probes", "0"], "--probes: must be an integer >= 1, got 0"),
        (["sbc", "--hidden", "0"], "--hidden: must be an integer >= 1, got 0"),
        (["sbc", "--workers", "0"], "--workers: must be an integer >= 1, got 0"),
        (["sbc", "--methods", "advi,hmc"], "--methods: unknown method 'hmc'"),
        (["sweep", "--seeds", "-1"], "key 'seeds' is -1; expected an integer >= 1"),
        (["sweep", "--seeds", "0,4294967296"], "expected an integer in [0, 2**32 - 1]"),
        (["sweep", "--seeds", "0"], "key 'seeds' is 0"),
        (["sweep", "--hidden", "0"], "key 'hidden' is [0]"),
        (["sweep", "--n-train", "5"], "key 'n_train' is [5]; expected an integer >= 10"),
        (["sweep", "--workers", "0"], "--workers: must be an integer >= 1, got 0"),
        (["check", "--baseline", "BASELINE", "--seeds", "0"], "--seeds: 0 is not between 1"),
    ],
)
def test_bad_options_of_every_command_exit_2_and_write_nothing(args, message, capsys, tmp_path):
    """Each command's counts, seeds and limits are checked before anything runs."""
    out = tmp_path / "o"
    extra = {
        "reference": ["--dataset", "teacher", "--cache", str(out)],
        "sbc": ["--out", str(out), "--no-progress", "--no-report"],
        "sweep": ["--dataset", "teacher", "--methods", "advi", "--out", str(out)],
        "check": [],
    }[args[0]]
    baseline = str(Path(__file__).parents[1] / "results" / "baseline_quick.json")
    code = main([*(baseline if a == "BASELINE" else a for a in args), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,x", "is neither a positive count nor a comma-separated list"),
        ("0", "a count must be >= 1"),
        ("-2", "a count must be >= 1"),
        ("1,1", "is empty or repeats a seed"),
        (",", "is empty or repeats a seed"),
    ],
)
def test_malformed_seeds_exit_2(text, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--seeds", text])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--seeds" in err and message in err


@pytest.mark.parametrize(
    ("text", "first", "seeds"),
    [("3", 0, [0, 1, 2]), ("2", 5, [5, 6]), ("4,1,7", 5, [4, 1, 7]), ("3,", 0, [3])],
)
def test_seeds_are_a_count_from_seed_or_a_list(text, first, seeds):
    args = cli.build_parser().parse_args(["run", "--seeds", text, "--seed", str(first)])
    assert isinstance(args.seeds, SeedSpec) and args.seeds.resolve(args.seed) == seeds
    assert SeedSpec().resolve(9) == [9]  # no --seeds: the one --seed


def test_methods_lists_every_registered_method(capsys):
    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "label", "family"]
    for name, method in METHODS.items():
        (row,) = [line for line in lines[1:] if line.split()[0] == name]
        assert method.label in row and f" {method.family} " in row and method.engine in row


def test_a_bug_exits_1_with_its_traceback(monkeypatch, capsys):
    def broken(args):
        raise KeyError("no such column")

    monkeypatch.setattr(cli, "_cmd_methods", broken)
    assert main(["methods"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 'no such column'" in err
    assert "bnn-bench methods: internal error (a bug, not your input)" in err


def test_the_default_folder_is_ignored_by_git():
    ignore = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().split()
    assert any(line.strip("/") == str(cli.DEFAULT_RUNS) for line in ignore)
