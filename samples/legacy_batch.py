"""A sample batch of digitised paper, as a scanning bureau hands it over: a catalogue (案卷目录, xlsx or CSV) with
one row per case, and a folder of scans per case — a multi-page PDF (the application), a multi-page TIFF
(the approval sheet) and the decision as a colour PDF with its red seal or as JPEG pages.

    python -m samples.legacy_batch OUT_DIR --cases 12 [--csv] [--defect-every 4]

Every `defect_every`-th row is defective, in turn (`DEFECTS`): a retention term the mapping does not know,
a blurred decision, a 100-dpi decision, a decision scanned in grey without its seal, a missing folder.
`expected.json` says what each row should come to. Pages come from a small pool rendered once per
process (samples/documents.py), so a large batch costs file writing, not drawing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageFilter

from samples.departments import department
from samples.documents import scanned_page_jpeg
from samples.identifiers import REGIONS, make_uscc
from samples.names import company_name, person_name

HEADINGS = (
    "档号",
    "办件编号",
    "案卷题名",
    "年度",
    "保管期限",
    "事项名称",
    "行政区划",
    "申请人",
    "申请人类型",
    "证件类型",
    "证件号码",
    "法定代表人",
    "承办部门代码",
    "承办部门",
    "受理日期",
    "办结日期",
    "办理结果",
    "证照编号",
    "页数",
    "扫描文件夹",
)
ITEMS = {  # item name → the result document's name
    "企业设立登记": "准予设立登记通知书",
    "企业变更登记": "准予变更登记通知书",
    "道路货物运输经营许可": "道路运输经营许可证",
}
TERMS = (("永久", 3), ("长期", 5), ("短期", 2))  # term, weight
DEFECTS = ("unknown_term", "blurred", "low_dpi", "grey_unsealed", "no_folder")
EXPECTED_CODES = {
    "unknown_term": "CAP-MAPPING",
    "blurred": "USAB-SCAN-BLUR",
    "low_dpi": "USAB-SCAN-DPI",
    "grey_unsealed": "USAB-SCAN-COLOUR",  # a grey scan cannot show a seal: the colour check says so
    "no_folder": "IMPORT-NO-SCANS",
}
CATALOGUE_NAME = "案卷目录"


@dataclass(frozen=True)
class ExpectedRow:
    row: int
    case_number: str
    legacy_archival_code: str
    term: str
    defect: str | None
    expected_code: str | None  # a failure code the row's rejection must name; None: archived


@lru_cache(maxsize=16)
def _page(kind: str, n: int) -> Image.Image:
    """Pool page `n` of a kind: grey (application, approval sheet) or sealed colour (decision)."""
    sealed = kind == "sealed"
    data = scanned_page_jpeg(7000 + n + (100 if sealed else 0), dpi=200, colour=sealed, with_seal=sealed)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def _pdf(pages: list[Image.Image], dpi: float = 200.0) -> bytes:
    buf = io.BytesIO()
    first, *rest = [p.copy() for p in pages]
    first.save(buf, "PDF", resolution=dpi, save_all=True, append_images=rest, quality=70)
    return buf.getvalue()


def _tiff(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    first, *rest = [p.copy() for p in pages]  # saving annotates the images: never the pool's own
    first.save(buf, "TIFF", save_all=True, append_images=rest, compression="jpeg", dpi=(200, 200))
    return buf.getvalue()


def _jpeg(page: Image.Image, dpi: int = 200) -> bytes:
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=70, dpi=(dpi, dpi))
    return buf.getvalue()


# Pool pages whose seal lies whole on the page (on others of the renderer's seeds the ring is cut short by
# the page's foot and reads as an oval too flat for an official seal — a defect of its own, not wanted here).
_WHOLE_SEALS = (1, 3, 4)


def _decision(defect: str | None, index: int) -> Image.Image:
    page = _page("sealed", _WHOLE_SEALS[index % len(_WHOLE_SEALS)])
    if defect == "blurred":
        return page.filter(ImageFilter.GaussianBlur(6))
    if defect == "low_dpi":
        return page.resize((page.width // 2, page.height // 2))
    if defect == "grey_unsealed":
        return _page("grey", 5)
    return page


def write_case_files(folder: Path, index: int, result_name: str, defect: str | None) -> int:
    """The scans of one case; returns the number of pages."""
    folder.mkdir(parents=True, exist_ok=True)
    application = [_page("grey", (index + k) % 4) for k in range(2)]
    sheet = [_page("grey", 4), _page("grey", (index + 2) % 4)]
    (folder / "01-申请书.pdf").write_bytes(_pdf(application))
    (folder / "02-审批表.tif").write_bytes(_tiff(sheet))
    decision = _decision(defect, index)
    dpi = 100 if defect == "low_dpi" else 200
    if index % 3 == 2:  # some bureaus deliver JPEG pages
        (folder / f"03-{result_name}-p1.jpg").write_bytes(_jpeg(decision, dpi))
        return 5
    (folder / f"03-{result_name}.pdf").write_bytes(_pdf([decision], dpi=float(dpi)))
    return 5


def _term(rng: random.Random) -> str:
    return rng.choices([t for t, _ in TERMS], [w for _, w in TERMS])[0]


def generate_batch(
    out: Path,
    cases: int,
    *,
    seed: int = 2026,
    defect_every: int | None = 4,
    csv_format: bool = False,
    first_number: int = 1,
) -> Path:
    """Write the batch under `out`; returns the catalogue's path. Case and item numbers count from
    `first_number` (two batches with distinct numbers are distinct cases)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"legacy:{seed}")
    rows: list[list[str]] = []
    expected: list[ExpectedRow] = []
    for i in range(cases):
        defect = None
        if defect_every and i % defect_every == defect_every - 1:
            defect = DEFECTS[(i // defect_every) % len(DEFECTS)]
        region = rng.choice(REGIONS)
        district = rng.choice(region.districts)
        item = rng.choice(sorted(ITEMS))
        year = rng.randint(1998, 2005)
        accepted = date(year, 1, 1) + timedelta(days=rng.randrange(330))
        completed = accepted + timedelta(days=rng.randint(1, 20))
        term = "临时" if defect == "unknown_term" else _term(rng)
        number = f"LS{year}{first_number + i:05d}"
        legacy_code = f"Z109-{year}-{term}-{first_number + i:04d}"
        dept = department("legacy-paper", "工商行政管理局" if item != "道路货物运输经营许可" else "交通局", region.code)
        folder = f"{number}"
        pages = 0 if defect == "no_folder" else write_case_files(out / folder, i, ITEMS[item], defect)
        applicant = company_name(rng, region.short, ("商贸", "科技", "运输", "建材"))
        rows.append(
            [
                legacy_code,
                number,
                f"{applicant}{item}",
                str(year),
                term,
                item,
                district.code,
                applicant,
                "法人",
                "统一社会信用代码",
                make_uscc(rng, district.code),
                person_name(rng),
                dept.code,
                dept.name,
                accepted.isoformat(),
                completed.isoformat(),
                "准予",
                f"{year}{rng.randint(100000, 999999)}",
                str(pages),
                folder,
            ]
        )
        expected.append(ExpectedRow(i + 2, number, legacy_code, term, defect, EXPECTED_CODES.get(defect or "")))
    catalogue = out / (CATALOGUE_NAME + (".csv" if csv_format else ".xlsx"))
    if csv_format:
        with catalogue.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADINGS)
            writer.writerows(rows)
    else:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = CATALOGUE_NAME
        sheet.append(list(HEADINGS))
        for row in rows:
            sheet.append(row)
        book.save(catalogue)
    (out / "expected.json").write_text(
        json.dumps([asdict(e) for e in expected], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--defect-every", type=int, default=4, help="0: no defective rows")
    parser.add_argument("--csv", action="store_true", help="write the catalogue as CSV instead of xlsx")
    args = parser.parse_args()
    path = generate_batch(
        args.out, args.cases, seed=args.seed, defect_every=args.defect_every or None, csv_format=args.csv
    )
    print(f"legacy batch: {args.cases} case(s), catalogue {path}")


if __name__ == "__main__":
    main()
