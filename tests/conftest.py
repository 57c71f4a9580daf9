"""Shared test settings: a bounded, deterministic hypothesis profile, the optional references, and the
device backends of the device-path tests (tests/devices.py)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from devices import DEVICES, Device
from hypothesis import HealthCheck, settings
from strict_backend import plugged_in

import minirnn

# Bounded and derandomized: the suite runs the same examples every time, with no timing deadlines,
# so it cannot flake on a slow or busy machine.
settings.register_profile("minirnn", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("minirnn")

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.skipif(
    not minirnn.gpu_available(), reason="CuPy with a GPU is not available"))]


@pytest.fixture(scope="session")
def script():
    """A script of scripts/ as a module, to test its functions: script("fuzz_checkpoints")."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """torch in float64, or a skip when it is not installed (it is never a dependency)."""
    torch = pytest.importorskip("torch", reason="torch is not installed: comparisons with torch.nn skipped")
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(torch.float32)


@pytest.fixture(params=DEVICES)
def device(request):
    """Each device backend in turn: the stand-in, and CuPy where a GPU is present."""
    if request.param == "strict":
        with plugged_in():
            yield Device("strict")
    else:
        yield Device("cupy")


@pytest.fixture
def stand_in():
    """The stand-in alone, for the tests that count copies to the host."""
    with plugged_in():
        yield Device("strict")


@pytest.fixture(scope="session")
def nietzsche():
    """The course's corpus from the data directory ($MINIRNN_DATA), or a skip: tests never download it."""
    from minirnn.data import load_corpus
    try:
        return load_corpus("nietzsche", download=False)
    except FileNotFoundError as err:
        pytest.skip(str(err))
