"""Same seed, other draws inside one process: two processes sharing a cold PyTensor cache.

Each setting starts two processes at once in one fresh ``base_compiledir`` (as
``make test``'s two pytest-xdist workers do on a fresh machine). Each process fits the
tests' tiny NUTS twice with seed 1 on the tests' teacher data (200 rows, 4 features, 4
hidden units, 2 chains x (100 + 100)) and reports the largest difference between the
two fits' test-set probabilities: 0 when the seed decides the draws. Under PyTensor's
default (``numba__fastmath=True``) and with ``numba__fastmath=False``. The cold/warm
difference of the numbers themselves is in ``fastmath_cache_repro.md``.

    python scripts/fastmath_shared_cache.py [--out DIR]   # DIR: fastmath_shared_cache.md/.json
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from studies._common import provenance, render_template  # noqa: E402

from bnn_models.io import write_json, write_text  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    prov = provenance()
    rows = [
        {"setting": name, "process": k + 1, **child}
        for name, flags in SETTINGS.items()
        for k, child in enumerate(run_setting(flags))
    ]
    md = render_template(
        "fastmath_shared_cache.md.j2",
        prov=prov,
        processes=PROCESSES,
        table=pd.DataFrame(rows).to_markdown(index=False),
    )
    print(md)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text(args.out / "fastmath_shared_cache.md", md)
        write_json(args.out / "fastmath_shared_cache.json", {"provenance": prov, "rows": rows})


if __name__ == "__main__":
    main()
