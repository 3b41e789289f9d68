"""Which NUTS warm-up, draws and target acceptance reach the reference's noise floor fastest?

The suite's NUTS (nutpie, 4 chains on 2 cores) is fitted on the rupture data with each
configuration of :data:`CONFIGS` (warm-up steps, target acceptance; 2,000 kept draws per
chain) and each of ``--seeds`` seeds. Every fit is scored at prefixes of its draws and
subsets of its chains (:func:`bnn_models.anytime.anytime`: 50 ... 2,000 draws per chain,
1, 2, 4 chains, each charged with the warm-up it needed), against the committed reference
posterior, whose noise floor (two independent reference runs) is the target.

Cost is counted in gradient evaluations (warm-up included), the same on any machine and
whatever else it runs; the seconds beside them are this machine's. A point (configuration
x chains x draws) counts when it has at least 4 chains (:data:`MIN_CHAINS`) and its own
diagnostics pass in every seed (function-space R-hat <= 1.01, bulk ESS >= 400). The chosen point is the cheapest
counting point whose mean |dp| over seeds is at the floor; when none reaches the floor, the
cheapest counting point at least as faithful as the former default (warm-up 1,000, target 0.8,
4 chains x 1,000 draws: a prefix of the warm-up-1,000 fits). The suite's NUTS defaults take the chosen configuration when it differs from the former
default and counts in every seed.

About 40 minutes on 2 cores with 5 seeds; run it with nothing else on the machine:

    python -m studies.nuts_budget.nuts_budget --out studies/nuts_budget/results

Writes ``nuts_budget.json`` (every point of every fit, the floor, commit, machine, versions,
data hash) and ``nuts_budget.md``; ``--render`` redraws the markdown from the JSON;
``--quick`` fits short runs on 2 seeds (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from studies._common import provenance, render_template, write_report

#: (warm-up steps, target acceptance) per configuration; draws per chain: :data:`DRAWS`.
CONFIGS = ((400, 0.8), (1000, 0.8), (400, 0.9))
DRAWS = 2000
#: The suite's default before this study, as a point of the sweep: (tune, target_accept,
#: chains, draws).
DEFAULT = (1000, 0.8, 4, 1000)
#: Fewest chains a point may use to count: R-hat compares chains, and with fewer than 4 it
#: has little power to see a chain stuck elsewhere (Vehtari et al. 2021 recommend >= 4).
MIN_CHAINS = 4


def measure(seeds: list[int], *, quick: bool = False) -> dict:
    """Fit every configuration on every seed; every fit's anytime points."""
    from bnn_models.anytime import anytime
    from bnn_models.data import load_dataset
    from bnn_models.inference import METHODS
    from bnn_models.reference import find_reference

    ds = load_dataset("rupture")
    ref = find_reference(ds)
    if ref is None:
        raise SystemExit("nuts_budget: no reference of the rupture data (bnn-bench reference)")
    configs, draws = (((50, 0.8), (100, 0.8)), 100) if quick else (CONFIGS, DRAWS)
    fits = []
    for tune, target in configs:
        for seed in seeds:
            result = METHODS["nuts"](
                dataset=ds, seed=seed, tune=tune, draws=draws, target_accept=target
            )
            points = anytime(result, ds, ref)["points"]
            fits.append({"tune": tune, "target_accept": target, "seed": seed, "points": points})
            print(f"tune {tune}, target {target}, seed {seed}: {result.timings['total_s']:.0f} s")
    return {
        **provenance(ds),
        "reference": {"key": ref.key, "noise_floor": ref.summary.get("noise_floor")},
        "configs": [list(c) for c in configs],
        "draws": draws,
        "seeds": seeds,
        "quick": quick,
        "fits": fits,
    }


def summarise(doc: dict) -> dict:
    """Per point (config, chains x draws): mean over seeds, counted or not, and the choice."""
    floor = (doc["reference"].get("noise_floor") or {}).get("pred_tv_mean")
    by = defaultdict(list)
    for fit in doc["fits"]:
        for p in fit["points"]:
            by[(fit["tune"], fit["target_accept"], p["stage"])].append(p)
    rows = []
    for (tune, target, stage), ps in by.items():
        tv = [p["pred_tv_mean"] for p in ps]
        rows.append(
            {
                "tune": tune,
                "target_accept": target,
                "stage": stage,
                "seeds": len(ps),
                "seconds": float(np.mean([p["seconds"] for p in ps])),
                "grads": float(np.mean([p["grad_evals"] for p in ps])),
                "tv_mean": float(np.mean(tv)),
                "tv_lo": float(np.min(tv)),
                "tv_hi": float(np.max(tv)),
                "sd_ratio": float(np.mean([p["pred_sd_ratio_gmean"] for p in ps])),
                "rhat_max": float(np.max([p["rhat_max_pred"] for p in ps])),
                "ess_min": float(np.min([p["ess_bulk_min_pred"] for p in ps])),
                "chains": int(stage.split()[0]),
                "passes": all(p["converged"] for p in ps) and len(ps) == len(doc["seeds"]),
                "at_floor": floor is not None and float(np.mean(tv)) <= floor,
            }
        )
    # Cost is counted in gradients (each a log density and its gradient): seconds vary with
    # whatever else the machine runs, gradients do not; seconds are shown beside them.
    rows.sort(key=lambda r: r["grads"])
    for r in rows:
        r["counts"] = r["passes"] and r["chains"] >= MIN_CHAINS
    tune, target, chains, draws = DEFAULT
    default_stage = f"{chains} chains x {draws:,} draws"
    default = next(
        (
            r
            for r in rows
            if (r["tune"], r["target_accept"], r["stage"]) == (tune, target, default_stage)
        ),
        None,
    )
    counting = [r for r in rows if r["counts"]]
    reached = [r for r in counting if r["at_floor"]]
    if reached:
        chosen, why = reached[0], "the cheapest point at the floor in every seed's mean"
    elif default is not None:
        good = [r for r in counting if r["tv_mean"] <= default["tv_mean"]]
        chosen = good[0] if good else None
        why = (
            "no point reached the floor: the cheapest counting point at least as faithful "
            "as the former default"
        )
    else:
        chosen, why = None, "the former default is not in the sweep"
    closest = min(counting, key=lambda r: r["tv_mean"]) if counting else None
    # What fewer chains would save: passing, as faithful as the chosen point, cheaper.
    fewer = [
        r
        for r in rows
        if r["passes"]
        and r["chains"] < MIN_CHAINS
        and chosen is not None
        and r["tv_mean"] <= chosen["tv_mean"] * 1.05
        and r["grads"] < chosen["grads"]
    ]
    return {
        "floor": floor,
        "rows": rows,
        "default": default,
        "chosen": chosen,
        "why": why,
        "closest": closest,
        "fewer_chains": fewer[0] if fewer else None,
    }


def render(doc: dict) -> str:
    return render_template("nuts_budget/nuts_budget.md.j2", doc=doc, s=summarise(doc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = args.seeds[:2] if args.quick else args.seeds
    measure_fn = None if args.render else (lambda: measure(seeds, quick=args.quick))
    print(write_report(args.out, "nuts_budget", render, measure_fn))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
