"""市场监督管理局 (market regulation): business registration — a company's establishment, change or
deregistration, or an individual business (个体工商户) set up."""

from __future__ import annotations

from contracts.v1.record import Applicant, ApplicantType, CaseResult, IdType
from samples import names
from samples.drafts import CaseContext, Draft, SamplePlatform, Step, result_closing
from samples.identifiers import make_resident_id, make_uscc

INDUSTRIES = (
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


def build(ctx: CaseContext) -> Draft:
    """A business registration: a company established (45 %), changed (30 %) or deregistered
    (10 %), or an individual business set up (15 %)."""
    rng, region = ctx.rng, ctx.region
    kind = rng.choices(("establish", "change", "deregister", "individual"), weights=(45, 30, 10, 15))[0]
    legal_rep = names.person_name(rng)
    rep_id = make_resident_id(rng)
    district, address = names.address(rng, region)
    initial = region.short[0]
    accept = Step("受理", "综合受理窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0))
    review = Step(
        "审核",
        "登记注册科",
        "审核",
        "经审核，申请材料真实、齐全，符合《中华人民共和国市场主体登记管理条例》规定，建议准予登记。",
        (1, 3),
    )

    if kind == "individual":
        owner = names.person_name(rng)
        owner_id = make_resident_id(rng)
        trade = rng.choice(("便利店", "小吃店", "五金店", "服装店", "理发店", "水果店"))
        shop = f"{region.name}{district.name}{owner[0]}记{trade}"
        code = make_uscc(rng, region.code, registration_authority="9", organisation_type="2")
        approve = Step("核准", "登记注册科科长", "核准", "同意登记。", (0, 2))
        issue: Step | None = Step("发照", "综合受理窗口", "发放营业执照", "已制发个体工商户营业执照。", (0, 1))
        item = ("XK-SCJG-004", "个体工商户设立登记")
        lines = [
            f"{owner}：",
            f"　　经审查，你提交的“{shop}”个体工商户设立登记申请，申请材料齐全，符合法定形式，本机关决定准予登记。",
            f"　　统一社会信用代码：{code}",
            f"　　经营场所：{address}",
            "　　请于十个工作日内领取营业执照。",
        ]
        return Draft(
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
            result_lines=result_closing(lines, long=rng.random() < 0.2),
            certificate_number=code,
        )

    company = names.company_name(rng, region.short, INDUSTRIES)
    code = make_uscc(rng, region.code)
    approve = Step("核准", "登记注册科科长", "核准", "同意登记。", (0, 2))
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
        issue = Step("发照", "综合受理窗口", "发放营业执照", "已制发营业执照正本一份、副本一份。", (0, 1))
        fields += [
            (
                "经营范围",
                f"一般项目：{rng.choice(INDUSTRIES)}领域内的技术开发、技术咨询、"
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
        issue = Step("发照", "综合受理窗口", "换发营业执照", "已换发营业执照。", (0, 1))
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
    return Draft(
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
        result_lines=result_closing(lines, long=rng.random() < 0.2),
        certificate_number=certificate,
    )


PLATFORM = SamplePlatform("market-regulation", case_prefix="SCJG", department_suffix="市场监督管理局", build=build)
