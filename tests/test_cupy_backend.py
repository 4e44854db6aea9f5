"""The CuPy backend (issue 5).

Without a GPU: the emitted module's structure, that it imports without CuPy, that every
generated CUDA C kernel compiles with nvcc for sm_90, and an end-to-end run of the emitted
modules on the host, where a stand-in for CuPy runs each kernel's standalone CUDA C source
compiled by g++ (the same source nvcc checks). With a GPU (``-m gpu``): the same programs
on CuPy against the NumPy backend.
"""
from __future__ import annotations

import ctypes
import hashlib
import inspect
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy import special

import tensorc as tc
from tensorc.backends.cupy import c_template
from tensorc.backends.numpy import function_template
from tensorc.cli import main
from tensorc.language.functions import FUNCTIONS
from tensorc.runtime import gpu
from tensorc.runtime import kernels as host
from reference import gpu_missing

RNG = np.random.default_rng(5)

CONV_BIAS_RELU_POOL = """\
Z[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b] + B[o])
P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2
"""
LOG_SUM_EXP = """\
M[n] = max(X[n, k])
S[n] = sum(exp(X[n, k] - M[n]))
Y[n, k] = exp(X[n, k] - M[n]) / S[n]
L[n] = M[n] + log(S[n])
"""
TWO_LAYER = """\
Z1[n, o, i, j] = X[n, c, i + a, j + b] * W1[o, c, a, b] + B1[o]
P1[n, o, i, j] = max(relu(Z1[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
F[n, o] = mean(relu(P1[n, o, i, j]))
M[n] = max(F[n, k])
Lse[n] = log(sum(exp(F[n, k] - M[n]))) + M[n]
L = mean(Lse[n] - T[n, k] * F[n, k])
"""


def rand(*shape):
    return RNG.standard_normal(shape)


def kernels(prog) -> list:
    """The generated kernel objects of a compiled CuPy-backend program."""
    return [v for v in inspect.unwrap(prog._run).__globals__.values()
            if isinstance(v, (gpu.ElementwiseKernel, gpu.ReductionKernel))]


def body(source: str) -> str:
    return source.split("def program(", 1)[1]


# ---------------------------------------------------------------- emitted source

def test_three_elementwise_ops_become_one_elementwise_kernel():
    prog = tc.compile("Y[i] = exp(tanh(X[i]) + 1) * 2", backend="cupy")
    assert [type(k).__name__ for k in kernels(prog)] == ["ElementwiseKernel"]
    (kernel,) = kernels(prog)
    assert kernel.operation == "y = exp(tanh(x0) + T(1.0))*T(2.0)"
    assert body(prog.source).count("_k1(") == 1
    assert not re.search(r"\b(np|special|cp)\.(exp|tanh)", prog.source)


def test_a_subexpression_read_twice_is_one_local_of_the_kernel():
    prog = tc.compile("Y[i] = sigmoid(X[i]) * (1 - sigmoid(X[i]))", backend="cupy")
    (kernel,) = kernels(prog)
    assert kernel.operation.count("exp(") == 2        # sigmoid's stable form: printed once
    assert kernel.operation.startswith("T v0 = exp(-log1p(exp(-fabs(x0))) + fmin(T(0), x0));")


def test_broadcast_operands_are_aligned_views_of_one_kernel_call():
    prog = tc.compile("Y[n, o] = relu(A[n, o] + B[o] * C[n])", backend="cupy")
    assert "_k1(A_, B_[None, :], C_[:, None])" in prog.source


def test_contractions_go_through_einsum_and_arrays_through_cupy():
    prog = tc.compile(CONV_BIAS_RELU_POOL, backend="cupy")
    src = body(prog.source)
    assert 'rt.einsum("abcdef,gfce->agbd", _t2, W_)' in src
    assert "cp.ascontiguousarray(" in src and "rt.view(" in src
    assert not re.search(r"\bnp\.|\bspecial\.", prog.source)
    assert "import cupy as cp" in prog.source and "import numpy" not in prog.source


def test_runtime_einsum_calls_cupy_einsum(monkeypatch):
    calls = []

    class FakeCupy:
        __name__ = "numpy"

        @staticmethod
        def einsum(eq, *ops):
            calls.append(eq)
            return np.einsum(eq, *ops)

    monkeypatch.setattr(gpu, "require", lambda: FakeCupy)
    a, b = rand(2, 3), rand(3, 4)
    np.testing.assert_allclose(gpu.einsum("ij,jk->ik", a, b), a @ b)
    assert calls == ["ij,jk->ik"]


