"""What the commands share: exit codes, the default folder, options read into values."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bnn_models.data import Dataset, load_dataset
from bnn_models.errors import check_seed

__all__ = [
    "DEFAULT_RUNS",
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_SCHEDULER_LOST",
    "EXIT_SET_UNAVAILABLE",
    "SeedSpec",
]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: The dask scheduler went away mid-run: the fits it had not run are recorded as not run.
EXIT_SCHEDULER_LOST = 3
#: ``bnn-bench versions``: a version set could not be installed, imported or run.
EXIT_SET_UNAVAILABLE = 4

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


def _overrides(sets: list[tuple[str, str, str]] | None) -> dict[str, dict[str, object]]:
    """``--set METHOD.KEY=VALUE`` options by method."""
    overrides: dict[str, dict[str, object]] = {}
    for method, key, value in sets or []:
        overrides.setdefault(method, {})[key] = value
    return overrides


def _dataset(args: argparse.Namespace) -> Dataset:
    """The dataset named by the data options shared by ``run`` and ``reference``."""
    check_seed("--data-seed", args.data_seed)
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
