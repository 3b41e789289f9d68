"""``bnn-bench versions``: version-set files, environments, the judges and the report.

Environments are built with stand-in commands (tests never install anything); the
suite's runs are the gate tests' synthetic run folders, whose verdicts are known.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import bnn_models.versions as versions
from bnn_models.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_SET_UNAVAILABLE, main
from bnn_models.errors import BadInput
from bnn_models.versions.compare import judge_quality, judge_timings
from bnn_models.versions.envs import Env, EnvUnavailable, build_env, env_key, installer_message
from bnn_models.versions.report import render_markdown
from bnn_models.versions.spec import VersionSet, load_spec, parse_spec, requirements_for
from bnn_models.versions.suite import SuiteFailed, SuiteRun
from tests.test_gate import _run

_PIP_CONFLICT = """\
Collecting pymc==6.4.0
  Downloading pymc-6.4.0-py3-none-any.whl (9.2 kB)
WARNING: Location 'file:///somewhere/simple/pymc/' is ignored
ERROR: Cannot install pymc-extras==0.15.1 and pymc==6.4.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested pymc==6.4.0
    pymc-extras 0.15.1 depends on pymc<6.4 and >=6.3.0
"""

_SPEC = """\
[suite]
methods = "advi"
seeds = [0, 1, 2]
asv_bench = ""

[[sets]]
name = "pinned"

