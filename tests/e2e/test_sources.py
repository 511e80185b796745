"""Ingest from every platform, end to end: four dialects of one case, files fetched by URL from a
platform file service with its failure modes, and authentication of events."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import os
import subprocess
import sys
import uuid

import pytest

from archivectl.feed import publish_events
from archivectl.outcomes import await_outcomes
from archivectl.platforms import ensure_platforms, sample_platform_secrets, signed
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.dialects import render
from samples.file_service import FileServer
from samples.generator import approval_completed_event, generate_cases

pytestmark = pytest.mark.e2e

FORM, SCJG, ZJJ = "online-forms", "scjg-registration", "zjj-permits"


@pytest.fixture(scope="module")
async def platforms(pipeline):  # type: ignore[no-untyped-def]
    secrets = await sample_platform_secrets(pipeline)
    secrets |= await ensure_platforms(
        pipeline,
        {
            FORM: ("通用表单平台", "generic-form/1"),
            SCJG: ("市场监管登记平台", "scjg-registration/2024"),
            ZJJ: ("住建施工许可平台", "zjj-permit/2023"),
        },
    )
    return secrets


@pytest.fixture(scope="module")
def file_server():  # type: ignore[no-untyped-def]
    with FileServer(slow_seconds=2.0) as server:
        yield server


def _fresh(case, tag: str):  # type: ignore[no-untyped-def]
    """The case under a case number of its own: other tests of the session feed the same generator's
    case numbers, and an archived case key is never archived again."""
    record = case.record.model_copy(update={"case_number": f"{case.record.case_number}-{tag}"})
    return dataclasses.replace(case, record=record)


def _unified(case, secret: str) -> dict:  # type: ignore[no-untyped-def]
    event = approval_completed_event(case)
    event["id"] = str(uuid.uuid4())  # sample ids derive from the case number alone; these cases are new
    return signed(event, secret)


def _event(case, platform: str, data: dict, secret: str) -> dict:  # type: ignore[no-untyped-def]
    event = approval_completed_event(case)
    event.update(
        source=f"urn:approval-platform:{platform}",
        data=data,
        id=str(uuid.uuid4()),
        subject=f"{platform}/{case.record.case_number}/r1",
    )
    return signed(event, secret)


def _serve_materials(server: FileServer, case, kind: str = "files"):  # type: ignore[no-untyped-def]
    urls = {}
    for m in case.record.materials:
        name = f"{case.record.case_number}/{m.file_name}"
        server.files[name] = base64.b64decode(m.content_base64)
        urls[m.file_name] = server.url(kind, name)
    return lambda material: urls[material.file_name]


async def test_the_same_case_in_four_dialects_is_archived_with_the_same_unified_metadata(
    pipeline, platforms, file_server
):
    case = _fresh(generate_cases(1, seed=8080, wrong_digest_every=None)[0], "dialects")
    sent = {
        case.platform: _unified(case, platforms[case.platform]),
        SCJG: _event(case, SCJG, render(case.record, "scjg-registration/2024"), platforms[SCJG]),
        ZJJ: _event(case, ZJJ, render(case.record, "zjj-permit/2023"), platforms[ZJJ]),
        FORM: _event(
            case, FORM, render(case.record, "generic-form/1", _serve_materials(file_server, case)), platforms[FORM]
        ),
    }
    await publish_events(pipeline, list(sent.values()))
    outcomes = await await_outcomes(pipeline, {e["subject"] for e in sent.values()}, timeout=180)
    assert outcomes.complete and not outcomes.rejected and not outcomes.dead_lettered, outcomes.rejected
    archived = {e["data"]["case"]["source_platform"]: e["data"] for e in outcomes.archived.values()}
    assert set(archived) == set(sent)
    reference = archived[case.platform]["case"]
    for platform, data in archived.items():
        for field, value in reference.items():
            if field == "source_platform":
                continue
            assert data["case"][field] == value, f"{platform}: {field} differs"
        assert data["package"]["file_count"] == len(case.record.materials)
        assert data["package"]["total_bytes"] == archived[case.platform]["package"]["total_bytes"]


async def test_files_by_url_normal_slow_flaky_are_captured_oversized_and_missing_rejected(
    pipeline, platforms, file_server
):
    cases = [_fresh(c, "files") for c in generate_cases(5, seed=9090, wrong_digest_every=None)]
    normal, slow, flaky, big, missing = cases
    events = {}
    for case, kind in ((normal, "files"), (slow, "slow"), (flaky, "flaky"), (missing, "missing")):
        data = render(case.record, "generic-form/1", _serve_materials(file_server, case, kind))
        events[kind] = _event(case, FORM, data, platforms[FORM])
    big_data = render(big.record, "generic-form/1", _serve_materials(file_server, big))
    big_data["attachments"][0]["url"] = file_server.url("stream", f"{6 * 1024 * 1024}/large-scan.pdf")
    events["big"] = _event(big, FORM, big_data, platforms[FORM])
    await publish_events(pipeline, list(events.values()))
    outcomes = await await_outcomes(pipeline, {e["subject"] for e in events.values()}, timeout=240)
    assert outcomes.complete, sorted(outcomes.pending)
    assert {events[k]["subject"] for k in ("files", "slow", "flaky")} == set(outcomes.archived)
    assert {events[k]["subject"] for k in ("big", "missing")} == set(outcomes.rejected)
    big_failures = outcomes.rejected[events["big"]["subject"]]["data"]["failures"]
    missing_failures = outcomes.rejected[events["missing"]["subject"]]["data"]["failures"]
    assert [f["code"] for f in big_failures] == ["CAP-FETCH-TOO-LARGE"]
    assert {f["code"] for f in missing_failures} == {"CAP-FETCH-UNREACHABLE"}
    assert all("HTTP 404" in f["reason_en"] for f in missing_failures)
    flaky_hits = [n for path, n in file_server.hits.items() if path.startswith("/flaky/")]
    assert flaky_hits and all(n == 3 for n in flaky_hits), "each flaky file: two 500s, then served"


async def test_bad_signature_unknown_platform_and_reused_event_ids(pipeline, platforms):
    cases = [_fresh(c, "auth") for c in generate_cases(4, seed=7070, wrong_digest_every=None)]
    good = _unified(cases[0], platforms[cases[0].platform])
    forged = _unified(cases[1], "a-guessed-secret")
    stranger = approval_completed_event(cases[2])
    stranger.update(
        source="urn:approval-platform:unregistered", subject=f"unregistered/{cases[2].record.case_number}/r1"
    )
    stranger = signed(stranger, "whatever")
    reused = approval_completed_event(cases[3])
    reused["id"] = good["id"]  # the id of another event, with other content
    reused = signed(reused, platforms[cases[3].platform])
    await publish_events(pipeline, [good, forged, stranger])
    first = await await_outcomes(pipeline, {e["subject"] for e in (good, forged, stranger)}, timeout=180)
    assert first.complete
    # Only once `good` is in does its id count as taken: then the reuse, and a plain replay of `good`.
    await publish_events(pipeline, [reused, copy.deepcopy(good)])
    keys = {e["subject"] for e in (good, forged, stranger, reused)}
    outcomes = await await_outcomes(pipeline, keys, timeout=180)
    assert outcomes.complete
    assert set(outcomes.archived) == {good["subject"]}
    codes = {key: [f["code"] for f in e["data"]["failures"]] for key, e in outcomes.rejected.items()}
    assert codes == {
        forged["subject"]: ["AUTH-SIGNATURE"],
        stranger["subject"]: ["AUTH-PLATFORM-UNKNOWN"],
        reused["subject"]: ["AUTH-EVENT-ID-REUSED"],
    }
    assert codes and all(platforms[cases[0].platform] not in str(e) for e in outcomes.rejected.values())

    # the plain replay went through again and changed nothing: the same archived event, twice
    def replayed(seen):  # type: ignore[no-untyped-def]
        return sum(1 for s in seen if s.key == good["subject"]) >= 2

    seen, complete = await read_topics(pipeline, [topics.ARCHIVED], done=replayed, timeout=120)
    assert complete
    assert len({s.event["id"] for s in seen if s.key == good["subject"]}) == 1


async def test_a_case_rejected_for_its_mapping_is_archived_by_replay_once_the_mapping_is_fixed(pipeline, platforms):
    case = _fresh(generate_cases(1, seed=5050, wrong_digest_every=None)[0], "replay")
    # the platform is registered with the wrong dialect: its events do not map
    await ensure_platforms(pipeline, {SCJG: ("市场监管登记平台", "zjj-permit/2023")})
    event = _event(case, SCJG, render(case.record, "scjg-registration/2024"), platforms[SCJG])
    await publish_events(pipeline, [event])
    first = await await_outcomes(pipeline, {event["subject"]}, timeout=120)
    assert [f["code"] for f in first.rejected[event["subject"]]["data"]["failures"]] == ["CAP-MAPPING"]

    await ensure_platforms(pipeline, {SCJG: ("市场监管登记平台", "scjg-registration/2024")})  # the fix
    replay = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "capture", "replay", "--platform", SCJG, "--event-id", event["id"]],
        env={**os.environ, "AA_NAMESPACE": pipeline.namespace},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 kept source event(s) published" in replay.stdout

    def archived(seen):  # type: ignore[no-untyped-def]
        return any(s.key == event["subject"] for s in seen)

    _, complete = await read_topics(pipeline, [topics.ARCHIVED], done=archived, timeout=120)
    assert complete, "the replayed case was not archived"
