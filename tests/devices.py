"""The device backends the device-path tests run on (tests/library/test_device_paths.py and
tests/tools/test_device_paths.py): the CuPy stand-in here (tests/strict_backend.py), and CuPy itself
where a GPU is present, with the helpers that hold a device's results to NumPy's. The fixtures
``device`` and ``stand_in`` are in tests/conftest.py.
"""
from contextlib import contextmanager

import numpy
import pytest
from strict_backend import recording

import minirnn
from minirnn.core import backend

DEVICES = ["strict", pytest.param("cupy", marks=pytest.mark.skipif(
    not minirnn.gpu_available(), reason="CuPy with a GPU is not available"))]
TOLERANCE = 1e-12
# The settings each optimizer runs with in the device tests: momentum and weight decay where it has them.
OPTIMIZER_SETTINGS = {"sgd": dict(momentum=0.9, weight_decay=1e-3), "adagrad": {}, "adam": dict(weight_decay=1e-3),
                      "adamw": {}}


class Device:
    """A device backend under test: "strict" (the stand-in) or "cupy"."""

    def __init__(self, name: str):
        self.name, self.xp = name, backend.namespace(name)

    def put(self, host):
        return self.xp.asarray(host)

    @contextmanager
    def no_host_copies(self):
        """The block must not copy anything to the host: checked on the stand-in, which can count copies."""
        if self.name == "cupy":
            yield
            return
        with recording() as transfers:
            yield
        assert transfers == [], "copies to the host: " + ", ".join(f"{t.kind} at {t.where}" for t in transfers)

    @contextmanager
    def as_default(self):
        """New models are built on this device (as MINIRNN_BACKEND would make them)."""
        before = backend.default_backend()
        backend.use_backend(self.name)
        try:
            yield
        finally:
            backend.use_backend(before)


def assert_same(got, want, what=""):
    """Device results (arrays, tuples of them, None) equal to NumPy's to TOLERANCE."""
    if want is None or isinstance(want, (tuple, list)):
        assert (got is None) == (want is None), what
        for index, (g, w) in enumerate(zip(got or (), want or ())):
            assert_same(g, w, f"{what}[{index}]")
        return
    numpy.testing.assert_allclose(backend.to_host(got), want, rtol=0, atol=TOLERANCE, err_msg=what)


def on(device, value):
    """A host value (array, tuple of arrays, None) moved to the device."""
    if value is None or isinstance(value, numpy.ndarray):
        return None if value is None else device.put(value)
    return tuple(on(device, v) for v in value)
