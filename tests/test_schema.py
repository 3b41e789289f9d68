"""The results schema: seed summaries by hand, validation errors that name the field, v1."""

from __future__ import annotations

import copy
import json

import pytest

from bnn_models.errors import BadInput, ResultsError
from bnn_models.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    SEED_INTERVAL_PROB,
    flatten_metrics,
    load_metrics,
    seed_table,
    summarise_seeds,
    validate,
)


def _fit(method: str, seed: int, status: str = "ok", **sections) -> dict:
    return {
        "method": method,
        "family": "vi",
        "label": method.upper(),
        "seed": seed,
        "status": status,
        "config": {"seed": seed},
        "config_hash": f"h{seed}",
        **sections,
    }


def _doc(fits: list[dict], version: int = SCHEMA_VERSION) -> dict:
    return {"schema": SCHEMA, "schema_version": version, "run": {"seeds": [0]}, "fits": fits}


# --- summaries over seeds, against numbers worked by hand ----------------------------


def test_three_seeds_summarised_by_hand():
    fits = [_fit("m", s, calibration={"ece": e}) for s, e in enumerate([0.1, 0.2, 0.4])]
    out = summarise_seeds(fits)["m"]
    assert out["n_seeds"] == 3 and out["interval_prob"] == SEED_INTERVAL_PROB == 0.9
    ece = out["metrics"]["calibration.ece"]
    # mean (0.1 + 0.2 + 0.4) / 3 = 0.7 / 3
    assert ece["mean"] == pytest.approx(0.2333333333)
    # deviations -0.13333, -0.03333, 0.16667; squares 0.0177778, 0.0011111, 0.0277778;
    # sum 0.0466667 / (3 - 1) = 0.0233333; sqrt = 0.1527525
    assert ece["sd"] == pytest.approx(0.1527525232)
    # 5% and 95% quantiles, linear interpolation over positions 0, 1, 2:
    # 0.05 * 2 = 0.1 -> 0.1 + 0.1 * (0.2 - 0.1) = 0.11; 0.95 * 2 = 1.9 -> 0.2 + 0.9 * 0.2 = 0.38
    assert ece["lo"] == pytest.approx(0.11) and ece["hi"] == pytest.approx(0.38)
    assert ece["n"] == 3


def test_interval_probability_is_a_parameter():
    fits = [_fit("m", s, calibration={"ece": e}) for s, e in enumerate([0.1, 0.2, 0.4])]
    ece = summarise_seeds(fits, prob=0.5)["m"]["metrics"]["calibration.ece"]
    # 25% and 75%: positions 0.5 -> 0.15 and 1.5 -> 0.2 + 0.5 * 0.2 = 0.3
    assert ece["lo"] == pytest.approx(0.15) and ece["hi"] == pytest.approx(0.3)


def test_one_seed_has_no_spread():
    out = summarise_seeds([_fit("m", 7, runtime={"fit_s": 2.5})])["m"]
    assert out["n_seeds"] == 1
    assert out["metrics"]["runtime.fit_s"] == {
        "mean": 2.5,
        "sd": 0.0,
        "lo": 2.5,
        "hi": 2.5,
        "n": 1,
    }


def test_failed_fits_and_missing_values_are_left_out():
    fits = [
        _fit("m", 0, calibration={"ece": 0.1, "roc_auc": 0.8}),
        _fit("m", 1, calibration={"ece": 0.3, "roc_auc": None}),
        _fit("m", 2, status="failed", calibration={"ece": 99.0}),
        _fit("gone", 0, status="failed", calibration={"ece": 1.0}),
    ]
    out = summarise_seeds(fits)
    assert set(out) == {"m"}  # no successful fit of "gone": no summary of it
    assert out["m"]["n_seeds"] == 2
    ece = out["m"]["metrics"]["calibration.ece"]
    assert ece["mean"] == pytest.approx(0.2) and ece["n"] == 2
    # sd of (0.1, 0.3) with ddof=1: sqrt((0.01 + 0.01) / 1) = 0.1414214
    assert ece["sd"] == pytest.approx(0.1414213562)
    auc = out["m"]["metrics"]["calibration.roc_auc"]
    assert auc == {"mean": 0.8, "sd": 0.0, "lo": 0.8, "hi": 0.8, "n": 1}


def test_methods_are_summarised_apart_in_order():
    fits = [_fit(m, s, runtime={"fit_s": t}) for s in (0, 1) for m, t in (("b", 1.0), ("a", 3.0))]
    out = summarise_seeds(fits)
    assert list(out) == ["b", "a"]
    assert out["a"]["metrics"]["runtime.fit_s"]["mean"] == 3.0


