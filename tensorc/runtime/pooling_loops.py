"""The compiled loops behind :mod:`tensorc.runtime.pooling` (numba, cached on disk).

Every array is 4-D ``(R, D, P, Q)`` or 2-D ``(R, D)``: R and D number the windows, P and Q
the positions inside one. ``ps`` and ``qs`` are tuples of length P and Q: numba compiles
one version per pair of lengths, so the loops over a window's positions are unrolled (with
sizes known only at run time the same loops ran 2x slower than NumPy's slice passes).
Imported only when a pooling program first runs: importing numba takes about 0.4 s.
"""
from numba import njit

MAX, MIN, SUM = 0, 1, 2


@njit(cache=True, nogil=True, boundscheck=False)
def reduce_windows(x, out, ps, qs, op):  # pragma: no cover - compiled; tested through pooling
    """``out[r, d]`` = the max, min or sum of ``x[r, d]``; NaN wins a max or min, as in
    ``np.maximum``."""
    rows, cols = out.shape
    for r in range(rows):
        for d in range(cols):
            acc = x[r, d, 0, 0]
            first = True
            for p in range(len(ps)):
                for q in range(len(qs)):
                    if first:
                        first = False
                        continue
                    v = x[r, d, p, q]
                    if op == SUM:
                        acc += v
                    else:
                        better = (v > acc) if op == MAX else (v < acc)
                        acc = v if better | (v != v) else acc
            out[r, d] = acc


@njit(cache=True, nogil=True, boundscheck=False)
def first_winners(x, best, value, found, ps, qs, positive):  # pragma: no cover - compiled
    """``found[r, d]`` = ``value[r, d]`` at the first position (in index order) where
    ``x[r, d]`` equals ``best[r, d]``, 0 elsewhere; with ``positive``, only where
    ``best > 0``."""
    rows, cols = best.shape
    for r in range(rows):
        for d in range(cols):
            target = best[r, d]
            v = value[r, d]
            open_ = (target > 0) | (not positive)
            for p in range(len(ps)):
                for q in range(len(qs)):
                    hit = (x[r, d, p, q] == target) & open_
                    found[r, d, p, q] = v if hit else 0
                    open_ = open_ & (hit ^ True)
