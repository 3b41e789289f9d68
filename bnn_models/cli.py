"""The ``bnn-bench`` command: run, report, check, reference, methods.

The only module that parses arguments, prints and chooses exit codes: 0 success,
1 a fit failed or a gated metric regressed (or a bug: then with its traceback),
2 bad input (:class:`~bnn_models.errors.BadInput`, its message alone), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bnn_models.data import SHIFTS, Dataset, load_dataset
from bnn_models.errors import BadInput
from bnn_models.model import N_HIDDEN

__all__ = ["DEFAULT_RUNS", "build_parser", "main"]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

#: Where ``bnn-bench run`` writes by default: a git-ignored folder, so that a first
#: run never replaces the committed reports under ``results/``.
DEFAULT_RUNS = Path("runs")


@dataclass(frozen=True)
class SeedSpec:
    """``--seeds``: a count of seeds from ``--seed`` on, or an explicit list."""

    count: int | None = None
    explicit: tuple[int, ...] = ()

    def resolve(self, first: int) -> list[int]:
        """The seeds to run, given ``--seed``."""
        if self.explicit:
            return list(self.explicit)
        return list(range(first, first + (self.count or 1)))


def _seeds(text: str) -> SeedSpec:
    """``5`` -> five seeds from --seed; ``0,3,7`` (or ``0,``) -> those seeds."""
    try:
        if "," in text:
            seeds = tuple(int(s) for s in text.split(",") if s.strip())
            if not seeds or len(set(seeds)) != len(seeds):
                raise argparse.ArgumentTypeError(f"--seeds: {text!r} is empty or repeats a seed")
            return SeedSpec(explicit=seeds)
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds: {text!r} is neither a positive count nor a comma-separated list of "
            "integers (one seed: '--seed 3' or '--seeds 3,')"
        ) from None
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"--seeds: {text!r}: a count must be >= 1 (one seed: '--seed {count}')"
        )
    return SeedSpec(count=count)


def _override(text: str) -> tuple[str, str, str]:
    try:
        target, value = text.split("=", 1)
        method, key = target.split(".", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--set: {text!r} is not METHOD.SETTING=VALUE (e.g. advi.learning_rate=0.01)"
        ) from None
    return method.strip(), key.strip(), value.strip()


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
        shift=args.shift,
    )


def _print_table(title: str, table: pd.DataFrame) -> None:
    with pd.option_context(
        "display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format
    ):
        print(f"\n{title}")
        print(table.to_string(index=False))


def _cmd_run(args: argparse.Namespace) -> int:
    from bnn_models.executor import make_executor
    from bnn_models.inference import resolve_methods
    from bnn_models.reference import resolve_reference
    from bnn_models.report import summary_table, write_report
    from bnn_models.runner import fit_settings, run_benchmark

    methods = resolve_methods(args.methods)
    seeds = (args.seeds or SeedSpec()).resolve(args.seed)
    overrides: dict[str, dict[str, object]] = {}
    for method, key, value in args.set or []:
        overrides.setdefault(method, {})[key] = value
    if args.hidden is not None:
        if args.hidden < 1:
            raise BadInput(f"--hidden: hidden width must be >= 1, got {args.hidden}")
        for m in methods:
            overrides.setdefault(m, {})["n_hidden"] = args.hidden
    fit_settings(methods, quick=args.quick, overrides=overrides)  # refuse bad settings first
    dataset = _dataset(args)
    out = Path(args.out) if args.out else DEFAULT_RUNS / dataset.name
    print(
        f"bnn-bench run: {dataset.name} ({len(dataset.y_train)} train / {len(dataset.y_test)} "
        f"test rows, {dataset.n_features} features), methods {','.join(methods)}, seeds "
        f"{seeds}, profile {'quick' if args.quick else 'default'} -> {out}",
        flush=True,
    )
    reference = resolve_reference(args.reference, dataset, n_hidden=args.hidden or N_HIDDEN)
    print(
        f"reference: {reference.path} ({reference.key})"
        if reference is not None
        else f"reference: none ({args.reference}; build one with 'bnn-bench reference')",
        flush=True,
    )
    executor = make_executor(
        args.scheduler,
        n_workers=args.workers,
        log=lambda s: print(s, flush=True),
        progress=not args.no_progress,
    )
    try:
        doc = run_benchmark(
            dataset,
            out,
            methods=methods,
            seeds=seeds,
            quick=args.quick,
            overrides=overrides,
            resume=args.resume,
            time_limit_s=args.time_limit,
            progressbar=not args.no_progress and args.scheduler == "serial",
            log=lambda s: print(s, flush=True),
            command=shlex.join(["bnn-bench", *sys.argv[1:]]),
            reference=reference,
            executor=executor,
        )
    finally:
        executor.close()
    table = summary_table(doc)
    _print_table("Summary (test set; times in seconds):", table)
    if not args.no_report:
        paths = write_report(out)
        print("report: " + ", ".join(str(p) for p in paths))
    print(f"metrics: {out / 'metrics.json'}")
    return EXIT_FAILED if (table["status"] == "failed").any() else 0


def _grid_from_options(args: argparse.Namespace) -> dict:
    """The grid a sweep's options describe (the keys of a grid file)."""

    def numbers(text: str) -> list[int] | str:
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            return text  # parse_grid names the key and the value

    if args.dataset is None:
        raise BadInput("sweep: give a GRID.toml file or --dataset (and --methods, --seeds)")
    dataset: dict[str, object] = {"name": args.dataset}
    if args.n_train:
        dataset["n_train"] = numbers(args.n_train)
    raw: dict[str, object] = {"datasets": [dataset], "quick": args.quick}
    if args.methods:
        raw["methods"] = args.methods.split(",")
    if args.seeds:  # "8": a count; "0,3,7": those seeds
        seeds = numbers(args.seeds)
        one = isinstance(seeds, list) and len(seeds) == 1 and "," not in args.seeds
        raw["seeds"] = seeds[0] if one else seeds
    if args.hidden:
        raw["hidden"] = numbers(args.hidden)
    return raw


