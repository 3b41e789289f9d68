"""A method is a record: name, label, family, fit function, settings and quick settings.

Every inference method is one module that defines a frozen :class:`Settings` subclass
(its documented defaults), a fit function with the one signature
``fit(*, dataset, settings, seed, context) -> FitResult`` (``context``: a
:class:`~bnn_models.inference.context.FitContext`, progress bar and deadline), and a
:class:`Method` record; the registry (:mod:`bnn_models.inference`) lists the records. Code downstream
asks a method's ``family`` or what its result holds, never its name.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymc as pm

from bnn_models.data import Dataset
from bnn_models.errors import BadInput
from bnn_models.inference._result import FitResult
from bnn_models.inference.accelerations import ACCELERATIONS, asked_by, load
from bnn_models.inference.context import FitContext
from bnn_models.model import N_HIDDEN, PRIOR_SIGMA, build_bnn
from bnn_models.provenance import library_versions

__all__ = [
    "FAMILIES",
    "FitFunction",
    "Method",
    "NeedsModules",
    "Settings",
    "convert_setting",
    "require",
]

#: Families a method may belong to, and what they mean to the metrics and the report.
FAMILIES: dict[str, str] = {
    "mcmc": "Markov chain Monte Carlo: several chains of dependent draws (R-hat, ESS)",
    "vi": "variational inference: independent draws from a fitted approximation q",
    "particles": "a set of interacting particles moved towards the posterior",
    "ensemble": "independent point estimates from different starts, each one draw",
    "point": "a single point estimate: no spread",
}


#: The registry of methods, name -> record: :data:`bnn_models.inference.METHODS` is this
#: dict (defined here so that a record can name its peers without importing the package).
REGISTRY: dict[str, Method] = {}


def require(ok: bool, name: str, value: object, expected: str) -> None:
    """Raise :class:`BadInput` ``"{name} must be {expected}, got {value}"`` unless ``ok``."""
    if not ok:
        raise BadInput(f"{name} must be {expected}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Settings every method shares: the network's shape and prior.

    Subclasses add their own fields with documented defaults and validate them in
    ``__post_init__`` (raising :class:`~bnn_models.errors.BadInput`); a variant of a
    method changes defaults, not code.

    Attributes
    ----------
    n_hidden : int
        Hidden units of :func:`bnn_models.model.build_bnn`.
    prior_sigma : float
        Prior sd of every weight and bias.
    fused : bool
        Opt-in, never the default: the dense ReLU layer and likelihood as one custom
        PyTensor Op (:mod:`bnn_models.accel.fused`); the same model and log density, computed
        by a numba kernel (NumPy outside numba). No JAX implementation: JAX backends
        refuse it when they compile.
    """

    n_hidden: int = N_HIDDEN
    prior_sigma: float = PRIOR_SIGMA
    fused: bool = False

    def __post_init__(self) -> None:
        require(self.n_hidden >= 1, "n_hidden", self.n_hidden, ">= 1")
        require(self.prior_sigma > 0, "prior_sigma", self.prior_sigma, "> 0")
        # an opt-in acceleration these settings turn on: its module, now (checked first
        # against the library versions it was tested with), and only then
        for acceleration in asked_by(self):
            load(acceleration)

    def as_config(self) -> dict[str, Any]:
        """The settings as a plain JSON-ready dict."""
        return dataclasses.asdict(self)

    @property
    def parallel(self) -> int:
        """Cores one fit keeps busy (1; MCMC: chains run at a time): sizes local clusters."""
        return 1

    def build(self, dataset: Dataset) -> pm.Model:
        """The BNN of these settings on ``dataset``'s training rows (every method's model)."""
        return build_bnn(
            dataset.X_train,
            dataset.y_train,
            n_hidden=self.n_hidden,
            prior_sigma=self.prior_sigma,
            feature_names=dataset.feature_names,
            fused=self.fused,
        )


@dataclass(frozen=True)
class NeedsModules:
    """A :attr:`Method.requires` hook: modules a method needs besides its engine (e.g.
    ``flowjax`` for nutpie's flow adaptation). A frozen record, not a closure, so that a
    method record pickles to a dask worker.

    Examples
    --------
    >>> NeedsModules(("math",), by="nutpie")() is None
    True
    >>> NeedsModules(("no_such_module_x",), by="nutpie")()
    "nutpie's dependency 'no_such_module_x' is not installed (pip install no_such_module_x)"
    """

    modules: tuple[str, ...]
    by: str = "the engine"

    def __call__(self) -> str | None:
        for module in self.modules:
            if importlib.util.find_spec(module) is None:
                return f"{self.by}'s dependency {module!r} is not installed (pip install {module})"
        return None