[[sets]]
name = "new"
pins = { PyMC = "6.4.0" }
no_deps = { pymc_extras = "0.15.1" }
"""


# ------------------------------------------------------------------------------- the file


def test_spec_reads_sets_and_suite(tmp_path: Path):
    path = tmp_path / "v.toml"
    path.write_text(_SPEC)
    spec = load_spec(path)
    assert [s.name for s in spec.sets] == ["pinned", "new"]
    assert spec.baseline.name == "pinned"
    assert spec.sets[1].pins == {"pymc": "6.4.0"}  # names compared as pip does
    assert spec.sets[1].no_deps == {"pymc-extras": "0.15.1"}
    assert spec.suite.seeds == (0, 1, 2) and spec.suite.methods == "advi"
    assert spec.sets[1].changes() == "pymc==6.4.0; pymc-extras==0.15.1 (--no-deps)"


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"sets": [{"name": "a"}]}, "field 'sets' needs at least two"),
        ({"sets": [{"name": "a"}, {"name": "a"}]}, "sets[1].name: 'a' names two sets"),
        ({"sets": [{"name": "a"}, {"name": "b", "pins": {"pymc": 6.4}}]}, "sets[1].pins.pymc"),
        ({"sets": [{"name": "a"}, {"name": "b", "pin": {}}]}, "sets[1].pin: unknown key"),
        ({"suite": {"seeds": [0, 1]}, "sets": [{"name": "a"}, {"name": "b"}]}, "suite.seeds"),
        (
            {"suite": {"timing_factor": 0.5}, "sets": [{"name": "a"}, {"name": "b"}]},
            "timing_factor",
        ),
        ({"suite": {"asv_bench": "("}, "sets": [{"name": "a"}, {"name": "b"}]}, "asv_bench"),
        ({"set": []}, "unknown table 'set'"),
    ],
)
def test_bad_spec_names_file_and_field(doc: dict, needle: str):
    with pytest.raises(BadInput, match=r"v\.toml") as err:
        parse_spec(doc, "v.toml")
    assert needle in str(err.value)


def test_unreadable_spec(tmp_path: Path):
    with pytest.raises(BadInput, match="cannot read"):
        load_spec(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[[sets]\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")


def test_requirements_replace_and_add_pins():
    text = "# pins\nnumpy==2.5.5\nPyMC==6.3.2\npymc-extras==0.15.1\n"
    got = requirements_for(VersionSet("x", {"pymc": "6.4.0", "flowjax": "17.0"}), text)
    assert got.splitlines() == [
        "# pins",
        "numpy==2.5.5",
        "pymc==6.4.0",
        "pymc-extras==0.15.1",  # pymc-extras is not pymc
        "flowjax==17.0",
    ]
    forced = VersionSet("x", {"pymc": "6.4.0"}, {"pymc-extras": "0.15.1"})
    assert "pymc-extras" not in requirements_for(forced, text)  # past the resolver, after it


def test_a_pin_may_name_a_local_wheel(tmp_path: Path):
    wheel = tmp_path / "dist" / "pymc-6.5.0rc1-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"one build")
    raw = {"sets": [{"name": "a"}, {"name": "rc", "pins": {"pymc": "dist/" + wheel.name}}]}
    spec = parse_spec(raw, "v.toml", tmp_path)  # relative to the file's folder
    rc = spec.sets[1]
    assert rc.changes() == f"pymc from {wheel.name}"
    reqs = requirements_for(rc, "pymc==6.3.2\n")
    assert reqs == f"pymc @ {wheel.as_uri()}\n"
    first = env_key("3.12.1", reqs, {})
    wheel.write_bytes(b"another build")  # same name, new content: a new environment
    assert env_key("3.12.1", reqs, {}) != first
    raw["sets"][1]["pins"] = {"pymc": "dist/missing.whl"}
    with pytest.raises(BadInput, match=r"sets\[1\]\.pins\.pymc: no such file"):
        parse_spec(raw, "v.toml", tmp_path)


def test_installer_message_of_a_version_that_does_not_exist():
    out = (
        "ERROR: Ignored the following versions that require a different python version: 0.36\n"
        "ERROR: Could not find a version that satisfies the requirement pymc==6.99.0 (from "
        "versions: " + ", ".join(f"5.{i}.0" for i in range(200)) + ")\n"
        "ERROR: No matching distribution found for pymc==6.99.0\n"
    )
    lines = installer_message(out).splitlines()
    assert lines[0].startswith(
        "ERROR: Could not find a version that satisfies the requirement pymc==6.99.0"
    )
    assert len(lines[0]) <= 300 and lines[0].endswith("...)")
    assert lines[1] == "ERROR: No matching distribution found for pymc==6.99.0"


def test_installer_message_starts_at_the_error():
    msg = installer_message(_PIP_CONFLICT)
    assert msg.startswith("ERROR: Cannot install pymc-extras==0.15.1 and pymc==6.4.0")
    assert "depends on pymc<6.4" in msg
    assert "Downloading" not in msg and "WARNING: Location" not in msg


# -------------------------------------------------------------------------- environments


class _FakeTools:
    """Stand-ins for python, venv and pip: records the commands; pip fails on demand."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, cmd):
        cmd = [str(c) for c in cmd]
        self.calls.append(cmd)
        done = lambda out, rc=0: subprocess.CompletedProcess(cmd, rc, out, "")  # noqa: E731
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[3]) / "bin").mkdir(parents=True)
            return done("")
        if "platform.python_version()" in cmd[-1] and len(cmd) == 3 and "json" not in cmd[-1]:
            return done("3.12.1\n")
        if cmd[1:4] == ["-m", "pip", "install"]:
            if self.fail_on and any(self.fail_on in c for c in cmd):
                return done(_PIP_CONFLICT, 1)
            return done("")
        if cmd[1:4] == ["-m", "pip", "check"]:
            return done(
                "pymc-extras 0.15.1 has requirement pymc<6.4, but you have pymc 6.4.0.\n", 1
            )
        if cmd[1] == "-c":  # the import probe
            return done(json.dumps({"python": "3.12.1", "pymc": "6.4.0"}) + "\n")
        raise AssertionError(cmd)


def test_env_is_built_once_then_reused(tmp_path: Path):
    tools = _FakeTools()
    vset = VersionSet("new", {"pymc": "6.4.0"}, {"pymc-extras": "0.15.1"})
    env = build_env(vset, "pymc==6.3.2\n", tmp_path, python="py", run=tools)
    assert not env.reused and env.versions["pymc"] == "6.4.0"
    assert (env.path / "requirements.txt").read_text() == "pymc==6.4.0\n"
    assert "pymc<6.4" in env.pip_check
    installs = [c for c in tools.calls if c[1:4] == ["-m", "pip", "install"]]
    assert installs[-1][-2:] == ["--no-deps", "pymc-extras==0.15.1"]
    again = build_env(vset, "pymc==6.3.2\n", tmp_path, python="py", run=tools)
    assert again.reused and again.path == env.path
    other = build_env(VersionSet("old"), "pymc==6.3.2\n", tmp_path, python="py", run=tools)
    assert other.path != env.path  # another set of versions, another environment


