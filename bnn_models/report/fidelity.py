"""The "fidelity to the reference" section: the reference posterior and every method against it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bnn_models.report.formats import Stat, over_seeds
from bnn_models.report.run import MethodRun, Row, group_widths, seed_text, styles
from bnn_models.schema import SEED_INTERVAL_PROB

__all__ = ["Fidelity", "build_fidelity", "khats"]

_WEIGHT_VARS = ("W0", "b0", "W1", "b1")
_ALIGN_LABEL = {
    "raw": "Weights, raw (as sampled)",
    "sort_w1": "Weights, hidden units sorted by W1 per draw",
    "match": "Weights, hidden units matched to a template per draw",
}


@dataclass(frozen=True)
class Fidelity:
    """The "fidelity to the reference" section: what the reference is, and each method against it.

    Attributes
    ----------
    reference : list of (str, str)
        Description of the reference posterior: key, file, sampler, model, acceptance.
    diagnostics_header : list of str
    diagnostics : list of list of str
        R-hat and ESS of the test-set probabilities and of the weights (raw, aligned).
    explanation : list of str
        Why convergence is judged in function space, with this reference's numbers.
    groups : list of (str, int)
    columns : list of str
    rows : list
        One per method: cells as "mean [lo, hi]" over seeds where there are several.
    notes : list of str
    verdicts : list of str
    """

    reference: list[tuple[str, str]]
    diagnostics_header: list[str]
    diagnostics: list[list[str]]
    explanation: list[str]
    groups: list[tuple[str, int]]
    columns: list[str]
    rows: list[Row]
    notes: list[str]
    verdicts: list[str]


def _fid(m: MethodRun, key: str) -> Stat | None:
    return m.stats.get(f"fidelity.{key}")


def _fid_show(m: MethodRun, key: str, kind: str) -> str:
    stat = _fid(m, key)
    if stat is None:
        return "n/a"
    text = stat.show(kind)
    if len(m.ok) > 1 and stat.n < len(m.ok):
        text += f" ({stat.n} of {len(m.ok)} seeds)"
    return text


def khats(m: MethodRun) -> dict[int, float]:
    """Seed -> k-hat of every successful fit of ``m`` that has one."""
    return {
        int(e["seed"]): float(e["fidelity"]["psis_khat"])
        for e in m.ok
        if (e.get("fidelity") or {}).get("psis_khat") is not None
    }


def _khat_cell(m: MethodRun, threshold: float) -> str:
    per_seed = khats(m)
    if not per_seed:
        return "n/a"
    stat = over_seeds(list(per_seed.values()))
    above = sum(k >= threshold for k in per_seed.values())
    if len(per_seed) == 1:
        return stat.show("ratio") + (f" (> {threshold:g})" if above else " (ok)")
    return f"{stat.show('ratio')}; > {threshold:g} in {above} of {len(per_seed)} seeds"


def _by_var_cell(m: MethodRun) -> str:
    parts = []
    for v in _WEIGHT_VARS:
        vals = [
            float(e["fidelity"]["weight_sd_ratio_by_var"][v]["median"])
            for e in m.ok
            if v in ((e.get("fidelity") or {}).get("weight_sd_ratio_by_var") or {})
        ]
        parts.append(f"{v} {over_seeds(vals).mean:.2f}" if vals else f"{v} n/a")
    return ", ".join(parts)


def _psis_cell(m: MethodRun, key: str, kind: str, threshold: float) -> str:
    if not khats(m):
        return "n/a"
    if _fid(m, f"psis_{key}") is None:
        return f"n/a (k-hat >= {threshold:g})"
    return _fid_show(m, f"psis_{key}", kind)


def _wasserstein_cell(m: MethodRun) -> str:
    if any((e.get("fidelity") or {}).get("reference_draws") is False for e in m.ok):
        return "n/a: needs the reference's draws"
    return _fid_show(m, "pred_wasserstein_mean", "prob")


def _range_cell(m: MethodRun) -> str:
    lo, hi = _fid(m, "pred_sd_ratio_q05"), _fid(m, "pred_sd_ratio_q95")
    if lo is None or hi is None:
        return "n/a"
    return f"{lo.mean:.2f} to {hi.mean:.2f}"


def _fidelity_columns(
    gate: float, threshold: float, truth: bool
) -> list[tuple[str, str, Callable[[MethodRun], str]]]:
    cols: list[tuple[str, str, Callable[[MethodRun], str]]] = [
        ("Predictions", "Same class", lambda m: _fid_show(m, "class_agreement", "pct")),
        ("Predictions", "Mean |Δp| (TV)", lambda m: _fid_show(m, "pred_tv_mean", "prob")),
        ("Predictions", "Max |Δp|", lambda m: _fid_show(m, "pred_tv_max", "prob")),
        (
            "Predictions",
            "Predictive sd vs reference",
            lambda m: _fid_show(m, "pred_sd_ratio_gmean", "ratio"),
        ),
        ("Predictions", "sd ratio, 5% to 95% of points", _range_cell),
        (
            "Predictions",
            f"Means off by > {gate:g} ref. sd",
            lambda m: _fid_show(m, "share_mean_off_0p3sd", "pct0"),
        ),
        ("Predictions", "Wasserstein-1", _wasserstein_cell),
        (
            "Weights, units matched",
            "sd ratio, median",
            lambda m: _fid_show(m, "weight_sd_ratio_median", "ratio"),
        ),
        ("Weights, units matched", "median per variable", _by_var_cell),
        (
            "Importance sampling (VI)",
            f"k-hat (ok below {threshold:g})",
            lambda m: _khat_cell(m, threshold),
        ),
        ("Importance sampling (VI)", "ESS share", lambda m: _fid_show(m, "psis_ess_share", "pct")),
        (
            "Importance sampling (VI)",
            "corrected mean |Δp|",
            lambda m: _psis_cell(m, "pred_tv_mean", "prob", threshold),
        ),
        (
            "Importance sampling (VI)",
            "corrected predictive sd vs reference",
            lambda m: _psis_cell(m, "pred_sd_ratio_gmean", "ratio", threshold),
        ),
    ]
    if truth:
        cols += [
            (
                "True probabilities",
                "Mean |E p - p_true|",
                lambda m: _fid_show(m, "truth_tv_mean", "prob"),
            ),
            ("True probabilities", "RMSE", lambda m: _fid_show(m, "truth_rmse", "prob")),
            (
                "True probabilities",
                "90% interval coverage",
                lambda m: _fid_show(m, "truth_coverage_90", "pct"),
            ),
        ]
    return cols


def _num(d: dict | None, key: str, fmt: str) -> str:
    value = (d or {}).get(key)
    return "not recorded" if value is None else format(float(value), fmt)


def _reference_rows(ref: dict) -> list[tuple[str, str]]:
    cfg, model = ref.get("config") or {}, ref.get("model") or {}
    sampler = f"{cfg.get('chains')} chains x {cfg.get('draws')} draws"
    if cfg.get("tune") is not None:
        sampler += (
            f" (tune {cfg.get('tune')}), seed {cfg.get('seed')}, target_accept "
            f"{cfg.get('target_accept')}, {cfg.get('sampler')}"
        )
    else:
        sampler += " (draws given from elsewhere; no sampler settings recorded)"
    acc = ref.get("acceptance")
    if acc:
        r, e = acc.get("rhat_max_pred") or {}, acc.get("ess_bulk_min_pred") or {}
        acceptance = (
            f"{'PASSED' if acc.get('passed') else 'FAILED'}: largest R-hat of the test-set "
            f"probabilities {_num(r, 'value', '.4f')} (limit {r.get('limit')}: "
            f"{'ok' if r.get('ok') else 'not ok'}); smallest bulk ESS "
            f"{_num(e, 'value', ',.0f')} (at least {e.get('limit')}: "
            f"{'ok' if e.get('ok') else 'not ok'})"
        )
    else:
        acceptance = "not recorded (a reference from external draws carries no diagnostics)"
    return [
        ("Reference", f"{ref.get('key')}: {ref.get('path') or 'not cached (external draws)'}"),
        ("Sampler", sampler),
        (
            "Model",
            f"n_hidden={model.get('n_hidden')}, prior_sigma={model.get('prior_sigma')}, "
            f"build_bnn source SHA256 {(model.get('source_sha256') or 'not recorded')[:16]}...",
        ),
        ("Data hash", ref.get("data_hash") or "not recorded"),
        (
            "Built",
            f"{ref.get('created') or 'not recorded'}, commit {ref.get('commit') or 'not recorded'}",
        ),
        ("Acceptance", acceptance),
    ]


def _reference_diagnostics(ref: dict) -> tuple[list[str], list[list[str]]]:
    diag = ref.get("diagnostics") or {}
    fs, ws = diag.get("function_space") or {}, diag.get("weight_space") or {}
    header = [
        "Quantity",
        "Max R-hat",
        "Median R-hat",
        "Min bulk ESS",
        "Median bulk ESS",
        "Min tail ESS",
    ]
    n = fs.get("n_points") or len(ref.get("pred_mean") or [])
    rows = [
        [
            f"Test-set probabilities ({n}; function space)",
            _num(fs, "rhat_max", ".4f"),
            _num(fs, "rhat_median", ".4f"),
            _num(fs, "ess_bulk_min", ",.0f"),
            _num(fs, "ess_bulk_median", ",.0f"),
            _num(fs, "ess_tail_min", ",.0f"),
        ]
    ]
    for name, label in _ALIGN_LABEL.items():
        d = ws.get(name) or {}
        rows.append(
            [
                label,
                _num(d, "rhat_max", ".4f"),
                "",
                _num(d, "ess_bulk_min", ",.0f"),
                "",
                _num(d, "ess_tail_min", ",.0f"),
            ]
        )
    return header, rows


def _explanation(ref: dict) -> list[str]:
    n_hidden = (ref.get("model") or {}).get("n_hidden", "hidden")
    diag = ref.get("diagnostics") or {}
    fs, ws = diag.get("function_space") or {}, diag.get("weight_space") or {}
    out = [
        f"Why the reference's convergence is judged on its predictions: relabelling the "
        f"{n_hidden} hidden units (or other per-unit changes: a ReLU unit that is never active "
        "keeps its prior; a unit's incoming weights can grow while its outgoing weight shrinks) "
        "leaves the network's function unchanged. Each chain settles into its own relabelling, "
        "so the raw weights show a high R-hat and a low ESS even when every chain mixes well "
        "within its mode, while the test-set probabilities, which no symmetry changes, "
        "converge. The acceptance criterion is therefore on the test-set probabilities."
    ]
    raw, match = ws.get("raw") or {}, ws.get("match") or {}
    limit = float(((ref.get("acceptance") or {}).get("rhat_max_pred") or {}).get("limit", 1.01))
    if fs.get("rhat_max") is None or raw.get("rhat_max") is None:
        out.append(
            "This reference records no diagnostics (draws given from elsewhere), so the "
            "contrast cannot be shown on its data."
        )
        return out
    sentence = (
        f"On this reference: the raw weights' largest R-hat is {raw['rhat_max']:.3f} "
        f"(smallest bulk ESS {raw['ess_bulk_min']:,.0f}), the test-set probabilities' "
        f"{fs['rhat_max']:.4f} (bulk ESS {fs['ess_bulk_min']:,.0f})"
    )
    if match.get("rhat_max") is not None:
        sentence += (
            f", and after matching the hidden units to a template {match['rhat_max']:.3f} "
            f"(bulk ESS {match['ess_bulk_min']:,.0f})"
        )
    sentence += "."
    if raw["rhat_max"] > limit >= fs["rhat_max"]:
        sentence += (
            f" The raw weights would fail the usual R-hat <= {limit:g} check while the "
            "predictions pass it."
        )
    out.append(sentence)
    if match.get("rhat_max") is not None:
        if match["rhat_max"] > limit:
            out.append(
                "Matching the units removes the permutation part, not all of it: what is left "
                "(rescaling a unit's incoming weights against its outgoing weight, and units "
                "that stay inactive) keeps the matched weights' R-hat above "
                f"{limit:g}. This is why the per-weight sd comparison below, W1's above "
                "all, is harder to read than the predictive one."
            )
        else:
            out.append(
                "Matching the units removes the permutation part; the remaining per-unit "
                "rescalings still make per-weight sds, W1's above all, harder to read than "
                "the predictive comparison."
            )
    return out


def _fidelity_verdicts(
    methods: dict[str, MethodRun], ref: dict, threshold: float, gate: float
) -> list[str]:
    out = []
    acc = ref.get("acceptance")
    if acc and not acc.get("passed"):
        out.append(
            "The reference FAILED its own acceptance criterion (see above): differences from it "
            "may be the reference's as much as the method's."
        )
    for m in methods.values():
        used = [e for e in m.ok if (e.get("fidelity") or {}).get("reference")]
        if not used:
            continue
        seeds = f", mean over {len(used)} seeds" if len(used) > 1 else ""
        parts = []
        sd = _fid(m, "pred_sd_ratio_gmean")
        if sd is not None:
            q05, q95 = _fid(m, "pred_sd_ratio_q05"), _fid(m, "pred_sd_ratio_q95")
            text = (
                f"{m.label}: its predictive sd was {sd.mean:.0%} of the reference's (geometric "
                f"mean over test points{seeds}"
            )
            if q05 is not None and q95 is not None:
                text += f"; 5% to 95% of points: {q05.mean:.0%} to {q95.mean:.0%}"
            text += ")"
            parts.append(text + ".")
        tv, agree, off = (
            _fid(m, "pred_tv_mean"),
            _fid(m, "class_agreement"),
            _fid(m, "share_mean_off_0p3sd"),
        )
        if tv is not None and agree is not None and off is not None:
            parts.append(
                f"Its predicted probabilities differ from the reference's by {tv.mean:.3f} on "
                f"average and give the same class for {agree.mean:.1%} of test points; "
                f"{off.mean:.0%} of the points' means lie more than {gate:g} reference sds away."
            )
        w = _fid(m, "weight_sd_ratio_median")
        if w is not None:
            parts.append(
                f"With the hidden units matched to the reference's, its weights' sd was "
                f"{w.mean:.0%} of the reference's (median over weights; {_by_var_cell(m)})."
            )
        per_seed = khats(m)
        if per_seed:
            stat = over_seeds(list(per_seed.values()))
            above = sum(k >= threshold for k in per_seed.values())
            k_text = (
                f"k-hat {stat.mean:.2f}"
                if len(per_seed) == 1
                else f"k-hat {stat.mean:.2f} on average, above {threshold:g} in {above} of "
                f"{len(per_seed)} seeds"
            )
            if above == len(per_seed):
                parts.append(
                    (f"{k_text} > {threshold:g}" if len(per_seed) == 1 else k_text)
                    + ": the approximation is not reliable for importance correction."
                )
            else:
                corr = _fid(m, "psis_pred_sd_ratio_gmean")
                corr_tv = _fid(m, "psis_pred_tv_mean")
                text = (
                    f"{k_text}" + (f" < {threshold:g}" if len(per_seed) == 1 else "") + ": "
                    "importance sampling can correct it"
                )
                if corr is not None and corr_tv is not None:
                    text += (
                        f"; corrected, its predictive sd is {corr.mean:.0%} of the reference's "
                        f"and its probabilities differ by {corr_tv.mean:.3f} on average"
                    )
                parts.append(text + ".")
        out.append(" ".join(parts))
    return [v for v in out if v]


def build_fidelity(doc: dict, methods: dict[str, MethodRun]) -> Fidelity | None:
    """The section for a run with a reference posterior; None for a run without one."""
    ref = doc["run"].get("reference")
    if not ref:
        return None
    fids = [e.get("fidelity") or {} for m in methods.values() for e in m.ok]
    gate = next((f["gate_sd"] for f in fids if f.get("gate_sd") is not None), 0.3)
    threshold = next(
        (f["khat_threshold"] for f in fids if f.get("khat_threshold") is not None), 0.7
    )
    truth = any(f.get("truth_tv_mean") is not None for f in fids)
    cols = _fidelity_columns(gate, threshold, truth)
    look = styles(methods)
    rows = []
    for name, m in methods.items():
        cells: list[str] | None = None
        failure = None
        skipped = {(e.get("fidelity") or {}).get("reference_skipped") for e in m.ok} - {None}
        if not m.ok:
            failure = "failed: no fit to compare"
        elif not any((e.get("fidelity") or {}).get("reference") for e in m.ok):
            why = "; ".join(sorted(str(s) for s in skipped)) or "no fidelity metrics recorded"
            failure = f"not compared: {why}"
        else:
            cells = [get(m) for _, _, get in cols]
        rows.append(Row(name, m.label, seed_text(m), cells, failure, look[name].color))
    cfg = ref.get("config") or {}
    align = (ref.get("alignment") or {}).get("match") or "hidden units matched to a template"
    notes = [
        f"Every method against the reference posterior {ref.get('key')} ({cfg.get('chains')} "
        f"chains x {cfg.get('draws')} draws), one row per method.",
        "Predictions: the test-set probabilities, which no symmetry of the hidden units "
        "changes. Same class: share of test points whose mean probability is on the same side "
        "of 0.5 as the reference's. Mean and max |Δp|: total variation distance between the "
        "method's and the reference's Bernoulli predictive distributions (the difference of "
        "mean probabilities), averaged and largest over points. Predictive sd vs reference: "
        "the method's predictive sd over the reference's, per test point, summarised by its "
        "geometric mean over points (the one predictive-sd ratio of every report); 5% to 95% "
        "of points: that ratio's 5th and 95th percentiles over points. "
        f"Means off by > {gate:g} ref. sd: share of test points "
        f"whose mean probability is more than {gate:g} reference sds from the reference's "
        "(the gate of Stan's performance tests). Wasserstein-1: distance between the draws of "
        "each test probability under the method and the reference, averaged over points.",
        f"Weights: the sd of every weight and bias within each chain (root mean square over "
        f"chains), after relabelling the hidden units of every draw ({align}); the median "
        "over all weights of the method's sd over the reference's, then per variable. Pooling "
        "chains without matching would mix modes.",
        "Importance sampling (VI only): Pareto k-hat of the importance ratios "
        "p(θ, y) / q(θ) over the approximation's draws (PSIS, Yao et al. 2018). Below "
        f"{threshold:g}, importance sampling can correct the approximation, and the corrected "
        "columns compare the reweighted predictive with the reference; above it they are n/a. "
        "ESS share: effective sample size of the smoothed weights over the number of draws.",
    ]
    if any(r.cells and "[" in " ".join(r.cells) for r in rows):
        notes.insert(
            0,
            f"Cells with an interval: mean over seeds [central {SEED_INTERVAL_PROB:.0%} interval "
            "over seeds]; the 5% to 95% range and the per-variable medians are means over seeds.",
        )
    if any(f.get("reference_draws") is False for f in fids):
        notes.append(
            "The reference was its committed compact summary (per test point: mean, sd and "
            "quantiles; per weight: sds and the hidden-unit template), not its draws: the "
            "metrics that compare whole distributions of draws (Wasserstein-1, and the "
            "reference's own distance to true probabilities) need the draws and are n/a; "
            "'bnn-bench reference' rebuilds them."
        )
    if truth and ref.get("truth"):
        t = ref["truth"]
        notes.append(
            f"True probabilities (teacher data): the reference itself has mean |E p - p_true| "
            f"{t['tv_mean']:.3f}, RMSE {t['rmse']:.3f} and 90% interval coverage "
            f"{t['coverage_90']:.1%}."
        )
    diag_header, diag_rows = _reference_diagnostics(ref)
    return Fidelity(
        reference=_reference_rows(ref),
        diagnostics_header=diag_header,
        diagnostics=diag_rows,
        explanation=_explanation(ref),
        groups=group_widths([g for g, _, _ in cols]),
        columns=[h for _, h, _ in cols],
        rows=rows,
        notes=notes,
        verdicts=_fidelity_verdicts(methods, ref, threshold, gate),
    )
