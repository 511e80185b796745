"""The stall watchdog's rule (services/common/stall.py): stuck only after the whole timeout of looks at
which nothing arrived, nothing was in flight and messages waited on the worker's own partitions."""

from __future__ import annotations

import pytest

from services.common.adapters.consumer_lag import PartitionOffsets
from services.common.stall import StallWatch, waiting_messages

pytestmark = pytest.mark.unit

IDLE = {"received": False, "in_flight": False}


def test_waiting_counts_only_assigned_partitions_behind_their_end():
    offsets = [
        PartitionOffsets(partition=0, start=0, end=10, committed=10),  # caught up
        PartitionOffsets(partition=1, start=0, end=10, committed=7),  # 3 waiting
        PartitionOffsets(partition=2, start=0, end=5, committed=None),  # never committed: all 5
        PartitionOffsets(partition=3, start=0, end=9, committed=1),  # not this worker's
    ]
    assert waiting_messages([0, 1, 2], offsets) == {1: 3, 2: 5}


def test_waiting_starts_from_the_log_start_when_older_messages_were_deleted():
    assert waiting_messages([0], [PartitionOffsets(partition=0, start=8, end=10, committed=3)]) == {0: 2}
    assert waiting_messages([0], [PartitionOffsets(partition=0, start=10, end=10, committed=3)]) == {}


def test_stuck_only_after_the_whole_timeout_of_suspect_looks():
    watch = StallWatch(timeout_seconds=60)
    assert not watch.observe(now=100, waiting={0: 3}, **IDLE)  # first suspect look
    assert not watch.observe(now=159, waiting={0: 3}, **IDLE)
    assert watch.observe(now=160, waiting={0: 3}, **IDLE)


@pytest.mark.parametrize(
    "breaking",
    [
        {"received": True, "in_flight": False, "waiting": {0: 3}},  # a message arrived
        {"received": False, "in_flight": True, "waiting": {0: 3}},  # a step is in flight (retrying an outage)
        {"received": False, "in_flight": False, "waiting": {}},  # nothing waits
        {"received": False, "in_flight": False, "waiting": None},  # Kafka unreachable: not known
    ],
)
def test_anything_that_is_not_a_stall_starts_the_timeout_afresh(breaking):
    watch = StallWatch(timeout_seconds=60)
    watch.observe(now=0, waiting={0: 3}, **IDLE)
    assert not watch.observe(now=59, waiting={0: 3}, **IDLE)
    assert not watch.observe(now=70, **breaking)
    assert watch.suspect_since is None
    assert not watch.observe(now=100, waiting={0: 3}, **IDLE)  # suspect again from 100
    assert not watch.observe(now=159, waiting={0: 3}, **IDLE)
    assert watch.observe(now=160, waiting={0: 3}, **IDLE)
