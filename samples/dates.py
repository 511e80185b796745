"""Dates and times of sample cases: Shanghai time, business days, working hours, Chinese date text."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from services.common.china_time import CHINA_STANDARD_TIME

SHANGHAI = CHINA_STANDARD_TIME  # the archive's one time zone (services/common/china_time.py)


def business_day(day: date) -> date:
    """`day`, or the Monday after it if it falls on a weekend."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def advance(prev: datetime, rng: random.Random, days: tuple[int, int]) -> datetime:
    """A working-hours moment `days` business days after `prev`, strictly later than it."""
    day = prev.date()
    for _ in range(rng.randint(*days)):
        day = business_day(day + timedelta(days=1))
    moment = datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59)), SHANGHAI)
    if moment <= prev:
        moment = prev + timedelta(minutes=rng.randint(5, 90), seconds=rng.randint(0, 59))
    return moment


def cn_date(moment: datetime | date) -> str:
    """2026年3月9日: how a Chinese document writes a date."""
    return f"{moment.year}年{moment.month}月{moment.day}日"
