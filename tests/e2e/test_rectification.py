"""A way out for every rejection, end to end through the running services (issue 15).

For every code that can reject a case — every reject-severity check of the catalogue and every rejection
capture declares, read at collection time — a case rejected with exactly that code, then its correction as
the next revision: the correction is archived, the rejected revision's quarantine entry is closed by it (an
unattributed event — unknown platform, disabled platform, forged signature — opens none), and nothing of
the case number stays open. All defective cases go out at once, then all corrections, so the suite waits
twice, not once per code.

Also: a case rejected for a wrong check digit in the applicant's USCC and corrected in revision 2 is
archived under its case number; a chain (rejected, rejected again, corrected) leaves the first entry
superseded and the second closed; a correction of an archived case is archived beside it and supersedes it
in search; and the platform's status endpoint tells each revision's story."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from archivectl.feed import publish_events
from archivectl.outcomes import Outcomes, await_outcomes
from archivectl.platforms import registry_for, sample_platform_secrets, signed
from samples.corrections import (
    DISABLED_PLATFORM,
    UNKNOWN_PLATFORM_CANDIDATES,
    Context,
    Rectification,
    Send,
    rectifications,
    rejection_codes,
)
from samples.defects import corrected, defect_corpus
from samples.file_service import FileServer
from samples.generator import SampleCase, approval_completed_event
from services.common.adapters.object_store import MinioObjectStore
from services.query.adapters.api_keys import PgApiKeys

pytestmark = pytest.mark.e2e

TIMEOUT = 300


def _event(record: Any) -> dict[str, Any]:
    return approval_completed_event(SampleCase(record=record, defect=None, platform=record.source_platform))


async def _send(settings: Any, sends: list[Send], secrets: dict[str, str]) -> Outcomes:
    events = [signed(s.event, s.secret or secrets[s.event["source"].rsplit(":", 1)[-1]]) for s in sends]
    await publish_events(settings, events)
    outcomes = await await_outcomes(settings, {e["subject"] for e in events}, timeout=TIMEOUT)
    assert outcomes.complete, f"no outcome for {sorted(outcomes.pending)}: see .stack/logs/{settings.namespace}-*.log"
    return outcomes


class Run:
    """What the module's one pass through the pipeline left behind."""

    def __init__(self) -> None:
        self.recipes: dict[str, Rectification] = {}
        self.rejected: Outcomes | None = None
        self.corrected: Outcomes | None = None
        self.quarantine: dict[str, dict[str, Any]] = {}
        self.chain: list[Any] = []  # USCC chain: r1 rejected, r2 rejected again, r3 corrected
        self.uscc: tuple[Any, Any] = (None, None)  # (rejected r1, corrected r2)


def _chain() -> tuple[list[Any], tuple[Any, Any]]:
    corpus = {c.name: c for c in defect_corpus()}
    valid = corpus["valid-organisation"].record
    bad = corpus["bad-uscc"].record
    single = bad.model_copy(update={"case_number": bad.case_number + "-e2e"})
    chained = bad.model_copy(update={"case_number": bad.case_number + "-chain"})
    again = corrected(chained, corpus["missing-result"].record)  # the USCC fixed, the result document missing
    return [chained, again, corrected(again, valid)], (single, corrected(single, valid))


