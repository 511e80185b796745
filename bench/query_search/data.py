"""The generated index rows: nine approval platforms' vocabulary, the applicants and departments drawn
from it (the `World`), and the rows of `archival_codes` and `records` for any range of row numbers.

Row `i` depends only on `SEED`, `i` and the archival-code series counters carried from row to row, so a
load in chunks gives the same rows as one in a piece. Bump `GENERATOR_VERSION` when the rows change: a
database loaded by another version is reloaded, not reused.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from samples.dates import SHANGHAI
from samples.departments import Department, department_code
from samples.identifiers import REGIONS, Region, make_resident_id, make_uscc
from samples.names import TRADE_A, person_name, trade_name
from samples.platforms import construction_permit, market_regulation, transport

GENERATOR_VERSION = "1"
SEED = 20261125
FIRST_DAY, LAST_DAY = date(2021, 1, 4), date(2026, 11, 20)


# --- vocabulary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    subject: str  # company | person | shop | project: who applies, and so how the title reads
    title_suffix: str
    retention: str  # Y | D30 | D10
    category: str = "XK"


@dataclass(frozen=True)
class Platform:
    platform_id: str
    department_suffix: str
    organisation: str  # the organisation (机构) code in archival codes
    weight: int
    industries: tuple[str, ...]
    items: tuple[Item, ...]


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "market-regulation",
        "市场监督管理局",
        "SCJG",
        30,
        market_regulation.INDUSTRIES,
        (
            Item("XK-SCJG-001", "企业设立登记", "company", "设立登记", "Y"),
            Item("XK-SCJG-002", "企业变更登记", "company", "变更登记", "D30"),
            Item("XK-SCJG-003", "企业注销登记", "company", "注销登记", "Y"),
            Item("XK-SCJG-004", "个体工商户设立登记", "shop", "个体工商户设立登记", "D30"),
            Item("XK-SCJG-011", "食品经营许可", "company", "食品经营许可", "D30"),
            Item("XK-SCJG-012", "食品生产许可", "company", "食品生产许可", "D30"),
            Item("XK-SCJG-021", "特种设备使用登记", "company", "特种设备使用登记", "D10"),
        ),
    ),
    Platform(
        "construction-permit",
        "住房和城乡建设局",
        "ZJJS",
        12,
        construction_permit.DEVELOPER_INDUSTRIES + construction_permit.BUILDER_INDUSTRIES,
        (
            Item("XK-ZJJS-001", "建筑工程施工许可证核发", "project", "施工许可", "Y"),
            Item("XK-ZJJS-002", "建筑工程施工许可证变更", "project", "施工许可变更", "D30"),
            Item("XK-ZJJS-011", "商品房预售许可", "project", "商品房预售许可", "Y"),
            Item("XK-ZJJS-021", "建筑业企业资质核准", "company", "建筑业企业资质核准", "D30"),
        ),
    ),
    Platform(
        "transport",
        "交通运输局",
        "JTYS",
        12,
        transport.INDUSTRIES,
        (
            Item("XK-JTYS-001", "道路货物运输经营许可", "company", "道路货物运输经营许可", "D30"),
            Item("XK-JTYS-002", "道路旅客运输经营许可", "company", "道路旅客运输经营许可", "D30"),
            Item("XK-JTYS-011", "道路运输从业人员从业资格证核发", "person", "道路运输从业人员从业资格证核发", "D10"),
            Item("XK-JTYS-021", "机动车维修经营备案", "company", "机动车维修经营备案", "D10"),
        ),
    ),
    Platform(
        "health",
        "卫生健康委员会",
        "WSJK",
        10,
        ("医疗管理", "健康管理", "美容美发", "酒店管理", "诊所", "口腔门诊部"),
        (
            Item("XK-WSJK-001", "公共场所卫生许可", "company", "公共场所卫生许可", "D30"),
            Item("XK-WSJK-002", "医疗机构执业登记", "company", "医疗机构执业登记", "Y"),
            Item("XK-WSJK-011", "医师执业注册", "person", "医师执业注册", "D30"),
            Item("XK-WSJK-012", "护士执业注册", "person", "护士执业注册", "D10"),
        ),
    ),
    Platform(
        "natural-resources",
        "自然资源和规划局",
        "ZRZY",
        8,
        construction_permit.DEVELOPER_INDUSTRIES,
        (
            Item("XK-ZRZY-001", "建设用地规划许可", "project", "建设用地规划许可", "Y"),
            Item("XK-ZRZY-002", "建设工程规划许可", "project", "建设工程规划许可", "Y"),
            Item("XK-ZRZY-011", "乡村建设规划许可", "person", "乡村建设规划许可", "D30"),
        ),
    ),
    Platform(
        "ecology",
        "生态环境局",
        "STHJ",
        8,
        ("化工", "制药", "新材料", "印染", "电镀", "食品", "环保科技"),
        (
            Item("XK-STHJ-001", "排污许可证核发", "company", "排污许可证核发", "Y"),
            Item("XK-STHJ-002", "建设项目环境影响评价文件审批", "project", "环境影响评价文件审批", "Y"),
            Item("XK-STHJ-011", "危险废物经营许可", "company", "危险废物经营许可", "D30"),
        ),
    ),
    Platform(
        "education",
        "教育局",
        "JYJ",
        5,
        ("教育科技", "培训学校", "文化艺术培训", "托育服务"),
        (
            Item("XK-JYJ-001", "民办学校办学许可", "company", "民办学校办学许可", "Y"),
            Item("XK-JYJ-002", "教师资格认定", "person", "教师资格认定", "D30"),
        ),
    ),
    Platform(
        "culture-tourism",
        "文化广电旅游局",
        "WGLY",
        7,
        ("旅行社", "文化传媒", "娱乐", "演艺", "网络科技"),
        (
            Item("XK-WGLY-001", "娱乐场所经营许可", "company", "娱乐场所经营许可", "D30"),
            Item("XK-WGLY-002", "旅行社设立许可", "company", "旅行社设立许可", "D30"),
            Item("XK-WGLY-003", "营业性演出许可", "company", "营业性演出许可", "D10"),
        ),
    ),
    Platform(
        "human-resources",
        "人力资源和社会保障局",
        "RSJ",
        8,
        ("人力资源", "劳务派遣", "企业管理咨询", "职业技能培训"),
        (
            Item("XK-RSJ-001", "劳务派遣经营许可", "company", "劳务派遣经营许可", "D30"),
            Item("XK-RSJ-002", "人力资源服务许可", "company", "人力资源服务许可", "D30"),
            Item("XK-RSJ-011", "职业技能等级认定", "person", "职业技能等级认定", "D10"),
        ),
    ),
)
PROJECT_KINDS = ("花园", "大厦", "产业园", "商务中心", "安置房", "学校", "综合体", "厂房", "物流园", "人才公寓")
PROJECT_PHASES = ("", "一期", "二期", "三期", "A地块", "B地块")
SHOP_TRADES = ("便利店", "小吃店", "五金店", "服装店", "理发店", "水果店", "面馆", "药店", "茶叶店", "烟酒店")
CHANGES = ("（住所）", "（经营范围）", "（法定代表人）", "（注册资本）", "")
RESULTS_MIX = (("approved", 90), ("partially_approved", 3), ("refused", 4), ("withdrawn", 3))


@dataclass(frozen=True)
class Applicant:
    name: str
    type: str
    id_type: str
    id_number: str
    region: Region | None = None  # where a company is registered (and so where it applies)


@dataclass
class World:
    """Departments, applicant pools and the platform mix; the rows and the queries both draw from it."""

    departments: dict[tuple[str, str], Department]
    companies: dict[str, list[Applicant]]  # per platform, most active first
    persons: list[Applicant]
    platform_weights: list[int] = field(default_factory=list)


def build_world(seed: int = SEED) -> World:
    rng = random.Random(f"{seed}:world")
    departments = {}
    for platform in PLATFORMS:
        for region in REGIONS:
            departments[(platform.platform_id, region.code)] = Department(
                department_code(rng, region.code), region.name + platform.department_suffix
            )
    companies: dict[str, list[Applicant]] = {}
    for platform in PLATFORMS:
        taken: set[str] = set()
        pool: list[Applicant] = []
        while len(pool) < platform.weight * 1500:
            region = rng.choice(REGIONS)
            trade = trade_name(rng) + (rng.choice(TRADE_A) if rng.random() < 0.3 else "")
            name = f"{region.short}{trade}{rng.choice(platform.industries)}有限公司"
            if name not in taken:
                taken.add(name)
                pool.append(Applicant(name, "organisation", "uscc", make_uscc(rng, region.code), region))
        companies[platform.platform_id] = pool
    persons = [Applicant(person_name(rng), "person", "resident_id", make_resident_id(rng)) for _ in range(120_000)]
    return World(departments, companies, persons, [p.weight for p in PLATFORMS])


def popular(rng: random.Random, pool: list[Applicant]) -> Applicant:
    # Some applicants come back often (a chain opening shops, a builder with many projects), most rarely.
    return pool[int(len(pool) * rng.random() ** 2)]


# --- rows ------------------------------------------------------------------------------------------------

CODE_COLUMNS = (
    "case_key",
    "archival_code",
    "fonds_code",
    "category_code",
    "year",
    "retention",
    "organisation_code",
    "item_number",
    "allocated_at",
)
RECORD_COLUMNS = (
    "case_key",
    "source_platform",
    "case_number",
    "revision",
    "region_code",
    "item_code",
    "item_name",
    "case_title",
    "applicant_name",
    "applicant_type",
    "applicant_id_type",
    "applicant_id_number",
    "department_code",
    "department_name",
    "accepted_at",
    "completed_at",
    "result",
    "certificate_number",
    "archival_code",
    "category_code",
    "class_code",
    "retention",
    "security_level",
    "sharing_level",
    "rule_id",
    "schedule_version",
    "package_bucket",
    "package_prefix",
    "manifest_sha256",
    "file_count",
    "total_bytes",
    "correlation_id",
    "archived_at",
    "archived_event",
    "package_key",
    "package_version_id",
    "package_sha256",
    "package_size",
    "retain_until",
    "legal_hold",
)
RETENTION_YEARS = {"D10": 10, "D30": 30}


def _completion_day(rng: random.Random) -> date:
    # Volume grows year on year: draw the position in the period with a density rising towards the end.
    span = (LAST_DAY - FIRST_DAY).days
    return FIRST_DAY + timedelta(days=int(span * rng.random() ** 0.7))


def _title(rng: random.Random, item: Item, region: Region, applicant: Applicant, world: World, platform: Platform):
    if item.subject == "shop":
        owner = rng.choice(world.persons)
        district = rng.choice(region.districts)
        shop = f"{region.name}{district.name}{owner.name[0]}记{rng.choice(SHOP_TRADES)}"
        return owner, f"{shop}{item.title_suffix}"
    if item.subject == "project":
        trade = trade_name(rng)
        project = f"{region.short}{trade}{rng.choice(PROJECT_KINDS)}{rng.choice(PROJECT_PHASES)}项目"
        return applicant, f"{project}{item.title_suffix}"
    if item.code == "XK-SCJG-002":
        return applicant, f"{applicant.name}变更登记{rng.choice(CHANGES)}"
    return applicant, f"{applicant.name}{item.title_suffix}"


def generate_rows(world: World, start: int, count: int, series: dict[tuple, int]) -> tuple[list[tuple], list[tuple]]:
    """Rows `start`..`start+count-1` for archival_codes and records. Row i depends on (SEED, i) and on the
    series counters, which the caller carries from chunk to chunk in order."""
    codes, records = [], []
    for i in range(start, start + count):
        rng = random.Random(SEED * 10_000_000 + i)
        platform = rng.choices(PLATFORMS, weights=world.platform_weights)[0]
        item = rng.choice(platform.items)
        company = popular(rng, world.companies[platform.platform_id])
        applicant = popular(rng, world.persons) if item.subject == "person" else company
        region = applicant.region or rng.choice(REGIONS)
        department = world.departments[(platform.platform_id, region.code)]
        applicant, title = _title(rng, item, region, applicant, world, platform)
        day = _completion_day(rng)
        completed = datetime(
            day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59), tzinfo=SHANGHAI
        )
        accepted = completed - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 6))
        archived = completed + timedelta(minutes=rng.randint(1, 4000))
        result = rng.choices([r for r, _ in RESULTS_MIX], weights=[w for _, w in RESULTS_MIX])[0]
        person_item = applicant.type == "person"
        sharing = rng.choices(("01", "02", "03"), weights=(15, 55, 30) if person_item else (70, 25, 5))[0]
        security = "内部" if rng.random() < 0.15 else "公开"
        key = (item.category, completed.year, item.retention, platform.organisation)
        series[key] = number = series.get(key, 0) + 1
        archival_code = f"Z109-{item.category}·{completed.year}-{item.retention}-{platform.organisation}-{number:04d}"
        case_number = f"{platform.organisation}-{completed.year}-{i:08d}"
        case_key = f"{platform.platform_id}/{case_number}/r1"
        retain_until = (
            None
            if item.retention == "Y"
            else (completed + timedelta(days=round(365.25 * RETENTION_YEARS[item.retention]))).astimezone(UTC)
        )
        file_count = rng.randint(2, 9)
        total_bytes = file_count * rng.randint(40_000, 400_000)
        package_key = f"{case_key}/{case_key.replace('/', '_')}.tar"
        manifest = f"{rng.getrandbits(256):064x}"
        certificate = applicant.id_number if result == "approved" and item.subject != "project" else None
        event = {
            "id": f"{rng.getrandbits(128):032x}",
            "type": "archive.record.archived.v1",
            "subject": case_key,
            "data": {
                "case": {
                    "source_platform": platform.platform_id,
                    "case_number": case_number,
                    "item_code": item.code,
                    "item_name": item.name,
                    "case_title": title,
                    "applicant": {"name": applicant.name, "type": applicant.type, "id_number": applicant.id_number},
                    "department_code": department.code,
                    "department_name": department.name,
                    "completed_at": completed.isoformat(),
                    "result": result,
                },
                "classification": {
                    "archival_code": archival_code,
                    "retention": item.retention,
                    "security_level": security,
                    "sharing_level": sharing,
                },
                "package": {"key": package_key, "manifest_sha256": manifest, "file_count": file_count},
            },
        }
        codes.append(
            (case_key, archival_code, "Z109", item.category, completed.year, item.retention, platform.organisation,
             number, archived)
        )  # fmt: skip
        records.append(
            (
                case_key, platform.platform_id, case_number, 1, region.code, item.code, item.name, title,
                applicant.name, applicant.type, applicant.id_type, applicant.id_number, department.code,
                department.name, accepted, completed, result, certificate, archival_code, item.category,
                item.code[3:], item.retention, security, sharing, "bench", "2026.1", "archive-packages",
                f"{case_key}/", manifest, file_count, total_bytes, f"corr-{case_number}", archived,
                json.dumps(event, ensure_ascii=False), package_key, f"{rng.getrandbits(64):016x}",
                f"{rng.getrandbits(256):064x}", total_bytes + 20_480, retain_until, item.retention == "Y",
            )
        )  # fmt: skip
    return codes, records
