"""What the tests share: reference index maps (written from the spec's table, not from
tensorc), finite differences, comparisons against torch, whether a GPU is here."""
import numpy as np

# LANGUAGE.md's boundary table: a = (1 2 3) read at i - 3 for i in 0:9, and the np.pad mode
# that extends it the same way
BOUNDARY_TABLE = [
    ("a[i - 3]", "constant", [0, 0, 0, 1, 2, 3, 0, 0, 0]),
    ("a[wrap(i - 3)]", "wrap", [1, 2, 3, 1, 2, 3, 1, 2, 3]),
    ("a[reflect(i - 3)]", "symmetric", [3, 2, 1, 1, 2, 3, 3, 2, 1]),
    ("a[clamp(i - 3)]", "edge", [1, 1, 1, 1, 2, 3, 3, 3, 3]),
]


def boundary_index(e: int, size: int, mode: str) -> int | None:
    """Where position ``e`` of a length-``size`` axis reads under a boundary mode.

    None means a zero-padded read (mode "zero", out of range).
    """
    if mode == "wrap":
        return e % size
    if mode == "reflect":
        m = e % (2 * size)
        return m if m < size else 2 * size - 1 - m
    if mode == "clamp":
        return min(max(e, 0), size - 1)
    return e if 0 <= e < size else None


def numeric_vjp(run, arrays: dict, wrt: str, cotangent, eps: float = 1e-6):
    """Central finite differences of ``<cotangent, run(arrays)>`` in ``arrays[wrt]``.

    ``run`` maps the arrays to one output array (float64); nothing from tensorc's
    derivative code is used.
    """
    grad = np.zeros_like(arrays[wrt])
    for idx in np.ndindex(grad.shape):
        moved = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
        moved[wrt][idx] += eps
        up = run(moved)
        moved[wrt][idx] -= 2 * eps
        down = run(moved)
        grad[idx] = np.sum((up - down) / (2 * eps) * cotangent)
    return grad


def numeric_jacobian(run, arrays: dict, wrt: str, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of ``run(arrays)`` in ``arrays[wrt]``: shape
    ``(output size, wrt size)``, one column per element of ``wrt``."""
    columns = []
    for idx in np.ndindex(np.shape(arrays[wrt])):
        moved = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
        moved[wrt][idx] += eps
        up = np.asarray(run(moved), np.float64)
        moved[wrt][idx] -= 2 * eps
        columns.append(((up - run(moved)) / (2 * eps)).ravel())
    return np.stack(columns, 1)


def gpu_missing() -> str | None:
    """Why the GPU tests cannot run here (no CuPy, or no device), or None when they can."""
    from tensorc.runtime import gpu
    try:
        gpu.require()
    except gpu.GpuUnavailableError as err:
        return str(err)
    finally:
        gpu.require.cache_clear()
    return None


def as_torch(array):
    """A NumPy array as a torch tensor (a reference's input), sharing a contiguous copy."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(array))


def assert_close(actual, expected, rtol=1e-10, atol=1e-10):
    """Same shape and values as ``expected`` (a torch tensor, an array or a list)."""
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert np.shape(actual) == np.shape(expected), (np.shape(actual), np.shape(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