def _cmd_sweep(args: argparse.Namespace) -> int:
    from bnn_models.executor import make_executor
    from bnn_models.report import write_report, write_scaling_report
    from bnn_models.schema import load_metrics
    from bnn_models.sweep import load_grid, parse_grid, run_sweep

    if args.grid is not None:
        if args.dataset or args.methods or args.seeds or args.hidden or args.n_train:
            raise BadInput("sweep: give either GRID.toml or the grid options, not both")
        grid = load_grid(args.grid)
    else:
        grid = parse_grid(_grid_from_options(args), "sweep options")
    log = lambda s: print(s, flush=True)  # noqa: E731
    executor = make_executor(
        args.scheduler, n_workers=args.workers, log=log, progress=not args.no_progress
    )
    try:
        index = run_sweep(
            grid,
            args.out,
            executor=executor,
            resume=args.resume,
            data_dir=args.data_dir,
            log=log,
            command=shlex.join(["bnn-bench", *sys.argv[1:]]),
        )
    finally:
        executor.close()
    out = Path(args.out)
    failed = 0
    for cell in index["cells"]:
        folder = out / cell["folder"]
        failed += sum(f["status"] == "failed" for f in load_metrics(folder)["fits"])
        if not args.no_report:
            write_report(folder)
    if not args.no_report:
        print("scaling report: " + ", ".join(str(p) for p in write_scaling_report(out)))
    print(
        f"sweep: {index['fits']} fits ({index['ran']} run now, {failed} failed) -> {out / 'sweep.json'}"
    )
    return EXIT_FAILED if failed else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bnn_models.report import write_report, write_scaling_report

    folder = Path(args.dir)
    # A sweep's folder gets the cost-growth report (its cells have their own reports).
    write = write_scaling_report if (folder / "sweep.json").is_file() else write_report
    for p in write(folder):
        print(p)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bnn_models.gate import check, write_baseline
    from bnn_models.report.check import format_baseline, format_check

    runs = [Path(r) for r in args.run or []]
    if args.write_baseline:
        doc = write_baseline(Path(args.baseline), runs)
        print("\n".join(format_baseline(doc, Path(args.baseline))))
        return 0
    result = check(
        Path(args.baseline),
        runs or None,
        seeds=args.seeds,
        methods=args.methods.split(",") if args.methods else None,
        log=lambda s: print(s, flush=True),
    )
    print("\n".join(format_check(result, show_all=args.all)))
    return 0 if result.passed else EXIT_FAILED


