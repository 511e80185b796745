"""The repository's one Dockerfile, read statically (there is no Docker engine on this project's machines):
its stages, what each copies, exposes and runs, and which paths .dockerignore lets into the build context."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SERVICE_STAGE = "service-{}"  # the stage that `--build-arg SERVICE=<name>` selects


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    global_args: list[str]
    stages: dict[str, Stage]
    final: Stage

    def chain(self, name: str) -> list[Stage]:
        """The stage and the stages it is built on, innermost first."""
        stages = [self.stages[name]]
        while stages[-1].base in self.stages:
            stages.append(self.stages[stages[-1].base])
        return stages

    def effective(self, name: str, keyword: str) -> list[str]:
        """Every `keyword` instruction a stage carries, its bases' included (base first)."""
        return [args for stage in reversed(self.chain(name)) for args in stage.all(keyword)]

    def last(self, name: str, keyword: str) -> str | None:
        found = self.effective(name, keyword)
        return found[-1] if found else None


def instructions(text: str) -> list[tuple[str, str]]:
    logical = re.sub(r"\\\n", " ", text)
    found = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            found.append((keyword.upper(), args.strip()))
    return found


def parse(text: str | None = None) -> Dockerfile:
    global_args: list[str] = []
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions(DOCKERFILE.read_text(encoding="utf-8") if text is None else text):
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"#{len(stages)}"
            current = stages[name] = Stage(name, parts[0])
        elif current is None:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            global_args.append(args)
        else:
            current.instructions.append((keyword, args))
    assert current is not None, "the Dockerfile has no FROM"
    return Dockerfile(global_args, stages, current)


def service_stage(dockerfile: Dockerfile, service: str) -> Stage:
    """The stage `--build-arg SERVICE=<service>` builds: the final stage is `FROM service-${SERVICE}`."""
    assert dockerfile.final.base == SERVICE_STAGE.format("${SERVICE}"), dockerfile.final.base
    assert "SERVICE" in dockerfile.global_args
    assert not dockerfile.final.instructions, "the final stage only selects the service's stage"
    name = SERVICE_STAGE.format(service)
    assert name in dockerfile.stages, f"no stage {name} in the Dockerfile"
    return dockerfile.stages[name]


def exposed_ports(dockerfile: Dockerfile, stage: str) -> set[int]:
    return {int(port.split("/")[0]) for args in dockerfile.effective(stage, "EXPOSE") for port in args.split()}


def command(dockerfile: Dockerfile, stage: str) -> list[str]:
    cmd = dockerfile.last(stage, "CMD")
    assert cmd is not None and cmd.startswith("["), f"{stage}: CMD in exec form, so the service is PID 1"
    return json.loads(cmd)


def copied_sources(dockerfile: Dockerfile) -> set[str]:
    """The build-context paths every COPY/ADD names (their last argument is the destination)."""
    sources = set()
    for stage in dockerfile.stages.values():
        for keyword in ("COPY", "ADD"):
            for args in stage.all(keyword):
                words = [w for w in args.split() if not w.startswith("--")]
                sources |= {w.rstrip("/") for w in words[:-1]}
    return sources


def in_build_context(path: str) -> bool:
    """Whether .dockerignore lets a repository path into the build context: the last matching pattern
    wins, `!` re-includes, and a pattern matching a folder covers everything under it (Docker's rules)."""
    included = True
    parts = path.split("/")
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            matched = any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        else:
            matched = any(
                fnmatch.fnmatchcase(prefix, pattern) and prefix.count("/") == pattern.count("/") for prefix in prefixes
            )
        if matched:
            included = negate
    return included
