"""Everything one app instance holds: settings, database, limits, metrics, desks."""

from __future__ import annotations

from dataclasses import dataclass

from igent.llm import ChatClient
from igent.service.auth import KeyCache
from igent.service.campaigns import CampaignDesk
from igent.service.jobs import JobRunner
from igent.service.limits import RateLimiter
from igent.service.metrics import ServiceMetrics
from igent.service.registrations import RegistrationDesk
from igent.settings import Settings
from igent.store.service_tables import ServiceTables


@dataclass
class ServiceContext:
    """The state of one app, built by ``create_app`` (never at import time)."""

    settings: Settings
    tables: ServiceTables
    desk: CampaignDesk
    registrations: RegistrationDesk
    jobs: JobRunner
    limiter: RateLimiter
    metrics: ServiceMetrics
    keys: KeyCache
    client: ChatClient | None = None

    def close(self) -> None:
        """Close model clients and the databases."""
        self.desk.close()
        self.tables.close()


__all__ = ["ServiceContext"]
