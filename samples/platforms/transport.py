"""交通运输局 (transport): road transport licences (道路运输经营许可) for goods or passengers, to a person or
a company; some are granted only in part."""

from __future__ import annotations

from contracts.v1.record import Applicant, ApplicantType, CaseResult, IdType
from samples import names
from samples.drafts import CaseContext, Draft, SamplePlatform, Step, result_closing
from samples.identifiers import make_resident_id, make_uscc

INDUSTRIES = ("物流", "运输", "汽车运输", "货运", "供应链管理", "客运")


def build(ctx: CaseContext) -> Draft:
    """A road transport licence, for goods or (a quarter of the companies) passengers, to a person
    (40 %) or a company."""
    rng, region = ctx.rng, ctx.region
    _, address = names.address(rng, region)
    person = rng.random() < 0.4
    passenger = not person and rng.random() < 0.25
    item = ("XK-JTYS-002", "道路旅客运输经营许可") if passenger else ("XK-JTYS-001", "道路货物运输经营许可")
    scope = "县内包车客运、市内班车客运" if passenger else "道路普通货物运输"
    partial = ctx.result is CaseResult.PARTIALLY_APPROVED
    requested = scope + ("、货物专用运输（集装箱）" if not passenger else "、省际包车客运")
    if person:
        name = names.person_name(rng)
        id_number = make_resident_id(rng)
        applicant = Applicant(name=name, type=ApplicantType.PERSON, id_type=IdType.RESIDENT_ID, id_number=id_number)
        legal_rep = None
        scan = rng.choice(("身份证复印件", "机动车驾驶证复印件"))
        sealed = False
        signer = name
    else:
        name = names.company_name(rng, region.short, INDUSTRIES)
        id_number = make_uscc(rng, region.code)
        applicant = Applicant(name=name, type=ApplicantType.ORGANISATION, id_type=IdType.USCC, id_number=id_number)
        legal_rep = names.person_name(rng)
        scan = "营业执照复印件"
        sealed = True
        signer = f"{name}（法定代表人：{legal_rep}）"
    vehicles = rng.randint(1, 5) if person else rng.randint(5, 80)
    certificate = f"{region.province_abbr}交运管许可{region.short[0]}字{region.code}{ctx.serial:06d}号"
    granted = scope if partial or ctx.result is not CaseResult.APPROVED else requested
    steps = [
        Step("受理", "交通运输政务窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0)),
        Step(
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
    return Draft(
        item_code=item[0],
        item_name=item[1],
        item_version="2024.3",
        case_title=f"{name}{item[1]}",
        applicant=applicant,
        legal_representative=legal_rep,
        steps=steps,
        approve=Step(
            "决定",
            "分管局领导",
            "部分准予许可" if partial else "准予许可",
            f"同意，准予许可经营范围：{granted}。",
            (0, 2),
        ),
        issue=Step("发证", "交通运输政务窗口", "发证", "已制发道路运输经营许可证。", (0, 2)),
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
        result_lines=result_closing(lines, long=rng.random() < 0.2),
        certificate_number=certificate if ctx.result in (CaseResult.APPROVED, CaseResult.PARTIALLY_APPROVED) else None,
        result_material="道路运输经营许可证",
    )


PLATFORM = SamplePlatform(
    "transport", case_prefix="JTYS", department_suffix="交通运输局", build=build, partially_approves=True
)
