"""End to end through the running services: the defect corpus (every check fails on its variant, the valid
cases pass), EICAR, rectification (reject → corrected revision → archived, quarantine entry closed), and
clamd unavailable (cases wait; or, configured, go on as "not scanned" — never as clean)."""

from __future__ import annotations

import asyncio
import socket
import uuid

import asyncpg
import pytest

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.kafka_admin import ensure_topics
from archivectl.outcomes import await_outcomes
from archivectl.platforms import sample_platform_secrets, sign_all
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.defects import DefectCase, corrected, defect_corpus, reuse_corpus
from samples.generator import SampleCase, approval_completed_event, generate_cases
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

pytestmark = pytest.mark.e2e

BATCH = 18  # the corpus goes in two batches, to keep the load on two shared cores small


def _event(case: DefectCase, event_id: str | None = None) -> dict:  # type: ignore[type-arg]
    sample = SampleCase(record=case.record, defect=case.name, platform=case.record.source_platform)
    return approval_completed_event(sample, event_id=event_id)


async def _submit(settings: ArchiveSettings, events: list[dict], timeout: float = 300):  # type: ignore[no-untyped-def,type-arg]
    secrets = await sample_platform_secrets(settings)
    signed = sign_all(events, secrets)
    await publish_events(settings, signed)
    outcomes = await await_outcomes(settings, {e["subject"] for e in signed}, timeout=timeout)
    assert outcomes.complete, f"no outcome for {sorted(outcomes.pending)}: see .stack/logs/{settings.namespace}-*.log"
    return outcomes


async def _verdicts(settings: ArchiveSettings, events: list[dict], timeout: float = 300, rejections_only: bool = False):  # type: ignore[no-untyped-def,type-arg]
    """Validation's verdict on each case — archive.validated or archive.record.rejected — read off the topics
    (what happens after validation is the other services' business)."""
    secrets = await sample_platform_secrets(settings)
    signed = sign_all(events, secrets)
    await publish_events(settings, signed)
    keys = {e["subject"] for e in signed}
    found: dict[str, dict] = {}  # type: ignore[type-arg]

    def done(seen) -> bool:  # type: ignore[no-untyped-def]
        for s in seen:
            if s.key in keys and s.key not in found and (s.topic == topics.REJECTED or not rejections_only):
                found[s.key] = {"topic": s.topic, "event": s.event}
        return keys <= found.keys()

    _, complete = await read_topics(
        settings, [topics.VALIDATED, topics.REJECTED, topics.DEAD_LETTER], done=done, timeout=timeout
    )
    assert complete, f"no verdict for {sorted(keys - found.keys())}: see .stack/logs/{settings.namespace}-*.log"
    return found


@pytest.fixture(scope="module")
async def corpus_outcomes(pipeline):  # type: ignore[no-untyped-def]
    corpus = await asyncio.to_thread(defect_corpus)
    verdicts: dict[str, dict] = {}  # type: ignore[type-arg]
    for start in range(0, len(corpus), BATCH):
        verdicts.update(await _verdicts(pipeline, [_event(c) for c in corpus[start : start + BATCH]]))
    return corpus, verdicts


def _verdict(case: DefectCase, verdicts) -> tuple[str, set[str]]:  # type: ignore[no-untyped-def]
    found = verdicts.get(case.record.case_key)
    if found is None:
        return "none", set()
    data = found["event"]["data"]
    if found["topic"] == topics.REJECTED:
        return "rejected", {f["code"] for f in data["failures"]}
    if found["topic"] == topics.VALIDATED:
        return "validated", {c["code"] for c in data["checks"] if c["outcome"] == "warn"}
    return "dead-lettered", {data["error_type"]}


async def test_each_defect_is_rejected_with_exactly_its_check_codes_and_the_valid_cases_are_archived(
    corpus_outcomes,
):
    corpus, outcomes = corpus_outcomes
    wrong = {}
    for case in corpus:
        if case.needs_declared_sm3:
            continue  # judged in the next test
        verdict, codes = _verdict(case, outcomes)
        expected = ("rejected", set(case.expected)) if case.expected else ("validated", set(case.warns))
        if (verdict, codes) != expected:
            wrong[case.name] = {"expected": expected, "got": (verdict, sorted(codes))}
    assert wrong == {}


