"""Host memory between calls: keep freed blocks for the next call.

A program called in a loop (a training step) allocates the same large temporaries on every
call. glibc's malloc serves blocks above a threshold with ``mmap`` and gives them back to
the kernel when freed (``munmap``, or trimming the top of the heap), so every call
page-faults its temporaries in again: on the two-conv MNIST training step that was about
40% of the time (115 ms against 72 ms, one thread). Raising the two thresholds keeps
those blocks in the process, as PyTorch users get from jemalloc or tcmalloc.

This is a process-wide setting, made once, the first time a program runs (not on import).
Set ``TENSORC_MALLOC=default`` to leave malloc alone; any ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_`` of your own is respected too. Only glibc on Linux is touched.
"""
from __future__ import annotations

import ctypes
import functools
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # mallopt parameters (malloc.h)
MMAP_BYTES = 128 << 20      # blocks below this come from the heap, reused across calls
TRIM_BYTES = 512 << 20      # free memory kept at the heap's top before giving it back


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Tune glibc's malloc to keep large freed blocks; True when it was tuned.

    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    if os.environ.get("TENSORC_MALLOC") == "default" or \
            {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
