"""One chaos run: a stack of its own, the five services as OS processes, N sample cases fed in waves, a
seeded series of faults injected while they flow, then the auditor's checks and the results table."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archivectl import local_services
from archivectl.kafka_admin import ensure_topics
from archivectl.outcomes import OUTCOME_TOPICS
from archivectl.platforms import sample_platform_secrets, signed
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_case
from services.common.index.migrate import upgrade
from services.common.producer import producer_for

from .audit import Verdict, audit
from .faults import Fault
from .proxy import Toxiproxy
from .stack import SERVERS, ChaosStack

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
HEADING = "## Fault-injection results"
MARK_BEGIN, MARK_END = "<!-- chaos:results:begin -->", "<!-- chaos:results:end -->"
# Services read these besides the stack's addresses: quick retries, so recovery is measured, not backoff.
SERVICE_ENV = {"AA_RETRY_INITIAL_SECONDS": "0.2", "AA_RETRY_MAX_SECONDS": "2", "AA_LOG_LEVEL": "INFO"}
# Deliberately invalid inputs fed among the cases: each must end as exactly one dead letter. The large one
# is bigger, as base64 in a letter, than the topic accepts (issue 17: such a letter must still be kept).
INVALID_INPUTS = {
    "chaos-invalid/not-json": (b"\xff\xfe this is not JSON {", "bytes that are not JSON"),
    "chaos-invalid/not-an-event": (json.dumps({"hello": "not a CloudEvent"}).encode(), "JSON, not a CloudEvent"),
    "chaos-invalid/large": (b"<" + b"x" * (6 * 1024 * 1024) + b">", "6 MiB that are not JSON"),
}
IN_FLIGHT = re.compile(r'^archive_step_in_flight\{service="[a-z]+"\} ([0-9.e+]+)$', re.M)
PRODUCED = re.compile(r"^archive_messages_produced_total\{[^}]*\} ([0-9.e+]+)$", re.M)


# The broker is killed on purpose: aiokafka's reconnect warnings would drown the harness's own lines.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def say(text: str) -> None:
    print(f"chaos {datetime.now(UTC):%H:%M:%S}: {text}", file=sys.stderr, flush=True)


@dataclass
class Options:
    cases: int
    seed: int
    faults: list[Fault]
    stack: ChaosStack
    keep: bool = False  # leave the stack and services running at the end
    record: bool = True  # write the table into docs/reliability.md
    stall_timeout: float = 240.0  # the end: stop waiting when no outcome came for this long
    recovery_timeout: float = 120.0  # per fault: stop waiting for the pipeline to move after this long
    command: str = "make chaos"


@dataclass
class Flow:
    """What the harness sees go in and come out, as it happens."""

    published: set[str] = field(default_factory=set)
    outcome_at: dict[str, float] = field(default_factory=dict)  # case key -> first outcome's arrival
    last_outcome: float = 0.0
    query_ok: int = 0
    query_failed: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    dead_lettered: set[str] = field(default_factory=set)  # keys seen on the dead-letter topic

    @property
    def pending(self) -> int:
        return len(self.published - self.outcome_at.keys() - self.dead_lettered)

    def outcome_after(self, moment: float) -> bool:
        return self.last_outcome > moment


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return ""


class Harness:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stack = opts.stack
        self.namespace = f"chaos-{opts.seed}-{int(time.time()) % 100000}"
        self.settings = self.stack.settings(self.namespace)
        self.toxi = Toxiproxy(self.stack.toxiproxy_port)
        self.flow = Flow()
        self.offset = local_services.free_metrics_offset()
        self.env = {**self.stack.service_env(), **SERVICE_ENV}
        self.procs: dict[str, local_services.ServiceProcess] = {}
        self.operator_key = ""
        self.secrets: dict[str, str] = {}
        self.started = time.monotonic()
        self.held: set[str] = set()  # workers a fault has killed and will start itself
        self.self_exits: list[str] = []  # workers that exited by themselves, restarted by the supervisor

    # --- set-up -------------------------------------------------------------------------------------------

    async def set_up(self) -> list[int | str]:
        say(f"seed {self.opts.seed} (repeat with --seed {self.opts.seed}); namespace {self.namespace}")
        say(
            f"stack of its own in {self.stack.stack_dir} — servers {self.stack.server_ports()}, "
            f"proxies {self.stack.proxy_ports()}, toxiproxy API {self.stack.toxiproxy_port}"
        )
        await self.stack.stack_sh("up", "toxiproxy")
        for server in SERVERS:
            await self.toxi.ensure_proxy(server, self.stack.proxy_ports()[server], self.stack.server_ports()[server])
        await self.toxi.reset()
        say("starting Kafka, MinIO, PostgreSQL, clamd of the chaos stack (stack.sh up)…")
        await self.stack.stack_sh("up")
        await ensure_topics(self.settings)
        await upgrade(self.settings)
        self.operator_key = await self._operator_key()
        self.secrets = await sample_platform_secrets(self.settings)
        # What is fed, in order: case numbers of the sample mix (built wave by wave, just before they are
        # sent: 2,000 cases take minutes to build) and the invalid inputs at seeded places.
        slots: list[int | str] = list(range(self.opts.cases))
        rng = random.Random(self.opts.seed)
        for key in INVALID_INPUTS:
            slots.insert(rng.randrange(len(slots) // 10, len(slots)), key)
        for proc in local_services.start(
            self.namespace, self.offset, self.stack.stack_dir, self.env, services=local_services.SERVICES
        ):
            self.procs[proc.name] = proc
        local_services.wait_http(f"{self.procs['query'].url}/healthz", timeout=90, proc=self.procs["query"])
        say("services started: " + ", ".join(f"{n} pid {p.pid()}" for n, p in self.procs.items()))
        return slots

    def build_wave(self, slots: list[int | str]) -> list[tuple[str, bytes, bool]]:
        """(key, payload, is a case) for each slot: a signed sample case, or an invalid input."""
        items = []
        for slot in slots:
            if isinstance(slot, str):
                items.append((slot, INVALID_INPUTS[slot][0], False))
                continue
            case = generate_case(slot, seed=20261201 + self.opts.seed)
            event = signed(approval_completed_event(case), self.secrets[case.platform])
            items.append((event["subject"], json.dumps(event, ensure_ascii=False).encode(), True))
        return items

    async def _operator_key(self) -> str:
        import asyncpg

        from services.query.access import POLICY, Role
        from services.query.adapters.api_keys import PgApiKeys

        pool = await asyncpg.create_pool(self.settings.pg_dsn(), min_size=1, max_size=2)
        try:
            return await PgApiKeys(pool).create(
                "chaos harness",
                Role.OPERATOR,
                sharing_levels=sorted(POLICY[Role.OPERATOR].grantable_sharing),
                created_by="bench.chaos",
            )
        finally:
            await pool.close()

    # --- the flow -----------------------------------------------------------------------------------------

    async def publish(self, wave: list[tuple[str, bytes, bool]]) -> None:
        """Publish a wave, retrying through broker faults (a retry may publish twice: a redelivery the
        pipeline must absorb)."""
        producer = None
        try:
            for key, payload, is_case in wave:
                while True:
                    try:
                        if producer is None:
                            producer = producer_for(self.settings)
                            await asyncio.wait_for(producer.start(), 30)
                        sent = await asyncio.wait_for(
                            producer.send(self.settings.topic(topics.APPROVAL_COMPLETED), payload, key=key.encode()), 60
                        )
                        await asyncio.wait_for(sent, 60)
                        break
                    except Exception as exc:
                        say(f"publish of {key} failed ({type(exc).__name__}: {exc}); retrying")
                        if producer is not None:
                            await _quietly(producer.stop())
                        producer = None
                        await asyncio.sleep(1.0)
                if is_case:
                    self.flow.published.add(key)
        finally:
            if producer is not None:
                await _quietly(producer.stop())

    async def watch(self) -> None:
        """Outcomes as they arrive (archived, rejected, dead-lettered), read again from the start if the
        reader fails: only the first arrival per case counts."""

        def on_event(seen: Any) -> None:
            # Moving = a case not seen before came out (a re-read after a reader failure is not movement).
            if seen.topic in (topics.ARCHIVED, topics.REJECTED) and seen.key and seen.key not in self.flow.outcome_at:
                self.flow.outcome_at[seen.key] = seen.arrived_at
                self.flow.last_outcome = time.monotonic()
            elif seen.topic == topics.DEAD_LETTER and seen.key:
                self.flow.dead_lettered.add(seen.key)  # no outcome will come: not waited for (the audit fails)

        while not self.flow.done.is_set():
            try:
                await read_topics(
                    self.settings,
                    OUTCOME_TOPICS,
                    done=lambda _: self.flow.done.is_set(),
                    timeout=10**6,
                    on_event=on_event,
                )
            except Exception as exc:
                say(f"outcome reader failed ({type(exc).__name__}); reading again")
                await asyncio.sleep(2)

    async def query_traffic(self) -> None:
        """A reader of the archive using the API during the run, so the audit log grows under the faults."""
        headers = {"Authorization": f"Bearer {self.operator_key}"}
        paths = ("/api/v1/records?limit=5", "/api/v1/quarantine?limit=5", "/api/v1/stats")
        n = 0
        while not self.flow.done.is_set():
            request = urllib.request.Request(f"{self.procs['query'].url}{paths[n % len(paths)]}", headers=headers)
            n += 1
            try:
                await asyncio.to_thread(_fetch, request)
                self.flow.query_ok += 1
            except OSError:
                self.flow.query_failed += 1
            await asyncio.sleep(2)

    async def progress(self) -> None:
        while not self.flow.done.is_set():
            await asyncio.sleep(15)
            say(
                f"progress: {len(self.flow.published)} published, {len(self.flow.outcome_at)} out, "
                f"{self.flow.pending} in the pipeline; "
                f"query API {self.flow.query_ok} ok / {self.flow.query_failed} failed"
            )

    async def supervise(self) -> None:
        """What an orchestrator does: a worker that exited by itself — status 75, it had to stop with its
        input unacknowledged (the stall watchdog, the dead-letter guard, a letter it could not write) — is
        started again. Every such exit is listed in the report."""
        while not self.flow.done.is_set():
            await asyncio.sleep(2)
            for name, proc in self.procs.items():
                if name in self.held or proc.pid() is not None:
                    continue
                status = local_services.exit_status(self.namespace, name, self.stack.stack_dir)
                self.self_exits.append(f"{name} (status {status})")
                say(f"{name} exited by itself with status {status}; starting it again, as an orchestrator would")
                local_services.start(self.namespace, self.offset, self.stack.stack_dir, self.env, services=(name,))

    # --- faults -------------------------------------------------------------------------------------------

    async def inject(self, fault: Fault) -> None:
        fault.started = time.monotonic()
        if fault.kind.startswith("worker-kill"):
            await self._kill_worker(fault)
        elif fault.kind == "server-kill":
            pid = self.stack.kill(fault.target)
            await self.stack.wait_gone(pid)
            fault.note = f"pid {pid}"
            await asyncio.sleep(fault.hold)
            t = time.monotonic()
            attempts = await self.stack.start(fault.target)
            fault.note += f", restarted in {time.monotonic() - t:.1f}s"
            fault.note += f" ({attempts} attempts)" if attempts > 1 else ""
        elif fault.kind in ("latency", "stall", "reset"):
            name = await self.toxi.add_toxic(fault.target, fault.kind)
            await asyncio.sleep(fault.hold)
            await self.toxi.remove_toxic(fault.target, name)
        elif fault.kind == "disk-full":
            await self._minio_disk_full(fault)
        elif fault.kind == "read-only":
            await self._remount("ro", fault)
            await asyncio.sleep(fault.hold)
            await self._remount("rw", fault)
        fault.healed = time.monotonic()
        await self._await_recovery(fault)

    async def _kill_worker(self, fault: Fault) -> None:
        self.held.add(fault.target)
        try:
            await self._kill_and_restart(fault)
        finally:
            self.held.discard(fault.target)

    async def _kill_and_restart(self, fault: Fault) -> None:
        proc = self.procs[fault.target]
        if fault.kind == "worker-kill-in-flight":
            deadline = time.monotonic() + 30
            caught = False
            while time.monotonic() < deadline:
                text = await asyncio.to_thread(_metrics, proc.metrics_port)
                if any(float(v) > 0 for v in IN_FLIGHT.findall(text)):
                    caught = True
                    break
                await asyncio.sleep(0.05)
            fault.note = "step in flight (archive_step_in_flight > 0)" if caught else "no step in flight within 30 s"
            if not caught:
                fault.kind = "worker-kill"
        pid = proc.pid()
        if pid is None:
            fault.note += "; was not running"
        else:
            os.kill(pid, 9)
            fault.note = (fault.note + f"; pid {pid}").lstrip("; ")
        await asyncio.sleep(fault.hold)
        local_services.start(self.namespace, self.offset, self.stack.stack_dir, self.env, services=(fault.target,))

    async def _minio_disk_full(self, fault: Fault) -> None:
        ballast = self.stack.minio_data / ".chaos-ballast"
        stat = os.statvfs(self.stack.minio_data)
        free = stat.f_bavail * stat.f_frsize
        # Most of the free space at once, the rest written until the kernel says ENOSPC.
        await asyncio.to_thread(_fill, ballast, max(free - 2**20, 0))
        after = os.statvfs(self.stack.minio_data)
        fault.note = (
            fault.note + f"; {after.f_bavail * after.f_frsize // 1024} KiB left of {free // 2**20} MiB free"
        ).lstrip("; ")
        await asyncio.sleep(fault.hold)
        ballast.unlink()

    async def _remount(self, mode: str, fault: Fault) -> None:
        """The kernel refuses a read-only remount while a file is open for writing (EBUSY): try again."""
        for attempt in range(50):
            try:
                await _run("mount", "-o", f"remount,{mode}", str(self.stack.minio_data))
                if attempt:
                    fault.note = (fault.note + f"; remount {mode} took {attempt + 1} attempts").lstrip("; ")
                return
            except RuntimeError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"remount,{mode} of {self.stack.minio_data} kept failing (busy)")

    async def _await_recovery(self, fault: Fault) -> None:
        """Moving again: for a worker, its new process delivered an output; otherwise an outcome arrived
        after the heal. Not waited for when nothing is left in the pipeline (then there is nothing to move)."""
        deadline = fault.healed + self.opts.recovery_timeout
        proc = self.procs.get(fault.target) if fault.kind.startswith("worker-kill") else None
        while time.monotonic() < deadline:
            if proc is not None and proc.name == "query":
                if await asyncio.to_thread(_answers, f"{proc.url}/healthz"):
                    break
            elif proc is not None:
                if sum(float(v) for v in PRODUCED.findall(await asyncio.to_thread(_metrics, proc.metrics_port))) > 0:
                    break
            elif self.flow.outcome_after(fault.healed):
                break
            if self.flow.pending == 0:
                fault.note = (fault.note + "; pipeline idle at heal, recovery not measured").lstrip("; ")
                return
            await asyncio.sleep(0.2)
        else:
            fault.note = (fault.note + f"; not moving {self.opts.recovery_timeout:.0f}s after the heal").lstrip("; ")
            return
        fault.recovered = time.monotonic()

    # --- the run ------------------------------------------------------------------------------------------

    async def run(self) -> tuple[Verdict, str]:
        slots = await self.set_up()
        tasks = [
            asyncio.create_task(c) for c in (self.watch(), self.query_traffic(), self.progress(), self.supervise())
        ]
        faults = self.opts.faults
        waves = _split(slots, len(faults) + 1)
        # The next wave is built while the current one flows and its fault is injected.
        built = asyncio.create_task(asyncio.to_thread(self.build_wave, waves[0]))
        try:
            for n, (fault, wave) in enumerate(zip(faults, waves[1:], strict=False), 1):
                items = await built
                built = asyncio.create_task(asyncio.to_thread(self.build_wave, wave))
                await self.publish(items)
                await asyncio.sleep(fault.gap)
                say(f"fault {n}/{len(faults)}: {fault.label} for {fault.hold:.1f}s")
                try:
                    await self.inject(fault)
                except Exception as exc:
                    fault.note = f"harness error: {type(exc).__name__}: {exc}"
                    fault.not_injected = True
                    await self.heal_all()
                took = f"{fault.recovered - fault.started:.1f}s" if fault.recovered else "—"
                say(f"  {fault.label}: moving again after {took} {fault.note}")
            await self.publish(await built)
            say(f"all {len(self.flow.published)} cases and {len(INVALID_INPUTS)} invalid inputs published; waiting")
            await self.wait_for_outcomes()
        finally:
            self.flow.done.set()
            for task in tasks:
                task.cancel()
                await _quietly(task)
        await self.heal_all()
        say("auditing from the outside: topics, bucket, index, code series, dead letters, quarantine, audit chain")
        verdict = await audit(
            self.settings,
            self.flow.published,
            {k: d for k, (_, d) in INVALID_INPUTS.items()},
            {**self.env, "AA_NAMESPACE": self.namespace, **_direct(self.stack)},
        )
        return verdict, self.render(verdict)

    async def wait_for_outcomes(self) -> None:
        quiet_since = time.monotonic()
        seen = -1
        while self.flow.pending:
            if len(self.flow.outcome_at) != seen:
                seen, quiet_since = len(self.flow.outcome_at), time.monotonic()
            if time.monotonic() - quiet_since > self.opts.stall_timeout:
                say(f"no outcome for {self.opts.stall_timeout:.0f}s, {self.flow.pending} cases pending: auditing")
                await self.dump_stacks()
                return
            await asyncio.sleep(1)

    async def dump_stacks(self) -> None:
        """A stall is a bug to find, not only a number: every worker's Python stacks (py-spy, asyncio tasks
        included) go to the stack's log folder, so the run's reading can say where each one waited."""
        py_spy = Path(sys.executable).parent / "py-spy"  # a dev dependency (pyproject.toml)
        for name, proc in self.procs.items():
            pid = proc.pid()
            if pid is None or not py_spy.exists():
                continue
            out = self.stack.stack_dir / "logs" / f"stall-{name}-{pid}.txt"
            child = await asyncio.create_subprocess_exec(
                str(py_spy), "dump", "--pid", str(pid), "--locals",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            text, _ = await child.communicate()
            out.write_bytes(text)
            say(f"  {name} (pid {pid}) stacks: {out}")

    async def heal_all(self) -> None:
        await _quietly(self.toxi.reset())
        (self.stack.minio_data / ".chaos-ballast").unlink(missing_ok=True)
        await _run("mount", "-o", "remount,rw", str(self.stack.minio_data), check=False)
        for server in SERVERS:
            if self.stack.pid(server) is None:
                await self.stack.start(server)

    async def tear_down(self) -> None:
        local_services.stop(self.namespace, self.stack.stack_dir, services=local_services.SERVICES)
        if not self.opts.keep:
            await self.stack.reset()

    # --- the table ----------------------------------------------------------------------------------------

    def render(self, verdict: Verdict) -> str:
        by_group: dict[str, list[Fault]] = defaultdict(list)
        for fault in self.opts.faults:
            if not fault.not_injected:  # a fault the harness failed to inject is listed below, not counted
                by_group[fault.group].append(fault)
        injected = sum(len(f) for f in by_group.values())
        minutes = (time.monotonic() - self.started) / 60
        lines = [
            MARK_BEGIN,
            f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {'PASSED' if verdict.ok else 'FAILED'}",
            "",
            f"Command: `{self.opts.command}` — seed {self.opts.seed} (repeat: `--seed {self.opts.seed}`), "
            f"{self.opts.cases} cases + {len(INVALID_INPUTS)} invalid inputs, {injected} faults of "
            f"{len(by_group)} kinds, {minutes:.0f} min on {os.cpu_count()} cores shared with other work.",
            "",
            "| fault | injected | moving again p50 | max | not measured |",
            "|---|---:|---:|---:|---:|",
        ]
        for group, faults in sorted(by_group.items()):
            times = [f.recovered - f.started for f in faults if f.recovered]
            worst = _secs(max(times) if times else float("nan"))
            lines.append(
                f"| {group} | {len(faults)} | {_secs(percentile(times, 50))} | {worst} | {len(faults) - len(times)} |"
            )
        every = [f.recovered - f.started for f in self.opts.faults if f.recovered]
        lines.append(
            f"| **all** | **{injected}** | **{_secs(percentile(every, 50))}** | "
            f"**{_secs(max(every) if every else float('nan'))}** | |"
        )
        lines += [
            "",
            f"Cases in: {verdict.published}; out: {verdict.archived} archived, {verdict.rejected} rejected; "
            f"**lost: {len(verdict.lost)}** ({len(verdict.lost_to_dead_letters)} of them dead-lettered), "
            f"**duplicated: {len(verdict.duplicated)}**; "
            f"dead letters: {verdict.dead_letters}. "
            f"Query API during the run: {self.flow.query_ok} answers, {self.flow.query_failed} failures. "
            f"Workers that exited by themselves and were started again: "
            f"{', '.join(self.self_exits) if self.self_exits else 'none'}.",
            "",
            "| check | result | detail |",
            "|---|---|---|",
            *[
                f"| {c.name} | {'ok' if c.ok else '**FAILED**'} | {c.detail.replace('|', '/')} |"
                for c in verdict.checks
            ],
            "",
            "<details><summary>every fault, in order</summary>",
            "",
            *[
                f"{n}. {f.label}, held {f.hold:.1f}s — moving again after "
                f"{f'{f.recovered - f.started:.1f}s' if f.recovered else '—'}{f' ({f.note})' if f.note else ''}"
                for n, f in enumerate(self.opts.faults, 1)
            ],
            "",
            "</details>",
            MARK_END,
        ]
        return "\n".join(lines)


def record(section: str) -> None:
    """Put the section under the "Fault-injection results" heading of docs/reliability.md, replacing the
    previous run and leaving everything else in the file as it is."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Reliability\n"
    if MARK_BEGIN in text:
        head, _, rest = text.partition(MARK_BEGIN)
        _, _, tail = rest.partition(MARK_END)
        text = head + section + tail
    else:
        if HEADING not in text:
            text = text.rstrip() + f"\n\n{HEADING}\n\n{DESCRIPTION}\n"
        head, _, tail = text.partition(HEADING)
        body, sep, after = tail.partition("\n## ")
        text = head + HEADING + body.rstrip() + "\n\n" + section + "\n" + (f"\n## {after}" if sep else "")
    RESULTS.write_text(text, encoding="utf-8")


