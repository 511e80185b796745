"""The pinned mmap threshold gives freed page-image buffers back to the kernel (issue 18).

A subprocess frees one large block (which, by glibc's default, raises the mmap threshold to its size), then
allocates a run of 8 MiB buffers with a small long-lived object after each, and frees the buffers. With the
dynamic threshold the buffers came from the heap and the small objects pin the holes between them: the
memory stays resident. With the threshold pinned they were mmaps of their own and are gone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.common.allocator import pin_malloc_thresholds
from services.common.settings import ArchiveSettings

pytestmark = pytest.mark.unit

PROBE = r"""
import json, sys
from services.common.allocator import pin_malloc_thresholds
import numpy as np

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

pinned = pin_malloc_thresholds(int(sys.argv[1]), int(sys.argv[2]))
big = np.ones(24 * 2**20, dtype=np.uint8); del big
before = rss_mib()
buffers, keep = [], []
for _ in range(20):
    buffers.append(np.ones(8 * 2**20, dtype=np.uint8))
    keep.append(bytearray(4096))  # over pymalloc's 512 bytes: from the C heap, after the buffer
del buffers
print(json.dumps({"pinned": pinned, "retained_mib": rss_mib() - before}))
"""


def _probe(mmap_threshold: int, trim_threshold: int) -> dict[str, float]:
    argv = [sys.executable, "-c", PROBE, str(mmap_threshold), str(trim_threshold)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_pinned_threshold_returns_freed_buffers_that_the_default_keeps() -> None:
    settings = ArchiveSettings()  # the workers' defaults
    default = _probe(0, 0)
    pinned = _probe(settings.malloc_mmap_threshold_bytes, settings.malloc_trim_threshold_bytes)
    assert not default["pinned"] and pinned["pinned"]
    # 20 buffers of 8 MiB (a large scan's arrays): the default keeps most of 160 MiB resident, pinned almost none.
    assert default["retained_mib"] > 100, default
    assert pinned["retained_mib"] < 20, pinned


def test_zero_leaves_the_default() -> None:
    assert pin_malloc_thresholds(0, 0) is False
