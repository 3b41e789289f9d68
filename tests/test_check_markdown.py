"""The gate's verdict as Markdown (``bnn-bench check --markdown``): heading, provenance,
notes and the table of gated metrics, regressed rows first, on hand-made runs whose
verdict is known (the synthetic runs of tests/test_gate.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bnn_models.gate import check, make_baseline
from bnn_models.io import write_json
from bnn_models.report.check import check_markdown, write_check_markdown
from tests.test_gate import _fit, _run

#: The table's columns, in order.
COLUMNS = [
    "method",
    "metric",
    "better",
    "baseline mean ± sd",
    "now",
    "tolerance",
    "excess",
    "verdict",
]


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    write_json(path, make_baseline([_run(tmp_path, "base", list(range(6)))]))
    return path


def _tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every pipe table of ``markdown``, each a list of rows keyed by the header's cells."""
    tables, block = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])  # an escaped pipe is text
            block.append([c.strip() for c in cells])
        elif block:
            header, _rule, *rows = block
            tables.append([dict(zip(header, r, strict=True)) for r in rows])
            block = []
    return tables


def _gated(markdown: str) -> list[dict[str, str]]:
    (table,) = [t for t in _tables(markdown) if t and "verdict" in t[0]]
    return table


def test_a_regressed_run_is_failed_with_its_rows_first(tmp_path: Path, baseline: Path):
    worse = _run(
        tmp_path, "worse", [0], shift={"elbo.neg_final_elbo": 1500.0, "calibration.ece": 0.3}
    )
    result = check(baseline, worse)
    md = check_markdown(result)
    assert md.startswith("## bnn-bench check: FAILED\n")
    assert f"2 of {len(result.table)} gated metrics regressed" in md
    rows = _gated(md)
    assert list(rows[0]) == COLUMNS
    assert len(rows) == len(result.table) == 17  # every gated metric, not only the failed
    # The two regressed metrics first (in the table's order), then the others, all ok.
    assert [(r["method"], r["metric"], r["verdict"]) for r in rows[:2]] == [
        ("advi", "calibration.ece", "**REGRESSED**"),
        ("advi", "elbo.neg_final_elbo", "**REGRESSED**"),
    ]
    assert {r["verdict"] for r in rows[2:]} == {"ok"}
    ece, elbo = rows[0], rows[1]
    values = [_fit("advi", s)["calibration"]["ece"] for s in range(6)]
    assert ece["baseline mean ± sd"] == f"{np.mean(values):.4g} ± {np.std(values, ddof=1):.2g}"
    assert (ece["now"], elbo["now"], ece["better"]) == ("0.3", "1500", "lower")
    tol = result.table.set_index(["method", "metric"]).loc[("advi", "calibration.ece")]
    assert ece["tolerance"] == f"{tol['tolerance']:.3g}"
    assert float(ece["excess"]) == pytest.approx((0.3 - np.mean(values)) / tol["tolerance"], 1e-3)
    assert float(ece["excess"]) > 1 and all(float(r["excess"]) <= 1 for r in rows[2:])


def test_a_passing_run_names_both_commits_and_seeds(tmp_path: Path, baseline: Path):
    run = _run(tmp_path, "same", [0])
    md = check_markdown(check(baseline, run))
    assert md.startswith("## bnn-bench check: PASSED\n")
    assert "17 gated metrics within tolerance (closest: " in md
    assert "REGRESSED" not in md
    assert {r["verdict"] for r in _gated(md)} == {"ok"}
    (provenance,) = [t for t in _tables(md) if t and "run" in t[0]]
    by = {r[""]: r for r in provenance}
    assert by["**where**"]["run"] == f"`{run}`"
    assert by["**where**"]["baseline"] == f"`{baseline}`"
    assert (by["**commit**"]["run"], by["**commit**"]["baseline"]) == ("`c0ffee`", "`c0ffee`")
    assert by["**seeds**"]["run"] == "[0]"
    assert by["**seeds**"]["baseline"] == "[0, 1, 2, 3, 4, 5] (6)"
    assert "Tolerance rule (from the baseline)" in md and "t(1 - alpha, k - 1)" in md


def test_notes_are_a_list_and_a_failed_fit_shows_its_detail(tmp_path: Path, baseline: Path):
    run = _run(tmp_path, "cfg", [0])
    doc = json.loads((run / "metrics.json").read_text())
    doc["fits"][1]["config"]["learning_rate"] = 1e-4  # advi's: a note
    doc["fits"][0] |= {"status": "failed", "error": "boom | bang"}  # nuts's: a status row
    write_json(run / "metrics.json", doc)
    md = check_markdown(check(baseline, run))
    assert (
        "Notes:\n\n- advi: settings differ from the baseline's: learning_rate 0.01 -> 0.0001" in md
    )
    rows = _gated(md)
    assert rows[0]["method"] == "nuts" and rows[0]["metric"] == "status"
    assert rows[0]["verdict"] == "**REGRESSED**"
    assert rows[0]["baseline mean ± sd"] == rows[0]["now"] == ""  # no numbers for a failed fit
    assert rows[0]["detail"] == r"seed 0: boom \| bang"  # a pipe escaped, the table intact
    assert all(r["detail"] == "" for r in rows[1:])


def test_cli_writes_the_markdown_atomically_and_refuses_it_with_write_baseline(
    tmp_path: Path, baseline: Path, capsys
):
    from bnn_models.cli import main

    worse = _run(tmp_path, "w", [0], shift={"calibration.error_rate": 0.4})
    out = tmp_path / "summary" / "gate.md"
    assert (
        main(["check", "--baseline", str(baseline), "--run", str(worse), "--markdown", str(out)])
        == 1
    )
    assert f"markdown: {out}" in capsys.readouterr().out
    md = out.read_text()
    assert md.startswith("## bnn-bench check: FAILED")
    assert [r["metric"] for r in _gated(md) if r["verdict"] == "**REGRESSED**"] == [
        "calibration.error_rate"
    ]
    assert not list(out.parent.glob(".*.tmp"))
    argv = ["check", "--write-baseline", "--baseline", str(tmp_path / "b.json")]
    assert main([*argv, "--run", str(worse), "--markdown", str(out)]) == 2
    assert "--markdown: only a check writes Markdown" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
    # the library function writes the same text
    result = check(baseline, worse)
    assert write_check_markdown(result, tmp_path / "again.md").read_text() == md