class FitFunction(Protocol):
    """The one signature of every method's fit function."""

    def __call__(
        self, *, dataset: Dataset, settings: Any, seed: int, context: FitContext
    ) -> FitResult: ...


_TRUE = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def convert_setting(value: object, annotation: object, where: str) -> object:
    """Convert ``value`` (a string from the command line, or a Python value) to a type.

    Handles ``int``, ``float``, ``bool``, ``str`` and optional (``X | None``) fields.

    Raises
    ------
    BadInput
        A value that is not of, and cannot be read as, the type; naming ``where``.

    Examples
    --------
    >>> convert_setting("0.5", float, "advi.learning_rate")
    0.5
    >>> convert_setting("none", float | None, "advi.grad_norm_clip") is None
    True
    """
    options = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in options:
                return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert_setting(value, option, where)
            except BadInput as err:
                errors.append(str(err))
        raise BadInput(errors[0] if errors else f"{where}: cannot convert {value!r}")
    expected = getattr(annotation, "__name__", str(annotation))
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in _TRUE:
                return _TRUE[value.lower()]
            raise ValueError
        if annotation is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.replace("_", ""))
            raise ValueError
        if annotation is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)  # type: ignore[arg-type]
            return out
        if annotation is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise BadInput(f"{where}: expected {expected}, got {value!r}") from None
    return value


