"""The common queries of the query API, each with values varied per run, for three callers; timed
through `services.query.search.search_records` — the function the API calls — with the EXPLAIN
(ANALYZE, BUFFERS) of the slowest page of a query that reaches the target."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import asyncpg

from bench.pipeline import percentile
from bench.query_search import say
from bench.query_search.data import (
    CHANGES,
    FIRST_DAY,
    LAST_DAY,
    PLATFORMS,
    PROJECT_KINDS,
    PROJECT_PHASES,
    SEED,
    SHOP_TRADES,
    Applicant,
    Platform,
    World,
    popular,
)
from samples.departments import Department
from samples.identifiers import REGIONS
from services.query.access import Caller, Role
from services.query.search import SearchFilters, search_records

TARGET_MS = 100.0

# Words a user of each platform's records types: they occur in its titles, names and items.
WORDS_OF = {
    "market-regulation": ("科技", "食品", "贸易", "餐饮", "登记", "许可", "设立", "变更", "传媒", "便利"),
    "construction-permit": ("建设", "花园", "施工", "项目", "置业", "工程", "预售", "资质"),
    "transport": ("物流", "运输", "货运", "客运", "道路", "维修"),
    "health": ("医疗", "诊所", "卫生", "执业", "美容", "护士"),
    "natural-resources": ("规划", "用地", "置业", "乡村", "项目"),
    "ecology": ("排污", "环境", "化工", "制药", "印染", "废物"),
    "education": ("教育", "学校", "培训", "教师", "托育"),
    "culture-tourism": ("旅行", "娱乐", "演出", "传媒", "演艺"),
    "human-resources": ("劳务", "派遣", "人力", "技能", "培训"),
}
ONE_CHAR_OF = {
    "market-regulation": ("鑫", "食", "店", "王"),
    "construction-permit": ("园", "厦", "期", "鑫"),
    "transport": ("运", "货", "婷", "张"),
    "health": ("诊", "医", "护", "婷"),
    "natural-resources": ("乡", "园", "规", "王"),
    "ecology": ("污", "镀", "染", "桥"),
    "education": ("校", "训", "教", "张"),
    "culture-tourism": ("旅", "演", "娱", "桥"),
    "human-resources": ("劳", "派", "技", "婷"),
}
NO_MATCH = ("量子通信", "深海探测", "航天育种", "冰雪运动", "有限公司有限", "科技物流花园", "区块链矿机", "无人机表演")

Maker = Callable[[random.Random, World, Caller], SearchFilters | None]


@dataclass(frozen=True)
class Query:
    name: str
    make: Maker  # None: the query means nothing for this caller
    pages: int = 1  # >1: follow the cursor; the last page is the one timed
    edge: bool = False  # a worst case, reported apart from the common queries


def _platform(rng: random.Random, caller: Caller) -> Platform:
    return rng.choice([p for p in PLATFORMS if caller.platform_id in (None, p.platform_id)])


def _company(rng: random.Random, world: World, caller: Caller) -> Applicant:
    return popular(rng, world.companies[_platform(rng, caller).platform_id])


def _company_fragment(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    name = _company(rng, world, caller).name  # 杭州恒信科技有限公司 → 恒信科技 (trade name and industry)
    return SearchFilters(text=name[2:6])


def _item_dates(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    item = rng.choice(_platform(rng, caller).items)
    start = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days - 90))
    end = start + timedelta(days=rng.choice((30, 90)))
    return SearchFilters(item_code=item.code, completed_from=start, completed_to=end)


def _department_of(rng: random.Random, world: World, platform: Platform) -> Department:
    return world.departments[(platform.platform_id, rng.choice(REGIONS).code)]


def _word(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    return SearchFilters(text=rng.choice(WORDS_OF[_platform(rng, caller).platform_id]))


def _one_char(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    return SearchFilters(text=rng.choice(ONE_CHAR_OF[_platform(rng, caller).platform_id]))


def _department_retention(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    platform = _platform(rng, caller)
    retentions = sorted({i.retention for i in platform.items})  # what the department's records are kept for
    return SearchFilters(department_code=_department_of(rng, world, platform).code, retention=rng.choice(retentions))


def _department_word(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    platform = _platform(rng, caller)
    department = _department_of(rng, world, platform)
    return SearchFilters(department_code=department.code, text=rng.choice(WORDS_OF[platform.platform_id]))


def _vocabulary(platform: Platform) -> str:
    """Every fixed text a record of `platform` can hold (names aside): where its words can come from."""
    parts = [i.name + i.title_suffix for i in platform.items] + list(platform.industries) + ["有限公司"]
    parts += [r.name + "".join(d.name for d in r.districts) for r in REGIONS] + list(CHANGES)
    if any(i.subject == "project" for i in platform.items):
        parts += list(PROJECT_KINDS) + list(PROJECT_PHASES) + ["项目"]
    if any(i.subject == "shop" for i in platform.items):
        parts += list(SHOP_TRADES)
    return "|".join(parts)


def _foreign_words(platform: Platform) -> list[str]:
    """Other platforms' words that no text of this platform's records holds."""
    vocabulary = _vocabulary(platform)
    return sorted({w for words in WORDS_OF.values() for w in words if w not in vocabulary})


def _word_outside_scope(rng: random.Random, world: World, caller: Caller) -> SearchFilters:
    """A platform's word where it never occurs: in another platform's department, or (for a platform key)
    anywhere in the key's own records."""
    platform = _platform(rng, caller)
    if caller.platform_id:
        return SearchFilters(text=rng.choice(_foreign_words(platform)))
    department = _department_of(rng, world, platform)
    return SearchFilters(department_code=department.code, text=rng.choice(_foreign_words(platform)))