def test_env_that_cannot_install_carries_pips_message_and_leaves_nothing(tmp_path: Path):
    tools = _FakeTools(fail_on="requirements.txt")
    with pytest.raises(EnvUnavailable) as err:
        build_env(
            VersionSet("new", {"pymc": "6.4.0"}), "pymc==6.3.2\n", tmp_path, python="py", run=tools
        )
    assert err.value.stage == "pip install -r requirements.txt"
    assert "depends on pymc<6.4" in err.value.message
    assert list(tmp_path.iterdir()) == []  # the half-built environment is gone


# ------------------------------------------------------------------------------- judges


def test_quality_is_judged_by_the_gate_rule(tmp_path: Path):
    base = _run(tmp_path, "base", list(range(6)))
    same = _run(tmp_path, "same", list(range(6)))
    table, _, doc = judge_quality(base, same)
    assert doc["seeds"] == list(range(6))
    assert set(table["verdict"]) == {"ok"}  # identical fits: every excess is 0
    worse = _run(tmp_path, "worse", list(range(6)), shift={"calibration.ece": 0.2})
    table, _, _ = judge_quality(base, worse)
    bad = table[table["verdict"] == "REGRESSED"]
    assert list(zip(bad["method"], bad["metric"], strict=True)) == [("advi", "calibration.ece")]


def _asv(value: float, samples: list[float]) -> tuple:
    from asv_runner.statistics import compute_stats

    _, st = compute_stats(samples, 1)
    return (value, st, samples, "seconds")


def test_timings_follow_asvs_rule():
    base = {"a": _asv(1.0, [1.0 + 0.01 * i for i in range(10)])}
    slow = {"a": _asv(2.0, [2.0 + 0.01 * i for i in range(10)])}
    noisy = {"a": _asv(1.5, [0.5 + 0.2 * i for i in range(10)])}  # overlaps the baseline
    got = judge_timings(base, slow, 1.1).iloc[0]
    assert got["verdict"] == "slower" and got["ratio"] == pytest.approx(2.0)
    assert got["ratio_err"] > 0
    assert judge_timings(slow, base, 1.1).iloc[0]["verdict"] == "faster"
    assert (
        judge_timings(base, noisy, 1.1).iloc[0]["verdict"] == "same"
    )  # ratio 1.5, not significant
    assert judge_timings(base, {}, 1.1).iloc[0]["verdict"] == "not run in the candidate"
    failed = {"a": (None, None, None, "seconds")}  # asv's record of a failed benchmark
    assert judge_timings(base, failed, 1.1).iloc[0]["verdict"] == "failed in the candidate"
    skipped = {"a": (float("nan"), None, None, "seconds")}
    assert judge_timings(skipped, base, 1.1).iloc[0]["verdict"] == "skipped in the baseline"


# ------------------------------------------------------------------- the command, end to end


@pytest.fixture
def fake_sets(tmp_path: Path, monkeypatch):
    """run_versions with stand-in environments: 'broken' cannot install; the others 'run'
    by pointing at synthetic run folders ('worse' regresses the ECE)."""
    runs = {
        "pinned": _run(tmp_path, "pinned", [0, 1, 2]),
        "same": _run(tmp_path, "same", [0, 1, 2]),
        "worse": _run(tmp_path, "worse", [0, 1, 2], shift={"calibration.ece": 0.2}),
    }

    def fake_env(vset, requirements, root, **kw):
        if vset.name == "broken":
            raise EnvUnavailable(
                "pip install -r requirements.txt", installer_message(_PIP_CONFLICT)
            )
        return Env(
            tmp_path / vset.name,
            Path("python"),
            {"python": "3.12.1", "pymc": vset.pins.get("pymc", "6.3.2")},
            1.0,
            False,
        )

    def fake_suite(env, suite, out, project, commit, **kw):
        if env.path.name == "crashes":
            raise SuiteFailed("asv run", "Traceback: boom")
        return SuiteRun(runs[env.path.name], None, 2.0, 0.0)

    monkeypatch.setattr(versions, "build_env", fake_env)
    monkeypatch.setattr(versions, "run_suite", fake_suite)
    return tmp_path


def _spec_file(tmp: Path, names: list[str]) -> Path:
    sets = "".join(
        f'\n[[sets]]\nname = "{n}"\npins = {{ pymc = "6.{i}.0" }}\n' for i, n in enumerate(names)
    )
    path = tmp / "v.toml"
    path.write_text('[suite]\nmethods = "advi"\nseeds = [0, 1, 2]\nasv_bench = ""\n' + sets)
    return path


