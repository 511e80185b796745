"""Classification's ports: the store of schedule versions, classifications and reviews, and where the
schedule in force comes from. The adapter is services/classification/adapters/schedule_store.py;
tests/fakes.py has an in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from services.classification.schedule import Schedule
from services.common.runner import Publisher
from services.common.series import AllocatedCode, Series


class PriorState(Protocol):
    # Read-only: the adapter answers with a frozen dataclass.
    @property
    def classified_event(self) -> dict[str, Any] | None: ...

    @property
    def review_status(self) -> str | None: ...


class ClassificationStore(Protocol):
    """The port: services/classification/adapters/schedule_store.PgClassificationStore, tests/fakes in unit tests."""

    async def prior(self, case_key: str) -> PriorState: ...

    async def enqueue_review(
        self,
        *,
        case_key: str,
        validated_event: dict[str, Any],
        reason: str,
        schedule_version: str,
        source_platform: str,
        item_code: str,
        item_name: str,
        case_title: str,
    ) -> bool: ...

    async def record_classification(
        self,
        *,
        case_key: str,
        item_code: str,
        series: Series,
        decision: dict[str, Any],
        format_code: Callable[[Series, int], str],
        make_event: Callable[[AllocatedCode, Series], dict[str, Any]],
        review_decision: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]: ...


class ScheduleVersions(Protocol):
    async def active_version(self) -> str | None: ...

    async def schedule_document(self, version: str) -> tuple[dict[str, Any], str]: ...


class ScheduleSource(Protocol):
    async def current(self) -> Schedule: ...


class ReviewStore(ClassificationStore, ScheduleVersions, Protocol):
    """What deciding a review needs of the classification store (PgClassificationStore is one)."""

    async def review(self, case_key: str) -> dict[str, Any] | None: ...
    async def relay_outbox(self, publisher: Publisher, topic_name: Callable[[str], str], *, only: str) -> int:
        """Publish the outbox event `only` if it is unsent (the decision staged it); how many were sent."""
        ...