def _cmd_reference(args: argparse.Namespace) -> int:
    from bnn_models.reference import (
        QUICK_REFERENCE,
        ReferenceSettings,
        build_reference,
        refresh_summary,
    )
    from bnn_models.report.reference import format_reference

    if args.refresh:
        print(f"summary: {refresh_summary(args.refresh)}")
        return 0

    settings = (
        dataclasses.replace(QUICK_REFERENCE, seed=args.seed)  # --quick keeps the --seed given
        if args.quick
        else ReferenceSettings(chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed)
    )
    ref = build_reference(
        _dataset(args),
        settings,
        cache_dir=args.cache,
        log=lambda s: print(s, flush=True),
        command=shlex.join(["bnn-bench", *sys.argv[1:]]),
    )
    print(format_reference(ref.summary))
    print(f"summary: {ref.path.with_suffix('.json') if ref.path else '-'}")
    return 0 if ref.summary["acceptance"]["passed"] else EXIT_FAILED


def _cmd_methods(args: argparse.Namespace) -> int:
    from bnn_models.inference import METHODS

    table = pd.DataFrame(
        [
            {
                "name": m.name,
                "label": m.label,
                "family": m.family,
                "engine": m.engine,
                "version": m.engine_version or "-",
                "installed": "yes" if m.installed else "no",
                "description": m.description,
            }
            for m in METHODS.values()
        ]
    )
    print(table.to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bnn-bench``."""
    from bnn_models.inference import FAMILIES, METHODS
    from bnn_models.reference import ReferenceSettings

    parser = argparse.ArgumentParser(
        prog="bnn-bench",
        description="Fit one PyMC Bayesian neural network with several inference methods, "
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
        p.add_argument(
            "--shift",
            choices=sorted(SHIFTS),
            help="rupture: train inside the central 80%% of one feature, test inside and "
            "outside it (" + "; ".join(f"{n}: {s.feature}" for n, s in SHIFTS.items()) + ")",
        )

    def executor_options(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument(
            "--scheduler",
            default=default,
            metavar="{serial,auto,ADDRESS}",
            help=f"where the fits run (default {default}): serial (one after another in this "
            "process: the timings of committed runs), auto (a local dask cluster sized to the "
            "cores), or a running dask scheduler's address (tcp://host:8786)",
        )
        p.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="workers of the local cluster (auto; default: cores // chains per fit)",
        )

    run = sub.add_parser("run", help="fit the methods and write metrics.json, fits and report")
    data_options(run)
    run.add_argument(
        "--methods",
        default="all",
        help=f"comma-separated method names ({','.join(METHODS)}), families "
        f"({', '.join(FAMILIES)}) or 'all' (default); see 'bnn-bench methods'",
    )
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
    run.add_argument(
        "--out",
        metavar="DIR",
        help=f"results folder (default {DEFAULT_RUNS}/<dataset>, git-ignored)",
    )
    run.add_argument(
        "--resume", action="store_true", help="keep finished fits with the same config"
    )
    run.add_argument(
        "--time-limit", type=float, default=None, metavar="S", help="per-fit limit in seconds"
    )
    run.add_argument("--hidden", type=int, default=None, help=f"hidden units (default {N_HIDDEN})")
    run.add_argument(
        "--set",
        type=_override,
        action="append",
        metavar="METHOD.KEY=VALUE",
        help="override a method setting, e.g. advi.learning_rate=0.003 "
        "(settings: 'bnn-bench methods')",
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
    executor_options(run, "serial")
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser(
        "report",
        help="write report.html and report.md for a results folder (a sweep's folder: "
        "scaling.html and scaling.md, the cost-growth report)",
    )
    rep.add_argument("dir")
    rep.set_defaults(func=_cmd_report)

    chk = sub.add_parser(
        "check",
        help="regression gate: compare a run's quality metrics with a baseline",
        description="Exit 1 with a table when a gated metric (ELBO, calibration, accuracy, "
        "predictive spread, MCMC R-hat/ESS) is worse than the baseline by more than its "
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
    chk.add_argument(
        "--methods",
        metavar="M1,M2",
        help="gate only these of the baseline's methods (default: all of them)",
    )
    chk.set_defaults(func=_cmd_check)

    defaults = ReferenceSettings()
    ref = sub.add_parser("reference", help="build (or reuse) the long NUTS reference posterior")
    data_options(ref)
    ref.add_argument("--chains", type=int, default=defaults.chains)
    ref.add_argument(
        "--draws",
        type=int,
        default=defaults.draws,
        help=f"kept draws per chain (default {defaults.chains} x {defaults.draws} met the "
        "acceptance: function-space R-hat <= 1.01, bulk ESS >= 400)",
    )
    ref.add_argument("--tune", type=int, default=defaults.tune)
    ref.add_argument("--seed", type=int, default=defaults.seed)
    ref.add_argument(
        "--cache", metavar="DIR", default=None, help="cache folder (default .bnn_cache/reference)"
    )
    ref.add_argument("--quick", action="store_true")
    ref.add_argument(
        "--refresh",
        metavar="FILE",
        help="only rewrite the summary of the cached reference FILE (.nc/.json) with its "
        "compact section (no sampling); copy it to results/reference/ to commit it",
    )
    ref.set_defaults(func=_cmd_reference)

    swp = sub.add_parser(
        "sweep",
        help="datasets x sizes x widths x methods x seeds, one task per fit (dask by default)",
    )
    swp.add_argument("grid", nargs="?", metavar="GRID.toml", help="the grid (keys: README)")
    swp.add_argument("--out", required=True, metavar="DIR", help="one folder per cell in DIR")
    swp.add_argument(
        "--dataset", choices=["rupture", "teacher"], help="without GRID: the one dataset"
    )
    swp.add_argument("--n-train", metavar="N[,N...]", help="without GRID: teacher sizes")
    swp.add_argument("--hidden", metavar="H[,H...]", help="without GRID: hidden widths")
    swp.add_argument("--methods", metavar="M[,M...]", help="without GRID: names or families")
    swp.add_argument("--seeds", metavar="K|S,S...", help="without GRID: a count or a list")
    swp.add_argument("--quick", action="store_true", help="without GRID: quick settings")
    swp.add_argument("--data-dir", metavar="DIR", help="local folder with the rupture files")
    swp.add_argument("--resume", action="store_true", help="keep finished fits")
    swp.add_argument("--no-progress", action="store_true", help="no progress bar")
    swp.add_argument("--no-report", action="store_true", help="skip each cell's report")
    executor_options(swp, "auto")
    swp.set_defaults(func=_cmd_sweep)

    met = sub.add_parser(
        "methods", help="list the registered methods: family, engine, version, installed"
    )
    met.set_defaults(func=_cmd_methods)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 ok (skipped methods too), 1 a fit failed, a gate regressed or a bug,
    2 bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=UserWarning)
            return int(args.func(args))
    except BadInput as err:
        print(f"bnn-bench {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, _interrupted()) as err:
        print(
            f"bnn-bench {args.command}: interrupted ({err}); finished fits are kept, "
            "rerun with --resume to finish",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(
            f"bnn-bench {args.command}: internal error (a bug, not your input): please report "
            "it with the traceback above; files already written are kept",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _interrupted() -> type[BaseException]:
    from bnn_models.runner import Interrupted

    return Interrupted


if __name__ == "__main__":
    sys.exit(main())