def test_an_uninstallable_set_is_reported_and_the_others_run(fake_sets: Path, capsys):
    spec = _spec_file(fake_sets, ["pinned", "broken", "same"])
    out = fake_sets / "out"
    assert main(["versions", str(spec), "--out", str(out)]) == EXIT_SET_UNAVAILABLE
    doc = json.loads((out / "versions.json").read_text())
    status = {s["name"]: s["status"] for s in doc["sets"]}
    assert status == {"pinned": "ok", "broken": "unavailable", "same": "ok"}
    assert list(doc["comparisons"]) == ["same"] and doc["comparisons"]["same"]["passed"]
    report = (out / "report.md").read_text()
    assert "**broken** (pymc==6.1.0): **could not be installed**" in report
    assert "depends on pymc<6.4 and >=6.3.0" in report  # pip's own words
    assert "**same** (pymc==6.2.0) against pinned: quality within the gate's tolerance" in report
    assert "every one equal to the baseline's: same seeds, same numbers" in report


def test_a_regressed_candidate_exits_1_with_the_metric_named(fake_sets: Path):
    spec = _spec_file(fake_sets, ["pinned", "worse"])
    out = fake_sets / "out"
    assert main(["versions", str(spec), "--out", str(out)]) == EXIT_FAILED
    report = (out / "report.md").read_text()
    assert "**1 of" in report and "regressed** (advi calibration.ece)" in report
    first_row = [ln for ln in report.splitlines() if ln.startswith("| advi")][0]
    assert "calibration.ece" in first_row and "REGRESSED" in first_row  # regressed rows first
    # the report re-renders from versions.json alone
    (out / "report.md").unlink()
    assert main(["versions", str(spec), "--out", str(out), "--report-only"]) == 0
    assert (out / "report.md").read_text() == report


def test_bad_spec_exits_2(tmp_path: Path, capsys):
    path = tmp_path / "v.toml"
    path.write_text('[[sets]]\nname = "only"\n')
    assert main(["versions", str(path), "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "field 'sets' needs at least two" in capsys.readouterr().err


def test_report_lists_only_libraries_that_differ_besides_the_main_ones():
    doc = {
        "sets": [
            {
                "name": "a",
                "changes": "x",
                "status": "ok",
                "versions": {"pymc": "1", "scipy": "1", "numpy": "2"},
                "build_s": 1.0,
                "env_reused": False,
                "pip_check": None,
                "fits_s": 1.0,
                "asv_s": 1.0,
                "stage": "",
                "message": "",
            },
            {
                "name": "b",
                "changes": "y",
                "status": "ok",
                "versions": {"pymc": "2", "scipy": "1", "numpy": "3"},
                "build_s": 1.0,
                "env_reused": True,
                "pip_check": "No broken requirements found.",
                "fits_s": 1.0,
                "asv_s": 1.0,
                "stage": "",
                "message": "",
            },
        ],
        "comparisons": {},
        "suite": {"methods": "ci", "seeds": [0, 1, 2], "asv_bench": "", "timing_factor": 1.1},
        "command": "c",
        "commit": "abc",
        "created": "now",
        "machine": {"cpu": "cpu", "cpu_count": 2},
        "wall_s": 3.0,
    }
    text = render_markdown(doc)
    rows = [ln.split("|")[1].strip() for ln in text.splitlines() if ln.startswith("| ")]
    assert "pymc" in rows and "numpy" in rows and "scipy" not in rows
    assert "1 s (reused)" in text


def test_a_set_whose_suite_crashes_is_told_apart_from_one_that_did_not_install(fake_sets: Path):
    spec = _spec_file(fake_sets, ["pinned", "crashes", "broken"])
    out = fake_sets / "out"
    assert main(["versions", str(spec), "--out", str(out)]) == EXIT_SET_UNAVAILABLE
    doc = json.loads((out / "versions.json").read_text())
    got = {s["name"]: (s["status"], s["stage"]) for s in doc["sets"][1:]}
    assert got == {
        "crashes": ("suite_failed", "asv run"),
        "broken": ("unavailable", "pip install -r requirements.txt"),
    }
    assert "**could not be run** (asv run" in (out / "report.md").read_text()