def test_reductions_with_an_elementwise_body_become_reduction_kernels():
    prog = tc.compile(LOG_SUM_EXP, backend="cupy")
    kinds = {k.name: (type(k).__name__, getattr(k, "map_expr", None)) for k in kernels(prog)}
    assert kinds["tensorc_k1"] == ("ReductionKernel", "exp(x0 - x1)")
    assert "_k1(X_, M_[:, None], axis=(1,))" in prog.source
    pool = tc.compile("P[n, i] = max(relu(Y[n, 2*i + p]))   where p < 2", backend="cupy")
    (kernel,) = kernels(pool)
    assert (kernel.map_expr, kernel.reduce_expr, kernel.identity) == (
        "fmax(T(0), x0)", "fmax(a, b)", "-TC_INF")


def test_scatters_and_argmax_masks_call_the_raw_kernels():
    g = tc.grad("Z[n, o, i, j] = X[n, c, 2*i + a, 2*j + b] * W[o, c, a, b]\n"
                "P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2\n"
                "L = sum(P[n, o, i, j])", of="L", wrt=["X", "W"], backend="cupy")
    assert "rt.scatter_add(" in g.source and "rt.argmax_mask(" in g.source


def test_every_runtime_helper_the_module_calls_exists():
    progs = [tc.compile(CONV_BIAS_RELU_POOL, backend="cupy"),
             tc.grad(TWO_LAYER, of="L", wrt=["W1", "B1", "X"], backend="cupy"),
             tc.compile("T[2*i + a] += x[i] * w[a]", backend="cupy")]
    for prog in progs:
        for name in re.findall(r"\brt\.(\w+)", prog.source):
            assert callable(getattr(gpu, name)), name


def test_module_imports_without_cupy_and_fails_at_call_time(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)        # import cupy -> ImportError
    gpu.require.cache_clear()
    try:
        prog = tc.compile("Y[i] = relu(X[i]) + 0.5", backend="cupy")
        with pytest.raises(gpu.GpuUnavailableError, match="CuPy is not installed"):
            prog(X=np.ones(3))
    finally:
        gpu.require.cache_clear()
    assert issubclass(gpu.GpuUnavailableError, tc.TensorcError)
    assert issubclass(gpu.GpuUnavailableError, ImportError)


def test_unknown_backend_lists_cupy():
    with pytest.raises(tc.SpecError, match="valid options are numpy, cupy"):
        tc.compile("Y[i] = X[i]", backend="cuda")


