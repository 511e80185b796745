"""`python -m services.validation`: the validation worker (settings from AA_* variables, metrics, Faust)."""

from services.common.stream_app import run_worker
from services.validation.app import create_app
from services.validation.config import ValidationSettings
from services.validation.steps import SERVICE


def main() -> None:
    settings = ValidationSettings()
    run_worker(create_app(settings), SERVICE, settings)


if __name__ == "__main__":
    main()
