"""The committed results as one product: the pipeline file, the run that regenerates them
at one commit, the check CI runs, and the index."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bnn_models.cli import main
from bnn_models.errors import BadInput
from bnn_models.inference import get_method
from bnn_models.report import stale as stale_mod
from bnn_models.report import write_report
from bnn_models.report.figure_data import FIGURE_DATA
from bnn_models.results import (
    PipelineFailed,
    build_index,
    check_results,
    index_problem,
    load_pipeline,
    render_index,
    run_pipeline,
    write_index,
)
from bnn_models.results.pipeline import RECORD, STOPPED_EXIT

ROOT = Path(__file__).resolve().parents[1]

STEP = '[[step]]\nname = "a"\nfolders = ["results/a"]\nquestion = "Why?"\ncommands = ["{cmd}"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs at least one [[step]]"),
        ("[[step]\n", "not valid TOML"),
        ("[other]\n", "unknown table 'other'"),
        (STEP.format(cmd="ls results"), "must start with one of ['bnn-bench', 'python']"),
        (STEP.replace('"Why?"', '""').format(cmd="bnn-bench run"), "step 'a'.question must be"),
        (STEP.replace("results/a", "../elsewhere").format(cmd="bnn-bench run"), "must lie inside"),
        (STEP.format(cmd="bnn-bench run") + "ok_exit = ['0']\n", "ok_exit must be a list of int"),
        (STEP.format(cmd="bnn-bench run") * 2, "step name 'a' is used twice"),
        (STEP.format(cmd="bnn-bench run") + "colour = 1\n", "unknown key 'colour'"),
        (STEP.format(cmd="bnn-bench run") + '[historical]\n"results/b" = ""\n', "historical"),
    ],
)
def test_a_bad_pipeline_file_names_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match="pipeline.toml: .*" + _escape(message)):
        load_pipeline(path)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_the_committed_pipeline_makes_or_keeps_every_folder_of_results():
    pipeline = load_pipeline(ROOT / "results" / "pipeline.toml")
    orphans = [p for p in check_results(pipeline, ROOT) if "made by no step" in p.message]
    assert orphans == []
    names = [s.name for s in pipeline.steps]
    # dependency order: references before the runs that score against them
    assert names.index("reference") < names.index("rupture") < names.index("rupture-methods")


#: The committed run folders whose fit-based figures are kept as figure data (each made by
#: the pipeline since issue 34); their reports must re-render without the fits.
COMMITTED_RUNS = sorted(
    p.parents[1].name
    for p in (ROOT / "results").glob(f"*/figures/{FIGURE_DATA}")
    if (p.parents[1] / "metrics.json").is_file()
)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("folder", COMMITTED_RUNS)
def test_a_committed_report_rerenders_from_a_fresh_clone_to_its_bytes(folder, tmp_path):
    """``bnn-bench report results/FOLDER`` on a fresh clone (no fits) writes the committed
    bytes, figures included: a change to the report's templates or figures fails here
    until the committed reports are re-rendered in the same change."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / folder, results / folder)
    shutil.copytree(ROOT / "results" / "reference", results / "reference")  # its links
    before = _tree(results / folder)
    write_report(results / folder)
    after = _tree(results / folder)
    assert sorted(after) == sorted(before)
    assert [n for n in before if after[n] != before[n]] == []


def test_the_committed_runs_include_the_headline_comparison():
    assert "rupture" in COMMITTED_RUNS


# --------------------------------------------------------------------------- the run


