"""Full-rank ADVI's optimizer schedule: ELBO traces over seeds, cold start against warm start.

The evidence behind full-rank ADVI's default schedule (issue 13, goal 3: converge in
every seed in <= 10 s of fitting). Every fit goes through the suite's own method
(``METHODS["fullrank_advi"]``), so the seconds and steps are what ``bnn-bench run``
records; each schedule is a set of settings (:data:`SCHEDULES`), written out in full so
that the comparison means the same after the defaults change:

    python -m studies.fullrank_schedule.fullrank_schedule
    python -m studies.fullrank_schedule.fullrank_schedule --render

Per fit: fitting seconds (compilation apart), steps (the mean-field stage's included),
whether and where the ELBO rule fired, the final loss (mean of the last
:data:`FINAL` steps: lower is a better ELBO), the mean-field stage's own final loss, and
test-set quality of the draws (log loss, weighted F1, mean predictive sd). Writes
``schedule.json`` (every number, the thinned loss traces, commit, machine, versions,
data hash), ``summary.md`` (``fullrank_schedule.md.j2``) and ``elbo_traces.png`` into
``--out`` (default ``studies/fullrank_schedule/results``). Timings: run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from studies._common import STUDIES, provenance, render_template

__all__ = ["SCHEDULES", "figure", "fit_one", "main", "render"]

#: Where the committed results live.
RESULTS = STUDIES / "fullrank_schedule" / "results"

#: Schedules compared, each full-rank ADVI's settings in full (the fields that differ).
SCHEDULES: dict[str, dict] = {
    "cold start": {
        "warm_start": False,
        "learning_rate": 5e-4,
        "max_iter": 80_000,
        "window": 5000,
    },
    "warm start": {
        "warm_start": True,
        "warm_max_iter": 10_000,
        "warm_window": 2000,
        "learning_rate": 1e-4,
        "max_iter": 20_000,
        "window": 2000,
    },
}
#: Steps averaged into the final loss (the same for every schedule).
FINAL = 1000
#: Keep every THIN-th loss in the JSON, and smooth the figure over SMOOTH steps.
THIN, SMOOTH = 10, 500
#: The goal: fitting seconds within which the rule must fire in every seed.
GOAL_S = 10.0


def fit_one(dataset, schedule: str, seed: int, **overrides) -> dict:
    """One fit of full-rank ADVI under ``schedule`` (``overrides``: settings on top, e.g. a
    short ``max_iter`` for a smoke run) and what the summary needs of it."""
    from bnn_models.inference import METHODS
    from bnn_models.metrics import calibration, spread

    fit = METHODS["fullrank_advi"](
        dataset=dataset, seed=seed, progressbar=False, **(SCHEDULES[schedule] | overrides)
    )
    c, loss = fit.convergence, np.asarray(fit.loss, dtype=float)
    warm = c.get("warm_start") or {}
    quality = calibration(fit.p_test.mean(axis=0), dataset.y_test)
    return {
        "schedule": schedule,
        "seed": seed,
        "status": fit.status,
        "fit_s": fit.timings["fit_s"],
        "compile_s": fit.timings["compile_s"],
        "steps": int(loss.size),
        "warm_steps": warm.get("iterations", 0),
        "warm_fit_s": fit.timings.get("warm_start_s", 0.0),
        "fired_at": c["fired_at"],
        "converged": c["converged"],
        "final_loss": float(np.mean(loss[-FINAL:])),
        "mean_field_loss": warm.get("final_loss"),
        "log_loss": quality["log_loss"],
        "f1_weighted": quality["f1_weighted"],
        "pred_sd_mean": spread(fit)["pred_sd_mean"],
        "backend": fit.backend,
        "loss": loss[::THIN].tolist(),
    }


def figure(fits: list[dict], path: Path) -> None:
    """Smoothed loss traces, one panel per schedule, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(f["schedule"] for f in fits))
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), sharey=True)
    k = SMOOTH // THIN
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        for f in (f for f in fits if f["schedule"] == name):
            smooth = np.convolve(f["loss"], np.ones(k) / k, mode="valid")
            x = (np.arange(smooth.size) + k) * THIN
            (line,) = ax.plot(x, smooth, lw=1, label=f"seed {f['seed']}")
            if f["warm_steps"]:
                ax.axvline(f["warm_steps"], color=line.get_color(), ls=":", lw=0.8)
            if f["fired_at"]:
                ax.plot(f["fired_at"], smooth[min(f["fired_at"] // THIN, smooth.size - 1)], "k|")
        ax.set(title=name, xlabel="step (dotted: end of the mean-field stage)", ylim=(840, 1000))
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel(f"loss = -ELBO (nats), {SMOOTH}-step moving average")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def render(doc: dict) -> str:
    """``summary.md`` from ``schedule.json``: pandas tables in the template."""
    fits = pd.DataFrame(doc["fits"]).drop(columns=["loss"])
    per_fit = fits[
        ["schedule", "seed", "fit_s", "steps", "warm_steps", "fired_at", "converged"]
        + ["final_loss", "mean_field_loss", "log_loss", "f1_weighted", "pred_sd_mean"]
    ]
    by = fits.groupby("schedule", sort=False)
    summary = pd.DataFrame(
        {
            "seeds": by["seed"].size(),
            "converged": by["converged"].sum(),
            "fit_s mean": by["fit_s"].mean(),
            "fit_s max": by["fit_s"].max(),
            "steps mean": by["steps"].mean(),
            "final loss mean": by["final_loss"].mean(),
            "log loss mean": by["log_loss"].mean(),
            "F1 mean": by["f1_weighted"].mean(),
            "pred sd mean": by["pred_sd_mean"].mean(),
        }
    ).reset_index()
    summary["every seed within goal"] = [
        bool(g["converged"].all() and (g["fit_s"] <= doc["goal_s"]).all()) for _, g in by
    ]
    settings = pd.DataFrame(doc["schedules"]).T
    # sorted: the same columns whether drawn as measured or from the JSON (keys sorted)
    settings = settings[sorted(settings.columns)].rename_axis("schedule").reset_index()
    return render_template(
        "fullrank_schedule/fullrank_schedule.md.j2",
        doc=doc,
        settings=settings.to_markdown(index=False),
        summary=summary.to_markdown(index=False, floatfmt=".4g"),
        per_fit=per_fit.to_markdown(index=False, floatfmt=".4g"),
        verdicts=summary[["schedule", "every seed within goal"]].to_dict("records"),
    )


def main(argv: list[str] | None = None, dataset=None, **overrides) -> int:
    """Fit, write ``schedule.json``, ``summary.md`` and the figure into ``--out``
    (``dataset``, ``overrides``: another data set and settings, for a smoke run)."""
    from bnn_models.data import load_rupture
    from bnn_models.io import write_json, write_text

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=list(SCHEDULES))
    parser.add_argument("--render", action="store_true", help="only redraw from schedule.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.render:
        doc = json.loads((out / "schedule.json").read_text())
    else:
        dataset = dataset if dataset is not None else load_rupture()
        prov = provenance(dataset)  # the checkout as the run starts
        fits = []
        for name in args.schedules:
            for seed in args.seeds:
                fits.append(fit_one(dataset, name, seed, **overrides))
                f = fits[-1]
                print(
                    f"{name} seed {seed}: {f['fit_s']:.1f} s, {f['steps']} steps, "
                    f"fired at {f['fired_at']}, final loss {f['final_loss']:.1f}",
                    flush=True,
                )
        doc = {
            **prov,
            "schedules": {name: SCHEDULES[name] | overrides for name in args.schedules},
            "final_steps": FINAL,
            "thin": THIN,
            "goal_s": GOAL_S,
            "fits": fits,
        }
        write_json(out / "schedule.json", doc)
    figure(doc["fits"], out / "elbo_traces.png")
    text = render(doc)
    write_text(out / "summary.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
