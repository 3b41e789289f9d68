"""A method that does not apply (Laplace at a Hessian that is not positive definite) is
``not_applicable``: reported with its reason, apart from failures, and the run exits 0."""

from __future__ import annotations

from pathlib import Path

from bnn_models.gate import compare, make_baseline
from bnn_models.io import write_json
from bnn_models.report.run import MethodRun, failure_text
from bnn_models.schema import NOT_APPLICABLE, STATUSES
from tests.test_gate import _fit, _run

_WHY = (
    "the Hessian of -log p at the optimiser's end point is not positive definite "
    "(1 of 121 eigenvalues <= 0, smallest -0.0123): no Gaussian there"
)


def test_the_status_is_documented():
    assert NOT_APPLICABLE in STATUSES and "exit 1" in STATUSES[NOT_APPLICABLE]


def test_report_text_names_it_apart_from_failures():
    ok = _fit("advi", 0)
    na = _fit("advi", 1) | {"status": NOT_APPLICABLE, "error": _WHY}
    crash = _fit("advi", 2) | {"status": "failed", "error": "boom"}
    text = failure_text(MethodRun("advi", [ok, na, crash]))
    assert text.startswith("seed 1 (not applicable): the Hessian")
    assert "smallest -0.0123" in text and "seed 2: boom" in text


def test_gate_expects_a_seed_that_did_not_apply_to_stay_so(tmp_path: Path):
    run = _run(tmp_path, "base", [0, 1, 2, 3])
    doc_path = run / "metrics.json"
    import json

    doc = json.loads(doc_path.read_text())
    for f in doc["fits"]:
        if f["method"] == "advi" and f["seed"] == 3:
            f |= {"status": NOT_APPLICABLE, "error": _WHY}
    write_json(doc_path, doc)
    base = make_baseline([run])
    assert base["failures"] == {"advi": {"3": _WHY}}
    again = [f for f in doc["fits"]]
    table, notes = compare(base, again)
    assert "advi: seed(s) 3 failed, as in the baseline; not gated" in notes
    assert set(table["verdict"]) == {"ok"}


def test_a_laplace_fit_at_an_indefinite_hessian_reads_not_applicable_and_exits_0(
    tmp_path: Path, capsys
):
    """Through ``bnn-bench run``: one L-BFGS-B step from a prior draw stops far from a
    mode, where -log p's Hessian has negative eigenvalues (12 of 121 on these data)."""
    import json

    from bnn_models.cli import main

    out = tmp_path / "run"
    args = ["run", "--dataset", "teacher", "--n-train", "200", "--n-test", "50"]
    args += ["--methods", "laplace", "--set", "laplace.maxiter=1", "--seeds", "1"]
    args += ["--out", str(out), "--reference", "none", "--no-progress"]
    assert main(args) == 0
    log = capsys.readouterr()
    assert "not applicable (the Hessian" in log.out + log.err
    assert "FAILED" not in log.out + log.err
    (fit,) = json.loads((out / "metrics.json").read_text())["fits"]
    assert fit["status"] == NOT_APPLICABLE
    assert "not positive definite" in fit["error"] and "smallest -" in fit["error"]
    report = (out / "report.md").read_text()
    assert "not applicable" in report and "smallest -" in report
