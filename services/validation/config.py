"""validation's settings: the shared ones (environment prefix AA_) and the virus scanner's."""

from pathlib import Path
from typing import Literal

from services.common.settings import ArchiveSettings
from services.validation.rules import DEFAULT_RULES


class ValidationSettings(ArchiveSettings):
    # clamd (ClamAV) over TCP; the local stack runs it on 127.0.0.1:13310 (deploy/local/lib/clamav.sh).
    clamd_host: str = "127.0.0.1"
    clamd_port: int = 13310
    clamd_timeout_seconds: float = 120.0
    # What happens when clamd cannot be reached: `wait` — the case waits, retried with backoff, until clamd
    # answers (the default); `mark-not-scanned` — the case goes on with SEC-VIRUS = not_run ("not scanned"),
    # never "clean", so an operator can rescan it later. docs/validation.md.
    clamd_unavailable: Literal["wait", "mark-not-scanned"] = "wait"
    item_rules_file: Path = DEFAULT_RULES
    # How long a platform's signature trust anchors are cached (services/validation/adapters/trust_anchors.py):
    # an anchor removed with `archivectl platform trust remove` stops being trusted within this time.
    trust_anchors_ttl_seconds: float = 60.0
    # The stack's veraPDF server (deploy/local/lib/verapdf.sh) for USAB-PDFA; empty: PDF/A is not checked
    # (USAB-PDFA not_run). While it is unreachable, cases with a PDF that declares PDF/A wait.
    verapdf_url: str = "http://127.0.0.1:13320"
    verapdf_timeout_seconds: float = 120.0
