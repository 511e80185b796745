"""The floor: the cost of the infrastructure with no checks.

One bare process consumes the same approval.completed events, puts the same files into the object
store and inserts one row per case — no contracts, no digests, no classification, no package. The
pipeline's throughput divided by this one says what the archive's rules and guarantees cost.

    python -m bench.floor --namespace bench-… --count N    → one JSON line with the figures
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import sys
import time

import asyncpg
from aiokafka import AIOKafkaConsumer
from minio import Minio

from contracts.v1 import topics
from services.common.settings import ArchiveSettings


async def run_floor(settings: ArchiveSettings, count: int) -> dict[str, float]:
    client = Minio(
        settings.minio_endpoint,
        access_key=settings.minio_access_key,
        secret_key=settings.minio_secret_key,
        secure=settings.minio_secure,
    )
    bucket = f"{settings.namespace}-floor"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    conn = await asyncpg.connect(settings.pg_dsn())
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (case_key text PRIMARY KEY, title text, files int)")
    consumer = AIOKafkaConsumer(
        settings.topic(topics.APPROVAL_COMPLETED),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.namespace}.floor",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.kafka_max_message_bytes,
    )
    await consumer.start()
    done = 0
    started = None
    try:
        while done < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=50)
            for messages in batch.values():
                for message in messages:
                    started = started or time.perf_counter()
                    event = json.loads(message.value)
                    data = event["data"]
                    key = event["subject"]
                    for index, material in enumerate(data["materials"]):
                        content = base64.b64decode(material["content_base64"])
                        await asyncio.to_thread(
                            client.put_object, bucket, f"{key}/{index:03d}", io.BytesIO(content), len(content)
                        )
                    await conn.execute(
                        "INSERT INTO bench_floor VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        key,
                        data["case_title"],
                        len(data["materials"]),
                    )
                    done += 1
            if batch:
                await consumer.commit()
        elapsed = time.perf_counter() - (started or time.perf_counter())
        return {"cases": done, "seconds": elapsed, "cases_per_second": done / elapsed if elapsed else 0.0}
    finally:
        await consumer.stop()
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    result = asyncio.run(run_floor(ArchiveSettings(namespace=args.namespace), args.count))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
