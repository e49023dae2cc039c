"""Exceptions raised by igent.

The tree::

    IgentError
    ├── ConfigError        bad YAML, unknown endpoint or constellation, missing key
    ├── DataError          an input file (registrations, offers, incentives) fails validation
    ├── ModelCallError     transport or HTTP failure talking to a model endpoint
    ├── ModelOutputError   the model replied, but not with the expected JSON
    ├── StoreError         the capacity store, ledger or an output file cannot be read or written
    ├── Interrupted        the run was interrupted (Ctrl-C); exit status 130
    └── RegistrationsFailed  a run ended with failed or unapproved registrations; exit status 1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from igent.llm.types import Attempt

EXCERPT_CHARS = 200


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[:limit] + "..."


class IgentError(Exception):
    """Root of every error igent raises on purpose."""


class ConfigError(IgentError):
    """A configuration file, option or environment variable is wrong or missing."""


class DataError(IgentError):
    """An input data file fails validation."""


class ModelCallError(IgentError):
    """A call to a model endpoint failed in transport or with an HTTP error."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        model: str,
        status: int | None = None,
        body: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.model = model
        self.status = status
        self.body_excerpt = excerpt(body)
        self.retryable = retryable
        self.attempts: list[Attempt] = []
        """Every attempt made for the call, this failure's included (filled by the client)."""


class ModelOutputError(IgentError):
    """A model reply is not the JSON that was asked for."""

    def __init__(self, message: str, *, raw: str = "") -> None:
        super().__init__(message)
        self.raw_excerpt = excerpt(raw)


class StoreError(IgentError):
    """The capacity store, run ledger or an output file cannot be used."""


class Interrupted(IgentError):
    """The run was interrupted (Ctrl-C); exit status 130."""


class RegistrationsFailed(IgentError):
    """A run ended with failed or unapproved registrations (not booked; --resume retries)."""
