"""Faster, opt-in: each opt-in choice of the before/after run against its default side.

Rendered from ``before_after.json`` alone (no measuring): ``opt_in.md``, one row per
opt-in side of the run, each measure as "choice (default)" against the side labelled
``after`` (PyMC as shipped, the same commit, the same run). The measures are named by
what each fit holds, never by its method: per fit with sampler gradients, wall
microseconds per gradient per core; per fit with optimisation steps, microseconds per
step; for fits with a function-space R-hat, that R-hat and the predictive sd ratio
against the reference posterior.

    python -m studies.performance.opt_in [--out studies/performance/results]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from bnn_models.errors import BadInput
from bnn_models.inference import METHODS
from bnn_models.metrics import us_per_gradient_per_core
from bnn_models.report.formats import sig
from studies._common import STUDIES, render_template

__all__ = ["SpeedChoices", "main", "render", "speed_choices"]

#: Where the committed results live.
RESULTS = STUDIES / "performance" / "results"


@dataclass(frozen=True)
class SpeedChoices:
    """Opt-in ways to make the fits faster, each with its gain measured in one run.

    Attributes
    ----------
    header : list of str
    rows : list of list of str
        One per choice: its label, then each measure as "choice (default)".
    settings : list of str
        One per row: the choice's label and what sets it (``--set`` options, environment).
    """

    header: list[str]
    rows: list[list[str]]
    settings: list[str]


def _costs(side: dict) -> dict[str, float | None]:
    """A side's measures, named by what each fit holds (never by its method)."""
    costs: dict[str, float | None] = {"make bench time vs default": side.get("wall_s")}
    for key, fit in (side.get("fits") or {}).items():
        label = METHODS[key].label if key in METHODS else key
        runtime, config = fit.get("runtime") or {}, fit.get("config") or {}
        grads, fit_s = runtime.get("grad_evals"), runtime.get("fit_s")
        if "chains" in config and grads and fit_s:
            costs[f"{label}: us per gradient per core"] = us_per_gradient_per_core(
                fit_s, grads, chains=int(config["chains"]), cores=int(config.get("cores", 1))
            )
        elif runtime.get("us_per_iter"):
            costs[f"{label}: us per step"] = float(runtime["us_per_iter"])
        rhat = (fit.get("diagnostics") or {}).get("rhat_max_pred")
        if rhat:
            costs[f"{label}: R-hat"] = float(rhat)
            costs[f"{label}: sd ratio"] = (fit.get("fidelity") or {}).get("pred_sd_ratio_gmean")
    return costs


def _pair(a: float | None, b: float | None, form: str, digits: int = 3) -> str:
    """Two numbers in ``form`` to ``digits`` significant digits; "n/a" if either is missing.

    Examples
    --------
    >>> _pair(40.0, 80.0, "{} ({})"), _pair(None, 80.0, "{} ({})")
    ('40 (80)', 'n/a')
    """
    if not a or not b:
        return "n/a"
    return form.format(sig(a, digits), sig(b, digits))


def _sides(doc: object, name: str) -> tuple[list[dict], dict]:
    """The sides that ran, and the default side.

    Raises
    ------
    BadInput
        Without the field or the side needed, naming the file and the field.
    """
    sides = doc.get("sides") if isinstance(doc, dict) else None
    if not isinstance(sides, list) or not all(isinstance(s, dict) for s in sides):
        raise BadInput(f"{name}: field 'sides' must be a list of objects, got {sides!r:.60}")
    ran = [s for s in sides if not s.get("error")]
    for side in ran:
        if not isinstance(side.get("label"), str):
            raise BadInput(f"{name}: a side's field 'label' must be a string, got {side!r:.60}")
    default = next((s for s in ran if s["label"] == "after"), None)
    if default is None:
        raise BadInput(f"{name}: field 'sides' has no side labelled 'after' that ran")
    return ran, default


def speed_choices(doc: dict, name: str = "before_after.json") -> SpeedChoices | None:
    """The opt-in sides of a before/after run, each against its default ("after") side;
    None without opt-in sides. ``name``: the file, for error messages.

    Raises
    ------
    BadInput
        The document lacks its sides or its default side (message names ``name``).
    """
    sides, default = _sides(doc, name)
    base = _costs(default)
    measures = [k for k in base if not k.endswith((": R-hat", ": sd ratio"))]
    checks = [k.removesuffix(": R-hat") for k in base if k.endswith(": R-hat")]
    header = ["Choice (opt-in)", *measures, *(f"{k}: R-hat / fidelity sd ratio" for k in checks)]
    rows, settings = [], []
    for side in sides:
        if side["label"] in ("before", "after"):
            continue
        n = _costs(side)
        label = side["label"].removeprefix("after, ")
        flags = [*side.get("extra", []), *(f"{k}={v}" for k, v in (side.get("env") or {}).items())]
        settings.append(f"{label}: {' '.join(flags)}")
        wall, base_wall = n.get(measures[0]), base[measures[0]]
        rows.append(
            [
                label,
                f"{wall / base_wall:.2f}x" if wall and base_wall else "n/a",
                *(_pair(n.get(k), base[k], "{} ({})") for k in measures[1:]),
                *(
                    _pair(n.get(f"{k}: R-hat"), n.get(f"{k}: sd ratio"), "{} / {}", 4)
                    for k in checks
                ),
            ]
        )
    if not rows:
        return None
    return SpeedChoices(header=header, rows=rows, settings=settings)


def render(doc: dict, name: str = "before_after.json") -> str:
    """``opt_in.md``: the table of :func:`speed_choices` in the study's template."""
    import pandas as pd

    choices = speed_choices(doc, name)
    table = None
    if choices is not None:
        table = pd.DataFrame(choices.rows, columns=choices.header).to_markdown(index=False)
    return render_template(
        "performance/opt_in.md.j2", doc=doc, name=name, choices=choices, table=table
    )


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``opt_in.md`` from ``before_after.json`` in ``--out``."""
    from bnn_models.io import write_text

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS), help="folder of before_after.json")
    args = parser.parse_args(argv)
    path = Path(args.out) / "before_after.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        parser.error(f"{path}: cannot be read as JSON ({err})")
    try:
        text = render(doc, path.name)
    except BadInput as err:
        parser.error(str(err))
    print(write_text(path.with_name("opt_in.md"), text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
