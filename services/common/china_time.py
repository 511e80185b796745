"""The archive's one time zone. Approval dates, archival-code years and the statistics' calendar days are
days where the cases are decided: China Standard Time. China has kept UTC+8 without daylight saving since
1991, so a fixed offset is exact (and needs no tz database); SQL that groups by day names the zone."""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_TIME_ZONE_NAME = "Asia/Shanghai"
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), CHINA_TIME_ZONE_NAME)