@pytest.fixture(scope="module")
async def run(pipeline) -> Run:  # type: ignore[no-untyped-def]
    result = Run()
    secrets = await sample_platform_secrets(pipeline)
    registry, pool = await registry_for(pipeline)
    registered = {p.platform_id for p, _ in await registry.list()}
    unknown = next((p for p in UNKNOWN_PLATFORM_CANDIDATES if p not in registered), None)
    if unknown is None:
        await pool.close()
        pytest.fail(f"every one of {UNKNOWN_PLATFORM_CANDIDATES} is registered already: run in a namespace of its own")
    try:
        with FileServer(slow_seconds=0) as server:
            context = Context(file_service=f"http://127.0.0.1:{server.httpd.server_port}", unknown_platform=unknown)
            recipes = await asyncio.to_thread(rectifications, context)
            result.recipes = {r.code: r for r in recipes}
            result.chain, result.uscc = await asyncio.to_thread(_chain)
            store = MinioObjectStore.from_settings(pipeline)
            await store.ensure_bucket(pipeline.staging_bucket)
            for r in recipes:
                for key, data in r.staged.items():
                    await store.put_bytes(pipeline.staging_bucket, key, data, content_type="application/pdf")
            setup = [s for r in recipes for s in r.setup] + [Send(_event(result.chain[0]))]
            await _send(pipeline, setup, secrets)
            await registry.set_enabled(DISABLED_PLATFORM, False)  # no other case of it is in flight now
            result.rejected = await _send(
                pipeline,
                [r.rejected for r in recipes] + [Send(_event(result.chain[1])), Send(_event(result.uscc[0]))],
                secrets,
            )
            # What the archive centre does for the unattributed ones: register the platform, enable it.
            secrets[unknown] = await registry.register(unknown, "新登记平台", "unified/v1")
            await registry.set_enabled(DISABLED_PLATFORM, True)
            result.corrected = await _send(
                pipeline,
                [r.correction for r in recipes] + [Send(_event(result.chain[2])), Send(_event(result.uscc[1]))],
                secrets,
            )
        rows = await pool.fetch("SELECT * FROM quarantine")
        result.quarantine = {r["case_key"]: dict(r) for r in rows}
    finally:
        await registry.set_enabled(DISABLED_PLATFORM, True)
        await pool.close()
    return result


def _codes(outcomes: Outcomes, key: str) -> list[str]:
    event = outcomes.rejected.get(key)
    if event is None:
        where = "archived" if key in outcomes.archived else "dead-lettered" if key in outcomes.dead_lettered else "?"
        return [f"<{where}>"]
    return sorted(f["code"] for f in event["data"]["failures"])


@pytest.mark.parametrize("code", rejection_codes())
async def test_a_case_rejected_with_this_code_is_archived_once_corrected(run, code):
    recipe = run.recipes[code]
    assert _codes(run.rejected, recipe.rejected_key) == [code]
    dead = run.corrected.dead_lettered.get(recipe.corrected_key, {}).get("data", {})
    assert recipe.corrected_key in run.corrected.archived, (
        f"correction not archived: {_codes(run.corrected, recipe.corrected_key)} {dead.get('reason', '')}"
    )
    entry = run.quarantine.get(recipe.rejected_key)
    correction_revision = run.corrected.archived[recipe.corrected_key]["data"]["case"]["revision"]
    if recipe.quarantined:
        assert entry is not None, "the rejection opened no quarantine entry"
        assert (entry["status"], entry["closed_by_revision"]) == ("closed", correction_revision)
    else:
        assert entry is None, "an unattributed event must not open a quarantine entry"
    still_open = [
        k
        for k, e in run.quarantine.items()
        if e["case_number"] == recipe.case_number
        and e["source_platform"] == recipe.rejected_key.split("/")[0]
        and e["status"] == "open"
    ]
    assert still_open == []


async def test_a_wrong_applicant_uscc_corrected_in_revision_2_is_archived_under_its_case_number(run, pipeline):
    bad, fixed = run.uscc
    assert _codes(run.rejected, bad.case_key) == ["AUTH-META-USCC"]
    archived = run.corrected.archived[fixed.case_key]["data"]
    assert (archived["case"]["case_number"], archived["case"]["revision"]) == (bad.case_number, 2)
    assert archived["case"]["applicant"]["id_number"] == fixed.applicant.id_number != bad.applicant.id_number
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        row = await conn.fetchrow(
            "SELECT revision, applicant_id_number, archival_code FROM records WHERE case_number=$1", bad.case_number
        )
    finally:
        await conn.close()
    assert (row["revision"], row["applicant_id_number"]) == (2, fixed.applicant.id_number)
    assert run.quarantine[bad.case_key]["status"] == "closed"