@dataclass(frozen=True)
class Method:
    """One registered inference method.

    Attributes
    ----------
    name : str
        Registry key, used on the command line and in results (``--methods NAME``).
    label : str
        Readable name for reports.
    family : str
        One of :data:`FAMILIES`.
    fit : FitFunction
        ``fit(*, dataset, settings, seed, context) -> FitResult``; a fit that iterates
        in Python calls ``context.check()`` between steps, so the time limit stops it.
    settings : type
        The frozen :class:`Settings` subclass; its defaults are the method's defaults.
    quick : dict
        Settings of the quick profile (``--quick``): seconds, for smoke tests and CI.
    engine : str
        The importable module that does the work (e.g. ``nutpie``, ``pymc``).
    description : str
        One line on what the method does.
    accelerations : tuple of str
        The opt-in accelerations (:data:`~bnn_models.inference.accelerations.ACCELERATIONS`)
        the method supports; ``--set`` refuses the others before anything runs.
    recorded_facts : tuple of str
        Keys the fit adds to its recorded ``config`` that are facts of the run, not
        settings (e.g. how an engine ran its chains); a report never calls them stale.
    distribution : str
        The engine's installed distribution, where its name is not the module's (e.g.
        ``pystan`` for the module ``stan``): what ``engine_version`` reads and what a
        skipped fit says to install. Empty: the engine's name.
    requires : callable, optional
        ``requires() -> str | None``: why the method cannot run here although its engine
        imports (e.g. no C++ compiler), or None; such a method is skipped with the reason.
    defaults_from : str
        Where the defaults were chosen, when a study chose them (a results file, e.g.
        ``studies/nuts_budget/results/nuts_budget.md``); reports and the methods page say so.
    """

    name: str
    label: str
    family: str
    fit: Callable[..., FitResult]
    settings: type[Settings]
    quick: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "pymc"
    description: str = ""
    accelerations: tuple[str, ...] = ()
    defaults_from: str = ""
    recorded_facts: tuple[str, ...] = ()
    distribution: str = ""
    requires: Callable[[], str | None] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"method {self.name!r}: unknown family {self.family!r}")
        if not (isinstance(self.settings, type) and issubclass(self.settings, Settings)):
            raise TypeError(f"method {self.name!r}: settings must be a Settings subclass")
        fields = {f.name for f in dataclasses.fields(self.settings)}
        for name in self.accelerations:
            if name not in ACCELERATIONS:
                raise ValueError(f"method {self.name!r}: unknown acceleration {name!r}")
            if ACCELERATIONS[name].setting not in fields:
                raise ValueError(
                    f"method {self.name!r}: acceleration {name!r} needs the setting "
                    f"{ACCELERATIONS[name].setting!r}, which its settings lack"
                )
        self.configure(quick=True)  # the quick settings must be valid settings

    @property
    def installed(self) -> bool:
        """Whether the method can run here: its engine imports and what it
        :attr:`requires` is present."""
        return self.unavailable() is None

    def unavailable(self) -> str | None:
        """Why the method cannot run here (its engine is not importable, or the reason
        :attr:`requires` gives), or None."""
        if importlib.util.find_spec(self.engine) is None:
            package = self.distribution or self.engine
            return f"engine {self.engine!r} is not installed (pip install {package})"
        return self.requires() if self.requires is not None else None

    @property
    def engine_version(self) -> str | None:
        """Version of the engine's distribution (None: not installed)."""
        package = self.distribution or self.engine
        return library_versions((package,)).get(package)

    def setting_names(self) -> list[str]:
        """Names of the settings ``--set NAME.KEY=VALUE`` accepts."""
        return [f.name for f in dataclasses.fields(self.settings)]

    def configure(
        self, *, quick: bool = False, overrides: Mapping[str, object] | None = None
    ) -> Settings:
        """The settings of a fit: defaults, then the quick profile, then ``overrides``.

        Values of ``overrides`` may be strings (from the command line): each is converted
        to its field's type.

        Raises
        ------
        BadInput
            An unknown setting, a value of the wrong type, or a value the method refuses;
            the message names the method, the setting and the value.
        """
        hints = typing.get_type_hints(self.settings)
        names = self.setting_names()
        changes: dict[str, Any] = {}
        for source, values in (("quick", self.quick if quick else {}), ("--set", overrides)):
            for key, value in (values or {}).items():
                if key not in names:
                    raise BadInput(
                        f"{source}: method {self.name!r} has no setting {key!r}; "
                        f"settings: {', '.join(sorted(names))}"
                    )
                changes[key] = convert_setting(value, hints[key], f"--set {self.name}.{key}")
        self.refuse_unsupported(types.SimpleNamespace(**changes))
        try:
            return self.settings(**changes)
        except BadInput as err:  # the same kind of error (e.g. AccelerationUnavailable)
            raise type(err)(f"{self.name}: {err}") from None

    def refuse_unsupported(self, settings: object) -> None:
        """Refuse an opt-in acceleration ``settings`` turn on that this method does not
        support (:attr:`accelerations`), before anything is built or run.

        Raises
        ------
        BadInput
            Naming the method, the setting and the methods that support it.
        """
        for acceleration in asked_by(settings):
            if acceleration.name in self.accelerations:
                continue
            others = [m.name for m in REGISTRY.values() if acceleration.name in m.accelerations]
            raise BadInput(
                f"--set {self.name}.{acceleration.flag}: {self.label} does not support the "
                f"{acceleration.name} acceleration; methods that do: "
                f"{', '.join(others) or 'none'}"
            )

    def __call__(
        self,
        *,
        dataset: Dataset,
        seed: int = 0,
        progressbar: bool = True,
        quick: bool = False,
        settings: Settings | None = None,
        context: FitContext | None = None,
        **overrides: Any,
    ) -> FitResult:
        """Fit ``dataset`` with the given settings (or defaults, quick profile, overrides).

        ``context`` (progress bar and deadline) defaults to one with ``progressbar`` and no
        time limit; given, it is used as it is and ``progressbar`` is ignored.

        Examples
        --------
        >>> from bnn_models.inference import METHODS  # doctest: +SKIP
        >>> result = METHODS["advi"](dataset=ds, seed=1, max_iter=2000)  # doctest: +SKIP
        """
        if settings is None:
            settings = self.configure(quick=quick, overrides=overrides)
        else:
            self.refuse_unsupported(types.SimpleNamespace(**overrides))
            try:
                settings = dataclasses.replace(settings, **overrides)
            except BadInput as err:
                raise type(err)(f"{self.name}: {err}") from None  # keeps AccelerationUnavailable
        self.refuse_unsupported(settings)
        for acceleration in asked_by(settings):  # settings unpickled in a worker skip __post_init__
            load(acceleration)
        if context is None:
            context = FitContext(progressbar=progressbar)
        result = self.fit(dataset=dataset, settings=settings, seed=seed, context=context)
        config = {"method": self.name, **result.config}
        return dataclasses.replace(result, method=self.name, family=self.family, config=config)
