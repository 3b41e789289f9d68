"""The ``bnn-bench`` command: run, sweep, report, check, reference, sbc, methods.

The only package that parses arguments, prints and chooses exit codes: 0 success,
1 a fit failed or a gated metric regressed (or a bug: then with its traceback),
2 bad input (:class:`~bnn_models.errors.BadInput`, its message alone; a results folder
that another run is writing too), 3 the dask scheduler was lost (the fits it had not run
are recorded as ``not_run``: rerun with ``--resume``), 4 a version set could not be
installed or run (``bnn-bench versions``), 130 interrupted.
Here the parser and ``main``; the commands in :mod:`~bnn_models.cli._commands`, what they
share (options read into values, tables printed) in :mod:`~bnn_models.cli._common`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from typing import TYPE_CHECKING

from bnn_models.cli._commands import (
    _cmd_check,
    _cmd_methods,
    _cmd_reference,
    _cmd_report,
    _cmd_results,
    _cmd_run,
    _cmd_sbc,
    _cmd_sweep,
    _cmd_versions,
)
from bnn_models.cli._commands import (
    _grid_from_options as _grid_from_options,  # the grid a sweep's options describe
)
from bnn_models.cli._common import (
    DEFAULT_RUNS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SCHEDULER_LOST,
    EXIT_SET_UNAVAILABLE,
    SeedSpec,
    _override,
    _seeds,
)
from bnn_models.data import DATASETS, SHIFTS
from bnn_models.errors import BadInput
from bnn_models.model import N_HIDDEN

if TYPE_CHECKING:
    from bnn_models.executor import SchedulerLost

__all__ = [
    "DEFAULT_RUNS",
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_SCHEDULER_LOST",
    "EXIT_SET_UNAVAILABLE",
    "SeedSpec",
    "build_parser",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bnn-bench``."""
    from bnn_models.inference import FAMILIES, METHOD_SETS, METHODS
    from bnn_models.reference import ReferenceSettings

    parser = argparse.ArgumentParser(
        prog="bnn-bench",
        description="Fit one PyMC Bayesian neural network with several inference methods, "
        "and measure runtime, ELBO convergence, posterior spread and calibration.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", choices=list(DATASETS), default="rupture")
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
        f"({', '.join(FAMILIES)}), sets ({', '.join(METHOD_SETS)}) or 'all' (default); "
        "see 'bnn-bench methods'",
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
        "its report named by what it holds, e.g. scaling.html, shift.html, coverage.html; an SBC "
        "folder: sbc.html, sbc.md)",
    )
    rep.add_argument("dir")
    rep.add_argument(
        "--figures",
        action="store_true",
        help="draw a run's figures even in a sweep's cell (left out there by default)",
    )
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
        "--markdown",
        metavar="FILE",
        help="also write the verdict as GitHub-flavoured Markdown to FILE (a CI job summary: "
        "every gated metric, regressed rows first)",
    )
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
    ref.add_argument("--no-progress", action="store_true", help="no progress bar")
    ref.add_argument(
        "--out",
        metavar="FILE",
        help="also write the summary to FILE (.json), e.g. results/reference/rupture.json",
    )
    ref.add_argument(
        "--floor-seed",
        type=int,
        metavar="SEED",
        help="also build a second reference of the same settings with SEED and record how "
        "far it lies from the first (its noise floor) in the first's summary; with --out, "
        "the second's summary goes to floor/<name>-seed<SEED>.json beside FILE",
    )
    ref.add_argument(
        "--refresh",
        metavar="FILE",
        help="only rewrite the summary of the cached reference FILE (.nc/.json) with its "
        "compact section (no sampling); copy it to results/reference/ to commit it",
    )
    ref.add_argument(
        "--floor",
        nargs=2,
        metavar=("PRIMARY", "OTHER"),
        help="only record the noise floor: write into the reference summary PRIMARY (.json) "
        "how far the summary OTHER (same data and settings, another --seed) lies from it "
        "(no sampling)",
    )
    ref.set_defaults(func=_cmd_reference)

    def batch_options(p: argparse.ArgumentParser, scheduler: str, done: str, report: str) -> None:
        """Options of the commands that run many tasks: data, resume, output, executor."""
        p.add_argument("--data-dir", metavar="DIR", help="local folder with the rupture files")
        p.add_argument("--resume", action="store_true", help=f"keep finished {done}")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--no-report", action="store_true", help=f"skip {report}")
        executor_options(p, scheduler)

    swp = sub.add_parser(
        "sweep",
        help="datasets x sizes x widths x methods x seeds, one task per fit (dask by default)",
    )
    swp.add_argument("grid", nargs="?", metavar="GRID.toml", help="the grid (keys: docs/sweeps.md)")
    swp.add_argument("--out", required=True, metavar="DIR", help="one folder per cell in DIR")
    swp.add_argument("--dataset", choices=list(DATASETS), help="without GRID: the one dataset")
    swp.add_argument("--n-train", metavar="N[,N...]", help="without GRID: teacher sizes")
    swp.add_argument("--hidden", metavar="H[,H...]", help="without GRID: hidden widths")
    swp.add_argument("--methods", metavar="M[,M...]", help="without GRID: names or families")
    swp.add_argument("--seeds", metavar="K|S,S...", help="without GRID: a count or a list")
    swp.add_argument("--quick", action="store_true", help="without GRID: quick settings")
    batch_options(swp, "auto", done="fits", report="each cell's report")
    swp.set_defaults(func=_cmd_sweep)

    sbc = sub.add_parser("sbc", help="simulation-based calibration of methods on the BNN")
    sbc.add_argument("--methods", default="advi,fullrank_advi", help="names or families")
    sbc.add_argument("--sims", type=int, default=100, help="simulations per method")
    sbc.add_argument("--rows", type=int, default=200, help="rupture training rows of the design")
    sbc.add_argument("--probes", type=int, default=4, help="rupture test rows probed")
    sbc.add_argument("--hidden", type=int, default=N_HIDDEN, help="hidden units")
    sbc.add_argument("--seed", type=int, default=0, help="seed of the simulations")
    sbc.add_argument("--quick", action="store_true", help="the methods' quick settings")
    sbc.add_argument("--set", action="append", type=_override, metavar="METHOD.KEY=VALUE")
    sbc.add_argument("--out", required=True, metavar="DIR")
    batch_options(sbc, "serial", done="simulations", report="sbc.md and sbc.html")
    sbc.set_defaults(func=_cmd_sbc)

    met = sub.add_parser(
        "methods", help="list the registered methods: family, engine, version, installed"
    )
    met.set_defaults(func=_cmd_methods)

    res = sub.add_parser(
        "results",
        help="the committed results: regenerate them all at one commit, index them, check them",
        description="run: every step of the pipeline file in order, timed, at the checkout's "
        "commit (a clean tree), recorded in results/pipeline.json (exit 1: a command failed; "
        "rerun with --resume). index: write results/INDEX.md. check: exit 1 listing every "
        "committed result that names a dirty commit or records settings other than today's "
        "defaults, unless its folder is historical in the pipeline file.",
    )
    res.add_argument("action", choices=["run", "index", "check"])
    res.add_argument(
        "--pipeline",
        metavar="FILE",
        default="results/pipeline.toml",
        help="the pipeline file (default results/pipeline.toml)",
    )
    res.add_argument("--resume", action="store_true", help="run: keep the commands done")
    res.add_argument("--only", metavar="STEP[,STEP]", help="run: only these steps")
    res.set_defaults(func=_cmd_results)

    ver = sub.add_parser(
        "versions",
        help="compare library version sets: the quick suite in one environment per set",
        description="Build one environment per version set of FILE (once, reused; never "
        "this one), run the gate's methods on its seeds and the asv benchmarks in each, and "
        "judge every set against the first: quality by the gate's rule, timings by asv's. "
        "Exit 0: every set ran and none regressed; 1: a candidate regressed on a gated "
        "metric; 4: a set could not be installed, imported or run (the others ran and are "
        "reported, with the installer's message); 2: bad input.",
    )
    ver.add_argument(
        "spec", metavar="FILE", help="version sets (TOML), e.g. results/releases/versions.toml"
    )
    ver.add_argument("--out", required=True, metavar="DIR", help="versions.json, report.md, sets/")
    ver.add_argument(
        "--envs",
        metavar="DIR",
        default=".bnn_cache/envs",
        help="where the environments are built and reused (default .bnn_cache/envs)",
    )
    ver.add_argument(
        "--python",
        metavar="EXE",
        default=None,
        help="interpreter the environments are made from (default: this one)",
    )
    ver.add_argument("--data-dir", metavar="DIR", help="local folder with the rupture files")
    ver.add_argument("--resume", action="store_true", help="keep the fits and timings already run")
    ver.add_argument("--report-only", action="store_true", help="only re-render DIR/report.md")
    ver.set_defaults(func=_cmd_versions)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 ok (skipped methods too), 1 a fit failed, a gate regressed or a bug,
    2 bad input, 3 the dask scheduler was lost, 130 interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=UserWarning)
            return int(args.func(args))
    except BadInput as err:
        print(f"bnn-bench {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _scheduler_lost() as lost:
        print(
            f"bnn-bench {args.command}: error: lost the dask scheduler at {lost.address}; "
            f"{len(lost.not_run)} fits not run, finished fits kept: rerun with --resume to "
            "run them",
            file=sys.stderr,
        )
        return EXIT_SCHEDULER_LOST
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


def _scheduler_lost() -> type[SchedulerLost]:
    from bnn_models.executor import SchedulerLost

    return SchedulerLost