async def test_a_wrong_declared_sm3_is_rejected(corpus_outcomes):
    corpus, outcomes = corpus_outcomes
    case = next(c for c in corpus if c.needs_declared_sm3)
    assert _verdict(case, outcomes) == ("rejected", {"AUTH-DIGEST-SM3"})


async def test_eicar_inside_an_attachment_is_rejected_as_virus_found(corpus_outcomes):
    corpus, outcomes = corpus_outcomes
    case = next(c for c in corpus if c.name == "virus-eicar")
    [failure] = outcomes[case.record.case_key]["event"]["data"]["failures"]
    assert failure["code"] == "SEC-VIRUS"
    assert "Eicar-Test-Signature" in failure["details"]["signature"]
    assert failure["reason_en"].startswith("virus found")


async def test_a_case_number_held_by_another_case_or_a_changed_resend_is_rejected(corpus_outcomes, pipeline):
    reuse = await asyncio.to_thread(reuse_corpus)
    events = [_event(c, event_id=str(uuid.uuid4())) for c in reuse]
    # One of them reuses a validated case's key: wait for the rejection, not that earlier verdict.
    outcomes = await _verdicts(pipeline, events, rejections_only=True)
    for case in reuse:
        failures = outcomes[case.record.case_key]["event"]["data"]["failures"]
        assert {f["code"] for f in failures} == case.expected, case.name


async def test_a_rejected_case_resubmitted_corrected_is_archived_and_its_quarantine_entry_closed(
    corpus_outcomes, pipeline
):
    corpus, outcomes = corpus_outcomes
    bad = next(c for c in corpus if c.name == "missing-result")
    valid = next(c for c in corpus if c.name == "valid-organisation")
    assert outcomes[bad.record.case_key]["topic"] == topics.REJECTED
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        row = await conn.fetchrow("SELECT status, failures FROM quarantine WHERE case_key=$1", bad.record.case_key)
        assert row["status"] == "open" and "INTEG-MATERIALS" in row["failures"]
        fixed = DefectCase("corrected", corrected(bad.record, valid.record), frozenset(), "revision 2")
        verdict = await _verdicts(pipeline, [_event(fixed)])
        assert verdict[fixed.record.case_key]["topic"] == topics.VALIDATED, verdict
        rows = await conn.fetch(
            "SELECT revision, status, closed_by_revision FROM quarantine WHERE case_number=$1 ORDER BY revision",
            bad.record.case_number,
        )
        assert [(r["revision"], r["status"], r["closed_by_revision"]) for r in rows] == [(1, "closed", 2)]
        result = await await_outcomes(pipeline, {fixed.record.case_key}, timeout=180)
        dead = result.dead_lettered.get(fixed.record.case_key, {}).get("data", {})
        assert fixed.record.case_key in result.archived, f"not archived: {dead.get('service')}: {dead.get('reason')}"
        archived = await conn.fetchval(
            "SELECT count(*) FROM records WHERE case_number=$1 AND revision=2", bad.record.case_number
        )
        assert archived == 1
    finally:
        await conn.close()


# --- clamd unavailable: a namespace of its own, whose validation worker is pointed at a dead port ------


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def no_clamd(settings):  # type: ignore[no-untyped-def]
    ns = ArchiveSettings(namespace=f"{settings.namespace}-noav", retry_initial_seconds=0.2, retry_max_seconds=2.0)
    await ensure_topics(ns)
    await upgrade(ns)
    env = {"AA_RETRY_INITIAL_SECONDS": "0.2", "AA_RETRY_MAX_SECONDS": "2", "AA_CLAMD_PORT": str(_dead_port())}
    local_services.start(ns.namespace, metrics_offset=1100, extra_env=env)
    try:
        yield ns, env
    finally:
        local_services.stop(ns.namespace)


def _sample(index: int) -> DefectCase:
    case = generate_cases(index + 1, seed=777, wrong_digest_every=None)[index]
    return DefectCase(f"sample-{index}", case.record, frozenset(), "")


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _clamd_comes_back(port: int) -> asyncio.Server:
    """Start listening on `port` and relay to the real clamd: for the waiting worker, clamd is back."""

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", 13310)
        await asyncio.gather(_forward(client_r, server_w), _forward(server_r, client_w))

    return await asyncio.start_server(relay, "127.0.0.1", port)


