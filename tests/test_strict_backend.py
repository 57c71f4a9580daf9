"""The CuPy stand-in itself (tests/strict_backend.py): it refuses what CuPy refuses and records every copy to the host.

If the stand-in let a mix-up through, the tests that run minirnn on it
(test_device_paths.py) would prove nothing; these hold it to CuPy's behaviour.
"""
import numpy
import pytest
from strict_backend import CUPY_CONVERSION_MESSAGE, Array, plugged_in, recording, strict

import minirnn
from minirnn.core import backend


@pytest.fixture
def device_array():
    return strict.asarray(numpy.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("convert", [numpy.asarray, numpy.array, lambda a: numpy.array([a[0, 0], a[0, 1]])],
                         ids=["asarray", "array", "list of device scalars"])
def test_implicit_conversion_to_numpy_is_refused_with_cupys_message(device_array, convert):
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        convert(device_array)
    assert "Please use `.get()`" in CUPY_CONVERSION_MESSAGE


@pytest.mark.parametrize("mix", [lambda d, h: d + h, lambda d, h: h * d, lambda d, h: strict.maximum(d, h),
                                 lambda d, h: strict.where(d > 0, h, d), lambda d, h: numpy.add(d, h, out=d)],
                         ids=["add", "reflected multiply", "namespace ufunc", "namespace function", "out="])
def test_a_numpy_array_in_a_device_operation_is_refused(device_array, mix):
    with pytest.raises(TypeError, match="Unsupported type"):
        mix(device_array, numpy.ones((2, 3)))


def test_numpy_index_arrays_and_numpy_values_are_refused(device_array):
    with pytest.raises(TypeError, match="Unsupported type"):
        device_array[numpy.array([0, 1])]
    with pytest.raises(TypeError, match="Unsupported type"):
        device_array[0] = numpy.zeros(3)


def test_scalars_and_device_arrays_mix_freely(device_array):
    result = 2 * device_array + numpy.float64(1.0) - device_array[0]
    assert isinstance(result, Array)
    assert result.get().tolist() == [[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]


def test_every_copy_to_the_host_is_recorded_with_its_line(device_array):
    with recording() as transfers:
        float(device_array[0, 0])
        int(device_array.sum())
        bool(device_array[1, 1] > 0)
        device_array.max().item()
        device_array.get()
        device_array[device_array > 2]
    assert [t.kind for t in transfers] == ["float()", "int()", "bool()", ".item()", ".get()", "boolean mask"]
    assert all(t.where.startswith("tests/test_strict_backend.py:") for t in transfers)


def test_results_stay_on_the_device(device_array):
    assert isinstance(device_array.sum(), Array) and device_array.sum().shape == ()
    assert isinstance(numpy.tanh(device_array), Array)      # NumPy's functions dispatch, as with CuPy
    with recording() as transfers:
        out = strict.empty((2, 3))
        assert strict.multiply(device_array, 2.0, out=out) is out
        out += device_array
    assert transfers == []


def test_views_keep_their_owner_as_base(device_array):
    assert device_array.T.base is device_array and device_array[0].base is device_array
    assert device_array.base is None


def test_plugged_in_backend_is_a_minirnn_backend_only_inside_the_block():
    with plugged_in():
        model = minirnn.GRU(2, 3, seed=0).to("strict")
        assert backend.array_module(model.params["weight_hh_l0"]) is strict
        assert backend.backend_name(model.params["weight_hh_l0"]) == "strict"
    assert "strict" not in backend.BACKENDS
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'cupy'\)"):
        backend.namespace("strict")
