"""The fused CUDA kernels compile, with NVRTC on the CPU: a typo in a kernel fails here, not on a user's GPU.

Runs where CuPy and an NVRTC library are installed (``pip install -e ".[nvrtc]"``: cupy-cuda12x and
nvidia-cuda-nvrtc-cu12), with or without a GPU; skips with the reason elsewhere.
"""
import numpy
import pytest

from minirnn.gates import kernels
from minirnn.tools.gpucheck import nvrtc

MISSING = nvrtc.unavailable()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"NVRTC is not available: {MISSING}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(kernels._SOURCES))
def test_fused_kernel_compiles_with_nvrtc(name, dtype):
    ptx = nvrtc.compile_kernel(name, dtype)
    assert f".entry minirnn_{name}(" in ptx
    assert (".f64" in ptx) == (dtype == "float64")          # float32 kernels do no double arithmetic


def test_a_typo_in_a_kernel_fails_to_compile_with_nvrtcs_message(monkeypatch):
    inputs, outputs, body = kernels._SOURCES["lstm_forward"]
    monkeypatch.setitem(kernels._SOURCES, "lstm_forward", (inputs, outputs, body.replace("tanh_c =", "tanhc =")))
    with pytest.raises(nvrtc.KernelCompileError, match=r'lstm_forward \(float32\) does not compile(.|\n)*"tanhc"'):
        nvrtc.compile_kernel("lstm_forward", "float32")


def _cupy_generated_source(name, dtype):
    """What CuPy's own generator writes for the launch nvrtc.kernel_source describes (CuPy 14's private API)."""
    import cupy
    from cupy._core import _carray, _kernel, _scalar, core
    inputs, outputs, body = kernels._SOURCES[name]
    declared = _kernel._get_param_info(inputs, True) + _kernel._get_param_info(outputs, False)
    array, indexer, scalar = 1, 2, 3                      # CuPy's _ArgKind values
    infos = [_kernel._ArgInfo(array, cupy.ndarray, numpy.dtype(dtype) if p.dtype is None else p.dtype,
                              nvrtc.RAW_NDIM if p.raw else 1, True, True) if p.raw or p.dtype is None
             else _kernel._ArgInfo(scalar, _scalar.CScalar, p.dtype, 0, True, True) for p in declared]
    infos.append(_kernel._ArgInfo(indexer, _carray.Indexer, None, 1, True, True))
    letters = sorted({p.ctype for p in declared if p.dtype is None})
    code = _kernel._get_elementwise_kernel_code(
        tuple(infos), _kernel._TypeMap(tuple((letter, numpy.dtype(dtype)) for letter in letters)),
        declared + _kernel._get_param_info("CIndexer _ind", False), body, f"minirnn_{name}", kernels._PREAMBLE)
    return "".join(f"#include <{header}>\n" for header in core._cupy_header_list) + code


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(kernels._SOURCES))
def test_the_compiled_source_is_what_cupy_generates(name, dtype):
    try:
        theirs = _cupy_generated_source(name, dtype)
    except (ImportError, AttributeError, TypeError) as err:
        pytest.skip(f"CuPy's private kernel generator has changed ({err}); nothing to compare with")
    assert nvrtc.kernel_source(name, dtype) == theirs
