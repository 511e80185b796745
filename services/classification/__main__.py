"""`python -m services.classification`: the classification worker (settings from AA_* variables, metrics, Faust)."""

from services.classification.app import create_app
from services.classification.config import ClassificationSettings
from services.classification.steps import SERVICE
from services.common.stream_app import run_worker


def main() -> None:
    settings = ClassificationSettings()
    run_worker(create_app(settings), SERVICE, settings)


if __name__ == "__main__":
    main()
