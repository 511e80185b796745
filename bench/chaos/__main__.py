"""Fault-injection run of the whole pipeline on a stack of its own.

    make chaos                                   (CHAOS_CASES=2000 by default)
    python -m bench.chaos --cases 2000 [--seed N] [--ci] [--keep] [--no-record]

It starts Kafka, MinIO, PostgreSQL, clamd and toxiproxy through deploy/local/stack.sh on the shared ports
+ 200 with their data in .stack-chaos/ (never the shared stack), the four workers and the query service as
OS processes, publishes the cases in waves and injects a seeded series of faults while they flow, then
checks from the outside that nothing was lost or doubled. Prints the table and records it in
docs/reliability.md ("Fault-injection results"). Exit 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

from .audit import Verdict
from .faults import plan
from .run import Harness, Options, record, say
from .stack import REPO, ChaosStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=None, help="repeat a run: the same faults in the same order")
    parser.add_argument("--ci", action="store_true", help="one fault of each kind (the CI-sized run)")
    parser.add_argument("--worker-kills", type=int, default=3, help="SIGKILLs per worker (and of the query service)")
    parser.add_argument("--server-kills", type=int, default=2, help="SIGKILLs per server")
    parser.add_argument("--net-faults", type=int, default=2, help="faults per network kind (latency, stall, reset)")
    parser.add_argument("--port-offset", type=int, default=200, help="the chaos stack's ports: the shared ones + this")
    parser.add_argument("--stack-dir", default=str(REPO / ".stack-chaos"))
    parser.add_argument("--keep", action="store_true", help="leave the chaos stack and services running")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/reliability.md")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    if args.ci:
        faults = plan(seed, worker_kills=1, server_kills=1, net_faults=1, disk_faults=1, ci=True)
    else:
        faults = plan(
            seed,
            worker_kills=args.worker_kills,
            server_kills=args.server_kills,
            net_faults=args.net_faults,
            disk_faults=1,
        )
    opts = Options(
        cases=args.cases,
        seed=seed,
        faults=faults,
        stack=ChaosStack(stack_dir=Path(args.stack_dir), port_offset=args.port_offset),
        keep=args.keep,
        record=not args.no_record,
        command=" ".join(["python -m bench.chaos", *sys.argv[1:]]) if len(sys.argv) > 1 else "make chaos",
    )
    return 0 if asyncio.run(run(opts)).ok else 1


async def run(opts: Options) -> Verdict:
    """The whole run, set-up to tear-down (the stack is removed unless `opts.keep`)."""
    harness = Harness(opts)
    try:
        verdict, section = await harness.run()
    finally:
        await harness.tear_down()
    print(section, flush=True)
    if opts.record:
        record(section)
        say("recorded in docs/reliability.md")
    for check in verdict.checks:
        say(f"{'ok    ' if check.ok else 'FAILED'} {check.name}: {check.detail}")
    say(f"seed {opts.seed}: {'PASSED' if verdict.ok else 'FAILED'}")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
