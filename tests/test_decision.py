"""The decision table and the NUTS-engine table, from hand-made numbers."""

from __future__ import annotations

from pathlib import Path

from bnn_models.report.decision import build_decision, build_engines
from bnn_models.report.run import load_methods
from tests.test_report import _doc


def _methods(doc: dict):
    return load_methods(Path("."), doc, load=False)


def test_decision_rows_grouped_by_family_with_known_cells():
    # registry order puts the ensemble first: the table still groups MCMC, VI, ensemble
    doc = _doc(
        {"deep_ensemble": 3.0, "advi": 2.0, "nuts": 24.0},
        {"deep_ensemble": 0.05, "advi": 0.05, "nuts": 0.1},
        {"deep_ensemble": 0.1, "advi": 0.2, "nuts": 0.05},
        {"deep_ensemble": 0.8, "advi": 0.85, "nuts": 0.9},
    )
    for fit in doc["fits"]:
        if fit["method"] == "advi":
            fit["fidelity"] = {
                "psis_khat": 0.93,
                "class_agreement": 0.96,
                "pred_sd_ratio_gmean": 0.4,
                "pred_tv_mean": 0.006,
            }
    d = build_decision(_methods(doc), {"pred_tv_mean": 0.002})
    assert [(family, label) for family, label, _, _ in d.rows] == [
        ("MCMC", "NUTS"),
        ("Variational (a density q)", "ADVI (mean-field)"),
        ("Ensemble", "deep ensemble"),
    ]
    cells = {label: dict(zip(d.header, row, strict=True)) for _, label, _, row in d.rows}
    assert cells["ADVI (mean-field)"]["Speed-up vs NUTS"] == "12.0x"
    assert cells["NUTS"]["Speed-up vs NUTS"] == "1 (baseline)"
    assert cells["deep ensemble"]["Accuracy"] == "80.0%"
    assert cells["ADVI (mean-field)"]["PSIS k-hat"] == "0.930"
    assert cells["NUTS"]["PSIS k-hat"] == "n/a: no density"
    assert cells["ADVI (mean-field)"]["Class agreement with reference"] == "96.0%"
    # fidelity beside the reference's noise floor: 0.006 is 3x the floor of 0.002
    assert cells["ADVI (mean-field)"]["Mean |dp| vs reference"] == "0.0060 (3.0x the floor)"
    assert cells["NUTS"]["Own diagnostics"] == "pass"
    # with a reference, the sd ratio is against it; a fit not compared with it is n/a
    assert cells["ADVI (mean-field)"]["Predictive sd vs reference"] == "40%"
    assert cells["deep ensemble"]["Predictive sd vs reference"] == "n/a"
    # without any reference, against the baseline
    for fit in doc["fits"]:
        fit.pop("fidelity", None)
    plain = build_decision(_methods(doc))
    cells = {label: dict(zip(plain.header, row, strict=True)) for _, label, _, row in plain.rows}
    assert cells["deep ensemble"]["Ratio of mean predictive sd to NUTS'"] == "50%"


def test_a_method_with_a_failed_seed_says_so_in_its_row():
    doc = _doc(
        {"advi": 2.0, "nuts": 24.0},
        {"advi": 0.05, "nuts": 0.1},
        {"advi": 0.1, "nuts": 0.1},
        {"advi": 0.9, "nuts": 0.9},
    )
    failed = dict(next(f for f in doc["fits"] if f["method"] == "advi"))
    failed |= {"seed": 7, "status": "failed", "error": "Hessian not positive definite"}
    doc["fits"].append(failed)
    d = build_decision(_methods(doc))
    labels = [label for _, label, _, _ in d.rows]
    assert "ADVI (mean-field) (1 of 2 seeds)" in labels and "NUTS" in labels


def test_engines_side_by_side_with_the_fastest_named():
    doc = _doc(
        {"nuts": 100.0, "hmc": 300.0, "advi": 5.0},
        {"nuts": 0.1, "hmc": 0.1, "advi": 0.1},
        {"nuts": 0.1, "hmc": 0.1, "advi": 0.1},
        {"nuts": 0.9, "hmc": 0.9, "advi": 0.9},
    )
    for fit in doc["fits"]:
        if fit["method"] in ("nuts", "hmc"):
            slow = fit["method"] == "hmc"
            fit["runtime"] |= {
                "warmup_s": 60.0 if slow else 20.0,
                "sampling_s": 240.0 if slow else 80.0,
                "grad_per_draw": 400.0,
                "us_per_grad_core": 150.0 if slow else 50.0,
                "ess_bulk_per_s": 1.0 if slow else 4.0,
                "ess_bulk_per_grad": 1e-4,
            }
            fit["diagnostics"]["tree_depth_mean"] = 8.0
    e = build_engines(_methods(doc))
    assert [label for label, _, _ in e.rows] == ["NUTS", "HMC"]  # the VI method is no engine
    cells = {label: dict(zip(e.header, row, strict=True)) for label, _, row in e.rows}
    assert (
        cells["HMC"]["Warm-up (s)"] == "60 s"
        and cells["NUTS"]["µs per gradient, per core (sampling)"] == "50"
    )
    assert cells["NUTS"]["Bulk ESS per 1,000 gradients"] == "0.1"
    text = " ".join(e.verdicts)
    assert "Best total time: NUTS (100 s), 3.00x the next best, HMC (300 s)" in text
    assert "Best bulk ESS per second (warm-up + sampling): NUTS (4 /s), 4.00x" in text
    assert cells["NUTS"]["Warm-up + draws per chain"] == "n/a"  # settings not recorded
    # an engine whose settings warm up longer (nutpie's flow: 1,500) says so, row and note
    for fit in doc["fits"]:
        fit["config"] = {"tune": 1500 if fit["method"] == "hmc" else 400, "draws": 2000}
    e = build_engines(_methods(doc))
    cells = {label: dict(zip(e.header, row, strict=True)) for label, _, row in e.rows}
    assert cells["HMC"]["Warm-up + draws per chain"] == "1,500 + 2,000"
    assert cells["NUTS"]["Warm-up + draws per chain"] == "400 + 2,000"
    assert (
        "not the same warm-up and draws: 400 + 2,000 per chain, but HMC 1,500 + 2,000"
        in (e.notes[0])
    )
    for fit in doc["fits"]:
        fit["config"] = {"tune": 400, "draws": 2000}
    assert "same draws and warm-up steps" in build_engines(_methods(doc)).notes[0]
    # a sampler without NUTS trees (no tree depth: MCLMC, SMC) is no NUTS engine
    del doc["fits"][1]["diagnostics"]["tree_depth_mean"]
    assert build_engines(_methods(doc)) is None
    one = _doc({"nuts": 1.0}, {"nuts": 0.1}, {"nuts": 0.1}, {"nuts": 0.9})
    assert build_engines(_methods(one)) is None
