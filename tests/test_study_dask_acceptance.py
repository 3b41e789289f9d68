"""studies/dask_acceptance: the summary from a hand-made JSON, and from the committed one."""

from __future__ import annotations

import json

from studies.dask_acceptance import dask_acceptance


def _summary() -> dict:
    return {
        "commit": "abc",
        "machine": "2 cores",
        "grid": dask_acceptance.GRID,
        "checks": {
            "local": {"tasks": 16, "wall_local_cluster_s": 90.0, "speedup": 1.25},
            "resume": {"finished_before": 5, "ran_on_resume": 11, "nothing_recomputed": True},
        },
    }


def test_each_check_is_a_table_and_render_redraws_it(tmp_path):
    text = dask_acceptance.render(_summary())
    assert text.startswith("# dask sweep: acceptance measurements\n")
    assert "Fits at commit abc, 2 cores" in text
    assert "## local" in text and "## resume" in text and "## cluster" not in text
    assert text.index("## local") < text.index("## resume")
    rows = _rows(text)
    assert ("speedup", "1.25") in rows and ("nothing_recomputed", "True") in rows
    (tmp_path / "summary.json").write_text(json.dumps(_summary()))
    assert dask_acceptance.main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "summary.md").read_text() == text


def _rows(text: str) -> set[tuple[str, ...]]:
    return {tuple(c.strip() for c in line.strip("|").split("|")) for line in text.splitlines()}


def test_the_committed_summary_renders_from_its_json():
    """The committed markdown, drawn again from its JSON, holds the same rows (the JSON
    keeps each check's keys sorted, so their order differs) and names this study's command."""
    results = dask_acceptance.RESULTS
    text = dask_acceptance.render(json.loads((results / "summary.json").read_text()))
    committed = (results / "summary.md").read_text()
    assert {r for r in _rows(text) if len(r) == 2} == {r for r in _rows(committed) if len(r) == 2}
    assert ("speedup", "1.12511") in _rows(text)
    assert "`python -m studies.dask_acceptance.dask_acceptance`" in text