def test_cli_emit_backend_cupy_prints_the_module(tmp_path, capsys):
    spec = tmp_path / "layer.tc"
    spec.write_text(CONV_BIAS_RELU_POOL)
    assert main(["emit", str(spec), "--backend", "cupy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('"""Generated by tensorc.')
    assert "rt.ElementwiseKernel(" in out and "@rt.on_device" in out


# ---------------------------------------------------------------- CUDA C compiles (nvcc)

def nvcc_programs():
    return {
        "conv_bias_relu_pool": tc.compile(CONV_BIAS_RELU_POOL, backend="cupy"),
        "softmax_log_sum_exp": tc.compile(LOG_SUM_EXP, backend="cupy"),
        "strided_scatter": tc.compile("T[2*i + a] += x[i] * w[a]", backend="cupy"),
        "grad_two_layer": tc.grad(TWO_LAYER, of="L", wrt=["W1", "B1", "X"], backend="cupy"),
        "grad_conv_relu_pool_dense": grad_case("conv_relu_pool_dense", "cupy")[0],
        "every_function": tc.compile(
            "Y[i] = " + " + ".join(f"{n}({', '.join(['X[i]'] * FUNCTIONS[n].arity)})"
                                   for n in FUNCTIONS if not FUNCTIONS[n].infix), backend="cupy"),
    }


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_every_generated_kernel_compiles_with_nvcc_for_sm_90(ctype, tmp_path):
    sources = {f"{name}.{kernel}": src for name, prog in nvcc_programs().items()
               for kernel, src in gpu.kernel_sources(prog, ctype).items()}
    assert {"grad_two_layer.tensorc_argmax_mask", "strided_scatter.tensorc_scatter_add_atomic",
            "softmax_log_sum_exp.tensorc_k1"} <= set(sources)
    mode = "-c" if ctype == "float" else "--ptx"
    failed = {}
    for name, src in sources.items():
        path = tmp_path / f"{name}.cu"
        path.write_text(src)
        run = subprocess.run(["nvcc", "-arch=sm_90", mode, str(path), "-o", f"{path}.out"],
                             capture_output=True, text=True)
        if run.returncode:
            failed[name] = run.stderr[-2000:]
    assert not failed, failed


# ---------------------------------------------------------------- the C of every function

@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_every_functions_c_equals_its_numpy_form(tmp_path):
    """Each function's printed C (T = double) against the NumPy backend's template."""
    x = np.concatenate([3 * rand(60), [-30, -2, -1, 0, 0, 0.5, 1, 2, 30]])
    y = np.where(np.arange(x.size) % 3 == 0, x, np.concatenate([3 * rand(60), [2, 0, 1, 0,
                                                                              -1, 3, 1, 0, 1]]))
    z = rand(x.size)
    for name in FUNCTIONS:
        args = ", ".join(f"x{k}[i]" for k in range(FUNCTIONS[name].arity))
        op = f"y[i] = {c_template(name).format(*[f'x{k}[i]' for k in range(3)])}"
        fn = host_function(f"{HOST_SHIM}typedef double T;\nextern \"C\" void f(const T* x0, "
                           f"const T* x1, const T* x2, T* y, long long n) {{ for (long long i "
                           f"= 0; i < n; ++i) {{ {op}; }} }}\n", "f")
        out = np.empty_like(x)
        fn(*(ptr(a) for a in (x, y, z, out)), ctypes.c_longlong(x.size))
        scope = {"np": np, "special": special, "dt": np.float64, "x0": x, "x1": y, "x2": z}
        with np.errstate(all="ignore"):
            expected = eval(function_template(name).format("x0", "x1", "x2"), scope)
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-300, equal_nan=True,
                                   err_msg=f"{name}: {op} ({args})")


# ---------------------------------------------------------------- host stand-in for CuPy

HOST_SHIM = r"""
#include <math.h>
#include <string.h>
#define __global__
struct tc_dim { long long x; };
static const tc_dim blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
#define atomicAdd(p, v) (*(p) += (v))
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
"""
_LIBS: dict[str, ctypes.CDLL] = {}


def host_function(source: str, name: str):
    """Compile CUDA C written for one thread per loop (the shim above) with g++."""
    key = hashlib.sha1(source.encode()).hexdigest()
    if key not in _LIBS:
        from pathlib import Path
        import tempfile
        folder = Path(tempfile.mkdtemp(prefix="tensorc_host_"))
        (folder / "k.cpp").write_text(source)
        subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(folder / "k.so"),
                        str(folder / "k.cpp")], check=True, capture_output=True)
        _LIBS[key] = ctypes.CDLL(str(folder / "k.so"))
    return getattr(_LIBS[key], name)


def ptr(a: np.ndarray):
    return ctypes.c_void_p(a.ctypes.data)


def to_c(arg):
    if isinstance(arg, np.ndarray):
        return ptr(arg)
    return ctypes.c_int(int(arg)) if isinstance(arg, np.int32) else ctypes.c_longlong(int(arg))


class HostElementwise:
    """cupy.ElementwiseKernel on the host: broadcast, then the standalone source."""

    def __init__(self, in_params, out_params, operation, name):
        self.spec = gpu.ElementwiseKernel(in_params, out_params, operation, name)

    def __call__(self, *args):
        ins = [np.ascontiguousarray(a, dtype=np.float64) for a in np.broadcast_arrays(*args)]
        out = np.empty(ins[0].shape)
        fn = host_function(HOST_SHIM + self.spec.cuda_source("double"), self.spec.name)
        fn(*(ptr(a) for a in ins), ptr(out), ctypes.c_longlong(out.size))
        return out


