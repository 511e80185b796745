"""End to end: a generated batch of digitised paper (a catalogue and a folder of scans per case) imported with
`archivectl import`'s own code, through the five services; then imported again."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

import asyncpg
import pytest

from archivectl.legacy_import import ImportOptions, run_import, write_report
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.legacy_batch import generate_batch
from services.capture.dialect import load_dialects

pytestmark = pytest.mark.e2e

CASES = 12
RETENTION = {"永久": "Y", "长期": "D30", "短期": "D10"}


def _report(results) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    write_report(results, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


async def _archived_events(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    seen, _ = await read_topics(settings, [topics.ARCHIVED], timeout=60)
    counts: dict[str, int] = {}
    for s in seen:
        if s.key and s.key.startswith("import/"):
            counts[s.key] = counts.get(s.key, 0) + 1
    return counts


@pytest.fixture(scope="module")
async def imported(pipeline, tmp_path_factory):  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("legacy-batch")
    catalogue = generate_batch(folder, CASES, seed=7, defect_every=2)
    expected = {e["row"]: e for e in json.loads((folder / "expected.json").read_text(encoding="utf-8"))}
    bar = io.StringIO()
    options = ImportOptions(folder, catalogue, rate=20.0, wait_seconds=300, progress=bar)
    first = _report(await run_import(pipeline, options, load_dialects()))
    return folder, catalogue, expected, first, bar.getvalue()


async def test_every_row_is_archived_or_rejected_with_its_reason(imported):
    _, _, expected, report, _ = imported
    assert len(report) == CASES
    by_row = {int(r["row"]): r for r in report}
    assert set(by_row) == set(expected)
    defects = {e["defect"] for e in expected.values()} - {None}
    assert defects == {"unknown_term", "blurred", "low_dpi", "grey_unsealed", "no_folder"}
    for n, want in expected.items():
        line = by_row[n]
        assert line["legacy_archival_code"] == want["legacy_archival_code"]
        if want["defect"] is None:
            assert line["outcome"] == "archived", (line["codes"], line["reasons_en"])
            # the archive's own code, in its series for digitised paper, with the legacy term in today's period
            year = want["legacy_archival_code"].split("-")[1]
            assert re.fullmatch(rf"Z109-XK·{year}-{RETENTION[want['term']]}-LS-\d{{4}}", line["archival_code"]), line
            assert line["this_run"] == "sent"
        else:
            assert line["outcome"] == "rejected", line
            assert want["expected_code"] in line["codes"].split(" | "), line
            assert line["reasons_en"].strip() and line["reasons_zh"].strip()
            assert line["archival_code"] == ""


async def test_the_progress_bar_shows_the_count_the_rate_and_the_time_remaining(imported):
    *_, bar = imported
    final = bar.replace("\r", "\n").strip().splitlines()[-1]
    assert re.search(rf"\b{CASES}/{CASES}\b", final), final
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, +[\d.]+(case/s|s/case)\]", final), final


async def test_the_index_holds_the_legacy_retention_and_code(imported, pipeline):
    _, _, expected, report, _ = imported
    archived = {r["case_key"]: r for r in report if r["outcome"] == "archived"}
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        rows = await conn.fetch(
            "SELECT case_key, archival_code, retention, archived_event FROM records WHERE case_key = ANY($1)",
            list(archived),
        )
    finally:
        await conn.close()
    assert {r["case_key"]: r["archival_code"] for r in rows} == {k: v["archival_code"] for k, v in archived.items()}
    terms = {e["legacy_archival_code"]: e["term"] for e in expected.values()}
    for row in rows:
        raw = row["archived_event"]
        event = json.loads(raw) if isinstance(raw, str) else raw
        legacy = event["data"]["case"]["legacy"]
        assert legacy["archival_code"] == archived[row["case_key"]]["legacy_archival_code"]
        assert row["retention"] == RETENTION[terms[legacy["archival_code"]]] == legacy["retention"]


async def test_importing_again_archives_nothing_twice_and_retries_the_rest(imported, pipeline):
    folder, catalogue, expected, first, _ = imported
    before = await _archived_events(pipeline)
    options = ImportOptions(folder, catalogue, rate=20.0, wait_seconds=300, progress=io.StringIO())
    again = {int(r["row"]): r for r in _report(await run_import(pipeline, options, load_dialects()))}
    for line in first:
        second = again[int(line["row"])]
        assert second["outcome"] == line["outcome"], (line, second)
        if line["outcome"] == "archived":
            assert second["this_run"] == "skipped (already archived)"
            assert second["archival_code"] == line["archival_code"]
        else:
            assert second["codes"] == line["codes"]
    not_sent_again = {r["case_key"] for r in again.values() if r["this_run"] != "sent"}
    assert {r["case_key"] for r in first if r["outcome"] == "archived"} <= not_sent_again
    assert await _archived_events(pipeline) == before
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        counts = await conn.fetch(
            "SELECT case_key, count(*) AS n FROM records WHERE case_key = ANY($1) GROUP BY case_key",
            [r["case_key"] for r in first if r["case_key"]],
        )
    finally:
        await conn.close()
    assert counts and all(r["n"] == 1 for r in counts)
    assert len(counts) == sum(1 for e in expected.values() if e["defect"] is None)


async def test_the_command_imports_a_csv_catalogue_and_writes_its_report(pipeline, tmp_path):
    """`archivectl import` itself, as an operator runs it: its own process, a CSV catalogue, the bar on
    stderr, the report file, the exit status."""
    import os
    import subprocess
    import sys

    catalogue = generate_batch(tmp_path, 3, seed=11, defect_every=None, csv_format=True, first_number=901)
    env = {**os.environ, "AA_NAMESPACE": pipeline.namespace}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "import", str(tmp_path), "--catalogue", str(catalogue), "--rate", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"3/3 \[\d\d:\d\d<\d\d:\d\d", done.stderr), done.stderr[-2000:]
    assert "3 row(s): 3 archived" in done.stdout
    with (tmp_path / "import-report.csv").open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [line["outcome"] for line in lines] == ["archived"] * 3
    assert all(line["archival_code"].startswith("Z109-XK·") for line in lines)
