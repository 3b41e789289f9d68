"""studies/upstream_repros: each reproduction's report from hand-made numbers and from its
committed JSON; the numba-only part of the ADVI step reproduction at its smallest size."""

from __future__ import annotations

import json

import pytest

from studies.upstream_repros import (
    advi_step_repro,
    fastmath_cache_repro,
    fastmath_shared_cache,
    fused_repro,
    host_draw,
)

RESULTS = host_draw.RESULTS


def test_the_host_draw_report_states_the_saving_and_a_differing_trace(tmp_path):
    """The saving per method is the positional step with the draw in numba minus the one
    as shipped; a trace that differs says so; --render redraws it."""
    us = {"advi": (200.0, 110.0, 100.5), "fullrank_advi": (260.0, 150.0, 125.0)}
    doc = {
        "commit": "abc",
        "machine": {"cpu": "cpu", "cpu_count": 2},
        "versions": {"pymc": "6", "pytensor": "3", "numba": "0.68"},
        "data": {"n_train": 1600, "sha256": "f" * 64},
        "settings": {"check_steps": 300, "rounds": 7, "number": 300},
        "same_trace": {"advi": True, "fullrank_advi": False},
        "rows": [
            {"method": m, "case": c, "us_per_step": t, "generator_in_numba": k < 2}
            for m, times in us.items()
            for k, (c, t) in enumerate(zip(host_draw.CASES, times, strict=True))
        ],
    }
    text = host_draw.render(doc)
    assert "advi: the draw in NumPy saves 9.5 us per step (110.0 against 100.5)" in text
    assert "fullrank_advi: the draw in NumPy saves 25.0 us per step" in text
    assert "300 steps from the same start: **yes**" in text
    assert "300 steps from the same start: **no**" in text
    (tmp_path / "host_draw.json").write_text(json.dumps(doc))
    assert host_draw.main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "host_draw.md").read_text() == text


def test_the_fused_report_gives_each_implementation_against_the_kernel(tmp_path):
    rows = [
        {"implementation": "fused numba kernel", "us_per_call": 50.0, "max_err": 0.0},
        {"implementation": "PyTensor mode=NUMBA, sign", "us_per_call": 75.0, "max_err": 2e-15},
    ]
    payload = {
        "rows": rows,
        "likelihood_terms_us": 12.5,
        "versions": {"commit": "abc", "numba": "0.68"},
        "agree_1e-10": True,
        "profile": "Class\n...",
        "svml": "numba has no SVML here",
    }
    text = fused_repro.render(payload)
    assert "| PyTensor mode=NUMBA, sign | 75.0 | 1.50x | 2.0e-15 |" in text
    assert "numba has no SVML here): 12.5 us of its 50.0 us." in text
    assert "Agreement with the fused kernel to 1e-10: yes (max relative diff 2.0e-15)" in text
    (tmp_path / "fused_repro.json").write_text(json.dumps(payload))
    assert fused_repro.main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fused_repro.md").read_text() == text


def test_the_cache_report_counts_numbers_that_differ_from_a_warm_process():
    """With fastmath the cold process differs in 1 of 3 numbers from the warm ones; without
    it all three processes agree."""
    warm, cold = [1.0, 2.0, 3.0], [1.0, 2.0, 3.0 + 1e-13]
    rows = [
        {"setting": s, "run": k + 1, "sha256": ("a" if v == warm else "b") * 64, "values": v}
        for s, runs in (
            ("numba__fastmath=True (default)", (cold, warm, warm)),
            ("numba__fastmath=False", (warm, warm, warm)),
        )
        for k, v in enumerate(runs)
    ]
    text = fastmath_cache_repro.render({"rows": rows, "versions": {"commit": "abc"}})
    assert (
        "| numba__fastmath=True (default) | 1 | cold (compiles) | `bbbbbbbbbbbbbbbb` | 1 of 3 |"
        in text
    )
    assert "- numba__fastmath=True (default): the first process (cold cache) differs" in text
    assert "- numba__fastmath=False: every process gives the same bits." in text


def test_the_shared_cache_report_is_a_table_of_the_processes(tmp_path):
    doc = {
        "provenance": {
            "commit": "abc",
            "versions": {"pymc": "6", "pytensor": "3", "numba": "0.68"},
        },
        "rows": [
            {"setting": "numba__fastmath=False", "process": 1, "max_abs_diff": 0.0},
            {"setting": "numba__fastmath=False", "process": 2, "max_abs_diff": 0.0},
        ],
    }
    text = fastmath_shared_cache.render(doc)
    assert "at commit `abc`" in text and "| numba__fastmath=False |         2 |" in text
    (tmp_path / "fastmath_shared_cache.json").write_text(json.dumps(doc))
    assert fastmath_shared_cache.main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fastmath_shared_cache.md").read_text() == text


@pytest.mark.parametrize(
    ("module", "stem", "expected"),
    [
        (host_draw, "host_draw", "the draw in NumPy saves"),
        (fused_repro, "fused_repro", "Agreement with the fused kernel to 1e-10: yes"),
        (fastmath_cache_repro, "fastmath_cache_repro", "numba__fastmath=False: every process"),
        (fastmath_shared_cache, "fastmath_shared_cache", "numba__fastmath=False"),
    ],
)
def test_the_committed_reports_render_from_their_json(module, stem, expected):
    assert expected in module.render(json.loads((RESULTS / f"{stem}.json").read_text()))


def test_passing_a_generator_to_numba_is_timed():
    """The numba-only part of the ADVI step reproduction, one repeat: three positive times."""
    costs = advi_step_repro.generator_costs(1)
    assert len(costs) == 3 and all(us > 0 for us in costs.values())
