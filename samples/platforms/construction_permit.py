"""住房和城乡建设局 (housing and construction): construction permits (施工许可) — issued or changed — with a
process-stage review sheet (审查意见表) among the files."""

from __future__ import annotations

from contracts.v1.record import Applicant, ApplicantType, CaseResult, IdType
from samples import names
from samples.drafts import CaseContext, Draft, SamplePlatform, Step, result_closing
from samples.identifiers import make_uscc

DEVELOPER_INDUSTRIES = ("置业", "房地产开发", "城市建设投资", "实业", "产业园开发")
BUILDER_INDUSTRIES = ("建设集团", "建工集团", "建筑工程", "市政工程")
SUPERVISOR_INDUSTRIES = ("工程监理", "工程咨询", "建设管理")
PROJECT_KINDS = (
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


def build(ctx: CaseContext) -> Draft:
    """A construction permit issued, or (15 %) changed, for a project in one of the region's districts."""
    rng, region = ctx.rng, ctx.region
    district, address = names.address(rng, region)
    owner = names.company_name(rng, region.short, DEVELOPER_INDUSTRIES)
    owner_code = make_uscc(rng, region.code)
    owner_rep = names.person_name(rng)
    builder = names.company_name(rng, region.province_short, BUILDER_INDUSTRIES)
    supervisor = names.company_name(rng, region.short, SUPERVISOR_INDUSTRIES)
    manager = names.person_name(rng)
    place = rng.choice(("云栖", "星河", "江畔", "翠苑", "锦绣", "东湖", "滨江", "紫金", "西溪", "金沙"))
    project = f"{district.name}{place}" + rng.choice(PROJECT_KINDS).format(n=rng.randint(1, 5))
    area = rng.randint(8, 260) * 1000 + rng.randint(0, 999)
    price = rng.randint(800, 90000)
    months = rng.randint(12, 40)
    is_change = rng.random() < 0.15
    item = ("XK-ZJJS-002", "建筑工程施工许可证变更") if is_change else ("XK-ZJJS-001", "建筑工程施工许可证核发")
    day = ctx.accepted_day
    certificate = f"{district.code}{day:%Y%m%d}{ctx.serial % 10000:04d}"  # 区划 + 日期 + 流水
    steps = [
        Step("受理", "政务服务中心住建窗口", "受理", "申请材料齐全，符合法定形式，予以受理。", (0, 0)),
        Step(
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
    return Draft(
        item_code=item[0],
        item_name=item[1],
        item_version="2025.2",
        case_title=f"{project}施工许可" + ("变更" if is_change else ""),
        applicant=Applicant(name=owner, type=ApplicantType.ORGANISATION, id_type=IdType.USCC, id_number=owner_code),
        legal_representative=owner_rep,
        steps=steps,
        approve=Step("审批", "分管局领导", "审批", "同意，准予施工许可。", (0, 2)),
        issue=Step("发证", "政务服务中心住建窗口", "发证", "已制发建筑工程施工许可证（电子证照同步生成）。", (0, 1)),
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
        result_lines=result_closing(lines, long=rng.random() < 0.35),
        certificate_number=certificate if ctx.result is CaseResult.APPROVED else None,
        review_sheet=True,
    )


PLATFORM = SamplePlatform("construction-permit", case_prefix="ZJJS", department_suffix="住房和城乡建设局", build=build)
