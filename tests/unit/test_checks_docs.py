"""docs/checks.md is generated from the catalogue in code: it must not drift."""

import pytest

from services.validation.docs import TARGET, render

pytestmark = pytest.mark.unit


def test_docs_checks_md_is_the_generated_catalogue():
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "docs/checks.md differs from the catalogue: run `.venv/bin/python -m services.validation.docs`"
    )
