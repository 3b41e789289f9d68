"""The ``bnn-bench`` command: run, report, check, reference."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path

import pandas as pd

from bnn_models.bench import Interrupted
from bnn_models.data import Dataset, load_dataset

__all__ = ["main", "summary_table"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _seeds(text: str) -> list[int]:
    """``5`` -> five seeds from --seed; ``0,3,7`` -> those seeds."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            k = int(text)
            if k < 1:
                raise ValueError
            return [k]  # a count, resolved against --seed in _cmd_run
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds: {text!r} is neither a positive count nor a comma-separated list of integers"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} is empty or repeats a seed")
    return [-1, *seeds]  # marker: explicit list


def _override(text: str) -> tuple[str, str, object]:
    try:
        target, value = text.split("=", 1)
        method, key = target.split(".", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--set: {text!r} is not METHOD.SETTING=VALUE (e.g. advi.learning_rate=0.01)"
        ) from None
    try:
        parsed: object = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return method, key, parsed


def summary_table(doc: dict) -> pd.DataFrame:
    """One row per fit: status, times, ELBO, predictive sd, calibration, diagnostics."""
    rows = []
    for fit in doc["fits"]:
        row = {"method": fit["method"], "seed": fit["seed"], "status": fit["status"]}
        if fit["status"] == "ok":
            rt, cal, el, sp = fit["runtime"], fit["calibration"], fit["elbo"], fit["spread"]
            dg = fit.get("diagnostics") or {}
            row.update(
                {
                    "total_s": rt["total_s"],
                    "fit_s": rt["fit_s"],
                    "compile_s": rt["compile_s"],
                    "elbo": el["final_elbo"] if el else None,
                    "converged_at": (el["rule_fired_at"] or "no") if el else None,
                    "pred_sd": sp["pred_sd_mean"],
                    "accuracy": cal["accuracy"],
                    "f1_weighted": cal["f1_weighted"],
                    "ece": cal["ece"],
                    "brier": cal["brier"],
                    "log_loss": cal["log_loss"],
                    "auc": cal["roc_auc"],
                    "rhat_pred": dg.get("rhat_max_pred"),
                    "ess_pred": dg.get("ess_bulk_min_pred"),
                    "divergences": dg.get("divergences"),
                }
            )
        else:
            row["error"] = fit.get("error")
        rows.append(row)
    return pd.DataFrame(rows)


