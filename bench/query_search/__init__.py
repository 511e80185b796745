"""Record search over a million generated index rows: the query API's common searches, timed.

    python -m bench.query_search [--rows 1000000] [--repeat 200]
                                 [--no-record] [--explain] [--drop]

It works in a namespace of its own (`benchsearch`, database `archive_benchsearch`): migrates it, generates
`--rows` archived records — Chinese company and person names, titles, items and departments of nine
approval platforms in six cities, completion dates over six years, sharing levels 01/02/03, 公开/内部 — and
loads them with COPY (secondary indexes dropped during the load and rebuilt after, then VACUUM ANALYZE).
A later run with the same row count reuses the loaded data (it says so); `--drop` drops the database at
the end, so that its 3.5 GB are not left behind by accident.

Then it runs each common query `--repeat` times through `services.query.search.search_records` — the
function the API calls, on an asyncpg pool — with varying values, for three callers (a supervision system
scoped to sharing levels 01/02, an operator, a platform key), plus two worst cases, and records
p50/p95/max per query and caller in docs/benchmarks.md between the query-search markers. A query whose
p95 reaches 100 ms gets the EXPLAIN (ANALYZE, BUFFERS) of every statement of its slowest page in the
section (`--explain`: of every query).

The parts: data.py generates the rows, load.py loads them, queries.py runs and times the queries,
report.py writes the section; __main__.py is the command.
"""

from __future__ import annotations

import sys

NAMESPACE = "benchsearch"


def say(text: str) -> None:
    print(f"bench.query_search: {text}", file=sys.stderr, flush=True)
