"""Generate docs/checks.md from the catalogue: `python -m services.validation.docs` (writes the file) or
`python -m services.validation.docs --check` (exit 1 if the file differs from the catalogue)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts.v1 import Property
from services.validation.checks import CATALOGUE, Check
from services.validation.rules import ItemRules, default_rulebook

TARGET = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
_TITLES = {
    Property.AUTHENTICITY: "Authenticity (真实性)",
    Property.INTEGRITY: "Integrity (完整性)",
    Property.USABILITY: "Usability (可用性)",
    Property.SECURITY: "Security (安全性)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _example(template: str) -> str:
    return template.replace("{file}", "…").replace("{", "‹").replace("}", "›")


def render() -> str:
    rules: ItemRules = default_rulebook().default
    t = rules.thresholds
    lines = [
        "# The four-property check catalogue (DA/T 70-2018)",
        "",
        "<!-- Generated from services/validation/checks/ by `python -m services.validation.docs`."
        " Do not edit: tests/unit/test_checks_docs.py fails when this file and the catalogue differ. -->",
        "",
        "Every case that capture staged is checked by every check below; the `archive.validated.v1` event"
        " carries each check's outcome (`pass`, `warn`, `fail`, `not_run`) with its details, per file for file"
        " checks. A `fail` of a **reject** check sends the case back to its platform on"
        " `archive.record.rejected.v1` (退回整改) with the reasons below and opens a quarantine entry; a failing"
        " **warn** check has outcome `warn` and travels on with the record. `not_run` says why a check did not"
        " apply (not a PDF, nothing declared, switched off) — never that it passed. Item rules"
        " (`services/validation/item_rules.yaml`) switch checks off and change severities and thresholds per"
        " approval item. Choices behind the checks: docs/validation.md.",
        "",
        f"{len(CATALOGUE)} checks. Default thresholds: scans ≥ {t.min_dpi:g} dpi ({t.min_dpi_strict:g} dpi for"
        f" the materials an item names), sharpness ≥ {t.min_sharpness:g}, seals"
        f" {t.seal_min_mm:g}-{t.seal_max_mm:g} mm across (oval ≥ {t.seal_min_ratio:g}),"
        f" zip packages ≤ {t.zip_max_ratio:g}:1 and"
        f" ≤ {t.zip_max_total_bytes // (1024 * 1024)} MiB unpacked, dates from {t.earliest_date} to"
        f" {t.future_tolerance_minutes:g} minutes after capture.",
        "",
    ]
    for prop, title in _TITLES.items():
        checks: list[Check] = sorted((c for c in CATALOGUE.values() if c.property is prop), key=lambda c: c.code)
        lines += [f"## {title}", "", "| code | scope | severity | examines | basis |", "|---|---|---|---|---|"]
        for c in checks:
            lines.append(
                f"| `{c.code}` | {c.scope} | {c.severity.value} | {_cell(c.examines)}<br>{_cell(c.examines_zh)}"
                f" | {_cell(c.basis)} |"
            )
        lines.append("")
        lines.append("Reasons sent to the platform on failure (‹…› is filled in from the case):")
        lines.append("")
        for c in checks:
            lines.append(f"- `{c.code}` — {_cell(_example(c.reason_zh))} / {_cell(_example(c.reason_en))}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/checks.md is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run `python -m services.validation.docs`", file=sys.stderr)
            return 1
        print(f"{TARGET} is up to date ({len(CATALOGUE)} checks)")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({len(CATALOGUE)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
