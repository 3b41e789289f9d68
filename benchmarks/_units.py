"""Print the latest saved asv results of a commit with each benchmark's unit.

``asv run`` prints custom units of ``track_`` benchmarks nowhere (only seconds and
bytes); this lists every value with its unit, read through asv's own results API::

    python -m benchmarks._units [COMMIT]      # default: HEAD

Run it after ``asv run ... --set-commit-hash`` (``make asv`` does both).
"""

from __future__ import annotations

import itertools
import subprocess
import sys

from asv import util
from asv.benchmarks import Benchmarks
from asv.config import Config
from asv.results import iter_results


def main(argv: list[str] | None = None) -> int:
    """Print ``benchmark  parameters  value  unit`` rows of the newest results of a commit."""
    argv = sys.argv[1:] if argv is None else argv
    rev = argv[0] if argv else "HEAD"
    commit = subprocess.run(
        ["git", "rev-parse", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    conf = Config.load("asv.conf.json")
    benchmarks = Benchmarks.load(conf)
    found = [r for r in iter_results(conf.results_dir) if r.commit_hash == commit]
    if not found:
        print(f"no saved asv results for {rev} ({commit[:8]}) in {conf.results_dir}")
        return 1
    result = max(found, key=lambda r: max(r.started_at.values(), default=0))
    rows = []
    for key in sorted(result.get_result_keys(benchmarks)):
        bench = benchmarks[key]
        values = result.get_result_value(key, bench["params"])
        combos = list(itertools.product(*bench["params"])) or [()]
        for combo, value in zip(combos, values, strict=False):
            shown = "failed" if value is None else util.human_value(value, bench["unit"])
            rows.append((key, ", ".join(combo), shown, bench["unit"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"asv results of {commit[:8]} ({result.env_name}), with units:")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
