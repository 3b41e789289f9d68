"""The example CI workflow (examples/ci/): the workflow file against GitHub's workflow
schema, and the one script it runs, end to end on hand-made runs whose verdict is known
(the gate's exit status and Markdown) and with a stand-in asv (what reaches the summary,
and when timings fail the job). The workflow engine itself is not available offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bnn_models.gate import make_baseline
from bnn_models.io import write_json
from tests.test_gate import _run

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "bnn-bench.yml"
SCRIPT = ROOT / "examples" / "ci" / "bnn-bench-ci.sh"


def _check_jsonschema() -> str | None:
    """check-jsonschema beside this Python (a virtual environment's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "check-jsonschema"
    return str(beside) if beside.is_file() else shutil.which("check-jsonschema")


@pytest.mark.skipif(
    _check_jsonschema() is None, reason="check-jsonschema is not installed (requirements.txt)"
)
def test_workflow_passes_the_github_workflows_schema(tmp_path: Path):
    def validate(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(path)],
            capture_output=True,
            text=True,
        )

    done = validate(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check can fail: the same file with a misspelt job key does not pass.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:"))
    done = validate(broken)
    assert done.returncode == 1
    assert "'runs-on' is a required property" in done.stdout


def test_workflow_runs_the_script_with_its_caches():
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert set(doc[True]) == {"pull_request", "workflow_dispatch"}  # YAML 1.1 reads `on` as True
    (job,) = doc["jobs"].values()
    steps = {s.get("uses", s.get("name")).split("@")[0]: s for s in job["steps"]}
    assert steps["actions/checkout"]["with"]["fetch-depth"] == 0  # asv needs the base commit
    assert steps["actions/setup-python"]["with"]["python-version"] == "3.12"
    caches = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
    venv, other = caches
    assert venv["with"]["path"] == ".venv"
    assert "hashFiles('requirements.txt', 'pyproject.toml')" in venv["with"]["key"]
    assert set(other["with"]["path"].split()) == {
        "~/.pytensor",  # PyTensor's default base_compiledir
        "~/.cache/bnn-bench",  # pooch's download folder for the data files
        ".bnn_cache/reference",  # bnn_models.reference.DEFAULT_CACHE
    }
    (run,) = [s["run"] for s in job["steps"] if "run" in s]
    assert run.startswith("bash examples/ci/bnn-bench-ci.sh ")
    upload = steps["actions/upload-artifact"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == job["env"]["BNN_CI_OUT"]


def _script(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "BNN_CI_"))}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=base | {"BNN_CI_PYTHON": sys.executable} | env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("shift", "status", "heading", "regressed"),
    [
        ({}, 0, "## bnn-bench check: PASSED", []),
        ({"calibration.ece": 0.3}, 1, "## bnn-bench check: FAILED", ["calibration.ece"]),
    ],
)
def test_script_gates_a_run_and_appends_its_markdown(
    tmp_path: Path, shift, status, heading, regressed
):
    baseline = tmp_path / "baseline.json"
    write_json(baseline, make_baseline([_run(tmp_path, "base", list(range(6)))]))
    run = _run(tmp_path, "run", [0], shift=shift)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")  # GitHub's file is appended to, never replaced
    env = {
        "BNN_CI_ASV": "0",
        "BNN_CI_BASELINE": str(baseline),
        "BNN_CI_RUN": str(run),
        "BNN_CI_METHODS": "",  # the hand-made baseline's methods, not the `ci` set
        "BNN_CI_OUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = _script(ROOT, env)
    assert done.returncode == status, done.stdout + done.stderr
    text = summary.read_text()
    assert text.startswith(f"earlier step\n{heading}\n")
    assert text.removeprefix("earlier step\n") == (tmp_path / "out" / "gate.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| advi ") or ln.startswith("| nuts ")]
    assert len(rows) == 17  # every gated metric of both methods
    bad = [ln.split("|")[2].strip() for ln in rows if "**REGRESSED**" in ln]
    assert bad == regressed
    if regressed:
        assert rows[0].split("|")[2].strip() == "calibration.ece"  # regressed rows first
    assert "asv" not in text  # BNN_CI_ASV=0
    assert "[ci] the gate (exit status" in done.stdout
    assert (tmp_path / "out" / "gate.log").read_text().startswith("bnn-bench check: run ")


def test_script_reports_a_gate_that_could_not_run(tmp_path: Path):
    env = {
        "BNN_CI_ASV": "0",
        "BNN_CI_BASELINE": str(tmp_path / "missing.json"),
        "BNN_CI_RUN": str(tmp_path),
        "BNN_CI_OUT": str(tmp_path / "out"),
    }
    done = _script(ROOT, env)
    assert done.returncode == 2, done.stdout + done.stderr  # the CLI's bad-input status
    summary = (tmp_path / "out" / "summary.md").read_text()  # no GITHUB_STEP_SUMMARY
    assert summary.startswith("## bnn-bench check: ERROR (exit status 2)\n\n```text\n")
    assert "missing.json" in summary


