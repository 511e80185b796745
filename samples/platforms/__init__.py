"""The sample approval platforms, one module each; `generate_cases` rotates over them in this order.

A platform module defines `PLATFORM`, a `SamplePlatform` whose `build` turns a case's context into a
`Draft` (samples/drafts.py): the vocabulary, items, applicants, steps and document texts of that
platform. A new platform is a new module here and an entry in `SAMPLE_PLATFORMS` — appended at the end,
because a case's platform is `SAMPLE_PLATFORMS[index % len(SAMPLE_PLATFORMS)]` and inserting one would
change every case after it.
"""

from samples.drafts import SamplePlatform
from samples.platforms import construction_permit, market_regulation, transport

SAMPLE_PLATFORMS: tuple[SamplePlatform, ...] = (
    market_regulation.PLATFORM,
    construction_permit.PLATFORM,
    transport.PLATFORM,
)
PLATFORMS = tuple(p.platform_id for p in SAMPLE_PLATFORMS)
