"""The catalogue of four-property checks (DA/T 70-2018) and the functions that run them.

Every check has a stable code, the property it belongs to, what it examines, a default severity
(reject: a failure sends the case back to its platform; warn: the failure travels on with the record)
and a reason in Chinese and English that a clerk can act on. Item rules (item_rules.yaml) may switch a
check off or change its severity. docs/checks.md is generated from this package
(`python -m services.validation.docs`), so the documentation cannot drift from the code.

The functions are pure: they look at `CaseEvidence` — the case metadata, what was measured in each
file's bytes, the virus scanner's answer and the case-number registry's answer, which the step gathers
through its ports — and return one `CheckResult` per check (per file for file checks).

engine.py holds the registry, the `@check` decorator and the runner; each property has its module.
Adding a check is one function under `@check(...)` in its property's module; importing the modules here
registers them.
"""

from services.validation.checks import (  # noqa: F401  (registers)
    authenticity,
    conformance,
    integrity,
    security,
    trust,
    usability,
)
from services.validation.checks.engine import (
    CATALOGUE,
    CaseEvidence,
    CaseNumberClaim,
    Check,
    FileEvidence,
    Scan,
    Severity,
    VirusScan,
    rejections,
    run_catalogue,
)

__all__ = [
    "CATALOGUE",
    "CaseEvidence",
    "CaseNumberClaim",
    "Check",
    "FileEvidence",
    "Scan",
    "Severity",
    "VirusScan",
    "rejections",
    "run_catalogue",
]
