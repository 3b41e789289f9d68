"""Standalone: a PyMC model's numba-compiled log density + gradient gives other numbers
the first time PyTensor compiles it than when it loads it from its cache (for a report
upstream).

The model is this project's network written inline (8 inputs, 12 ReLU hidden units, a
Bernoulli likelihood on the logit scale, Normal(0, 1) priors) on 1,600 random rows. A
child process compiles ``model.logp_dlogp_function(mode="NUMBA")`` and hashes its
outputs (value and gradient) at 50 fixed points; it runs three times in one fresh
``base_compiledir``: first compile (cold), then twice from the cache (warm). Under
PyTensor's default (``numba__fastmath=True``) and with ``numba__fastmath=False``. The
same graph written with plain PyTensor (no PyMC) does not show it here, so the report
gives the PyMC model. Imports no project code: the file alone is the reproduction.

    python -m studies.upstream_repros.fastmath_cache_repro [--out DIR]   # .md and .json
    python -m studies.upstream_repros.fastmath_cache_repro --render --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["child", "main", "render"]

#: Settings compared: PYTENSOR_FLAGS beyond base_compiledir.
SETTINGS = {"numba__fastmath=True (default)": "", "numba__fastmath=False": "numba__fastmath=False"}
#: Processes per setting in one fresh compile directory: the first compiles, the rest load.
RUNS = 3

CHILD = """
import hashlib, json, warnings
warnings.filterwarnings("ignore")
import numpy as np
import pymc as pm
import pytensor.tensor as pt

rng = np.random.default_rng(0)
X, y = rng.normal(size=(1600, 8)), rng.integers(0, 2, 1600)
with pm.Model() as model:
    Xd, yd = pm.Data("X", X), pm.Data("y", y)
    W0 = pm.Normal("W0", 0, 1, shape=(8, 12))
    b0 = pm.Normal("b0", 0, 1, shape=12)
    W1 = pm.Normal("W1", 0, 1, shape=12)
    b1 = pm.Normal("b1", 0, 1)
    logit = pt.maximum(Xd @ W0 + b0, 0.0) @ W1 + b1
    sign = pt.switch(pt.eq(yd, 1), 1, -1).astype("float64")
    pm.Potential("loglik", -pt.softplus(-sign * logit).sum())
fn = model.logp_dlogp_function(mode="NUMBA", ravel_inputs=True)
fn.set_extra_values({})
points = rng.normal(scale=0.5, size=(50, 8 * 12 + 12 + 12 + 1))
out = [fn(p) for p in points]
data = b"".join(np.asarray(v).tobytes() + np.asarray(g).tobytes() for v, g in out)
flat = [float(x) for v, g in out for x in (v, *g)]
print(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "values": flat}))
"""


def child(flags: str, compiledir: str) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"{flags},base_compiledir={compiledir}".lstrip(",")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def git_commit() -> str | None:
    """The checkout's commit (``-dirty`` with uncommitted changes); None outside git."""
    here = Path(__file__).resolve().parent
    try:
        run = [["git", "rev-parse", "HEAD"], ["git", "status", "--porcelain"]]
        head, dirty = (
            subprocess.run(c, cwd=here, capture_output=True, text=True, check=True).stdout.strip()
            for c in run
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def render(payload: dict) -> str:
    """The markdown report from the JSON payload (``--render`` redraws it)."""
    rows, versions = payload["rows"], payload["versions"]
    table = [
        "| setting | process | cache | SHA256 of values and gradients | "
        "numbers differing from process 2's | largest difference |",
        "|---|---:|---|---|---:|---:|",
    ]
    verdicts = []
    for name in SETTINGS:
        mine = [r for r in rows if r["setting"] == name]
        warm = mine[1]["values"]
        for r in mine:
            cache = "cold (compiles)" if r["run"] == 1 else "warm (loads)"
            diffs = [abs(a - b) for a, b in zip(r["values"], warm, strict=True)]
            table.append(
                f"| {name} | {r['run']} | {cache} | `{r['sha256'][:16]}` | "
                f"{sum(d > 0 for d in diffs)} of {len(diffs)} | {max(diffs):.3g} |"
            )
        same = len({r["sha256"] for r in mine}) == 1
        verdicts.append(
            f"- {name}: "
            + (
                "every process gives the same bits."
                if same
                else "the first process (cold cache) differs from the later ones (warm)."
            )
        )
    return "\n".join(
        [
            "# PyMC model, numba backend: other numbers on a cold compile cache than on a warm one",
            "",
            "Made by `python -m studies.upstream_repros.fastmath_cache_repro` at commit "
            f"`{versions['commit']}`. "
            f"Each setting: {RUNS} processes, one after the other, in one fresh "
            "`base_compiledir`; each hashes `model.logp_dlogp_function(mode='NUMBA')`'s value "
            "and gradient at 50 fixed points (the model: see the script).",
            "",
            *table,
            "",
            *verdicts,
            "",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, help="write fastmath_cache_repro.md and .json")
    parser.add_argument("--render", action="store_true", help="only redraw from --out's JSON")
    args = parser.parse_args(argv)
    if args.render:
        if args.out is None:
            parser.error("--render needs --out (the folder of fastmath_cache_repro.json)")
        text = render(json.loads((args.out / "fastmath_cache_repro.json").read_text()))
        (args.out / "fastmath_cache_repro.md").write_text(text)
        return 0
    rows = []
    for name, flags in SETTINGS.items():
        with tempfile.TemporaryDirectory() as compiledir:
            for k in range(RUNS):
                rows.append({"setting": name, "run": k + 1, **child(flags, compiledir)})
    from importlib.metadata import version

    versions = {
        "commit": git_commit(),
        "python": platform.python_version(),
        **{lib: version(lib) for lib in ("pymc", "pytensor", "numba", "llvmlite", "numpy")},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    payload = {"rows": rows, "versions": versions}
    report = render(payload)
    print(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, content in (
            ("fastmath_cache_repro.md", report),
            ("fastmath_cache_repro.json", json.dumps(payload, indent=2) + "\n"),
        ):
            tmp = args.out / f".{name}.tmp"
            tmp.write_text(content)
            os.replace(tmp, args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
