"""The package's XML description in the structure of the national encapsulation format (pure).

DA/T 48-2009《基于XML的电子文件封装规范》(EEP): 封装包格式描述, 版本, 被签名对象 (封装包类型, 创建时间,
创建单位, 封装内容 with 文件实体块 / 业务实体块 / 机构人员实体块), 电子签名块, 锁定签名. The element names
are the standard's; the file entity's metadata follows DA/T 46/DA/T 85 naming for an approval case.

Deviations, written down (docs/packages.md): file data are not embedded as base64 in 编码数据 — the
element holds the file's path inside the BagIt bag, and 编码描述 says so; the signature blocks are
present but empty (SM2 signing of packages is not built yet); preservation events appear as 业务实体
with 业务状态 "归档保存" beside the case's own handling steps (业务状态 "办理").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from contracts.v1 import ClassifiedCase
from services.storage.domain import PayloadEntry, RetentionLock
from services.storage.preservation import PreservationEvent

FORMAT_DESCRIPTION = "本EEP根据中华人民共和国档案行业标准DA/T 48-2009《基于XML的电子文件封装规范》的结构生成"
RETENTION_NAMES = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
STAGE_NAMES = {"application": "申请", "process": "过程", "result": "结果"}


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def eep_document(
    classified: ClassifiedCase,
    entries: Sequence[PayloadEntry],
    events: Sequence[PreservationEvent],
    *,
    package_location: str,
    lock: RetentionLock,
    created_at: datetime,
    fonds_name: str = "approval-archive",
) -> bytes:
    case, cls = classified.case, classified.classification
    root = ET.Element("电子文件封装包")
    _sub(root, "封装包格式描述", FORMAT_DESCRIPTION)
    _sub(root, "版本", "2009")
    signed = _sub(root, "被签名对象", eep版本="2009")
    _sub(signed, "封装包类型", "原始型")
    _sub(signed, "封装包类型描述", "本封装包包含电子文件数据及其元数据，系原始封装，未经修改")
    _sub(signed, "封装包创建时间", created_at.isoformat())
    _sub(signed, "封装包创建单位", fonds_name)
    content = _sub(signed, "封装内容")

    files_block = _sub(content, "文件实体块")
    entity = _sub(files_block, "文件实体")
    _sub(entity, "聚合层次", "件")
    source = _sub(entity, "来源")
    _sub(source, "立档单位名称", case.department_name)
    _sub(source, "立档单位代码", case.department_code)
    _sub(source, "来源系统", case.source_platform)
    code = _sub(entity, "档号")
    _sub(code, "档号全文", cls.archival_code)
    _sub(code, "全宗号", cls.fonds_code)
    _sub(code, "类别号", cls.category_code)
    _sub(code, "年度", cls.year)
    _sub(code, "保管期限", cls.retention.value)
    _sub(code, "机构或问题", cls.organisation_code)
    _sub(code, "件号", f"{cls.item_number:04d}")
    description = _sub(entity, "内容描述")
    _sub(description, "题名", case.case_title)
    _sub(description, "事项编码", case.item_code)
    _sub(description, "事项名称", case.item_name)
    _sub(description, "办件编号", case.case_number)
    _sub(description, "行政区划代码", case.region_code)
    _sub(description, "申请人", case.applicant.name)
    _sub(description, "申请人证件类型", case.applicant.id_type.value)
    _sub(description, "申请人证件号码", case.applicant.id_number)
    _sub(description, "受理时间", case.accepted_at.isoformat())
    _sub(description, "办结时间", case.completed_at.isoformat())
    _sub(description, "办理结果", case.result.value)
    if case.certificate_number:
        _sub(description, "证照编号", case.certificate_number)
    form = _sub(entity, "形式特征")
    _sub(form, "文件组合类型", "组合文件" if len(entries) > 1 else "单件")
    _sub(form, "件数", len(entries))
    _sub(form, "总字节数", sum(e.size for e in entries))
    _sub(_sub(entity, "存储位置"), "在线存址", package_location)
    rights = _sub(entity, "权限管理")
    _sub(rights, "密级", cls.security_level)
    _sub(rights, "共享级别", cls.sharing_level.value)
    _sub(rights, "保管期限", RETENTION_NAMES.get(cls.retention.value, cls.retention.value))
    _sub(rights, "保存锁定截止", lock.retain_until.isoformat())
    _sub(rights, "法律保留", "是" if lock.legal_hold else "否")
    data = _sub(entity, "文件数据")
    for number, (file, entry) in enumerate(zip(classified.files, entries, strict=True), start=1):
        document = _sub(data, "文档")
        _sub(document, "文档标识符", f"{cls.archival_code}-{number:03d}")
        _sub(document, "文档序号", number)
        _sub(document, "材料名称", file.material_name)
        _sub(document, "材料阶段", STAGE_NAMES.get(file.stage.value, file.stage.value))
        encoding = _sub(_sub(document, "文档数据"), "编码")
        properties = _sub(encoding, "电子属性")
        _sub(properties, "格式信息", file.media_type)
        _sub(properties, "计算机文件名", file.file_name)
        _sub(properties, "原始文件名", file.original_file_name)
        _sub(properties, "计算机文件大小", file.size)
        _sub(properties, "数字摘要", entry.sm3, 算法="SM3")
        _sub(properties, "数字摘要", entry.sha256, 算法="SHA-256")
        _sub(encoding, "编码描述", "编码数据为该文件在本BagIt包内的相对路径，文件本身以原始字节存放于该路径")
        _sub(encoding, "反编码关键字", "none")
        _sub(encoding, "编码数据", entry.path)

    business = _sub(content, "业务实体块")
    for number, step in enumerate(case.process_records, start=1):
        item = _sub(business, "业务实体")
        _sub(item, "业务标识符", f"办理-{number:03d}")
        _sub(item, "机构人员标识符", step.actor)
        _sub(item, "业务状态", "办理")
        _sub(item, "业务行为", f"{step.node}：{step.action}")
        _sub(item, "行为时间", step.time.isoformat())
        if step.opinion:
            _sub(item, "行为描述", step.opinion)
    for event in events:
        item = _sub(business, "业务实体")
        _sub(item, "业务标识符", event.id)
        _sub(item, "机构人员标识符", event.agent)
        _sub(item, "业务状态", "归档保存")
        _sub(item, "业务行为", event.type, 词表=event.type_uri or "urn:approval-archive:event-type")
        _sub(item, "行为时间", event.time or "未记录")
        _sub(item, "行为结果", event.outcome)
        _sub(item, "行为描述", event.detail)

    agents = _sub(content, "机构人员实体块")
    department = _sub(agents, "机构人员实体")
    _sub(department, "机构人员标识符", case.department_code)
    _sub(department, "机构人员类型", "单位")
    _sub(department, "机构人员名称", case.department_name)
    applicant = _sub(agents, "机构人员实体")
    _sub(applicant, "机构人员标识符", case.applicant.id_number)
    _sub(applicant, "机构人员类型", "单位" if case.applicant.type.value == "organisation" else "个人")
    _sub(applicant, "机构人员名称", case.applicant.name)
    for actor in sorted({step.actor for step in case.process_records}):
        person = _sub(agents, "机构人员实体")
        _sub(person, "机构人员标识符", actor)
        _sub(person, "机构人员类型", "个人")
        _sub(person, "机构人员名称", actor)
        _sub(person, "所属机构", case.department_name)
    for service in sorted({e.agent for e in events}):
        system = _sub(agents, "机构人员实体")
        _sub(system, "机构人员标识符", service)
        _sub(system, "机构人员类型", "系统")
        _sub(system, "机构人员名称", service.rsplit(":", 1)[-1])

    _sub(root, "电子签名块")  # SM2 signatures of the package: not built yet (empty, see module docstring)
    _sub(root, "锁定签名")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"
