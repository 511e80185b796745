"""Deterministic sample approval cases, as three approval platforms would send them.

`generate_cases(count, seed)` returns completed cases in the unified approval record (contracts v1),
rotating over the platforms `market-regulation` (市场监管局: business registration),
`construction-permit` (住房和城乡建设局: construction permits) and `transport` (交通运输局: road transport
licences). Every case carries its files inline: an application form (PDF), a scanned page (JPEG), a
decision or licence (PDF) and, for construction permits, a review sheet (process stage, PDF).

Determinism: case `i` depends only on `(seed, i)`, so `generate_cases(10)` is a prefix of
`generate_cases(2000)`, and the same arguments give byte-identical records on every run. Scanned pages
come from a small pool (8 per seed) rendered once per process; every PDF is rendered per case.

`approval_completed_event(case)` wraps a record in the CloudEvents envelope of `approval.completed.v1`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from contracts.v1 import topics
from contracts.v1.record import (
    Applicant,
    ApplicantType,
    CaseResult,
    IdType,
    Material,
    ProcessRecord,
    Stage,
    UnifiedApprovalRecord,
)
from samples.documents import (
    PAGE_BREAK,
    application_form_pdf,
    decision_pdf,
    pdf_page_count,
    scanned_page_jpeg,
)
from samples.identifiers import REGIONS, District, Region, make_resident_id, make_uscc, region_by_code

__all__ = [
    "DEFAULT_SEED",
    "PLATFORMS",
    "SHANGHAI",
    "WRONG_DIGEST",
    "SampleCase",
    "approval_completed_event",
    "event_json",
    "generate_cases",
]

DEFAULT_SEED = 20261125
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991: a fixed offset is exact
WRONG_DIGEST = "wrong_digest"
SCAN_POOL_SIZE = 8  # pool entries 0-5 are colour scans with a seal, 6-7 greyscale without
_SEALED_SCANS = range(0, 6)

# Namespace of the sample platforms' own ids (event ids and correlation ids they would assign).
_SAMPLES_NAMESPACE = uuid.UUID("0b8e6f1c-7d3a-4e52-a1c9-2f6d8b4e9a07")

PLATFORMS = ("market-regulation", "construction-permit", "transport")


@dataclass(frozen=True)
class SampleCase:
    """One generated case: the record the platform sends, and the defect planted in it (if any)."""

    record: UnifiedApprovalRecord
    defect: str | None
    platform: str
    defective_material: str | None = field(default=None, compare=False)  # file_name of the planted defect

    @property
    def case_key(self) -> str:
        return self.record.case_key


# --- names ---------------------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华飞玲萍鹏辉波宁浩宇轩涵欣怡婷雪琳"
    "晨阳俊峰斌凯佳颖东海燕红梅丹亮成林云龙志文立新国庆建卫思远博雅子睿嘉"
)
_TRADE_A = "恒鑫华博安中瑞通嘉宏天永明汇新智盛金创德星锦启远正众海卓鼎同泰"
_TRADE_B = "信源泰远诚科丰达禾图成德智锐联世桥润河程航景和合纳越创辉盈"
_MARKET_INDUSTRIES = (
    "科技",
    "信息技术",
    "贸易",
    "餐饮管理",
    "文化传媒",
    "电子商务",
    "新材料",
    "生物科技",
    "企业管理咨询",
    "物业管理",
    "机械设备",
    "环保科技",
    "医疗器械",
    "教育科技",
)
_DEVELOPER_INDUSTRIES = ("置业", "房地产开发", "城市建设投资", "实业", "产业园开发")
_BUILDER_INDUSTRIES = ("建设集团", "建工集团", "建筑工程", "市政工程")
_SUPERVISOR_INDUSTRIES = ("工程监理", "工程咨询", "建设管理")
_TRANSPORT_INDUSTRIES = ("物流", "运输", "汽车运输", "货运", "供应链管理", "客运")
_STREETS = (
    "文三路",
    "学院路",
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "科技大道",
    "滨河路",
    "创业路",
    "金鸡路",
    "长江路",
    "新华路",
    "湖滨路",
    "东环路",
    "工业园路",
)


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _trade_name(rng: random.Random) -> str:
    return rng.choice(_TRADE_A) + rng.choice(_TRADE_B)


def _company(rng: random.Random, place: str, industries: tuple[str, ...]) -> str:
    return f"{place}{_trade_name(rng)}{rng.choice(industries)}有限公司"


def _address(rng: random.Random, region: Region) -> tuple[District, str]:
    district = rng.choice(region.districts)
    text = f"{region.province}{region.name}{district.name}{rng.choice(_STREETS)}{rng.randint(1, 999)}号"
    return district, text


def _cn_date(moment: datetime | date) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


# --- departments: stable entities, independent of the seed ---------------------------------------------


@dataclass(frozen=True)
class _Department:
    code: str
    name: str


_DEPARTMENT_SUFFIX = {
    "market-regulation": "市场监督管理局",
    "construction-permit": "住房和城乡建设局",
    "transport": "交通运输局",
}


@lru_cache(maxsize=64)
def _department(platform: str, region_code: str) -> _Department:
    region = region_by_code(region_code)
    rng = random.Random(f"department:{platform}:{region_code}")
    code = make_uscc(
        rng,
        region_code,
        registration_authority="1",
        organisation_type="1",
        org_prefix="00",
        org_digits_only=True,
    )
    name = f"{region.name}{_DEPARTMENT_SUFFIX[platform]}"
    return _Department(code=code, name=name)


# --- scanned pages: a small pool per seed --------------------------------------------------------------


@lru_cache(maxsize=4 * SCAN_POOL_SIZE)
def _scan(seed: int, index: int) -> tuple[bytes, str, str]:
    """Pool entry `index` for `seed`: (JPEG bytes, base64 text, sha256 hex). Rendered once per process."""
    sealed = index in _SEALED_SCANS
    data = scanned_page_jpeg(seed * 100 + index, dpi=200, colour=sealed, with_seal=sealed)
    return data, base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()


# --- the parts of a case that differ by platform -------------------------------------------------------


@dataclass
class _Doc:
    """A file before it becomes a Material."""

    stage: Stage
    material_name: str
    file_name: str
    media_type: str
    data: bytes
    page_count: int | None
    b64: str | None = None
    sha256: str | None = None


@dataclass
class _Step:
    node: str
    role: str
    action: str
    opinion: str
    days: tuple[int, int]  # business days after the previous step


@dataclass
class _Draft:
    """Everything a platform builder decides; the common code adds times, documents and materials."""

    item_code: str
    item_name: str
    item_version: str
    case_title: str
    applicant: Applicant
    legal_representative: str | None
    steps: list[_Step]  # acceptance and review; the decision steps follow from the case's result
    approve: _Step
    issue: _Step | None
    refuse_reason: str  # why a refused case was refused, ends with "，"
    form_title: str
    form_fields: list[tuple[str, str]]
    form_signer: str
    scan_material: str
    scan_needs_seal: bool
    result_title: str
    result_doc_number: str | None
    result_lines: list[str]
    certificate_number: str | None
    result_material: str | None = None
    review_sheet: bool = False  # add a process-stage review sheet (审查意见表)


@dataclass
class _Ctx:
    rng: random.Random
    region: Region
    department: _Department
    serial: int
    year: int
    result: CaseResult
    accepted_day: date


_NOTICE_LINES = (
    "本许可证（决定书）应妥善保管，不得涂改、出租、出借或者以其他形式非法转让。",
    "许可事项发生变更的，应当依法向原许可机关申请办理变更手续。",
    "被许可人应当在许可范围内从事相关活动，并自觉接受许可机关的监督检查。",
    "有效期届满需要延续的，应当在有效期届满三十日前向原许可机关提出申请。",
    "被许可人以欺骗、贿赂等不正当手段取得许可的，许可机关将依法予以撤销。",
    "本决定书（许可证）可通过政务服务网扫码核验真伪。",
    "如对本决定不服，可以自收到本决定之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
    "证件遗失的，应当及时公告作废并申请补领。",
)


def _result_closing(lines: list[str], *, long: bool) -> list[str]:
    """Append the usual notices; a `long` document gets a second page with all of them."""
    if not long:
        return [*lines, "", "　　" + _NOTICE_LINES[6]]
    notices = [f"　　{k}. {text}" for k, text in enumerate(_NOTICE_LINES, start=1)]
    return [*lines, PAGE_BREAK, "附：注意事项", *notices]


def _refusal_lines(addressee: str, item_name: str, reason: str) -> list[str]:
    return [
        f"{addressee}：",
        f"　　你（单位）提出的{item_name}申请，本机关已依法受理。经审查，{reason}",
        "　　根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予行政许可。",
        "　　如对本决定不服，可以自收到本决定之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
    ]


def _withdrawal_lines(addressee: str, item_name: str, when: date) -> list[str]:
    return [
        f"{addressee}：",
        f"　　你（单位）于{_cn_date(when)}提出的{item_name}申请，本机关已依法受理。"
        "审查期间，你（单位）书面申请撤回该申请。",
        "　　经研究，本机关同意你（单位）撤回申请，决定终止对该行政许可申请的审查。申请材料原件予以退回。",
    ]


def _decision_steps(result: CaseResult, draft: _Draft) -> list[_Step]:
    """Review and decision steps for the case's result, after the builder's acceptance step."""
    accept, review = draft.steps[0], draft.steps[1]
    if result is CaseResult.REFUSED:
        review = replace(review, opinion=f"经审查，{draft.refuse_reason}不符合法定条件，建议不予许可。")
        return [
            accept,
            review,
            _Step("决定", "分管负责人", "不予许可", "同意审查意见，不予许可。", (1, 3)),
            _Step("送达", "综合受理窗口", "送达决定书", "已送达《不予行政许可决定书》。", (0, 2)),
        ]
    if result is CaseResult.WITHDRAWN:
        review = replace(review, opinion="审查中。申请人提交书面撤回申请，转终止审查程序。")
        return [
            accept,
            review,
            _Step("撤回", "综合受理窗口", "申请人撤回申请", "申请人书面申请撤回，申请材料原件已退回。", (0, 2)),
            _Step("终止", "分管负责人", "终止审查", f"同意终止{draft.item_name}申请的审查。", (0, 1)),
        ]
    return [accept, review, draft.approve, *([draft.issue] if draft.issue else [])]


def _market(ctx: _Ctx) -> _Draft:
    rng, region = ctx.rng, ctx.region
    kind = rng.choices(("establish", "change", "deregister", "individual"), weights=(45, 30, 10, 15))[0]
    legal_rep = _person(rng)
    rep_id = make_resident_id(rng)
    district, address = _address(rng, region)
    initial = region.short[0]
    accept = _Step("受理", "综合受理窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0))
    review = _Step(
        "审核",
        "登记注册科",
        "审核",
        "经审核，申请材料真实、齐全，符合《中华人民共和国市场主体登记管理条例》规定，建议准予登记。",
        (1, 3),
    )

    if kind == "individual":
        owner = _person(rng)
        owner_id = make_resident_id(rng)
        trade = rng.choice(("便利店", "小吃店", "五金店", "服装店", "理发店", "水果店"))
        shop = f"{region.name}{district.name}{owner[0]}记{trade}"
        code = make_uscc(rng, region.code, registration_authority="9", organisation_type="2")
        approve = _Step("核准", "登记注册科科长", "核准", "同意登记。", (0, 2))
        issue = _Step("发照", "综合受理窗口", "发放营业执照", "已制发个体工商户营业执照。", (0, 1))
        item = ("XK-SCJG-004", "个体工商户设立登记")
        lines = [
            f"{owner}：",
            f"　　经审查，你提交的“{shop}”个体工商户设立登记申请，申请材料齐全，符合法定形式，本机关决定准予登记。",
            f"　　统一社会信用代码：{code}",
            f"　　经营场所：{address}",
            "　　请于十个工作日内领取营业执照。",
        ]
        return _Draft(
            item_code=item[0],
            item_name=item[1],
            item_version="2026.1",
            case_title=f"{shop}个体工商户设立登记",
            applicant=Applicant(name=owner, type=ApplicantType.PERSON, id_type=IdType.RESIDENT_ID, id_number=owner_id),
            legal_representative=None,
            steps=[accept, review],
            approve=approve,
            issue=issue,
            refuse_reason="经营场所证明材料与实际不符，",
            form_title="个体工商户登记（备案）申请书",
            form_fields=[
                ("个体工商户名称", shop),
                ("经营者姓名", owner),
                ("经营者身份证号码", owner_id),
                ("经营场所", address),
                ("组成形式", "个人经营"),
                ("经营范围", "一般项目：日用百货销售；食品销售（仅销售预包装食品）。"),
                ("资金数额", f"{rng.randint(1, 50)}万元"),
            ],
            form_signer=owner,
            scan_material="经营者身份证复印件",
            scan_needs_seal=False,
            result_title="准予个体工商户设立登记通知书",
            result_doc_number=f"（{initial}）登记个设字〔{ctx.year}〕第{ctx.serial:06d}号",
            result_lines=_result_closing(lines, long=rng.random() < 0.2),
            certificate_number=code,
        )

    company = _company(rng, region.short, _MARKET_INDUSTRIES)
    code = make_uscc(rng, region.code)
    approve = _Step("核准", "登记注册科科长", "核准", "同意登记。", (0, 2))
    capital = rng.choice((10, 50, 100, 200, 300, 500, 1000, 2000, 5000))
    applicant = Applicant(name=company, type=ApplicantType.ORGANISATION, id_type=IdType.USCC, id_number=code)
    fields = [
        ("企业名称", company),
        ("统一社会信用代码", code),
        ("住所", address),
        ("法定代表人", legal_rep),
        ("法定代表人身份证号码", rep_id),
        ("注册资本", f"{capital}万元人民币"),
        ("企业类型", "有限责任公司（自然人投资或控股）"),
    ]
    if kind == "establish":
        item = ("XK-SCJG-001", "企业设立登记")
        title = f"{company}设立登记"
        issue = _Step("发照", "综合受理窗口", "发放营业执照", "已制发营业执照正本一份、副本一份。", (0, 1))
        fields += [
            (
                "经营范围",
                f"一般项目：{rng.choice(_MARKET_INDUSTRIES)}领域内的技术开发、技术咨询、"
                "技术服务；软件开发；信息系统集成服务。（除依法须经批准的项目外，凭营业执照依法"
                "自主开展经营活动）",
            )
        ]
        result_title, doc_kind, verb = "准予设立登记通知书", "登记内设字", "准予设立登记"
        scan, sealed = "法定代表人身份证复印件", False
        certificate: str | None = code
    elif kind == "change":
        change = rng.choice(("住所", "经营范围", "法定代表人", "注册资本"))
        item = ("XK-SCJG-002", "企业变更登记")
        title = f"{company}变更登记（{change}）"
        issue = _Step("发照", "综合受理窗口", "换发营业执照", "已换发营业执照。", (0, 1))
        fields += [("变更事项", change), ("变更前", "见附表"), ("变更后", "见附表")]
        result_title, doc_kind, verb = (
            "准予变更登记通知书",
            "登记内变字",
            f"准予变更登记（变更事项：{change}）",
        )
        scan, sealed = "营业执照复印件", True
        certificate = code
    else:
        item = ("XK-SCJG-003", "企业注销登记")
        title = f"{company}注销登记"
        issue = None
        fields += [
            ("注销原因", rng.choice(("股东会决议解散", "营业期限届满", "经营不善"))),
            ("清算组负责人", legal_rep),
        ]
        result_title, doc_kind, verb = "准予注销登记通知书", "登记内销字", "准予注销登记"
        scan, sealed = "清税证明", True
        certificate = None
    if ctx.result is not CaseResult.APPROVED:
        certificate = None
    lines = [
        f"{company}：",
        f"　　经审查，你单位提交的{item[1]}申请，申请材料齐全，符合法定形式，本机关决定{verb}。",
        f"　　统一社会信用代码：{code}",
        f"　　法定代表人：{legal_rep}",
        f"　　住所：{address}",
    ]
    if kind != "deregister":
        lines.append("　　请于十个工作日内凭本通知书领取营业执照。")
    return _Draft(
        item_code=item[0],
        item_name=item[1],
        item_version="2026.1",
        case_title=title,
        applicant=applicant,
        legal_representative=legal_rep,
        steps=[accept, review],
        approve=approve,
        issue=issue,
        refuse_reason="住所（经营场所）使用证明不符合要求，",
        form_title="公司登记（备案）申请书",
        form_fields=fields,
        form_signer=f"{company}（法定代表人：{legal_rep}）",
        scan_material=scan,
        scan_needs_seal=sealed,
        result_title=result_title,
        result_doc_number=f"（{initial}）{doc_kind}〔{ctx.year}〕第{ctx.serial:06d}号",
        result_lines=_result_closing(lines, long=rng.random() < 0.2),
        certificate_number=certificate,
    )


_PROJECT_KINDS = (
    "住宅小区{n}期工程",
    "{n}号地块商品住宅项目",
    "产业园{n}号厂房工程",
    "中学新建工程",
    "小学扩建工程",
    "人民医院门诊综合楼工程",
    "科创中心{n}号楼工程",
    "安置房{n}期工程",
    "商业综合体工程",
    "邻里中心工程",
)


def _construction(ctx: _Ctx) -> _Draft:
    rng, region = ctx.rng, ctx.region
    district, address = _address(rng, region)
    owner = _company(rng, region.short, _DEVELOPER_INDUSTRIES)
    owner_code = make_uscc(rng, region.code)
    owner_rep = _person(rng)
    builder = _company(rng, region.province_short, _BUILDER_INDUSTRIES)
    supervisor = _company(rng, region.short, _SUPERVISOR_INDUSTRIES)
    manager = _person(rng)
    place = rng.choice(("云栖", "星河", "江畔", "翠苑", "锦绣", "东湖", "滨江", "紫金", "西溪", "金沙"))
    project = f"{district.name}{place}" + rng.choice(_PROJECT_KINDS).format(n=rng.randint(1, 5))
    area = rng.randint(8, 260) * 1000 + rng.randint(0, 999)
    price = rng.randint(800, 90000)
    months = rng.randint(12, 40)
    is_change = rng.random() < 0.15
    item = ("XK-ZJJS-002", "建筑工程施工许可证变更") if is_change else ("XK-ZJJS-001", "建筑工程施工许可证核发")
    day = ctx.accepted_day
    certificate = f"{district.code}{day:%Y%m%d}{ctx.serial % 10000:04d}"  # 区划 + 日期 + 流水
    steps = [
        _Step("受理", "政务服务中心住建窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0)),
        _Step(
            "审查",
            "建筑市场监管科",
            "审查",
            "经审查，已取得建设工程规划许可证，施工图审查合格，施工单位已确定，质量安全措施落实，"
            "建设资金已落实，符合《建筑工程施工许可管理办法》规定的条件，建议准予许可。",
            (1, 4),
        ),
    ]
    lines = [
        f"编号：{certificate}",
        "　　根据《中华人民共和国建筑法》第八条规定，经审查，本建筑工程符合施工条件，准予施工。",
        f"　　建设单位：{owner}",
        f"　　工程名称：{project}",
        f"　　建设地址：{address}",
        f"　　建设规模：{area:,}平方米",
        f"　　合同价格：{price:,}万元",
        f"　　施工单位：{builder}（项目经理：{manager}）",
        f"　　监理单位：{supervisor}",
        f"　　合同工期：{months}个月",
    ]
    return _Draft(
        item_code=item[0],
        item_name=item[1],
        item_version="2025.2",
        case_title=f"{project}施工许可" + ("变更" if is_change else ""),
        applicant=Applicant(name=owner, type=ApplicantType.ORGANISATION, id_type=IdType.USCC, id_number=owner_code),
        legal_representative=owner_rep,
        steps=steps,
        approve=_Step("审批", "分管局领导", "审批", "同意，准予施工许可。", (0, 2)),
        issue=_Step("发证", "政务服务中心住建窗口", "发证", "已制发建筑工程施工许可证（电子证照同步生成）。", (0, 1)),
        refuse_reason="施工图设计文件审查合格书未提供，建设资金落实证明不符合要求，",
        form_title="建筑工程施工许可证申请表",
        form_fields=[
            ("建设单位", owner),
            ("统一社会信用代码", owner_code),
            ("法定代表人", owner_rep),
            ("工程名称", project),
            ("建设地址", address),
            ("建设规模", f"{area:,}平方米"),
            ("合同价格", f"{price:,}万元"),
            ("施工单位", builder),
            ("项目经理", manager),
            ("监理单位", supervisor),
            ("合同工期", f"{months}个月"),
        ],
        form_signer=f"{owner}（法定代表人：{owner_rep}）",
        scan_material="建设工程规划许可证复印件",
        scan_needs_seal=True,
        result_title="建筑工程施工许可证",
        result_doc_number=None,
        result_lines=_result_closing(lines, long=rng.random() < 0.35),
        certificate_number=certificate if ctx.result is CaseResult.APPROVED else None,
        review_sheet=True,
    )


def _transport(ctx: _Ctx) -> _Draft:
    rng, region = ctx.rng, ctx.region
    _, address = _address(rng, region)
    person = rng.random() < 0.4
    passenger = not person and rng.random() < 0.25
    item = ("XK-JTYS-002", "道路旅客运输经营许可") if passenger else ("XK-JTYS-001", "道路货物运输经营许可")
    scope = "县内包车客运、市内班车客运" if passenger else "道路普通货物运输"
    partial = ctx.result is CaseResult.PARTIALLY_APPROVED
    requested = scope + ("、货物专用运输（集装箱）" if not passenger else "、省际包车客运")
    if person:
        name = _person(rng)
        id_number = make_resident_id(rng)
        applicant = Applicant(name=name, type=ApplicantType.PERSON, id_type=IdType.RESIDENT_ID, id_number=id_number)
        legal_rep = None
        scan = rng.choice(("身份证复印件", "机动车驾驶证复印件"))
        sealed = False
        signer = name
    else:
        name = _company(rng, region.short, _TRANSPORT_INDUSTRIES)
        id_number = make_uscc(rng, region.code)
        applicant = Applicant(name=name, type=ApplicantType.ORGANISATION, id_type=IdType.USCC, id_number=id_number)
        legal_rep = _person(rng)
        scan = "营业执照复印件"
        sealed = True
        signer = f"{name}（法定代表人：{legal_rep}）"
    vehicles = rng.randint(1, 5) if person else rng.randint(5, 80)
    certificate = f"{region.province_abbr}交运管许可{region.short[0]}字{region.code}{ctx.serial:06d}号"
    granted = scope if partial or ctx.result is not CaseResult.APPROVED else requested
    steps = [
        _Step("受理", "交通运输政务窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0)),
        _Step(
            "审查",
            "运输管理科",
            "审查",
            f"经审查，申请人具备与其经营业务相适应的车辆{vehicles}辆，驾驶人员具有相应从业资格，"
            "安全生产管理制度健全，"
            + (
                "货物专用运输（集装箱）所需专用车辆条件不具备，建议部分准予许可。"
                if partial
                else "符合《中华人民共和国道路运输条例》规定的条件，建议准予许可。"
            ),
            (1, 5),
        ),
    ]
    lines = [
        f"许可证号：{certificate}",
        f"　　业户名称：{name}",
        f"　　地址：{address}",
        f"　　经营范围：{granted}",
        f"　　核定车辆：{vehicles}辆",
        f"　　有效期至：{ctx.accepted_day.year + 4}年{ctx.accepted_day.month}月{ctx.accepted_day.day}日",
    ]
    if partial:
        lines.append("　　申请事项中“货物专用运输（集装箱）”不予许可，理由：专用车辆条件不具备。")
    return _Draft(
        item_code=item[0],
        item_name=item[1],
        item_version="2024.3",
        case_title=f"{name}{item[1]}",
        applicant=applicant,
        legal_representative=legal_rep,
        steps=steps,
        approve=_Step(
            "决定",
            "分管局领导",
            "部分准予许可" if partial else "准予许可",
            f"同意，准予许可经营范围：{granted}。",
            (0, 2),
        ),
        issue=_Step("发证", "交通运输政务窗口", "发证", "已制发道路运输经营许可证。", (0, 2)),
        refuse_reason="申请人提供的车辆技术等级评定材料不符合要求，",
        form_title="道路运输经营申请表",
        form_fields=[
            ("申请人", name),
            ("证件号码", id_number),
            ("地址", address),
            ("申请经营范围", requested),
            ("拟投入车辆", f"{vehicles}辆"),
            ("负责人", legal_rep or name),
        ],
        form_signer=signer,
        scan_material=scan,
        scan_needs_seal=sealed,
        result_title="道路运输经营许可证",
        result_doc_number=None,
        result_lines=_result_closing(lines, long=rng.random() < 0.2),
        certificate_number=certificate if ctx.result in (CaseResult.APPROVED, CaseResult.PARTIALLY_APPROVED) else None,
        result_material="道路运输经营许可证",
    )


_BUILDERS: dict[str, tuple[str, Callable[[_Ctx], _Draft]]] = {
    "market-regulation": ("SCJG", _market),
    "construction-permit": ("ZJJS", _construction),
    "transport": ("JTYS", _transport),
}


# --- common assembly -----------------------------------------------------------------------------------


def _business_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _advance(prev: datetime, rng: random.Random, days: tuple[int, int]) -> datetime:
    """A working-hours moment `days` business days after `prev`, strictly later than it."""
    day = prev.date()
    for _ in range(rng.randint(*days)):
        day = _business_day(day + timedelta(days=1))
    moment = datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59)), SHANGHAI)
    if moment <= prev:
        moment = prev + timedelta(minutes=rng.randint(5, 90), seconds=rng.randint(0, 59))
    return moment


def _result_for(rng: random.Random, platform: str) -> CaseResult:
    roll = rng.random()
    if roll < 0.06:
        return CaseResult.REFUSED
    if roll < 0.09:
        return CaseResult.WITHDRAWN
    if platform == "transport" and roll < 0.15:
        return CaseResult.PARTIALLY_APPROVED
    return CaseResult.APPROVED


def _pdf_doc(stage: Stage, material_name: str, file_name: str, data: bytes) -> _Doc:
    return _Doc(stage, material_name, file_name, "application/pdf", data, pdf_page_count(data))


def _build_case(seed: int, index: int, wrong_digest_every: int | None) -> SampleCase:
    platform = PLATFORMS[index % len(PLATFORMS)]
    prefix, builder = _BUILDERS[platform]
    rng = random.Random(f"case:{seed}:{index}")
    serial = index // len(PLATFORMS) + 1
    region = rng.choice(REGIONS)
    department = _department(platform, region.code)
    start = date(2026, 1, 5)
    accepted_day = _business_day(start + timedelta(days=rng.randrange(310)))
    accepted_at = datetime.combine(
        accepted_day, time(rng.randint(9, 15), rng.randint(0, 59), rng.randint(0, 59)), SHANGHAI
    )
    ctx = _Ctx(
        rng=rng,
        region=region,
        department=department,
        serial=serial,
        year=accepted_day.year,
        result=_result_for(rng, platform),
        accepted_day=accepted_day,
    )
    draft = builder(ctx)
    case_number = f"{prefix}-{accepted_day.year}-{serial:06d}"

    # Process records, strictly after acceptance; completion strictly after the last one.
    records: list[ProcessRecord] = []
    moment = accepted_at
    for step in _decision_steps(ctx.result, draft):
        if step.days == (0, 0):
            moment = moment + timedelta(minutes=rng.randint(3, 40), seconds=rng.randint(0, 59))
        else:
            moment = _advance(moment, rng, step.days)
        records.append(
            ProcessRecord(
                node=step.node,
                actor=f"{_person(rng)}（{step.role}）",
                action=step.action,
                opinion=step.opinion,
                time=moment,
            )
        )
    completed_at = moment + timedelta(minutes=rng.randint(5, 60), seconds=rng.randint(0, 59))

    # Documents.
    docs: list[_Doc] = []
    form = application_form_pdf(
        draft.form_title,
        draft.form_fields,
        signer=draft.form_signer,
        date_text=_cn_date(accepted_at),
        note="本申请人承诺：所提交的申请材料真实、合法、有效，复印件与原件一致，并对申请材料的真实性负责。",
        created=accepted_at - timedelta(minutes=rng.randint(30, 600)),
    )
    docs.append(_pdf_doc(Stage.APPLICATION, draft.form_title, f"01_{draft.form_title}.pdf", form))

    pool = _SEALED_SCANS if draft.scan_needs_seal else range(SCAN_POOL_SIZE)
    jpeg, jpeg_b64, jpeg_sha = _scan(seed, rng.choice(pool))
    docs.append(
        _Doc(
            Stage.APPLICATION,
            draft.scan_material,
            f"02_{draft.scan_material}.jpg",
            "image/jpeg",
            jpeg,
            1,
            b64=jpeg_b64,
            sha256=jpeg_sha,
        )
    )

    if draft.review_sheet:
        sheet = application_form_pdf(
            f"{draft.item_name}审查意见表",
            [
                ("案件编号", case_number),
                ("申请单位", draft.applicant.name),
                ("事项名称", draft.item_name),
                *((f"{r.node}意见", f"{r.opinion}（{r.actor}，{r.time:%Y-%m-%d %H:%M}）") for r in records),
            ],
            signer=department.name,
            signature_label="经办机构",
            date_text=_cn_date(records[-1].time),
            created=records[-1].time,
        )
        docs.append(_pdf_doc(Stage.PROCESS, "审查意见表", "03_审查意见表.pdf", sheet))

    addressee = draft.applicant.name
    if ctx.result is CaseResult.REFUSED:
        title = "不予行政许可决定书"
        lines = _refusal_lines(addressee, draft.item_name, f"{draft.refuse_reason}不符合法定条件。")
        doc_number = f"（{region.short[0]}）不予许可字〔{ctx.year}〕第{serial:06d}号"
    elif ctx.result is CaseResult.WITHDRAWN:
        title, lines = (
            "终止行政许可申请审查通知书",
            _withdrawal_lines(addressee, draft.item_name, accepted_day),
        )
        doc_number = f"（{region.short[0]}）终止审查字〔{ctx.year}〕第{serial:06d}号"
    else:
        title, lines, doc_number = draft.result_title, draft.result_lines, draft.result_doc_number
    decision = decision_pdf(
        title,
        lines,
        department.name,
        doc_number=doc_number,
        date_text=_cn_date(completed_at),
        created=completed_at,
    )
    result_name = draft.result_material or title
    docs.append(
        _pdf_doc(
            Stage.RESULT,
            result_name if title == draft.result_title else title,
            f"{len(docs) + 1:02d}_{title}.pdf",
            decision,
        )
    )

    # Materials, with one declared digest planted wrong on every `wrong_digest_every`-th case.
    defect: str | None = None
    defective: int | None = None
    if wrong_digest_every and (index + 1) % wrong_digest_every == 0:
        defect = WRONG_DIGEST
        defective = rng.randrange(len(docs))
    materials = []
    for k, doc in enumerate(docs):
        digest = doc.sha256 or hashlib.sha256(doc.data).hexdigest()
        if k == defective:
            digest = hashlib.sha256(doc.data + b"\x00altered after signing").hexdigest()
        materials.append(
            Material(
                stage=doc.stage,
                material_name=doc.material_name,
                file_name=doc.file_name,
                media_type=doc.media_type,
                size=len(doc.data),
                sha256=digest,
                page_count=doc.page_count,
                content_base64=doc.b64 or base64.b64encode(doc.data).decode("ascii"),
            )
        )

    record = UnifiedApprovalRecord(
        source_platform=platform,
        case_number=case_number,
        revision=1,
        region_code=region.code,
        item_code=draft.item_code,
        item_name=draft.item_name,
        item_version=draft.item_version,
        case_title=draft.case_title,
        applicant=draft.applicant,
        legal_representative=draft.legal_representative,
        department_code=department.code,
        department_name=department.name,
        accepted_at=accepted_at,
        completed_at=completed_at,
        result=ctx.result,
        certificate_number=draft.certificate_number,
        process_records=records,
        materials=materials,
    )
    return SampleCase(
        record=record,
        defect=defect,
        platform=platform,
        defective_material=docs[defective].file_name if defective is not None else None,
    )


def generate_cases(count: int, seed: int = DEFAULT_SEED, wrong_digest_every: int | None = 10) -> list[SampleCase]:
    """`count` completed cases, rotating over `PLATFORMS`; deterministic in `(seed, index)`.

    Every `wrong_digest_every`-th case (the 10th, 20th, ... by default; `None` or 0 for none) declares a
    wrong SHA-256 for one of its materials and is marked `defect="wrong_digest"`. Case numbers
    (`SCJG-2026-000001`, `ZJJS-...`, `JTYS-...`) are unique per platform.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    return [_build_case(seed, i, wrong_digest_every) for i in range(count)]


# --- the event ----------------------------------------------------------------------------------------


def approval_completed_event(case: SampleCase, *, event_id: str | None = None) -> dict[str, Any]:
    """The case as a CloudEvents 1.0 structured-mode `approval.completed.v1` event, a JSON-ready dict.

    The id and correlation id are derived from platform and case number (the id also from the revision),
    so regenerating a case yields the same event; pass `event_id` to simulate a platform re-sending.
    """
    record = case.record
    identity = f"{record.source_platform}|{record.case_number}"
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid5(_SAMPLES_NAMESPACE, f"event|{identity}|r{record.revision}")),
        "source": f"urn:approval-platform:{record.source_platform}",
        "type": topics.APPROVAL_COMPLETED,
        "time": record.completed_at.isoformat(),
        "datacontenttype": "application/json",
        "subject": record.case_key,
        "correlationid": str(uuid.uuid5(_SAMPLES_NAMESPACE, f"correlation|{identity}")),
        "data": record.model_dump(mode="json"),
    }


def event_json(case: SampleCase, *, event_id: str | None = None) -> bytes:
    """The event as the UTF-8 JSON a platform would put on Kafka (compact, Chinese left unescaped)."""
    event = approval_completed_event(case, event_id=event_id)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
