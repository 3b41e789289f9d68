"""A candidate version set judged against the baseline set: the gate's rule and asv's.

- **Quality**: the baseline set's fits make a gate baseline (:func:`bnn_models.gate.make_baseline`:
  per method and gated metric, the mean and sd over the suite's seeds) and the candidate's
  fits are checked against it (:func:`bnn_models.gate.compare`): the same Student-t
  prediction bound CI gates commits with.
- **Timings**: every asv benchmark's ratio candidate / baseline, with its spread (each
  side's half interquartile range, asv's error measure, propagated to the ratio), and asv's
  verdict: a change only when the ratio passes ``timing_factor`` *and* the samples differ
  (Mann-Whitney U, as ``asv compare`` decides). Each method's fit seconds over the seeds
  are judged by the same rule, the seeds as samples.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bnn_models.gate import compare, make_baseline
from bnn_models.gate._runs import by_method, pool

__all__ = ["TIMING_COLUMNS", "asv_timings", "fit_timings", "judge_quality", "judge_timings"]

#: Columns of a timing comparison, in order.
TIMING_COLUMNS = (
    "benchmark unit baseline baseline_err candidate candidate_err ratio ratio_err verdict".split()
)


def judge_quality(baseline_run: Path, candidate_run: Path) -> tuple[pd.DataFrame, list[str], dict]:
    """Gate the candidate's fits on a baseline made from the baseline set's fits.

    Returns the gate's table (:func:`bnn_models.gate.compare`), its notes, and the
    baseline document (so a report can say how many seeds set the tolerances).
    """
    base = make_baseline([baseline_run])
    fits, _ = pool([candidate_run])
    table, notes = compare(base, fits)
    return table, notes, base


def _is_better(a: float, b: float, a_ss: tuple, b_ss: tuple, factor: float) -> bool:
    """asv's rule (``asv compare``/``continuous``): ``a`` better than ``b`` by ``factor``,
    unless the samples do not differ significantly."""
    from asv.commands.compare import _is_result_better

    return bool(_is_result_better(a, b, a_ss, b_ss, factor))


def _verdict(base: float, cand: float, base_ss: tuple, cand_ss: tuple, factor: float) -> str:
    if _is_better(base, cand, base_ss, cand_ss, factor):
        return "slower"
    if _is_better(cand, base, cand_ss, base_ss, factor):
        return "faster"
    return "same"


def _row(name: str, unit: str, base: tuple, cand: tuple, factor: float) -> dict:
    """One timing row from (value, stats, samples) of each side."""
    from asv_runner.statistics import get_err

    (bv, bst, bsa), (cv, cst, csa) = base, cand
    row = {"benchmark": name, "unit": unit, "baseline": bv, "candidate": cv}
    for side, v in (("baseline", bv), ("candidate", cv)):
        # asv records a failed benchmark as None and a skipped one as NaN
        if v is None or not math.isfinite(v) or v <= 0:
            state = "failed" if v is None else "skipped" if v != v else "invalid"
            return row | {"verdict": f"{state} in the {side}"}
    berr = get_err(bv, bst) if bst else math.nan
    cerr = get_err(cv, cst) if cst else math.nan
    ratio = cv / bv
    rerr = ratio * math.hypot(berr / bv, cerr / cv)
    verdict = _verdict(bv, cv, (bst, bsa), (cst, csa), factor)
    return row | {
        "baseline_err": berr,
        "candidate_err": cerr,
        "ratio": ratio,
        "ratio_err": rerr,
        "verdict": verdict,
    }


def asv_timings(results_dir: Path, machine: str) -> dict[str, tuple]:
    """Every asv result of ``machine`` under ``results_dir``: name -> (value, stats, samples, unit).

    Parameterised benchmarks are unrolled as ``name(param)``, as ``asv compare`` shows them.
    """
    from asv.commands.compare import unroll_result
    from asv.results import iter_results_for_machine

    out: dict[str, tuple] = {}
    for result in iter_results_for_machine(str(results_dir), machine):
        for key in result.get_all_result_keys():
            params = result.get_result_params(key)
            value = result.get_result_value(key, params)
            stats = result.get_result_stats(key, params)
            samples = result.get_result_samples(key, params)
            for name, v, st, sa in unroll_result(key, params, value, stats, samples):
                out[name] = (v, st, sa, "seconds")
    return out


def judge_timings(base: dict[str, tuple], cand: dict[str, tuple], factor: float) -> pd.DataFrame:
    """Side-by-side timings of two sets (:func:`asv_timings` or :func:`fit_timings`)."""
    rows = []
    for name in sorted(set(base) | set(cand)):
        if name not in base or name not in cand:
            side = "baseline" if name not in base else "candidate"
            rows.append({"benchmark": name, "unit": "seconds", "verdict": f"not run in the {side}"})
            continue
        rows.append(_row(name, base[name][3], base[name][:3], cand[name][:3], factor))
    return pd.DataFrame(rows, columns=TIMING_COLUMNS)


def fit_timings(run_dir: Path) -> dict[str, tuple]:
    """Each method's fit seconds over the run's seeds, as asv results: the median, asv's
    statistics of the seeds (``compute_stats``), and the seeds as samples."""
    from asv_runner.statistics import compute_stats

    fits, _ = pool([run_dir])
    out: dict[str, tuple] = {}
    for method, entries in by_method([f for f in fits if f["status"] == "ok"]).items():
        secs = [
            float(f["runtime"]["fit_s"]) for f in entries if (f.get("runtime") or {}).get("fit_s")
        ]
        if len(secs) < 2:
            continue
        _, stats = compute_stats(secs, 1)
        out[f"fit_s({method})"] = (float(np.median(secs)), stats, secs, "seconds")
    return out