class HostReduction:
    """cupy.ReductionKernel on the host: reduced axes last, then the standalone source."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name, preamble=""):
        self.spec = gpu.ReductionKernel(in_params, out_params, map_expr, reduce_expr,
                                        post_map_expr, identity, name)

    def __call__(self, *args, axis):
        arrays = np.broadcast_arrays(*args)
        kept = [d for d in range(arrays[0].ndim) if d not in axis]
        moved = [np.moveaxis(a, [*kept, *axis], range(a.ndim)) for a in arrays]
        shape = moved[0].shape[:len(kept)]
        n_out = int(np.prod(shape))
        ins = [np.ascontiguousarray(a, dtype=np.float64).reshape(n_out, -1) for a in moved]
        out = np.empty(shape)
        fn = host_function(HOST_SHIM + self.spec.cuda_source("double"), self.spec.name)
        fn(*(ptr(a) for a in ins), ptr(out), ctypes.c_longlong(n_out),
           ctypes.c_longlong(ins[0].shape[1]))
        return out


class HostRaw:
    def __init__(self, source, name):
        self.fn = host_function(HOST_SHIM + source, name)

    def __call__(self, grid, block, args):
        self.fn(*(to_c(a) for a in args))


class HostCupy:
    """NumPy under CuPy's name, with kernels compiled for the host (float64 only)."""

    __name__ = "numpy"
    ElementwiseKernel, ReductionKernel, RawKernel = HostElementwise, HostReduction, HostRaw

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.fixture
def host_cupy(monkeypatch):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    fake = HostCupy()
    monkeypatch.setattr(gpu, "require", lambda: fake)
    gpu._raw_kernel.cache_clear()
    yield fake
    gpu._raw_kernel.cache_clear()


def _prepare(prog):
    """Kernels built, and the module's ``cp`` bound, by whichever CuPy the test runs under."""
    for k in kernels(prog):
        k._kernel = None
    inspect.unwrap(prog._run).__globals__["cp"] = gpu.require()


FORWARD = {
    "conv_bias_relu_pool": (CONV_BIAS_RELU_POOL, dict(X=(2, 3, 9, 8), W=(4, 3, 3, 3), B=(4,))),
    "strided_dilated_conv": ("Y[n, o, i, j] = X[n, c, 2*i + 2*a, 2*j + 2*b] * W[o, c, a, b]",
                             dict(X=(2, 2, 11, 10), W=(3, 2, 3, 2))),
    "same_conv_reflect": ("input X[N, C, H, W]\nY[n, o, i, j] = X[n, c, reflect(i + a - 1), "
                          "wrap(j + b - 1)] * K[o, c, a, b] + tanh(X[n, o, i, j])"
                          "   where i in 0:H, j in 0:W", dict(X=(2, 3, 5, 6), K=(3, 3, 3, 3))),
    "avg_and_max_pool": ("A[n, c, i, j] = mean(Y[n, c, 2*i + p, 2*j + q])  where p < 2, q < 2\n"
                         "P[n, c, i, j] = max(Y[n, c, 3*i + p, 3*j + q])  where p < 3, q < 3",
                         dict(Y=(2, 3, 9, 9))),
    "softmax_log_sum_exp": (LOG_SUM_EXP, dict(X=(4, 7))),
    "strided_scatter": ("T[2*i + a] += x[i] * w[a]", dict(x=(7,), w=(3,))),
    "declared_scatter_reflect": ("output S[3, 7]\nS[o, reflect(2*i + a - 1)] += X[c, i] * "
                                 "K[o, c, a]", dict(X=(2, 3), K=(3, 2, 3))),
    "scatter_2d_stride": ("dX[n, c, 2*i + a, 2*j + b] += dY[n, o, i, j] * W[o, c, a, b]",
                          dict(dY=(2, 3, 4, 3), W=(3, 2, 3, 3))),
    "every_function": ("Y[i] = " + " + ".join(
        f"{n}({', '.join(['X[i]'] * FUNCTIONS[n].arity)})" for n in FUNCTIONS
        if not FUNCTIONS[n].infix and n != "log" and n != "sqrt") + " + log(abs(X[i]) + 1)",
        dict(X=(50,))),
}

