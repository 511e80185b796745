"""Peak memory of the storage step for a case with one large material (issue 18).

    python -m bench.storage_memory [--size-mib 1024] [--code-root DIR]

Stages a generated sample case plus one material of `--size-mib` MiB (random bytes, written to $TMPDIR
and deleted afterwards; nothing is committed) on the running stack, in a namespace of its own, then runs
storage's step (samples.staging.storage_step: both sites, as a worker runs it) on that case in a fresh
child process and prints the child's peak resident set (VmHWM, the kernel's high-water mark) before and
after the step. `--code-root /work/main` runs the child on another checkout's code (PYTHONPATH), which is
how the before/after figures in docs/benchmarks.md were taken: the child imports only services/ and
samples/, which both checkouts have.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contracts.v1 import CapturedFile, ObjectRef, RetentionPeriod, Stage
from samples.generator import generate_cases
from samples.staging import classified_event
from services.classification.adapters.schedule_store import PgClassificationStore
from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.storage.adapters.index import PgIndex

MIB = 1024 * 1024

# Run in the child: one storage step on the staged case, then its peak RSS. Only services/ and samples/.
CHILD = """
import asyncio, json, sys, time
from contracts.v1 import ClassifiedEvent
from samples.staging import storage_step
from services.common.adapters.object_store import MinioObjectStore
from services.common.settings import ArchiveSettings
from services.storage.adapters.index import PgIndex

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

async def main():
    settings = ArchiveSettings(namespace=sys.argv[1])
    event = ClassifiedEvent.model_validate_json(open(sys.argv[2]).read())
    store = MinioObjectStore.from_settings(settings)
    index = await PgIndex.connect(settings, migrate=False)
    step = await storage_step(settings, store, index)
    before = hwm()
    started = time.perf_counter()
    [out] = await step(event)
    seconds = time.perf_counter() - started
    await index.close()
    print(json.dumps({"hwm_before_mib": before, "hwm_after_mib": hwm(), "seconds": round(seconds, 1),
                      "topic": out.topic}))

asyncio.run(main())
"""


def say(text: str) -> None:
    print(f"bench.storage_memory: {text}", file=sys.stderr, flush=True)


def _write_random(path: Path, size: int) -> str:
    """`size` random bytes (incompressible, as a scan is) written in 8 MiB chunks; returns their SHA-256."""
    hasher = hashlib.sha256()
    block = os.urandom(8 * MIB)
    with path.open("wb") as out:
        left, n = size, 0
        while left > 0:
            # Vary each chunk cheaply so the file is not one repeated block.
            chunk = hashlib.sha256(n.to_bytes(8, "big")).digest() + block[32 : min(8 * MIB, left)]
            chunk = chunk[: min(8 * MIB, left)]
            out.write(chunk)
            hasher.update(chunk)
            left -= len(chunk)
            n += 1
    return hasher.hexdigest()


async def prepare(settings: ArchiveSettings, folder: Path, size: int) -> Path:
    await upgrade(settings)
    store = MinioObjectStore.from_settings(settings)
    index = await PgIndex.connect(settings, migrate=False)
    try:
        [sample] = generate_cases(1, seed=1818, wrong_digest_every=None)
        event = await classified_event(
            settings, store, PgClassificationStore(index.pool), sample.record, retention=RetentionPeriod.TEN_YEARS
        )
        large = folder / "large-material.pdf"
        say(f"writing {size // MIB} MiB to {large}")
        digest = await asyncio.to_thread(_write_random, large, size)
        key = f"{event.subject}/large/{digest}"
        with large.open("rb") as source:
            await store.put_file(settings.staging_bucket, key, source, size, content_type="application/pdf")
        large.unlink()
        big = CapturedFile(
            stage=Stage.APPLICATION,
            material_name="大幅面扫描件",
            file_name="large-material.pdf",
            original_file_name="large-material.pdf",
            media_type="application/pdf",
            size=size,
            sha256=digest,
            stored=ObjectRef(bucket=settings.staging_bucket, key=key),
        )
        data = event.data.model_copy(update={"files": [*event.data.files, big]})
        path = folder / "event.json"
        path.write_text(event.model_copy(update={"data": data}).model_dump_json(), encoding="utf-8")
        return path
    finally:
        await index.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--code-root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    settings = ArchiveSettings(namespace=f"bench-sm{int(time.time())}")
    say(f"namespace {settings.namespace}")
    with tempfile.TemporaryDirectory(prefix="bench-storage-memory-") as tmp:
        event_path = asyncio.run(prepare(settings, Path(tmp), args.size_mib * MIB))
        say(f"storage step on {args.code_root}")
        env = {**os.environ, "PYTHONPATH": str(args.code_root)}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, settings.namespace, str(event_path)],
            env=env,
            cwd=args.code_root,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        say(f"the step failed:\n{done.stderr[-3000:]}")
        return 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"size_mib": args.size_mib, "code_root": str(args.code_root), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