def _dataset(args: argparse.Namespace) -> Dataset:
    """The dataset named by the data options shared by ``run`` and ``reference``."""

    return load_dataset(
        args.dataset,
        data_dir=args.data_dir,
        data_file=args.data,
        label=args.label,
        rebalance=args.rebalance,
        seed=args.data_seed,
        n_train=args.n_train,
        n_test=args.n_test,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from bnn_models.bench import parse_methods, run_benchmark

    methods = parse_methods(args.methods)
    if args.seeds is None:
        seeds = [args.seed]
    elif args.seeds[0] == -1:
        seeds = args.seeds[1:]
    else:
        seeds = list(range(args.seed, args.seed + args.seeds[0]))
    overrides: dict = {}
    for method, key, value in args.set or []:
        if method not in methods:
            raise ValueError(f"--set: method {method!r} is not among --methods {','.join(methods)}")
        overrides.setdefault(method, {})[key] = value
    if args.hidden is not None:
        if args.hidden < 1:
            raise ValueError(f"--hidden: hidden width must be >= 1, got {args.hidden}")
        for m in methods:
            overrides.setdefault(m, {})["n_hidden"] = args.hidden
    dataset = _dataset(args)
    out = Path(args.out or f"results/{dataset.name}")
    print(
        f"bnn-bench run: {dataset.name} ({len(dataset.y_train)} train / {len(dataset.y_test)} "
        f"test rows, {dataset.n_features} features), methods {','.join(methods)}, seeds "
        f"{seeds}, profile {'quick' if args.quick else 'default'} -> {out}",
        flush=True,
    )
    from bnn_models.reference import resolve_reference

    reference = resolve_reference(args.reference, dataset, n_hidden=args.hidden or 12)
    print(
        f"reference: {reference.path} ({reference.key})"
        if reference is not None
        else f"reference: none ({args.reference}; build one with 'bnn-bench reference')",
        flush=True,
    )
    doc = run_benchmark(
        dataset,
        out,
        methods=methods,
        seeds=seeds,
        quick=args.quick,
        overrides=overrides,
        resume=args.resume,
        time_limit_s=args.time_limit,
        progressbar=not args.no_progress,
        log=lambda s: print(s, flush=True),
        command=shlex.join(["bnn-bench", *sys.argv[1:]]),
        reference=reference,
    )
    table = summary_table(doc)
    with pd.option_context(
        "display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format
    ):
        print("\nSummary (test set; times in seconds):")
        print(table.to_string(index=False))
    if not args.no_report:
        from bnn_models.report import write_report

        paths = write_report(out)
        print("report: " + ", ".join(str(p) for p in paths))
    print(f"metrics: {out / 'metrics.json'}")
    return 1 if (table["status"] != "ok").any() else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bnn_models.report import write_report

    for p in write_report(Path(args.dir)):
        print(p)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bnn_models.gate import check_main, write_baseline_main

    runs = [Path(r) for r in args.run or []]
    if args.write_baseline:
        return write_baseline_main(Path(args.baseline), runs)
    return check_main(
        baseline=Path(args.baseline), run_dir=runs or None, seeds=args.seeds, show_all=args.all
    )


def _cmd_reference(args: argparse.Namespace) -> int:
    from bnn_models.reference import reference_main

    return reference_main(args, _dataset(args))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bnn-bench``."""
    parser = argparse.ArgumentParser(
        prog="bnn-bench",
        description="Fit one PyMC Bayesian neural network with NUTS, ADVI and full-rank ADVI, "
        "and measure runtime, ELBO convergence, posterior spread and calibration.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", choices=["rupture", "teacher"], default="rupture")
        p.add_argument("--data", metavar="FILE", help="your own CSV/whitespace table instead")
        p.add_argument(
            "--label", default="-1", help="label column of --data: name or index (default: last)"
        )
        p.add_argument(
            "--data-dir",
            metavar="DIR",
            help="local folder with the rupture files "
            "(default: $BNN_BENCH_DATA_DIR, else download)",
        )
        p.add_argument(
            "--rebalance",
            action="store_true",
            help="upsample the training minority class, as the published study did",
        )
        p.add_argument(
            "--data-seed", type=int, default=0, help="seed of teacher data, splits, upsampling"
        )
        p.add_argument("--n-train", type=int, default=1600, help="teacher training rows")
        p.add_argument("--n-test", type=int, default=400, help="teacher test rows")

    run = sub.add_parser("run", help="fit the methods and write metrics.json, fits and report")
    data_options(run)
    run.add_argument("--methods", default="nuts,advi,fullrank_advi")
    run.add_argument("--seed", type=int, default=0, help="first seed")
    run.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help="K (K seeds from --seed) or a list 0,1,2: repeat each method per seed",
    )
    run.add_argument(
        "--quick", action="store_true", help="small settings: seconds, for smoke tests"
    )
    run.add_argument("--out", metavar="DIR", help="results folder (default results/<dataset>)")
    run.add_argument(
        "--resume", action="store_true", help="keep finished fits with the same config"
    )
    run.add_argument(
        "--time-limit", type=float, default=None, metavar="S", help="per-fit limit in seconds"
    )
    run.add_argument("--hidden", type=int, default=None, help="hidden units (default 12)")
    run.add_argument(
        "--set",
        type=_override,
        action="append",
        metavar="METHOD.KEY=VALUE",
        help="override a method setting, e.g. advi.learning_rate=0.003",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--no-report", action="store_true", help="skip report.html/report.md")
    run.add_argument(
        "--reference",
        default="auto",
        metavar="{auto,none,PATH}",
        help="reference posterior for the fidelity metrics: auto (a cached one of this data and "
        "model, if any; never builds one), none, or a reference file or cache folder",
    )
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="write report.html and report.md for a results folder")
    rep.add_argument("dir")
    rep.set_defaults(func=_cmd_report)

    chk = sub.add_parser(
        "check",
        help="regression gate: compare a run's quality metrics with a baseline",
        description="Exit 1 with a table when a gated metric (ELBO, calibration, accuracy, "
        "predictive spread, NUTS R-hat/ESS) is worse than the baseline by more than its "
        "tolerance, which comes from the baseline's seed-to-seed spread (bnn_models.gate).",
    )
    chk.add_argument(
        "--baseline",
        required=True,
        metavar="FILE",
        help="baseline JSON, e.g. results/baseline_quick.json",
    )
    chk.add_argument(
        "--run",
        action="append",
        metavar="DIR",
        help="results folder of "
        "'bnn-bench run' (repeatable); default: run the baseline's profile now",
    )
    chk.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="fresh run: use the baseline's first N seeds (default 1)",
    )
    chk.add_argument("--all", action="store_true", help="print every gated metric")
    chk.add_argument(
        "--write-baseline",
        action="store_true",
        help="write FILE from the --run folders (>= 3 seeds per method) instead of checking",
    )
    chk.set_defaults(func=_cmd_check)

    ref = sub.add_parser("reference", help="build (or reuse) the long NUTS reference posterior")
    data_options(ref)
    ref.add_argument("--chains", type=int, default=8)
    ref.add_argument(
        "--draws",
        type=int,
        default=1000,
        help="kept draws per chain (8 x 1000 met the acceptance: function-space R-hat <= 1.01, bulk ESS >= 400)",
    )
    ref.add_argument("--tune", type=int, default=1000)
    ref.add_argument("--seed", type=int, default=12345)
    ref.add_argument(
        "--cache", metavar="DIR", default=None, help="cache folder (default .bnn_cache/reference)"
    )
    ref.add_argument("--quick", action="store_true")
    ref.set_defaults(func=_cmd_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 on bad input, 1 when a fit failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=UserWarning)
            return int(args.func(args))
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as err:
        print(f"bnn-bench {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (Interrupted, KeyboardInterrupt) as err:
        print(
            f"bnn-bench {args.command}: interrupted ({err}); finished fits are kept, "
            "rerun with --resume to finish",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
