"""Inference methods: one registry of :class:`Method` records, one signature for all.

Adding a method is one module (its settings, fit function and ``METHOD`` record) and
one line in :data:`METHODS`. Downstream code asks a method's ``family`` or what its
:class:`FitResult` holds, never its name.
"""

from __future__ import annotations

from bnn_models.errors import BadInput
from bnn_models.inference import (
    advi,
    advi_minibatch,
    ensemble,
    fullrank_advi,
    laplace,
    mclmc,
    nuts,
    nuts_blackjax,
    nuts_flow,
    nuts_lowrank,
    nuts_numpyro,
    nuts_pymc,
    nuts_stan,
    pathfinder,
    sghmc,
    sgld,
    sgld_cyclical,
    smc,
    svgd,
)
from bnn_models.inference._gaussian_vi import (
    OPTIMIZERS,
    ELBOConvergence,
    GaussianVISettings,
    start_at_mean_field,
)
from bnn_models.inference._mcmc import MCMCSettings
from bnn_models.inference._method import (
    FAMILIES,
    REGISTRY,
    FitFunction,
    Method,
    Settings,
    require,
)
from bnn_models.inference._result import FitResult, load_fit, rule_converged, save_fit
from bnn_models.inference.accelerations import ACCELERATIONS, Acceleration
from bnn_models.inference.advi import ADVISettings, fit_advi
from bnn_models.inference.context import Deadline, FitContext, FitTimeout
from bnn_models.inference.fullrank_advi import FullRankADVISettings, fit_fullrank_advi
from bnn_models.inference.nuts import NUTSSettings, default_sampler, fit_nuts

__all__ = [
    "ACCELERATIONS",
    "Acceleration",
    "FAMILIES",
    "METHODS",
    "METHOD_SETS",
    "OPTIMIZERS",
    "ADVISettings",
    "Deadline",
    "ELBOConvergence",
    "FitContext",
    "FitFunction",
    "FitResult",
    "FitTimeout",
    "FullRankADVISettings",
    "GaussianVISettings",
    "MCMCSettings",
    "Method",
    "NUTSSettings",
    "Settings",
    "default_sampler",
    "fit_advi",
    "fit_fullrank_advi",
    "fit_nuts",
    "get_method",
    "load_fit",
    "register",
    "require",
    "resolve_methods",
    "rule_converged",
    "save_fit",
    "start_at_mean_field",
    "unregister",
]

#: The registry: method name -> record, in the order runs and reports list them.
METHODS: dict[str, Method] = REGISTRY  # the one dict; records look their peers up in it
METHODS.update(
    (m.name, m)
    for m in (
        nuts.METHOD,
        nuts_pymc.METHOD,
        nuts_numpyro.METHOD,
        nuts_blackjax.METHOD,
        nuts_lowrank.METHOD,
        mclmc.METHOD,
        smc.METHOD,
        advi.METHOD,
        fullrank_advi.METHOD,
        pathfinder.METHOD,
        laplace.METHOD,
        svgd.METHOD,
        ensemble.METHOD,
        # issue 33's, after the others so that every method keeps its colour (figures
        # colour methods by registry position)
        nuts_stan.METHOD,
        nuts_flow.METHOD,
        advi_minibatch.METHOD,
        sgld.METHOD,
        sghmc.METHOD,
        sgld_cyclical.METHOD,
    )
)


#: Named sets of methods, accepted wherever methods are named (``--methods design``, a
#: grid's ``methods``, ``$BNN_BENCH_METHODS``), like a family:
#:
#: - ``design``: the design card's three, NUTS against mean-field and full-rank ADVI (the
#:   committed report, ``make bench``, the uncertainty baselines and benchmarks).
#: - ``ci``: what CI benchmarks and gates: all but the alternative NUTS engines (PyMC's,
#:   NumPyro, BlackJAX, nutpie low-rank and flow, Stan), which sample the same posterior
#:   as nutpie's NUTS and whose quick fits take 1-3 minutes each (JAX compilation, the
#:   flow's training, PyMC's Python loop, more steps, Stan's first C++ build) against
#:   seconds for the others. ``make test`` still fits every method
#:   (tests/test_methods.py), so an engine that breaks fails CI there.
#: - ``literature``: the methods the BNN literature and PyMC's tutorials use beside ours
#:   (issue 33): Stan's NUTS, nutpie's flow adaptation, minibatch ADVI and SG-MCMC
#:   (in ``results/rupture-methods`` with every other method).
#: - ``minibatch``: the methods whose gradient sees a batch of rows per step (the
#:   scaling grid's ``grids/scaling_minibatch.toml``).
METHOD_SETS: dict[str, tuple[str, ...]] = {
    "design": ("nuts", "advi", "fullrank_advi"),
    "ci": (
        "nuts",
        "mclmc",
        "smc",
        "advi",
        "fullrank_advi",
        "pathfinder",
        "laplace",
        "svgd",
        "ensemble",
    ),
    "literature": (
        "nuts_stan",
        "nuts_flow",
        "advi_minibatch",
        "sgld",
        "sghmc",
        "sgld_cyclical",
    ),
    "minibatch": ("advi_minibatch", "sgld", "sghmc", "sgld_cyclical"),
}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (e.g. a method of your own, from a notebook).

    Raises
    ------
    ValueError
        A method of that name is already registered.
    """
    if method.name in METHODS:
        raise ValueError(f"a method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added with :func:`register`."""
    METHODS.pop(name, None)


def get_method(name: str) -> Method:
    """The registered method ``name``.

    Raises
    ------
    BadInput
        No such method; the message lists the registered names and the families.
    """
    try:
        return METHODS[name]
    except KeyError:
        raise BadInput(
            f"--methods: unknown method {name!r}; expected some of {','.join(METHODS)}, "
            f"a family ({', '.join(FAMILIES)}, all) or a set ({', '.join(METHOD_SETS)})"
        ) from None


def resolve_methods(spec: str | list[str] | None) -> list[str]:
    """Method names from names, families (``mcmc``, ``vi``, ...), sets and ``all``.

    ``"all"`` and None give every registered method; a family gives its methods in
    registry order; a set (:data:`METHOD_SETS`) its methods in its order; duplicates are
    dropped.

    Raises
    ------
    BadInput
        An empty list, or a name that is neither a method, a family, a set nor ``all``.

    Examples
    --------
    >>> resolve_methods("vi")
    ['advi', 'fullrank_advi', 'pathfinder', 'laplace', 'advi_minibatch']
    >>> resolve_methods("design")
    ['nuts', 'advi', 'fullrank_advi']
    """
    if spec is None:
        return list(METHODS)
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if part == "all":
            names += list(METHODS)
        elif part in FAMILIES:
            # a family (the deep ensemble's name is also its family's: the family
            # holds it)
            names += [m.name for m in METHODS.values() if m.family == part]
        elif part in METHOD_SETS:
            names += [get_method(name).name for name in METHOD_SETS[part]]
        else:
            names.append(get_method(part).name)
    if not names:
        raise BadInput("--methods: empty list; expected some of " + ",".join(METHODS))
    return list(dict.fromkeys(names))
