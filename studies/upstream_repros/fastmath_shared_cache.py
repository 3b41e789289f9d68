"""Same seed, other draws inside one process: two processes sharing a cold PyTensor cache.

Each setting starts two processes at once in one fresh ``base_compiledir`` (as
``make test``'s two pytest-xdist workers do on a fresh machine). Each process fits the
tests' tiny NUTS twice with seed 1 on the tests' teacher data (200 rows, 4 features, 4
hidden units, 2 chains x (100 + 100)) and reports the largest difference between the
two fits' test-set probabilities: 0 when the seed decides the draws. Under PyTensor's
default (``numba__fastmath=True``) and with ``numba__fastmath=False``. The cold/warm
difference of the numbers themselves is in ``fastmath_cache_repro.md``.

    python -m studies.upstream_repros.fastmath_shared_cache            # ~2 minutes
    python -m studies.upstream_repros.fastmath_shared_cache --render   # markdown from JSON

Writes ``fastmath_shared_cache.json`` and ``.md`` (``fastmath_shared_cache.md.j2``) into
``--out`` (default ``studies/upstream_repros/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from studies._common import STUDIES, provenance, render_template, write_report

__all__ = ["main", "measure", "render", "run_setting"]

#: Where the committed results live.
RESULTS = STUDIES / "upstream_repros" / "results"

#: Settings compared: PYTENSOR_FLAGS beyond base_compiledir.
SETTINGS = {"numba__fastmath=True (default)": "", "numba__fastmath=False": "numba__fastmath=False"}
#: Processes started at once per setting, sharing one fresh compile directory.
PROCESSES = 2

CHILD = """
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np
import pytensor
from bnn_models.data import make_teacher
from bnn_models.inference import METHODS

data = make_teacher(200, 100, n_features=4, n_hidden=3, seed=3)
tiny = {"draws": 100, "tune": 100, "chains": 2, "n_hidden": 4}
a, b = (METHODS["nuts"](dataset=data, seed=1, progressbar=False, **tiny) for _ in range(2))
print(json.dumps({
    "fastmath": bool(pytensor.config.numba__fastmath),
    "max_abs_diff": float(np.abs(a.p_test - b.p_test).max()),
    "grad_evals": [a.n_grad_evals, b.n_grad_evals],
}))
"""


def run_setting(flags: str) -> list[dict]:
    """Start :data:`PROCESSES` children at once in one fresh compile directory."""
    with tempfile.TemporaryDirectory(prefix="bnn-fastmath-") as tmp:
        env = {
            **os.environ,
            "PYTENSOR_FLAGS": ",".join(filter(None, [f"base_compiledir={tmp}", flags])),
            "NUMBA_CACHE_DIR": str(Path(tmp) / "numba"),
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(PROCESSES)
        ]
        outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a child process failed: {[p.returncode for p in procs]}")
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def measure() -> dict:
    """Every setting's children: the JSON document."""
    prov = provenance()
    rows = [
        {"setting": name, "process": k + 1, **child}
        for name, flags in SETTINGS.items()
        for k, child in enumerate(run_setting(flags))
    ]
    return {"provenance": prov, "rows": rows}


def render(doc: dict) -> str:
    """``fastmath_shared_cache.md`` from its JSON."""
    return render_template(
        "upstream_repros/fastmath_shared_cache.md.j2",
        prov=doc["provenance"],
        processes=PROCESSES,
        table=pd.DataFrame(doc["rows"]).to_markdown(index=False),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    args = parser.parse_args(argv)
    out = Path(args.out)
    print(write_report(out, "fastmath_shared_cache", render, None if args.render else measure))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
