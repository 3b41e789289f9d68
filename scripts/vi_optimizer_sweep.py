"""Measure ELBO traces of ADVI and full-rank ADVI under several optimizers (evidence for the defaults)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pymc as pm

from bnn_models.data import load_rupture
from bnn_models.model import build_bnn

OPTS = {
    "adam_1e-2": lambda: pm.adam(learning_rate=1e-2),
    "adam_3e-3": lambda: pm.adam(learning_rate=3e-3),
    "adam_1e-3": lambda: pm.adam(learning_rate=1e-3),
    "adam_5e-4": lambda: pm.adam(learning_rate=5e-4),
    "adagrad_window_1e-2": lambda: pm.adagrad_window(learning_rate=1e-2),
    "adagrad_window_1e-3": lambda: pm.adagrad_window(learning_rate=1e-3),
}


def main(method: str, opt: str, n: int, out: str, seed: int = 1) -> None:
    ds = load_rupture()
    model = build_bnn(ds.X_train, ds.y_train)
    with model:
        t0 = time.perf_counter()
        approx = pm.fit(
            n,
            method=method,
            obj_optimizer=OPTS[opt](),
            random_seed=seed,
            progressbar=False,
            total_grad_norm_constraint=100.0,
        )
        dt = time.perf_counter() - t0
    loss = np.asarray(approx.hist)
    smooth = np.convolve(loss, np.ones(500) / 500, mode="valid")
    final = smooth[-1]
    within = int(np.argmax(np.abs(smooth - final) <= 0.01 * abs(final))) + 500
    json.dump(
        {
            "method": method,
            "opt": opt,
            "n": n,
            "seconds": dt,
            "final_smoothed": float(final),
            "within_1pct_iter": within,
            "loss": loss[::10].tolist(),
        },
        open(out, "w"),
    )
    print(method, opt, f"{dt:.1f}s final {final:.1f} within1% {within}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