def _project(tmp_path: Path, commands: list[str], ok_exit: str = "[0]") -> Path:
    """A git checkout with a pipeline of ``python -c`` commands that write results/a."""
    root = tmp_path / "proj"
    (root / "results" / "a").mkdir(parents=True)
    (root / "results" / "a" / "old.txt").write_text("made at an older commit\n")
    (root / "code.py").write_text("x = 1\n")
    body = ", ".join(json.dumps(c) for c in commands)
    (root / "results" / "pipeline.toml").write_text(
        '[[step]]\nname = "a"\nfolders = ["results/a"]\nquestion = "Why?"\n'
        f"commands = [{body}]\nok_exit = {ok_exit}\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    return root


WRITE = (
    "python -c \"import pathlib, sys; p = pathlib.Path('results/a/n.txt'); "
    "p.parent.mkdir(parents=True, exist_ok=True); "
    "p.write_text(str(int(p.read_text()) + 1) if p.exists() else '1'); print('wrote', p)\""
)


def test_the_run_times_each_command_records_it_and_resumes_at_the_same_commit(tmp_path):
    root = _project(tmp_path, [WRITE, "python -c \"print('{cache}')\""])
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    lines: list[str] = []
    record = run_pipeline(pipeline, root=root, log=lines.append)
    # the step's folder was emptied first: nothing of an older commit is kept
    assert not (root / "results" / "a" / "old.txt").exists()
    assert (root / "results" / "a" / "n.txt").read_text() == "1"
    assert any(line.startswith(".bnn_cache/results/") for line in lines)  # {cache} expanded
    saved = json.loads((root / "results" / "pipeline.json").read_text())
    assert saved == record
    assert len(record["commit"]) == 40 and not record["commit"].endswith("-dirty")
    step = record["steps"]["a"]
    assert step["done"] and [len(c["attempts"]) for c in step["commands"]] == [1, 1]
    attempt = step["commands"][0]["attempts"][0]
    assert attempt["exit"] == 0 and attempt["wall_s"] >= 0 and len(attempt["load_before"]) == 3
    assert attempt["other_cpu_s"] is not None  # Linux: from /proc/stat
    assert record["wall_s"] == step["wall_s"]
    with pytest.raises(BadInput, match="pass --resume"):
        run_pipeline(pipeline, root=root, log=lines.append)
    again = run_pipeline(pipeline, root=root, resume=True, log=lines.append)
    assert (root / "results" / "a" / "n.txt").read_text() == "1"  # done: not run again
    assert [len(c["attempts"]) for c in again["steps"]["a"]["commands"]] == [1, 1]


def test_a_failing_command_stops_the_run_and_is_run_again_on_resume(tmp_path):
    fail_once = (
        "python -c \"import pathlib, sys; p = pathlib.Path('results/a/tried'); "
        "p.parent.mkdir(parents=True, exist_ok=True); "
        "sys.exit(0 if p.exists() else (p.write_text('') or 3))\""
    )
    root = _project(tmp_path, [fail_once, WRITE])
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    with pytest.raises(PipelineFailed, match="exited 3"):
        run_pipeline(pipeline, root=root, log=lambda s: None)
    record = json.loads((root / "results" / "pipeline.json").read_text())
    assert record["steps"]["a"]["commands"][0]["attempts"][0]["exit"] == 3
    assert not (root / "results" / "a" / "n.txt").exists()  # stopped before the next
    record = run_pipeline(pipeline, root=root, resume=True, log=lambda s: None)
    assert record["steps"]["a"]["done"]
    assert [a["exit"] for a in record["steps"]["a"]["commands"][0]["attempts"]] == [3, 0]
    assert (root / "results" / "a" / "tried").exists()  # a resumed step keeps its folder


def test_the_run_refuses_changed_code(tmp_path):
    root = _project(tmp_path, [WRITE])
    (root / "code.py").write_text("x = 2\n")
    with pytest.raises(BadInput, match="uncommitted changes"):
        run_pipeline(load_pipeline(root / "results" / "pipeline.toml"), root=root)


# --------------------------------------------------------------------------- the check


def _committed_run(tmp_path: Path, historical: str = "") -> Path:
    """A project whose results/rupture is a copy of the committed one."""
    root = tmp_path / "proj"
    shutil.copytree(
        ROOT / "results" / "rupture",
        root / "results" / "rupture",
        ignore=shutil.ignore_patterns("*.png", "*.html"),
    )
    (root / "results" / "pipeline.toml").write_text(
        '[[step]]\nname = "rupture"\nfolders = ["results/rupture"]\nquestion = "Which?"\n'
        'commands = ["bnn-bench run --methods design --out results/rupture"]\n' + historical
    )
    return root


def test_a_changed_default_fails_the_check_naming_folder_method_and_setting(tmp_path, monkeypatch):
    root = _committed_run(tmp_path)
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    assert check_results(pipeline, root) == []  # made with today's defaults
    advi = get_method("advi")

    class Changed:  # ADVI as it would be with another default learning rate
        recorded_facts = advi.recorded_facts

        @staticmethod
        def configure(quick=False, overrides=None):
            import dataclasses

            return dataclasses.replace(advi.configure(quick=quick), learning_rate=0.02)

    monkeypatch.setattr(
        stale_mod, "get_method", lambda n: Changed if n == "advi" else get_method(n)
    )
    problems = check_results(pipeline, root)
    assert {p.folder for p in problems} == {"results/rupture"}
    assert {str(p) for p in problems} == {
        "results/rupture/metrics.json: advi: setting learning_rate recorded 0.01, "
        "today's default 0.02"
    }
    assert main(["results", "check", "--pipeline", str(root / "results" / "pipeline.toml")]) == 1


def test_a_dirty_commit_an_orphan_folder_and_a_historical_one(tmp_path):
    root = _committed_run(tmp_path)
    doc = json.loads((root / "results/rupture/metrics.json").read_text())
    doc["run"]["commit"] += "-dirty"
    (root / "results/rupture/metrics.json").write_text(json.dumps(doc))
    (root / "results/orphan").mkdir()
    problems = [str(p) for p in check_results(load_pipeline(root / "results/pipeline.toml"), root)]
    assert any("made from a dirty tree" in p for p in problems)
    assert "results/orphan: made by no step of the pipeline and not historical" in problems
    root2 = _committed_run(tmp_path / "2", historical='[historical]\n"results/rupture" = "kept"\n')
    shutil.copy(root / "results/rupture/metrics.json", root2 / "results/rupture/metrics.json")
    assert check_results(load_pipeline(root2 / "results/pipeline.toml"), root2) == []


def test_the_index_shows_each_folder_its_commit_and_whether_it_is_current(tmp_path):
    root = _committed_run(tmp_path)
    index = build_index(load_pipeline(root / "results" / "pipeline.toml"), root)
    text = render_index(index)
    doc = json.loads((root / "results/rupture/metrics.json").read_text())
    assert f"`{doc['run']['commit'][:12]}`" in text
    assert "| `results/rupture` | Which? | `rupture` |" in text
    assert "| yes |" in text
    assert f"| pymc | {doc['run']['versions']['pymc']} |" in text
    # how to cite it: the data each file read, by source address and hash (generated data
    # record their parameters instead and are not listed)
    hashes = doc["run"]["dataset"]["sha256"]
    assert index["data"] == [
        (doc["run"]["dataset"]["source"], f, hashes[f]) for f in sorted(hashes)
    ]
    for name, sha in hashes.items():
        assert f"| `{name}` | `{sha}` |" in text
    assert "arXiv:1911.09660" in text
    doc["run"]["dataset"]["source"] = "teacher:1600:400"
    (root / "results/rupture/metrics.json").write_text(json.dumps(doc))
    assert build_index(load_pipeline(root / "results" / "pipeline.toml"), root)["data"] == []
    doc = json.loads((ROOT / "results/rupture/metrics.json").read_text())
    (root / "results/rupture/metrics.json").write_text(json.dumps(doc))
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    assert "missing" in str(index_problem(pipeline, root))
    write_index(pipeline, root)
    assert index_problem(pipeline, root) is None
    (root / "results/rupture/metrics.json").write_text(
        (root / "results/rupture/metrics.json").read_text().replace(doc["run"]["commit"], "0" * 40)
    )
    assert "out of date" in str(index_problem(pipeline, root))  # the commit changed


def test_the_index_leaves_a_stopped_attempt_out_of_other_cpu(tmp_path):
    """A command stopped by a signal, before the pipeline waited for its workers, left them
    unreaped, so the CPU the machine spent on them reads as "other": the index leaves such
    attempts out, and counts a stopped attempt whose workers were waited for."""
    root = _committed_run(tmp_path)

    def attempt(exit_code, other):
        return {
            "started": "2026-12-06T00:00:00+00:00",
            "exit": exit_code,
            "wall_s": 10.0,
            "other_cpu_s": other,
            "load_before": [0, 0, 0],
            "load_after": [0, 0, 0],
        }

    record = {
        "commit": "a" * 40,
        "created": "2026-12-06T00:00:00+00:00",
        "machine": {"cpu_count": 2, "cpu": "test"},
        "wall_s": 30.0,
        "steps": {
            "rupture": {
                "done": True,
                "wall_s": 30.0,
                "commands": [
                    {
                        "command": "c",
                        "done": True,
                        "attempts": [attempt(STOPPED_EXIT, 1281.7), attempt(0, -15.5)],
                    },
                ],
            }
        },
    }
    (root / "results" / RECORD).write_text(json.dumps(record))
    index = build_index(load_pipeline(root / "results" / "pipeline.toml"), root)
    (row,) = index["rows"]
    assert (row.other_cpu_s, row.stopped_attempts) == (-15.5, 1)
    text = render_index(index)
    assert "| -16 s (1 stopped attempt left out) |" in text
    assert "less the attempts stopped by a signal\n(exit 130) before the pipeline waited" in text
    record["steps"]["rupture"]["commands"][0]["attempts"][0]["descendants_waited"] = True
    (root / "results" / RECORD).write_text(json.dumps(record))
    text = render_index(build_index(load_pipeline(root / "results" / "pipeline.toml"), root))
    assert "| 1266 s |" in text and "stopped by a signal" not in text


def test_the_index_says_a_study_file_records_no_settings_to_compare(tmp_path):
    root = _committed_run(tmp_path)
    study = root / "studies" / "s" / "results"
    study.mkdir(parents=True)
    (study / "s.json").write_text(json.dumps({"commit": "0" * 40, "rows": []}))
    (root / "results" / "pipeline.toml").write_text(
        (root / "results" / "pipeline.toml").read_text()
        + '\n[[step]]\nname = "s"\nfolders = ["studies/s/results"]\nquestion = "Q?"\n'
        'commands = ["python -m studies.s"]\n'
    )
    text = render_index(build_index(load_pipeline(root / "results" / "pipeline.toml"), root))
    assert "| `results/rupture` | Which? | `rupture` |" in text and "| yes |" in text
    assert "| `studies/s/results` | Q? | `s` |" in text
    assert "| not recorded (the study's file records no settings) |" in text


def test_a_changed_grid_file_fails_the_check_of_the_sweep_it_made(tmp_path):
    root = tmp_path / "proj"
    (root / "grids").mkdir(parents=True)
    (root / "results" / "s").mkdir(parents=True)
    (root / "grids" / "g.toml").write_text('methods = ["advi"]\nseeds = 2\n')
    sweep = {
        "schema": "bnn-bench/sweep",
        "commit": "a" * 40,
        "command": "bnn-bench sweep grids/g.toml --out results/s",
        "grid": {"methods": ["advi"], "seeds": 1},
    }
    (root / "results" / "s" / "sweep.json").write_text(json.dumps(sweep))
    (root / "results" / "pipeline.toml").write_text(
        '[[step]]\nname = "s"\nfolders = ["results/s"]\nquestion = "How?"\n'
        'commands = ["bnn-bench sweep grids/g.toml --out results/s"]\n'
    )
    problems = check_results(load_pipeline(root / "results" / "pipeline.toml"), root)
    assert [str(p) for p in problems] == [
        "results/s/sweep.json: grid grids/g.toml: setting seeds recorded 1, today's default 2"
    ]


def test_sigterm_stops_the_running_command_and_records_it(tmp_path):
    """A background run ignores Ctrl-C's SIGINT: SIGTERM stops it, the running command
    is terminated (a bnn-bench run then records its fits as not run) and recorded."""
    import os
    import signal
    import threading

    root = _project(tmp_path, ['python -c "import time; time.sleep(60)"', WRITE])
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            run_pipeline(pipeline, root=root, log=lambda s: None)
    finally:
        timer.cancel()
    record = json.loads((root / "results" / "pipeline.json").read_text())
    (attempt,) = record["steps"]["a"]["commands"][0]["attempts"]
    assert attempt["exit"] == 130 and attempt["wall_s"] < 30  # stopped, not slept out
    assert not record["steps"]["a"]["done"]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


ORPHAN = """
import pathlib, signal, subprocess, sys, time
out = pathlib.Path(sys.argv[1])
if sys.argv[2:] == ["worker"]:  # spins until stopped, then says how much CPU it used
    def stop(signum, frame):
        out.write_text(repr(time.process_time()))
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    (out.parent / "worker.pid").write_text(str(__import__("os").getpid()))
    while True:
        pass
subprocess.Popen([sys.executable, __file__, str(out), "worker"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.0)
print("exits, its worker still running")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="adopting orphans needs Linux's prctl")
def test_a_worker_that_outlives_its_command_is_stopped_and_its_cpu_counted_as_the_command_s(
    tmp_path,
):
    """Stan's workers outlive a stopped command: the pipeline adopts them, stops them and
    waits for them, so their CPU is the command's own, never "other CPU"."""
    import os

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    cpu_file = tmp_path / "worker_cpu.txt"
    root = _project(tmp_path, [f"python {script} {cpu_file}"])
    before = os.times()
    try:
        run_pipeline(load_pipeline(root / "results" / "pipeline.toml"), root=root, log=print)
        after = os.times()
        worker_cpu = float(cpu_file.read_text())  # written when the pipeline stopped it
        assert worker_cpu > 0.1
        counted = (after.children_user + after.children_system) - (
            before.children_user + before.children_system
        )
        assert counted >= 0.9 * worker_cpu  # reaped by the pipeline: counted as its child's
        record = json.loads((root / "results" / "pipeline.json").read_text())
        assert record["steps"]["a"]["commands"][0]["attempts"][-1]["descendants_waited"]
        with pytest.raises(ProcessLookupError):  # gone, not a zombie: it was waited for
            os.kill(int((tmp_path / "worker.pid").read_text()), 0)
    finally:  # without the fix the worker would spin on, adopted by init
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            os.kill(int((tmp_path / "worker.pid").read_text()), 9)


def test_an_attempt_is_on_record_while_it_runs_and_a_killed_one_is_closed_on_resume(tmp_path):
    """A pipeline killed outright (SIGKILL, a machine going down) records nothing more:
    each attempt is written as started before its command runs, and a resume closes an
    attempt left open, its exit unknown and its wall time up to its command's last log line."""
    import os

    peek = (
        "python -c \"import json; a = json.load(open('results/pipeline.json'))['steps']['a']"
        "['commands'][0]['attempts'][-1]; print('open' if 'wall_s' not in a else 'closed')\""
    )
    root = _project(tmp_path, [peek])
    pipeline = load_pipeline(root / "results" / "pipeline.toml")
    lines: list[str] = []
    record = run_pipeline(pipeline, root=root, log=lines.append)
    assert "open" in lines  # on record, open, while its command ran
    # what a kill during the command would have left: the attempt open, the step not done
    (attempt,) = record["steps"]["a"]["commands"][0]["attempts"]
    for key in ("wall_s", "exit", "load_after", "other_cpu_s"):
        del attempt[key]
    record["steps"]["a"]["commands"][0]["done"] = False
    (root / "results" / "pipeline.json").write_text(json.dumps(record))
    started = datetime.fromisoformat(attempt["started"]).timestamp()
    log_file = next((root / ".bnn_cache" / "results").glob("*/logs/a-0.log"))
    os.utime(log_file, (started + 42.0, started + 42.0))  # its last line, 42 s in
    again = run_pipeline(pipeline, root=root, resume=True, log=lines.append)
    killed, rerun = again["steps"]["a"]["commands"][0]["attempts"]
    assert killed["exit"] is None and killed["wall_s"] == 42.0 and "killed" in killed["killed"]
    assert rerun["exit"] == 0 and again["steps"]["a"]["done"]
    assert again["steps"]["a"]["wall_s"] == round(42.0 + rerun["wall_s"], 1)
    text = render_index(build_index(pipeline, root))
    assert "1 attempt(s) ended with the\npipeline killed" in text