async def test_rejected_again_supersedes_the_earlier_entry_and_the_correction_closes_the_latest(run):
    first, second, third = run.chain
    assert _codes(run.rejected, second.case_key) == ["INTEG-MATERIALS"]
    assert third.case_key in run.corrected.archived
    entries = {
        k: (e["status"], e["closed_by_revision"])
        for k, e in run.quarantine.items()
        if e["case_number"] == first.case_number
    }
    assert entries == {first.case_key: ("superseded", 2), second.case_key: ("closed", 3)}


async def test_a_correction_of_an_archived_case_is_archived_beside_it_and_supersedes_it(run, pipeline):
    recipe = run.recipes["AUTH-CASE-NUMBER"]
    held_key = recipe.setup[0].event["subject"]
    archived = run.corrected.archived[recipe.corrected_key]["data"]
    assert archived["supersedes"]["case_key"] == held_key
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        rows = await conn.fetch(
            """SELECT revision, archival_code, package_key, superseded_by_revision FROM records
               WHERE case_number=$1 ORDER BY revision""",
            recipe.case_number,
        )
    finally:
        await conn.close()
    assert [(r["revision"], r["superseded_by_revision"]) for r in rows] == [(1, 3), (3, None)]
    assert rows[0]["archival_code"] != rows[1]["archival_code"]  # a new 件, a new code (docs/packages.md)
    assert rows[0]["package_key"] != rows[1]["package_key"]  # the first package untouched, beside it


@pytest.fixture(scope="module")
async def platform_keys(pipeline):  # type: ignore[no-untyped-def]
    _, pool = await registry_for(pipeline)
    try:
        keys = PgApiKeys(pool)
        return {
            "market": await keys.create(
                "状态测试",
                "platform",
                sharing_levels=["01", "02", "03"],
                platform_id="market-regulation",
                created_by="t",
            ),
            "transport": await keys.create(
                "状态测试", "platform", sharing_levels=["01", "02", "03"], platform_id="transport", created_by="t"
            ),
        }
    finally:
        await pool.close()


async def test_the_platform_sees_what_became_of_each_revision_and_another_platform_gets_404(
    run, query_service, platform_keys
):
    recipe = run.recipes["AUTH-CASE-NUMBER"]
    platform = recipe.rejected_key.split("/")[0]
    own = platform_keys["market" if platform == "market-regulation" else "transport"]
    other = platform_keys["transport" if platform == "market-regulation" else "market"]
    url = f"{query_service.url}/api/v1/platform/cases/{recipe.case_number}"
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        mine = await client.get(url, headers={"Authorization": f"Bearer {own}"})
        theirs = await client.get(url, headers={"Authorization": f"Bearer {other}"})
    assert theirs.status_code == 404
    assert mine.status_code == 200, mine.text
    body = mine.json()
    states = {r["revision"]: r["state"] for r in body["revisions"]}
    assert states == {1: "archived", 2: "rejected", 3: "archived"}
    first, second, third = body["revisions"]
    assert [s["state"] for s in first["steps"]] == ["received", "captured", "validated", "classified", "archived"]
    archived_step = first["steps"][-1]
    assert archived_step["archival_code"] == first["record"]["archival_code"]
    assert len(first["record"]["package_sha256"]) == 64
    rejected_step = next(s for s in second["steps"] if s["state"] == "rejected")
    assert [r["code"] for r in rejected_step["reasons"]] == ["AUTH-CASE-NUMBER"]
    assert rejected_step["reasons"][0]["reason_zh"] and rejected_step["reasons"][0]["reason_en"]
    assert (second["quarantine"]["status"], second["quarantine"]["closed_by_revision"]) == ("closed", 3)
    assert third["record"]["superseded_by_revision"] is None and first["record"]["superseded_by_revision"] == 3
    times = [s["at"] for s in first["steps"]]
    assert times == sorted(times)
