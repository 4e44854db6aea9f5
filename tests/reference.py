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
