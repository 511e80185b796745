"""The process's C allocator: fixed thresholds, so the buffers of a large file go back to the kernel.

glibc's malloc serves a request of at least M_MMAP_THRESHOLD bytes with an mmap of its own and unmaps it on
free; smaller ones come from the heap, which gives back what is free at its top beyond M_TRIM_THRESHOLD. By
default both thresholds are dynamic: freeing an mmapped block raises the mmap threshold to its size (up to
32 MiB) and the trim threshold to twice that, so the next large scan's multi-megabyte numpy arrays come from
the heap, and what is left between them stays resident. A validation worker measuring ten A3 scans then
peaked anywhere between 212 and 268 MiB, depending on the order of earlier frees (issue 18). Setting the
thresholds explicitly turns the dynamic adjustment off (mallopt(3)).

The two values trade memory for page faults: an array that is mmapped is faulted in afresh each time, one
that stays on the heap is reused. 4 MiB keeps a 200-dpi page's arrays (~1 Mpx of float32) on the heap — with
both fixed at 1 MiB and 128 KiB a validation worker spent ~5 ms more CPU per sample case.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # from <malloc.h>
M_MMAP_THRESHOLD = -3


def pin_malloc_thresholds(mmap_threshold_bytes: int, trim_threshold_bytes: int) -> bool:
    """Fix glibc's mmap and trim thresholds (0 leaves that one dynamic). False where nothing was set: the C
    library is not glibc (no mallopt) or refused a value — which costs memory, not correctness."""
    wanted = [(M_MMAP_THRESHOLD, mmap_threshold_bytes), (M_TRIM_THRESHOLD, trim_threshold_bytes)]
    wanted = [(option, value) for option, value in wanted if value > 0]
    if not wanted:
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.warning("malloc thresholds not set: no glibc mallopt in this process", extra={"libc": name})
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    for option, value in wanted:
        if mallopt(option, value) != 1:
            log.warning("malloc threshold not set: mallopt refused it", extra={"option": option, "value": value})
            return False
    return True