GRADS = {
    "two_layer": (TWO_LAYER, "L", ["W1", "B1", "X"],
                  dict(X=(2, 2, 10, 10), W1=(3, 2, 3, 3), B1=(3,), T=(2, 3))),
    "strided_conv_sigmoid": ("Z[n, o, i, j] = X[n, c, 2*i + a, 2*j + b] * W[o, c, a, b]\n"
                             "L = sum(sigmoid(Z[n, o, i, j]))", "L", ["X", "W"],
                             dict(X=(2, 2, 9, 9), W=(3, 2, 3, 3))),
    "conv_relu_pool_dense": (  # pooled ReLU, a flatten scattered through a ReLU mask
        "Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]\n"
        "P[n, o, i, j] = max(relu(Z[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2\n"
        "F[n, k] = relu(V[k, 4*o + 2*i + j] * P[n, o, i, j])\nL = sum(F[n, k] * F[n, k])",
        "L", ["W", "B", "V", "X"], dict(X=(2, 2, 6, 6), W=(2, 2, 3, 3), B=(2,), V=(3, 8))),
    "counted_square": ("Z[o, i] = (X[c, i + a] * K[o, c, a] + B[o]) * "
                       "(X[c, i + a] * K[o, c, a] + B[o])\nL = sum(Z[o, i] * C[o, i])",
                       "L", ["B", "K"], dict(X=(2, 6), K=(3, 2, 2), B=(3,), C=(3, 5))),
    "wrapped_conv_vjp": ("input X[N, C, H, W]\nY[n, o, i, j] = X[n, c, wrap(i + a - 1), "
                         "clamp(j + b - 1)] * K[o, c, a, b]   where i in 0:H, j in 0:W",
                         "Y", ["X", "K"],
                         dict(X=(2, 2, 5, 6), K=(3, 2, 3, 3), dY=(2, 3, 5, 6))),
}


def forward_case(name, backend):
    spec, shapes = FORWARD[name]
    return tc.compile(spec, backend=backend), shapes


def grad_case(name, backend):
    spec, of, wrt, shapes = GRADS[name]
    return tc.grad(spec, of=of, wrt=wrt, backend=backend), shapes


def compare(case, name, to_host=np.asarray, rtol=1e-10):
    (prog, shapes), (ref, _) = case(name, "cupy"), case(name, "numpy")
    _prepare(prog)
    arrays = {k: rand(*s) for k, s in shapes.items()}
    got, want = prog(**arrays), ref(**arrays)
    assert set(got) == set(want)
    for out in want:
        np.testing.assert_allclose(to_host(got[out]), want[out], rtol=rtol, atol=rtol,
                                   err_msg=out)
    return got


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_emitted_module_on_the_host_equals_numpy_backend(name, host_cupy):
    compare(forward_case, name)


@pytest.mark.parametrize("name", sorted(GRADS))
def test_emitted_gradient_on_the_host_equals_numpy_backend(name, host_cupy):
    compare(grad_case, name)


def test_host_stand_in_helpers_match_numpy_runtime(host_cupy):
    x = rand(4, 5)
    widths, modes = ((1, 2), (3, 0)), ("reflect", "wrap")
    np.testing.assert_array_equal(gpu.pad(x, widths, modes), host.pad(x, widths, modes))
    padded = rand(7, 8)
    np.testing.assert_allclose(gpu.fold(padded, widths, modes), host.fold(padded, widths, modes))
    np.testing.assert_array_equal(gpu.delta((1, -2), 1, (3, 2), np.float64),
                                  host.delta((1, -2), 1, (3, 2), np.float64))
    view = ((1, 0), (0, 2), (0, 1))
    np.testing.assert_array_equal(gpu.view(x, (1, 0), view, (2, 2, 2)),
                                  host.view(x, (1, 0), view, (2, 2, 2)))
    ties = np.array([[1.0, 3, 3], [2, 0, 2]])
    np.testing.assert_array_equal(gpu.argmax_mask(ties, (1,), "max"),
                                  host.argmax_mask(ties, (1,), "max"))


# ---------------------------------------------------------------- on a GPU

_MISSING = gpu_missing()
needs_gpu = pytest.mark.skipif(_MISSING is not None, reason=f"no GPU: {_MISSING}")


def _get(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_gpu_forward_equals_numpy_backend(name):
    got = compare(forward_case, name, to_host=_get)
    import cupy
    assert all(isinstance(v, cupy.ndarray) for v in got.values())   # outputs stay on device


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(GRADS))
def test_gpu_gradients_equal_numpy_backend(name):
    compare(grad_case, name, to_host=_get, rtol=1e-9)      # scatter atomics: any order


@pytest.mark.gpu
@needs_gpu
def test_gpu_takes_cupy_arrays_and_keeps_float32():
    import cupy
    prog = tc.compile(CONV_BIAS_RELU_POOL, backend="cupy")
    arrays = {k: rand(*s).astype(np.float32) for k, s in FORWARD["conv_bias_relu_pool"][1].items()}
    got = prog(**{k: cupy.asarray(v) for k, v in arrays.items()})
    want = tc.compile(CONV_BIAS_RELU_POOL)(**arrays)
    for out in want:
        assert got[out].dtype == np.float32
        np.testing.assert_allclose(got[out].get(), want[out], rtol=1e-4, atol=1e-5)