#: A stand-in for asv: records its arguments, prints a log and then a comparison in
#: asv's format that says one benchmark got slower, and exits 1 as asv continuous does.
FAKE_ASV = """\
echo "$*" >> "$FAKE_ASV_CALLS"
[ "$1" = continuous ] || exit 0
echo "· Creating environments"
echo "· Running 2 total benchmarks (2 commits * 1 environments * 1 benchmarks)"
echo
echo "Benchmarks that have got worse:"
echo
echo "| Change   | Before [aaaa]   | After [bbbb]   |   Ratio | Benchmark (Parameter)        |"
echo "|----------|-----------------|----------------|---------|------------------------------|"
echo "| +        | 1.00+-0.01ms    | 3.00+-0.02ms   |    3.00 | ops.LogpGrad.time_logp_dlogp |"
echo
echo "SOME BENCHMARKS HAVE CHANGED SIGNIFICANTLY."
echo "PERFORMANCE DECREASED."
exit 1
"""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


@pytest.mark.skipif(not _git("rev-parse", "--verify", "--quiet", "HEAD~1"), reason="no HEAD~1")
def test_script_reports_asv_and_fails_on_it_only_when_asked(tmp_path: Path):
    fake = tmp_path / "asv.sh"
    fake.write_text(FAKE_ASV)
    calls = tmp_path / "calls.txt"
    env = {
        "BNN_CI_GATE": "0",
        "BNN_CI_ASV_CMD": f"bash {fake}",
        "FAKE_ASV_CALLS": str(calls),
        "ASV_FACTOR": "3",
        "BNN_CI_OUT": str(tmp_path / "out"),
    }
    done = _script(ROOT, env, "HEAD~1")
    assert done.returncode == 0, done.stdout + done.stderr  # reported, not failing
    base, head = _git("rev-parse", "HEAD~1"), _git("rev-parse", "HEAD")
    assert calls.read_text().splitlines() == [
        "machine --yes",
        f"continuous --factor 3 --split --no-only-changed --show-stderr -b ^ops\\. {base} {head}",
    ]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert summary.startswith(f"\n## asv continuous: HEAD ({head[:10]}) vs `HEAD~1` ({base[:10]})")
    assert "**slower by more than a factor 3** (see the table); reported, not failing" in summary
    fenced = summary.split("```text\n", 1)[1].split("```", 1)[0]
    assert fenced.startswith("Benchmarks that have got worse:\n")  # asv's table, not its log
    assert "| +        | 1.00+-0.01ms" in fenced and "PERFORMANCE DECREASED." in fenced
    assert "Creating environments" not in summary
    # BNN_CI_ASV_FAIL=1: the slower timing fails the job.
    assert _script(ROOT, env | {"BNN_CI_ASV_FAIL": "1"}, "HEAD~1").returncode == 1
    # asv failing (an environment that does not build): reported; failing only when asked.
    fake.write_text('echo "$*" >> "$FAKE_ASV_CALLS"; [ "$1" = machine ] || exit 2\n')
    done = _script(ROOT, env, "HEAD~1")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "**asv failed** (exit status 2; the log is in the artifacts); reported, not" in summary
    assert _script(ROOT, env | {"BNN_CI_ASV_FAIL": "1"}, "HEAD~1").returncode == 1
    # HEAD against itself: nothing to compare, asv not run.
    calls.unlink()
    done = _script(ROOT, env | {"BNN_CI_ASV_FAIL": "1"}, "HEAD")
    assert done.returncode == 0 and not calls.exists()
    assert "HEAD is BASE: no timings to compare." in done.stdout


def test_script_refuses_a_bad_base_or_folder(tmp_path: Path):
    env = {"BNN_CI_GATE": "0", "BNN_CI_OUT": str(tmp_path / "out")}
    done = _script(ROOT, env, "no-such-branch")
    assert done.returncode == 2
    assert "BASE 'no-such-branch' is not a commit here" in done.stderr
    done = _script(tmp_path, env)
    assert done.returncode == 2 and "run me from the project's root" in done.stderr


def test_every_setting_of_the_script_is_documented():
    """The script's header and docs/ci.md name the same variables (neither drifts)."""
    header = SCRIPT.read_text().split("\nset -euo pipefail", 1)[0]
    named = set(re.findall(r"^#   (\w+)=", header, flags=re.M))
    used = set(re.findall(r"\$\{((?:BNN_CI|BNN_BENCH|ASV)_\w+)", SCRIPT.read_text()))
    assert used <= named  # every variable the script reads is in its header
    docs = (ROOT / "docs" / "ci.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", docs, flags=re.M))
    assert named == documented
