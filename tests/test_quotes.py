"""The README's and the docs' quoted numbers against the committed result files.

Fast: the blocks are rendered from ``metrics.json``, ``sweep.json`` and
``versions.json`` alone (no fit, no figure). When this fails after results were
regenerated, ``make quotes`` rewrites the blocks; a number in prose outside a block goes
into one (``docs/quotes/*.md.j2``) or, if it is not a result, onto ``ALLOWED``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # docs/quotes is a tool beside the package, not in it
    sys.path.insert(0, str(ROOT))

from docs.quotes import (  # noqa: E402
    ALLOWED,
    QuoteError,
    check,
    render,
    unquoted_numbers,
    write,
)

RESULTS = ROOT / "results"


def test_every_quoted_number_matches_the_committed_files():
    problems = check()
    assert not problems, "\n".join(problems)


def _results_copy(tmp_path: Path, changed: str) -> Path:
    """results/ as links, but ``changed`` (a folder) copied so that it can be edited."""
    out = tmp_path / "results"
    out.mkdir()
    for path in RESULTS.iterdir():
        if path.name == changed:
            shutil.copytree(path, out / path.name, ignore=shutil.ignore_patterns("*.png", "*.html"))
        else:
            (out / path.name).symlink_to(path)
    return out


def test_a_changed_result_file_fails_the_check_naming_file_block_and_line(tmp_path):
    results = _results_copy(tmp_path, "releases")
    path = results / "releases" / "versions.json"
    doc = json.loads(path.read_text())
    doc["comparisons"]["pymc-6.4.0-forced"]["n_gated"] = 70
    path.write_text(json.dumps(doc))
    problems = check(results=results)
    assert any(
        p.startswith("README.md: block 'readme-releases', line 4:") and "all 70 gated" in p
        for p in problems
    ), problems
    assert any(p.startswith("docs/releases.md: block 'releases'") for p in problems), problems


def test_the_command_line_checks_by_default_and_exits_1_on_a_difference(tmp_path, capsys):
    from docs.quotes.__main__ import main

    assert main(["--check"]) == 0
    results = _results_copy(tmp_path, "releases")
    path = results / "releases" / "versions.json"
    doc = json.loads(path.read_text())
    doc["comparisons"]["pymc-6.4.0-forced"]["n_gated"] = 70
    path.write_text(json.dumps(doc))
    assert main(["--results", str(results)]) == 1
    assert "block 'readme-releases'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--check", "--write"])


def test_a_changed_metric_changes_the_readme_table(tmp_path):
    results = _results_copy(tmp_path, "rupture")
    path = results / "rupture" / "metrics.json"
    doc = json.loads(path.read_text())
    for fit in doc["fits"]:
        fit["runtime"]["total_s"] *= 2
    doc.pop("seed_summary", None)  # recomputed from the fits
    path.write_text(json.dumps(doc))
    mcmc = [f["runtime"]["total_s"] for f in doc["fits"] if f["family"] == "mcmc"]
    assert f"| {sum(mcmc) / len(mcmc):.3g} s |" in render("readme-rupture", results)
    assert any("block 'readme-rupture'" in p for p in check(results=results))


def test_a_claim_the_results_break_stops_the_rendering(tmp_path):
    results = _results_copy(tmp_path, "releases")
    path = results / "releases" / "versions.json"
    doc = json.loads(path.read_text())
    doc["comparisons"]["pymc-6.4.0-forced"]["n_regressed"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(QuoteError, match="readme-releases.md.j2: .*every gated metric"):
        render("readme-releases", results)


def test_write_rewrites_a_drifted_block_and_nothing_else(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    page.write_text(text.replace("all 71 gated", "all 7 gated"))
    assert check(tmp_path)
    assert write(tmp_path) == [page]
    assert page.read_text() == text


def test_a_result_number_in_prose_is_found_and_the_allowlist_is_short(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(
        "NUTS took 142 s, 24.1x ADVI's, at 90.2% accuracy and 0.294 nats.\n"
        "`--set advi.learning_rate=0.003` and Python 3.12.1 are no results.\n"
        "<!-- quote: x -->\n0.0631 inside a block\n<!-- /quote -->\n"
    )
    found = unquoted_numbers([page], tmp_path)
    assert [f.split(": ", 1)[1].split(" in ")[0] for f in found] == [
        "'142 s'",
        "'24.1x'",
        "'90.2%'",
        "'0.294 nats'",
    ]
    assert len(ALLOWED) <= 20 and all(reason for _, _, reason in ALLOWED)


def test_an_unlisted_unquoted_passage_is_a_problem(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("<!-- unquoted: mine -->\nit took 3 s\n<!-- /unquoted -->\n")
    assert any("'mine' not in ALLOWED_REGIONS" in f for f in unquoted_numbers([page], tmp_path))


def _run_quote(path: Path):
    from bnn_models.report import build_report
    from bnn_models.report.run import load_methods
    from bnn_models.schema import load_metrics
    from docs.quotes import RunQuote

    doc = load_metrics(path / "metrics.json")
    methods = load_methods(path, doc, load=False)
    return RunQuote(str(path), doc, methods, build_report(path, doc, figures=False))


def test_at_defaults_and_the_nuts_engines_of_a_run(tmp_path):
    """results/rupture-methods sets a small flow on purpose (pipeline.toml): the check lets
    it pass, but a template quoting "NUTS at its defaults" must leave the flow out."""
    methods = _run_quote(RESULTS / "rupture-methods")
    assert methods.doc["run"]["overrides"]["nuts_flow"]
    assert methods.at_defaults("nuts") and not methods.at_defaults("nuts_flow")
    # the NUTS engines as the report's engine table picks them: not MCLMC, SMC or SG-MCMC,
    # though their files say "mcmc" too
    engines = set(methods.nuts_engines())
    assert {"nuts", "nuts_pymc", "nuts_stan", "nuts_flow"} <= engines
    assert not engines & {"mclmc", "smc", "sgld", "sghmc", "sgld_cyclical"}
    assert {methods.methods[m].family for m in engines} == {"mcmc"}
    results = _results_copy(tmp_path, "rupture")
    path = results / "rupture" / "metrics.json"
    doc = json.loads(path.read_text())
    assert _run_quote(results / "rupture").at_defaults("advi")
    next(f for f in doc["fits"] if f["method"] == "advi")["config"]["max_iter"] = 7
    path.write_text(json.dumps(doc))
    assert not _run_quote(results / "rupture").at_defaults("advi")
