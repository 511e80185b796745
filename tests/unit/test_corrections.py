"""Every code that can reject a case has a correction recipe (samples/corrections.py), which the e2e test
tests/e2e/test_rectification.py proves through the running services. A new check of the catalogue, or a new
rejection in capture, without its recipe fails here."""

import pytest

from samples.corrections import RECIPES, catalogue_reject_codes, rejection_codes
from services.capture.domain import REJECTION_CODES
from services.validation.checks import CATALOGUE, Severity

pytestmark = pytest.mark.unit


def test_every_reject_code_of_the_catalogue_and_of_capture_has_a_correction_recipe():
    missing = sorted(set(rejection_codes()) - set(RECIPES))
    assert missing == [], f"no correction recipe in samples/corrections.py RECIPES for {missing}"
    stale = sorted(set(RECIPES) - set(rejection_codes()))
    assert stale == [], f"recipes for codes that no longer reject: {stale}"


def test_the_reject_codes_are_read_from_the_catalogue_and_capture():
    assert set(catalogue_reject_codes()) == {c for c, check in CATALOGUE.items() if check.severity is Severity.REJECT}
    assert "AUTH-FILE-NAME" not in catalogue_reject_codes()  # a warn-severity check never rejects
    assert set(REJECTION_CODES) <= set(rejection_codes())
