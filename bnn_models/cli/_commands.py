"""One function per ``bnn-bench`` command: reads the parsed options, runs, prints, returns
the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from bnn_models.cli._common import (
    DEFAULT_RUNS,
    EXIT_FAILED,
    EXIT_SET_UNAVAILABLE,
    SeedSpec,
    _dataset,
    _overrides,
    _print_table,
)
from bnn_models.data import load_dataset
from bnn_models.errors import BadInput, check_count, check_seconds, check_seed
from bnn_models.lock import folder_lock
from bnn_models.model import N_HIDDEN


def _cmd_run(args: argparse.Namespace) -> int:
    from bnn_models.executor import make_executor
    from bnn_models.inference import resolve_methods
    from bnn_models.reference import resolve_reference
    from bnn_models.report import summary_table, write_report
    from bnn_models.runner import check_seeds, fit_settings, run_benchmark

    # Every option is checked before anything is read, fitted or written.
    methods = resolve_methods(args.methods)
    seeds = check_seeds(
        (args.seeds or SeedSpec()).resolve(args.seed), "--seeds" if args.seeds else "--seed"
    )
    check_seconds("--time-limit", args.time_limit)
    overrides = _overrides(args.set)
    if args.hidden is not None:
        if args.hidden < 1:
            raise BadInput(f"--hidden: hidden width must be >= 1, got {args.hidden}")
        for m in methods:
            overrides.setdefault(m, {})["n_hidden"] = args.hidden
    fit_settings(methods, quick=args.quick, overrides=overrides)
    if args.workers is not None:
        check_count("--workers", args.workers)
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
        f"reference: {reference.path} ({reference.key}"
        f"{'' if reference.has_draws else ', compact: summary only, no draws'})"
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
    command = shlex.join(["bnn-bench", *sys.argv[1:]])
    with folder_lock(out, command=command):  # the run and its report: one writer
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
                command=command,
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
        print("sweep report: " + ", ".join(str(p) for p in write_scaling_report(out)))
    print(
        f"sweep: {index['fits']} fits ({index['ran']} run now, {failed} failed) -> {out / 'sweep.json'}"
    )
    return EXIT_FAILED if failed else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bnn_models.report import write_report, write_scaling_report
    from bnn_models.report.sbc import write_sbc_report

    folder = Path(args.dir)
    # A sweep's folder gets the cost-growth report (its cells have their own reports); an
    # SBC folder its SBC report.
    if (folder / "sweep.json").is_file():
        written = write_scaling_report(folder)
    elif (folder / "sbc.json").is_file():
        written = write_sbc_report(folder)
    else:
        written = write_report(folder, figures=True if args.figures else None)
    for p in written:
        print(p)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bnn_models.gate import check, write_baseline
    from bnn_models.inference import resolve_methods
    from bnn_models.report.check import format_baseline, format_check, write_check_markdown

    runs = [Path(r) for r in args.run or []]
    if args.write_baseline and args.markdown:
        raise BadInput("--markdown: only a check writes Markdown, not --write-baseline")
    if args.write_baseline:
        doc = write_baseline(Path(args.baseline), runs)
        print("\n".join(format_baseline(doc, Path(args.baseline))))
        return 0
    result = check(
        Path(args.baseline),
        runs or None,
        seeds=args.seeds,
        # names, families or sets (--methods ci), as bnn-bench run takes them
        methods=resolve_methods(args.methods) if args.methods else None,
        log=lambda s: print(s, flush=True),
    )
    print("\n".join(format_check(result, show_all=args.all)))
    if args.markdown:
        print(f"markdown: {write_check_markdown(result, args.markdown)}")
    return 0 if result.passed else EXIT_FAILED


def _cmd_reference(args: argparse.Namespace) -> int:
    from bnn_models.io import write_json
    from bnn_models.reference import (
        QUICK_REFERENCE,
        Reference,
        ReferenceSettings,
        build_reference,
        cache_folder,
        load_reference,
        refresh_summary,
    )
    from bnn_models.refsummary import read_summary
    from bnn_models.report.reference import format_reference

    if args.refresh:
        print(f"summary: {refresh_summary(args.refresh)}")
        return 0
    if args.floor:
        from bnn_models.floor import FLOOR_KEYS, record_noise_floor

        floor = record_noise_floor(*args.floor)
        values = ", ".join(f"{k} {floor[k]:.4g}" for k in FLOOR_KEYS)
        print(f"noise floor of {args.floor[0]} against {args.floor[1]}: {values}")
        return 0

    settings = (
        dataclasses.replace(QUICK_REFERENCE, seed=args.seed)  # --quick keeps the --seed given
        if args.quick
        else ReferenceSettings(chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed)
    )
    if args.floor_seed is not None and args.floor_seed == settings.seed:
        raise BadInput(f"--floor-seed {args.floor_seed}: the same as --seed; choose another")
    dataset = _dataset(args)

    def build(seed: int, cache: str | Path | None = args.cache) -> Reference:
        return build_reference(
            dataset,
            dataclasses.replace(settings, seed=seed),
            cache_dir=cache,
            progressbar=not args.no_progress,
            log=lambda s: print(s, flush=True),
            command=shlex.join(["bnn-bench", *sys.argv[1:]]),
        )

    ref = build(settings.seed)
    summary_path = ref.path.with_suffix(".json") if ref.path else None
    if args.floor_seed is not None and summary_path is not None:
        from bnn_models.floor import record_noise_floor

        # Its own folder: runs that look for the reference never find the second run.
        second = build(args.floor_seed, cache_folder(args.cache) / "floor")
        second_path = second.path.with_suffix(".json") if second.path else None
        if second_path is None:  # pragma: no cover - build_reference always writes one
            raise BadInput(f"--floor-seed {args.floor_seed}: the second reference has no summary")
        record_noise_floor(summary_path, second_path)
        ref = load_reference(summary_path)
        if args.out:
            out = Path(args.out)
            floor_out = out.parent / "floor" / f"{out.stem}-seed{args.floor_seed}.json"
            write_json(floor_out, read_summary(second_path))
            print(f"second reference's summary: {floor_out}")
    print(format_reference(ref.summary))
    print(f"summary: {summary_path or '-'}")
    if args.out:
        write_json(Path(args.out), ref.summary)
        print(f"summary written to {args.out}")
    return 0 if ref.summary["acceptance"]["passed"] else EXIT_FAILED


def _cmd_sbc(args: argparse.Namespace) -> int:
    from bnn_models.executor import make_executor
    from bnn_models.inference import resolve_methods
    from bnn_models.report.sbc import sbc_table, write_sbc_report
    from bnn_models.sbc import design_from, run_sbc, sbc_task

    methods = resolve_methods(args.methods)
    check_count("--sims", args.sims)
    check_seed("--seed", args.seed)
    check_count("--probes", args.probes)
    check_count("--hidden", args.hidden)
    design = design_from(
        load_dataset("rupture", data_dir=args.data_dir), args.rows, args.probes, args.hidden
    )
    log = lambda s: print(s, flush=True)  # noqa: E731
    executor = make_executor(
        args.scheduler,
        n_workers=args.workers,
        log=log,
        progress=not args.no_progress,
        task_fn=sbc_task,
    )
    try:
        doc = run_sbc(
            methods,
            design,
            args.sims,
            args.out,
            executor=executor,
            seed=args.seed,
            quick=args.quick,
            overrides=_overrides(args.set),
            resume=args.resume,
            log=log,
            command=shlex.join(["bnn-bench", *sys.argv[1:]]),
        )
    finally:
        executor.close()
    _print_table("Simulation-based calibration:", sbc_table(doc))
    if not args.no_report:
        print("report: " + ", ".join(str(p) for p in write_sbc_report(args.out)))
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from bnn_models.report.methods import methods_table

    print(methods_table().to_string(index=False))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    import json
    import os

    from bnn_models.io import write_text
    from bnn_models.versions import load_spec, run_versions
    from bnn_models.versions.report import render_markdown

    out = Path(args.out)
    if args.report_only:
        try:
            doc = json.loads((out / "versions.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise BadInput(f"{out / 'versions.json'}: cannot read it ({err})") from None
        print(write_text(out / "report.md", render_markdown(doc)))
        return 0
    spec = load_spec(args.spec)
    if args.data_dir:
        os.environ["BNN_BENCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    result = run_versions(
        spec,
        out,
        envs_root=Path(args.envs),
        python=args.python or sys.executable,
        resume=args.resume,
        command=shlex.join(["bnn-bench", "versions", *sys.argv[2:]]),
        log=lambda s: print(s, flush=True),
    )
    for line in (out / "report.md").read_text().splitlines()[:12]:
        print(line)
    print(f"{out / 'report.md'}\n{out / 'versions.json'}")
    if result.regressed:
        return EXIT_FAILED
    return EXIT_SET_UNAVAILABLE if result.unavailable else 0


def _cmd_results(args: argparse.Namespace) -> int:
    from bnn_models.results import (
        PipelineFailed,
        check_results,
        index_problem,
        load_pipeline,
        run_pipeline,
        write_index,
    )

    pipeline = load_pipeline(args.pipeline)
    if args.action == "index":
        print(f"index: {write_index(pipeline)}")
        return 0
    if args.action == "check":
        problems = check_results(pipeline)
        if (stale_index := index_problem(pipeline)) is not None:
            problems.append(stale_index)
        for problem in problems:
            print(f"{problem.folder}: {problem}")
        if problems:
            print(
                f"bnn-bench results check: FAILED: {len(problems)} problem(s) in "
                f"{len({p.folder for p in problems})} folder(s): regenerate them "
                "(bnn-bench results run --only STEP) or mark them historical with a reason "
                f"in {args.pipeline}"
            )
            return EXIT_FAILED
        print(f"bnn-bench results check: PASSED: every result of {args.pipeline} is current")
        return 0
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    try:
        record = run_pipeline(
            pipeline,
            only=only,
            resume=args.resume,
            log=lambda s: print(s, flush=True),
            command=shlex.join(["bnn-bench", *sys.argv[1:]]),
        )
    except PipelineFailed as err:
        print(f"bnn-bench results run: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"index: {write_index(pipeline)}")
    print(f"pipeline: {record['wall_s']:.0f} s on record")
    return 0
