"""The layering of docs/architecture.md, enforced over the import graph (every `import` statement, those
inside functions included, read with ast — nothing is imported to check):

* contracts import nothing of the project but contracts;
* services/common imports no service, and no service imports archivectl, samples, bench or tests;
* a service imports another service only through that service's published entry points (PUBLISHED);
* a domain module (services/<name>/domain.py), and every project module it imports, imports no I/O
  library: domain rules are pure functions."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("capture", "validation", "classification", "storage", "query")
# What one service may use of another: classification's review decision, which the query API offers too;
# validation's re-check of archived files (format still accepted, file still opens), which storage runs at
# transfer and at preservation time.
# Disposition (storage's), which the query API offers too.
PUBLISHED = {
    "services.classification.review",
    "services.validation.recheck",
    "services.storage.disposal",
    "services.storage.disposition",
}
IO_LIBRARIES = {"faust", "aiokafka", "minio", "asyncpg", "httpx", "fastapi", "urllib3", "uvicorn", "mode"}
TOOLS = ("archivectl", "samples", "bench", "tests")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for top in ("contracts", "services"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = project_modules()


@cache
def imports_of(module: str) -> frozenset[str]:
    """The absolute names `module` imports (a `from a.b import c` counts as a.b and a.b.c)."""
    path = MODULES[module]
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "services" and parts[1] in SERVICES else None


def test_contracts_import_nothing_of_the_project_but_contracts() -> None:
    bad = {
        (m, i)
        for m in MODULES
        if m.startswith("contracts")
        for i in imports_of(m)
        if i.split(".")[0] in ("services", *TOOLS)
    }
    assert bad == set()


def test_common_imports_no_service_and_no_service_imports_the_tools() -> None:
    bad = set()
    for m in MODULES:
        for i in imports_of(m):
            if m.startswith("services.common") and service_of(i):
                bad.add((m, i))
            if m.startswith("services") and i.split(".")[0] in TOOLS:
                bad.add((m, i))
    assert bad == set()


def test_a_service_uses_another_only_through_its_published_entry_points() -> None:
    bad = set()
    for m in MODULES:
        own = service_of(m)
        for i in imports_of(m):
            other = service_of(i)
            if own and other and other != own and not any(i == p or i.startswith(p + ".") for p in PUBLISHED):
                bad.add((m, i))
    assert bad == set()


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(i for i in imports_of(m) if i in MODULES)
    return seen


# Rule modules that are domain modules by another name (pure, like services/<name>/domain.py).
DOMAIN_MODULES = ("services.storage.disposition",)


@pytest.mark.parametrize(
    "domain",
    [f"services.{s}.domain" for s in SERVICES if f"services.{s}.domain" in MODULES] + list(DOMAIN_MODULES),
)
def test_domain_rules_import_no_io_library(domain: str) -> None:
    bad = {(m, i) for m in _reachable(domain) for i in imports_of(m) if i.split(".")[0] in IO_LIBRARIES}
    assert bad == set(), f"{domain} reaches I/O through these imports"


def test_the_rules_see_a_violation() -> None:
    """The graph is real: the query service's known use of classification is seen (and allowed)."""
    assert "services.classification.review" in {i for m in MODULES if service_of(m) == "query" for i in imports_of(m)}
    assert "asyncpg" in imports_of("services.storage.adapters.index")