DESCRIPTION = """\
`make chaos` (bench/chaos/, `python -m bench.chaos --help`) starts a stack of its own — Kafka, MinIO,
PostgreSQL, clamd and a toxiproxy in front of each, on the shared ports + 200, data in `.stack-chaos/`
(MinIO's on a 4 GiB tmpfs) — and the four workers and the query service as OS processes pointed at the
proxies. It feeds the sample mix (10 % with a wrong digest, to be rejected) plus three deliberately invalid
inputs (to be dead-lettered) in waves, and before each wave's end injects one fault at a seeded random
moment: SIGKILL of each worker (timed from its `archive_step_in_flight` gauge), SIGKILL and restart of each
server, latency / stall / connection resets on a server's link, MinIO's data folder full (a ballast file
fills the tmpfs) or remounted read-only. Then it checks from the outside, as an auditor: topics read from
their start, the bucket listed with versions and retention, the index and code series, the dead letters,
the quarantine and `archivectl audit verify`. "Moving again" is the time from the fault's start until the
killed worker's new process delivered an output (the query service: answers `/healthz`), or, for a server
or network fault, until an outcome arrived after the heal. The CI-sized run (`pytest -m chaos`, part of
`make test`) does the same with 200 cases and one fault of each kind."""


def _split(items: list[Any], n: int) -> list[list[Any]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _secs(value: float) -> str:
    return "—" if value != value else f"{value:.1f} s"


def _fill(path: Path, size: int) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError:  # tmpfs may refuse even slightly less than it reports free: write it instead
            pass
        os.lseek(fd, 0, os.SEEK_END)
        for chunk in (b"\0" * 2**20, b"\0" * 4096):
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:  # ENOSPC: full (at this chunk size)
                    break
    finally:
        os.close(fd)


def _fetch(request: urllib.request.Request) -> None:
    urllib.request.urlopen(request, timeout=10).close()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


def _direct(stack: ChaosStack) -> dict[str, str]:
    """The auditor's own connection to PostgreSQL: straight to the server, past the proxy."""
    return {"AA_PG_PORT": str(stack.server_ports()["postgres"])}


async def _run(*cmd: str, check: bool = True) -> None:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if check and proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.decode(errors='replace').strip()}")


async def _quietly(awaitable: Any) -> None:
    try:
        await asyncio.wait_for(awaitable, 30)
    except (Exception, asyncio.CancelledError):
        pass
