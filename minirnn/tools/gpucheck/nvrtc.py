"""Compile the fused kernels' CUDA source with NVRTC, on a machine with no GPU and no driver.

CuPy compiles a ``cupy.ElementwiseKernel`` at its first launch, so a typo in one of
minirnn's kernels (minirnn/gates/kernels.py) would show only on a user's GPU. NVRTC,
the compiler CuPy uses, runs on the CPU: CuPy's binding of it
(``cupy_backends.cuda.libs.nvrtc``) needs only the NVRTC library, which the
``nvidia-cuda-nvrtc-cu12`` wheel provides. CuPy's own compile path stops earlier, at
"CUDA driver version is insufficient", so this module writes the source the way
``ElementwiseKernel`` does and hands it to NVRTC itself.

What CuPy generates for a launch (cupy/_core/_kernel.pyx, CuPy 14), for the arrays
minirnn passes, all C-contiguous and smaller than 2^31 elements:

- each type letter of the parameters (``T``) becomes ``typedef <C type> T;``, the C type
  of the arrays bound to it (float or double here);
- an array parameter is a ``CArray<type, ndim, c_contiguous, 32-bit index>``, ``const``
  when it is an input. A plain one is passed as ``_raw_<name>`` and CuPy folds the
  contiguous arrays of a launch to one dimension; a ``raw`` one keeps its own name and
  shape, (B, G H) for minirnn's gate arrays;
- a parameter of a fixed type (``int32 H``) that receives a Python number is a scalar,
  ``const int H``;
- the body runs inside ``CUPY_FOR(i, _ind.size())`` with a reference bound to each plain
  array's element i: ``const T &c_prev = _raw_c_prev[_ind.get()];``;
- the file starts with CuPy's headers, and NVRTC gets CuPy's include folders,
  ``--std=c++17`` and ``-ftz=true``.

tests/tools/gpucheck/test_nvrtc.py holds :func:`kernel_source` to the code CuPy's own
generator writes, where that generator can be called.
"""
from __future__ import annotations

import os

import numpy

from minirnn.gates import kernels

CUPY_HEADERS = ("cupy/complex.cuh", "cupy/carray.cuh", "cupy/atomics.cuh", "cupy/math_constants.h")
RAW_NDIM = 2          # minirnn's raw arrays are the (B, G H) gate arrays of one step
DEFAULT_ARCH = "compute_80"
C_TYPES = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long", "uint32": "unsigned int",
           "bool": "bool"}

# The kernel function around the body, as CuPy's string.Template writes it (whitespace included).
_TEMPLATE = '''
    {type_decls}{typedef_preamble}
    {preamble}
    extern "C" __global__ void {name}({params}) {{
      {loop_prep};
      #pragma unroll 1
      CUPY_FOR(i, _ind.size()) {{
        _ind.set(i);
        {operation};
      }}
      {after_loop};
    }}
    '''


class KernelCompileError(RuntimeError):
    """NVRTC refused a kernel; the message holds its log."""


def _parameters(declaration: str, is_input: bool) -> list[dict]:
    """'raw T hh, T c_prev, int32 H' -> one dict per parameter: name, type, raw, input."""
    parameters = []
    for part in declaration.split(","):
        *keywords, type_name, name = part.split()
        parameters.append(dict(name=name, type=type_name, raw="raw" in keywords, input=is_input))
    return parameters


def kernel_source(name: str, dtype: str) -> str:
    """The CUDA source CuPy compiles for ``kernels._SOURCES[name]`` launched on ``dtype`` arrays."""
    inputs, outputs, body = kernels._SOURCES[name]
    c_type = C_TYPES[numpy.dtype(dtype).name]
    parameters = _parameters(inputs, True) + _parameters(outputs, False)
    letters = sorted({p["type"] for p in parameters if len(p["type"]) == 1})
    declarations, bindings = [], []
    for p in parameters:
        const = "const " if p["input"] else ""
        if len(p["type"]) == 1 or p["raw"]:                       # an array
            element = c_type if len(p["type"]) == 1 else C_TYPES[p["type"]]
            ndim = RAW_NDIM if p["raw"] else 1
            variable = p["name"] if p["raw"] else f"_raw_{p['name']}"
            declarations.append(f"{const}CArray<{element}, {ndim}, 1, 1> {variable}")
            if not p["raw"]:
                bindings.append(f"{const}{p['type']} &{p['name']} = _raw_{p['name']}[_ind.get()];")
        else:                                                     # a scalar of a fixed type
            declarations.append(f"{const}{C_TYPES[p['type']]} {p['name']}")
    declarations.append("CIndexer<1, 1> _ind")
    code = _TEMPLATE.format(type_decls="", typedef_preamble="".join(f"typedef {c_type} {t};\n" for t in letters),
                            preamble=kernels._PREAMBLE, name=f"minirnn_{name}",   # the name kernels._kernel gives
                            params=", ".join(declarations), operation="\n".join(bindings + [body]),
                            loop_prep="", after_loop="")
    return "".join(f"#include <{header}>\n" for header in CUPY_HEADERS) + code


def unavailable() -> str | None:
    """Why the kernels cannot be compiled here (None when they can): CuPy or its NVRTC library is missing."""
    try:
        from cupy_backends.cuda.libs import nvrtc
    except ImportError as err:
        return f"CuPy is not installed ({err}): pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12"
    try:
        nvrtc.getVersion()
    except Exception as err:  # CuPy raises its own error types when the library cannot be loaded
        return f"CuPy finds no NVRTC library ({err}): pip install nvidia-cuda-nvrtc-cu12"
    return None


def version() -> str:
    """The NVRTC version, '12.9'."""
    from cupy_backends.cuda.libs import nvrtc
    return ".".join(map(str, nvrtc.getVersion()))


def _options(arch: str) -> list[str]:
    import cupy
    include = os.path.join(os.path.dirname(cupy.__file__), "_core", "include")
    cccl = [os.path.join(include, "cupy", "_cccl", part) for part in ("cub", "thrust", "libcudacxx")]
    return ([f"-I{path}" for path in cccl if os.path.isdir(path)]
            + ["--std=c++17", f"-I{include}", "-ftz=true", f"-arch={arch}"])


def compile_kernel(name: str, dtype: str, arch: str = DEFAULT_ARCH) -> str:
    """Compile one kernel for ``dtype`` arrays with NVRTC and return its PTX; KernelCompileError with NVRTC's log."""
    from cupy_backends.cuda.libs import nvrtc
    program = nvrtc.createProgram(kernel_source(name, dtype), f"minirnn_{name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(program, _options(arch))
        except nvrtc.NVRTCError as err:
            raise KernelCompileError(f"{name} ({dtype}) does not compile: {err}\n"
                                     f"{nvrtc.getProgramLog(program)}") from None
        ptx = nvrtc.getPTX(program)
    finally:
        nvrtc.destroyProgram(program)
    return ptx.decode() if isinstance(ptx, bytes) else ptx
