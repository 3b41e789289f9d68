"""The text ``bnn-bench reference`` prints: a reference posterior's diagnostics and verdict."""

from __future__ import annotations

from bnn_models import reference

__all__ = ["format_reference"]


def format_reference(summary: dict) -> str:
    """Human-readable diagnostics of a reference summary (``bnn-bench reference`` prints it)."""
    cfg, diag, acc = summary["config"], summary["diagnostics"], summary["acceptance"]
    fs, ws = diag["function_space"], diag["weight_space"]
    lines = [
        f"reference {summary['key']} of {summary['dataset']['name']}: {cfg['chains']} chains x "
        f"{cfg['draws']} draws (tune {cfg['tune']}, seed {cfg['seed']}, target_accept "
        f"{cfg['target_accept']}), {summary['sampler']}, "
        f"{summary['timings']['fit_s']:.0f} s sampling",
        f"  divergences {diag['divergences']} of {diag['n_draws']}, mean tree depth "
        f"{diag['tree_depth_mean']:.2f}",
        f"  function space ({fs['n_points']} test-set probabilities): R-hat max "
        f"{fs['rhat_max']:.4f} (median {fs['rhat_median']:.4f}, {fs['n_rhat_above_1_01']} "
        f"above {reference.ACCEPT_RHAT}), bulk ESS min {fs['ess_bulk_min']:.0f}, tail ESS min "
        f"{fs['ess_tail_min']:.0f}",
    ]
    labels = {
        "raw": "raw",
        "sort_w1": "units sorted by W1",
        "match": "units matched to template",
    }
    for name, label in labels.items():
        d = ws[name]
        by = ", ".join(f"{v} {s['rhat_max']:.3f}" for v, s in d["by_var"].items())
        lines.append(
            f"  weights, {label:<26} R-hat max {d['rhat_max']:.3f} ({by}), bulk ESS min "
            f"{d['ess_bulk_min']:.0f}"
        )
    if summary.get("truth"):
        t = summary["truth"]
        lines.append(
            f"  vs true probabilities: mean |E p - p_true| {t['tv_mean']:.4f}, max "
            f"{t['tv_max']:.4f}, 90% interval coverage {t['coverage_90']:.3f}"
        )
    verdict = "PASSED" if acc["passed"] else "FAILED"
    lines.append(
        f"  acceptance (every test probability R-hat <= {reference.ACCEPT_RHAT}, bulk ESS >= "
        f"{reference.ACCEPT_ESS_BULK}): {verdict}"
    )
    return "\n".join(lines)
