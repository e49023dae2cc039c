"""Service-level errors the exception handler maps to 404 and 409."""

from __future__ import annotations

from collections.abc import Sequence

from igent.errors import IgentError
from igent.service.schemas import CapacityConflict


class NotFound(IgentError):
    """A campaign, registration or job that does not exist (404)."""


class Conflict(IgentError):
    """A request that contradicts the stored state (409), with the fields or numbers."""

    def __init__(
        self,
        message: str,
        *,
        fields: Sequence[str] = (),
        suppliers: Sequence[CapacityConflict] = (),
    ) -> None:
        super().__init__(message)
        self.fields = list(fields)
        self.suppliers = list(suppliers)


__all__ = ["Conflict", "NotFound"]
