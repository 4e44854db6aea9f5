"""Reference index maps shared by the tests: written from the spec's table, not from tensorc."""


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
    import numpy as np
    grad = np.zeros_like(arrays[wrt])
    for idx in np.ndindex(grad.shape):
        moved = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
        moved[wrt][idx] += eps
        up = run(moved)
        moved[wrt][idx] -= 2 * eps
        down = run(moved)
        grad[idx] = np.sum((up - down) / (2 * eps) * cotangent)
    return grad


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
