"""`python -m services.capture`: the capture worker (settings from AA_* variables, metrics, Faust)."""

from services.capture.app import create_app
from services.capture.config import CaptureSettings
from services.capture.steps import SERVICE
from services.common.stream_app import run_worker


def main() -> None:
    settings = CaptureSettings()
    run_worker(create_app(settings), SERVICE, settings)


if __name__ == "__main__":
    main()
