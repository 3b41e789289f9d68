"""The opt-in accelerations: imported only when asked for, refused outside the versions
they were tested with, and refused up front for a method that does not support them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bnn_models import accel
from bnn_models.cli import main
from bnn_models.errors import AccelerationUnavailable, BadInput
from bnn_models.inference import ACCELERATIONS, METHODS
from bnn_models.inference.steps import VI_BACKENDS


def _accel_modules_after(code: str) -> list[str]:
    """The ``bnn_models.accel`` modules a fresh interpreter holds after ``code``."""
    probe = f"{code}\nimport json, sys\n"
    probe += "print(json.dumps(sorted(m for m in sys.modules if m.startswith('bnn_models.accel'))))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_package_leaves_the_accelerations_out():
    code = "import bnn_models, bnn_models.inference, bnn_models.runner, bnn_models.cli"
    assert _accel_modules_after(code) == []


def test_a_setting_that_asks_for_one_imports_it_and_only_it():
    code = (
        "from bnn_models.inference import METHODS\n"
        "METHODS['advi'].configure(overrides={'backend': 'numba_positional'})"
    )
    assert _accel_modules_after(code) == ["bnn_models.accel", "bnn_models.accel.numba_positional"]


def test_the_registered_mode_name_is_the_vi_backends():
    from bnn_models.accel.numba_positional import MODE_NAME

    assert VI_BACKENDS["numba_positional"] == MODE_NAME


def _every_pair():
    return [(m, a) for m in METHODS for a in ACCELERATIONS]


@pytest.mark.parametrize(("method", "name"), _every_pair())
def test_each_method_takes_the_accelerations_it_declares_and_refuses_the_others(method, name):
    record, acceleration = METHODS[method], ACCELERATIONS[name]
    override = {acceleration.setting: acceleration.flag.split("=", 1)[1]}
    if name in record.accelerations:
        settings = record.configure(overrides=override)
        assert acceleration.asked_by(settings)
    else:  # refused: no such setting, or a setting this method does not take that way
        with pytest.raises(BadInput) as err:
            record.configure(overrides=override)
        assert method in str(err.value) and acceleration.setting in str(err.value)


def test_the_refusal_names_the_methods_that_support_it():
    with pytest.raises(BadInput) as err:
        METHODS["laplace"].configure(overrides={"fused": "true"})
    supporting = [m for m in METHODS if "fused" in METHODS[m].accelerations]
    assert "laplace" not in supporting and "nuts" in supporting
    assert str(err.value).endswith("methods that do: " + ", ".join(supporting))


def test_explicit_settings_are_refused_too(teacher_small):
    settings = METHODS["laplace"].settings(fused=True)
    with pytest.raises(BadInput, match="does not support the fused acceleration"):
        METHODS["laplace"](dataset=teacher_small, settings=settings)


def test_set_of_an_unsupported_one_exits_2_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--methods", "laplace", "--set", "laplace.fused=true", "--out", str(out)])
    assert code == 2
    assert "laplace.fused=true" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("installed", "refused"),
    [
        ({"pytensor": "3.3.8", "pymc": "6.3.2"}, False),
        ({"pytensor": "3.3.9", "pymc": "6.3.5"}, False),
        ({"pytensor": "3.4.0", "pymc": "6.3.2"}, True),
        ({"pytensor": "3.3.8", "pymc": "6.4.0"}, True),
        ({"pytensor": "3.3.7", "pymc": "6.3.2"}, True),
        ({"pytensor": None, "pymc": "6.3.2"}, True),
    ],
)
def test_outside_the_tested_versions_it_is_refused_naming_them(monkeypatch, installed, refused):
    monkeypatch.setattr(accel, "installed_versions", lambda: installed)
    if not refused:
        accel.check_versions("fused")
        return
    with pytest.raises(AccelerationUnavailable) as err:
        accel.check_versions("fused")
    text = str(err.value)
    assert "fused" in text
    assert f"pytensor {installed['pytensor']}, pymc {installed['pymc']}" in text
    assert "pytensor>=3.3.8,<3.4" in text and "pymc>=6.3.2,<6.4" in text


def test_a_setting_outside_the_tested_versions_is_refused_before_anything_runs(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(accel, "installed_versions", lambda: {"pytensor": "9.0", "pymc": "9.0"})
    with pytest.raises(AccelerationUnavailable, match="pytensor 9.0, pymc 9.0"):
        METHODS["advi"].configure(overrides={"fused": "true"})
    out = tmp_path / "run"
    assert main(["run", "--methods", "advi", "--set", "advi.fused=true", "--out", str(out)]) == 2
    assert not out.exists()


def test_the_default_settings_ask_for_none():
    for record in METHODS.values():
        settings = record.configure()
        assert not [a for a in ACCELERATIONS.values() if a.asked_by(settings)], record.name


@pytest.mark.parametrize("settings", ["advi", "fullrank_advi", "nuts"])
def test_fused_with_a_jax_backend_is_refused_by_the_settings(settings):
    """The fused Op has no JAX implementation: refused when the settings are made, not
    when a JAX compilation fails mid-run."""
    with pytest.raises(BadInput, match="fused must be false with backend 'jax'"):
        METHODS[settings].configure(overrides={"fused": "true", "backend": "jax"})


def test_a_backend_that_is_an_acceleration_compiles_outside_a_fit():
    """asv's ops benchmarks and the studies compile with a VI backend's mode, in a fresh
    process where no settings loaded it: ``backend_mode`` loads it first."""
    code = (
        "from pytensor.compile.mode import get_mode\n"
        "from bnn_models.inference.steps import backend_mode\n"
        "get_mode(backend_mode('numba_positional'))"
    )
    assert _accel_modules_after(code) == ["bnn_models.accel", "bnn_models.accel.numba_positional"]
