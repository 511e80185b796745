"""`python -m services.storage`: the storage worker (settings from AA_* variables, metrics, Faust)."""

from services.common.stream_app import run_worker
from services.storage.app import create_app
from services.storage.config import StorageSettings
from services.storage.steps import SERVICE


def main() -> None:
    settings = StorageSettings()
    run_worker(create_app(settings), SERVICE, settings)


if __name__ == "__main__":
    main()