async def test_with_clamd_unreachable_cases_wait_and_are_scanned_once_it_is_back(no_clamd):
    ns, env = no_clamd
    case = _sample(0)
    secrets = await sample_platform_secrets(ns)
    [event] = sign_all([_event(case)], secrets)
    await publish_events(ns, [event])
    key = event["subject"]
    verdict_topics = [topics.VALIDATED, topics.REJECTED, topics.DEAD_LETTER]
    early, complete = await read_topics(
        ns, verdict_topics, done=lambda seen: any(s.key == key for s in seen), timeout=25
    )
    assert not complete, f"with clamd unreachable the case must wait, not get a verdict: {early}"

    server = await _clamd_comes_back(int(env["AA_CLAMD_PORT"]))  # the same worker, still retrying
    try:
        seen, complete = await read_topics(
            ns, verdict_topics, done=lambda seen: any(s.key == key for s in seen), timeout=180
        )
    finally:
        server.close()
    assert complete
    [verdict] = [s for s in seen if s.key == key]
    assert verdict.topic == topics.VALIDATED
    virus = [c for c in verdict.event["data"]["checks"] if c["code"] == "SEC-VIRUS"]
    assert virus and {c["outcome"] for c in virus} == {"pass"}


async def _clamd_answering_error(port: int, relay_after: asyncio.Event) -> asyncio.Server:
    """On `port`, a clamd that answers every scan with its real over-the-limit ERROR line (what
    tests/integration/test_validation_adapters.py gets from the running clamd) until `relay_after` is set,
    then relays to the real clamd."""

    async def answer(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if relay_after.is_set():
            server_r, server_w = await asyncio.open_connection("127.0.0.1", 13310)
            await asyncio.gather(_forward(client_r, server_w), _forward(server_r, client_w))
            return
        await client_r.read(65536)
        client_w.write(b"INSTREAM size limit exceeded. ERROR\0")
        await client_w.drain()
        client_w.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


async def test_a_clamd_error_reply_holds_the_case_until_the_file_is_really_scanned(no_clamd):
    ns, env = no_clamd
    port, scanned = _dead_port(), asyncio.Event()
    server = await _clamd_answering_error(port, scanned)
    local_services.stop(ns.namespace, services=("validation",))
    local_services.start(
        ns.namespace, metrics_offset=1100, extra_env={**env, "AA_CLAMD_PORT": str(port)}, services=("validation",)
    )
    try:
        case = _sample(2)
        secrets = await sample_platform_secrets(ns)
        [event] = sign_all([_event(case)], secrets)
        await publish_events(ns, [event])
        key = event["subject"]
        verdict_topics = [topics.VALIDATED, topics.REJECTED, topics.DEAD_LETTER]
        early, complete = await read_topics(
            ns, verdict_topics, done=lambda seen: any(s.key == key for s in seen), timeout=25
        )
        assert not complete, f"a file clamd answered ERROR for must not go on unscanned: {early}"
        scanned.set()  # clamd scans again: the same worker, still retrying, gets its answer
        seen, complete = await read_topics(
            ns, verdict_topics, done=lambda seen: any(s.key == key for s in seen), timeout=180
        )
    finally:
        server.close()
    assert complete
    [verdict] = [s for s in seen if s.key == key]
    assert verdict.topic == topics.VALIDATED
    virus = [c for c in verdict.event["data"]["checks"] if c["code"] == "SEC-VIRUS"]
    assert virus and {c["outcome"] for c in virus} == {"pass"}


async def test_with_clamd_unreachable_and_mark_mode_cases_go_on_marked_not_scanned(no_clamd):
    ns, env = no_clamd
    local_services.stop(ns.namespace, services=("validation",))
    local_services.start(
        ns.namespace,
        metrics_offset=1100,
        extra_env={**env, "AA_CLAMD_PORT": str(_dead_port()), "AA_CLAMD_UNAVAILABLE": "mark-not-scanned"},
        services=("validation",),
    )
    case = _sample(1)
    secrets = await sample_platform_secrets(ns)
    [event] = sign_all([_event(case)], secrets)
    await publish_events(ns, [event])
    validated, complete = await read_topics(
        ns, [topics.VALIDATED], done=lambda seen: any(s.key == event["subject"] for s in seen), timeout=180
    )
    assert complete
    checks = next(s.event for s in validated if s.key == event["subject"])["data"]["checks"]
    virus = [c for c in checks if c["code"] == "SEC-VIRUS"]
    assert virus and {c["outcome"] for c in virus} == {"not_run"}
    assert all(c["details"]["scan"] == "not_scanned" for c in virus)
