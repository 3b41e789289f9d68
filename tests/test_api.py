"""The notebook API: ``compare`` and ``Comparison``, and the README's example that uses them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bnn_models import Comparison, compare
from bnn_models.schema import load_metrics
from tests.conftest import TINY

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_example() -> str:
    section = README.read_text().split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    """The five lines of the README, as a user pastes them, in an empty folder."""
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    table = namespace["runs"].table()
    # the two ADVI methods, two seeds each, every fit ok
    from bnn_models.inference import resolve_methods

    methods = resolve_methods("advi,fullrank_advi")
    assert sorted(zip(table["method"], table["seed"], strict=True)) == sorted(
        (m, s) for m in methods for s in (0, 1)
    )
    assert (table["status"] == "ok").all(), table
    ok = table
    # the teacher's labels are learnable: every method beats the 0.8 its truth allows
    assert (ok["accuracy"] > 0.8).all(), table
    assert (tmp_path / "my-report" / "report.html").is_file()
    assert "ADVI (mean-field)" in (tmp_path / "my-report" / "report.md").read_text()
    assert "accuracy" in capsys.readouterr().out


def test_compare_table_holds_the_run_numbers(teacher_small, tmp_path):
    runs = compare(
        teacher_small,
        methods=["advi"],
        seeds=[3],
        overrides={"advi": TINY["advi"]},
        out=tmp_path / "run",
    )
    doc = load_metrics(tmp_path / "run")
    (fit,) = doc["fits"]
    table = runs.table()
    assert isinstance(table, pd.DataFrame) and len(table) == 1
    row = table.iloc[0]
    assert (row["method"], row["seed"]) == ("advi", 3)
    assert row["accuracy"] == fit["calibration"]["accuracy"]
    assert row["ece"] == fit["calibration"]["ece"]
    assert Comparison.load(tmp_path / "run").table().equals(table)
    written = runs.report()
    assert written[0] == tmp_path / "run" / "report.html"
