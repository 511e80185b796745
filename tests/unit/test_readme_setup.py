"""The README's set-up section must say what the scripts really do: every package they may install, the
Go toolchain version they fetch, what `archivectl topics` creates."""

import re
from pathlib import Path

import pytest

from contracts.v1 import topics

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
LOCAL = REPO / "deploy" / "local"


def packages_the_scripts_install() -> set[str]:
    """Packages named by the *_apt_needs functions ("PACKAGE REASON" lines) and by direct apt_install calls."""
    found: set[str] = set()
    for script in [*LOCAL.glob("lib/*.sh"), *LOCAL.glob("*.sh")]:
        text = script.read_text(encoding="utf-8")
        found |= set(re.findall(r'echo "([a-z][a-z0-9.+-]*?)(?:\$v)? ', text))
        for line in re.findall(r"^apt_install ([^|{]*)", text, re.M):
            found |= {word for word in line.split() if not word.startswith(("$", '"'))}
    return found


def test_the_readme_names_every_package_the_scripts_install():
    packages = packages_the_scripts_install()
    # the ones the set-up depends on: if the parsing above finds none of these, it is broken, not the README
    assert {"golang-go", "openjdk-17-jdk-headless", "maven", "python3.11-venv", "chromium", "curl"} <= packages
    for package in sorted(packages):
        shown = package.rstrip("-") + ("-<major>" if package.endswith("-") else "")
        assert f"`{shown}`" in README, f"README.md does not say that the set-up may install {shown}"


def test_the_readme_names_the_go_toolchain_the_scripts_fetch():
    stack_env = (LOCAL / "stack.env").read_text(encoding="utf-8")
    version = re.search(r"AA_GO_VERSION:=([0-9.]+)\}", stack_env).group(1)
    minimum = re.search(r"AA_GO_MIN_VERSION:=([0-9.]+)\}", stack_env).group(1)
    assert f"Go {version} toolchain" in README
    assert f"Go ≥ {minimum.removesuffix('.0')}" in README


def test_the_readme_shows_as_many_created_topics_as_there_are():
    shown = re.findall(r"^topics: (\d+) created", README, re.M)
    assert shown == [str(len(topics.ALL_TOPICS))]
    assert topics.ALL_TOPICS[0] in README and topics.ALL_TOPICS[-1] in README
