"""validation's settings: the shared ones (environment prefix AA_) and the virus scanner's."""

from pathlib import Path
from typing import Literal

from pydantic import Field

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
    # Files measured at once by one worker (several cases in flight; a case's files go one after another):
    # at most this many, and at most `measure_budget_bytes` of the memory their measuring takes, estimated
    # from an image's header (formats.working_set). A document or media file, whose page images are known
    # only once it is parsed, and anything over the budget is measured alone. Numpy and Pillow release the
    # GIL while they work, so two measurements use two cores; the budget keeps decision 39's memory bound:
    # a worker's peak is its floor plus max(this budget, its heaviest single file) (docs/benchmarks.md).
    measure_max_files: int = Field(default=2, ge=1)
    measure_budget_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