def test_flatten_keeps_numeric_scalars_of_metric_sections_only():
    entry = _fit(
        "m",
        0,
        runtime={"fit_s": 2, "grad_evals": None},
        elbo=None,
        spread={"pred_sd_mean": 0.1, "pred_sd": [0.1, 0.2], "param_sd": {"W0": 1.0}},
        calibration={"ece": 0.05, "not_available": {}},
        diagnostics={"divergences": 0, "converged": True},
        convergence={"max_iter": 100},  # not a metric section
    )
    assert flatten_metrics(entry) == {
        "runtime.fit_s": 2.0,
        "spread.pred_sd_mean": 0.1,
        "calibration.ece": 0.05,
        "diagnostics.divergences": 0.0,
    }
    table = seed_table([entry, _fit("m", 1, status="failed")])
    assert list(table.index) == [("m", 0)]
    assert seed_table([]).empty


# --- validation: every error names the file and the field ---------------------------


def _one_fit_doc() -> dict:
    return _doc([_fit("advi", 0, calibration={"ece": 0.1})])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("run"), "results.json: field 'run' missing"),
        (lambda d: d["fits"][0].pop("seed"), "results.json: fits[0]: field 'seed' missing"),
        (lambda d: d["fits"][0].pop("family"), "results.json: fits[0]: field 'family' missing"),
        (
            lambda d: d["fits"][0].update(seed="zero"),
            "results.json: fits[0]: field 'seed': expected 'int', got 'str'",
        ),
        (
            lambda d: d.update(fits={"advi": {}}),
            "results.json: field 'fits': expected 'array', got 'object'",
        ),
        (
            lambda d: d.update(schema="bnn-bench/reference"),
            "results.json: field 'schema' is 'bnn-bench/reference', expected 'bnn-bench/metrics'",
        ),
        (
            lambda d: d.update(schema_version=99),
            "results.json: field 'schema_version' is 99, this bnn-bench reads versions 1, 2",
        ),
        (
            lambda d: d.update(schema_version="2"),
            "results.json: field 'schema_version' is '2'",
        ),
    ],
)
def test_validation_errors_name_the_field(change, message):
    doc = _one_fit_doc()
    change(doc)
    with pytest.raises(ResultsError) as info:
        validate(doc, "results.json")
    assert message in str(info.value)
    assert isinstance(info.value, BadInput)  # exit 2 in the CLI


def test_a_document_that_is_not_an_object():
    with pytest.raises(ResultsError, match="results.json: expected a JSON object, got list"):
        validate([], "results.json")


def test_a_valid_document_is_returned_unchanged():
    doc = _one_fit_doc()
    assert validate(copy.deepcopy(doc)) == doc


def test_version_1_is_upgraded_with_families_from_content(tmp_path):
    nuts = _fit("nuts", 0, diagnostics={"rhat_max_pred": 1.0})
    tuned = _fit("mysampler", 0, diagnostics=None)
    tuned["config"]["tune"] = 100  # a tuning phase: a sampler's config
    advi = _fit("advi", 0, diagnostics=None, elbo={"final_elbo": -1.0})
    for f in (nuts, tuned, advi):
        del f["family"], f["label"]
    (tmp_path / "metrics.json").write_text(json.dumps(_doc([nuts, tuned, advi], version=1)))
    doc = load_metrics(tmp_path)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert [(f["method"], f["family"], f["label"]) for f in doc["fits"]] == [
        ("nuts", "mcmc", "nuts"),
        ("mysampler", "mcmc", "mysampler"),
        ("advi", "vi", "advi"),
    ]
    assert doc["fits"][0]["diagnostics"] == {"rhat_max_pred": 1.0}  # content kept


def test_a_version_2_fit_without_family_is_not_guessed():
    fit = _fit("advi", 0)
    del fit["family"]
    with pytest.raises(ResultsError, match=r"fits\[0\]: field 'family' missing"):
        validate(_doc([fit]))


def test_load_names_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(ResultsError, match=f"{path}: no metrics file"):
        load_metrics(tmp_path)
    path.write_text("{not json")
    with pytest.raises(ResultsError, match=f"{path}: corrupted JSON"):
        load_metrics(path)
    path.write_text(json.dumps({**_one_fit_doc(), "schema": "x"}))
    with pytest.raises(ResultsError, match=f"{path}: field 'schema' is 'x'"):
        load_metrics(tmp_path)