def _retention_outside_scope(rng: random.Random, world: World, caller: Caller) -> SearchFilters | None:
    candidates = [p for p in PLATFORMS if caller.platform_id in (None, p.platform_id)]
    candidates = [p for p in candidates if {"Y", "D30", "D10"} - {i.retention for i in p.items}]
    if not candidates:
        return None
    platform = rng.choice(candidates)
    missing = sorted({"Y", "D30", "D10"} - {i.retention for i in platform.items})
    return SearchFilters(department_code=_department_of(rng, world, platform).code, retention=rng.choice(missing))


QUERIES: tuple[Query, ...] = (
    Query("2-char Chinese word (科技, 食品, …)", _word),
    Query("4-char company-name fragment", _company_fragment),
    Query("full company name", lambda rng, w, c: SearchFilters(text=_company(rng, w, c).name)),
    Query("applicant ID exact", lambda rng, w, c: SearchFilters(applicant_id_number=_company(rng, w, c).id_number)),
    Query("item + date range (30/90 days)", _item_dates),
    Query("department + retention", _department_retention),
    Query("department + 2-char word", _department_word),
    Query("page 5 via cursors (2-char word)", _word, pages=5),
    Query("text with no match", lambda rng, w, c: SearchFilters(text=rng.choice(NO_MATCH))),
    Query("one-char text", _one_char),
    Query("2-char word that never occurs in the scope", _word_outside_scope, edge=True),
    Query("department + a retention none of its records has", _retention_outside_scope, edge=True),
)

CALLERS: tuple[Caller, ...] = (
    Caller("benchsupervision", "市场监管执法监管系统", Role.SUPERVISION, frozenset({"01", "02"}), "内部"),
    Caller("benchoperator", "档案中心运维", Role.OPERATOR, frozenset({"01", "02", "03"}), "内部"),
    Caller(
        "benchplatform",
        "市场监管审批平台",
        Role.PLATFORM,
        frozenset({"01", "02", "03"}),
        "内部",
        platform_id="market-regulation",
    ),
)


@dataclass
class Timing:
    query: str
    caller: str
    ms: list[float]
    rows: list[int]
    slowest: SearchFilters | None = None
    explain: str | None = None
    edge: bool = False

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)


async def timed(
    run: Callable[[SearchFilters], Awaitable[Any]], filters: SearchFilters, pages: int
) -> tuple[float, int, SearchFilters]:
    """Milliseconds of the last page, its row count and the filters that fetched it."""
    for _ in range(pages - 1):
        page = await run(filters)
        if page.next_cursor is None:
            break
        filters = replace(filters, cursor=page.next_cursor)
    t0 = time.perf_counter()
    page = await run(filters)
    return (time.perf_counter() - t0) * 1000, len(page.rows), filters


class ExplainingConnection:
    """A connection that runs EXPLAIN (ANALYZE, BUFFERS) of every query before the query itself, so that
    `search_records` itself shows which statements it runs for a page and how each was executed."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[str] = []

    def is_in_transaction(self) -> bool:
        return self.conn.is_in_transaction()

    def transaction(self, **options: Any) -> Any:
        return self.conn.transaction(**options)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.conn.execute(sql, *args)

    async def _explain(self, sql: str, args: tuple) -> None:
        plan = await self.conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        self.plans.append(f"-- {sql[:160]}{'…' if len(sql) > 160 else ''}")
        self.plans.extend(r[0] for r in plan)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        await self._explain(sql, args)
        return await self.conn.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self._explain(sql, args)
        return await self.conn.fetchval(sql, *args)


async def explain(pool: asyncpg.Pool, filters: SearchFilters, caller: Caller) -> str:
    """EXPLAIN ANALYZE of the statements `search_records` runs for one page."""
    async with pool.acquire() as conn:
        explaining = ExplainingConnection(conn)
        await search_records(explaining, filters, caller)  # type: ignore[arg-type]
    return "\n".join(explaining.plans)


async def measure(pool: asyncpg.Pool, world: World, repeat: int, explain_all: bool) -> list[Timing]:
    timings = []
    for query in QUERIES:
        for caller in CALLERS:
            rng = random.Random(f"{SEED}:{query.name}:{caller.key_id}")
            timing = Timing(query.name, caller.role.value, [], [], edge=query.edge)
            worst = -1.0

            async def run(filters: SearchFilters, caller: Caller = caller) -> Any:
                return await search_records(pool, filters, caller)

            for n in range(repeat + 3):
                filters = query.make(rng, world, caller)
                if filters is None:
                    break
                ms, rows, filters = await timed(run, filters, query.pages)
                if n < 3:
                    continue  # warm-up: the first runs also pay for statement preparation
                timing.ms.append(ms)
                timing.rows.append(rows)
                if ms > worst:
                    worst, timing.slowest = ms, filters
            if not timing.ms:
                say(f"{query.name:44} {caller.role.value:12} does not apply")
                continue
            if timing.slowest is not None and (explain_all or timing.p95 >= TARGET_MS):
                timing.explain = await explain(pool, timing.slowest, caller)
            timings.append(timing)
            say(
                f"{query.name:44} {caller.role.value:12} p50 {percentile(timing.ms, 50):7.1f} ms  "
                f"p95 {timing.p95:7.1f} ms  max {max(timing.ms):7.1f} ms"
            )
    return timings
