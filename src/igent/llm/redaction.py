"""Mask API keys in anything igent writes: transcripts, the cache, logs and error messages.

A pattern (``sk-...``, ``Bearer ...``) catches keys igent was never told about; the exact
values of the configured keys (every key of every endpoint in use) catch the rest, including
keys of other shapes and a reply body that echoes the key back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

_BEARER = re.compile(r"(?i)bearer\s+[^\s\"',]+")
_KEY_LIKE = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{16,}")
_SECRET_KEYS = frozenset({"api_key", "authorization", "api-key", "x-api-key", "password"})
MIN_SECRET_CHARS = 4
"""Shorter values are not masked: replacing every "abc" in a transcript would garble it."""


def secret_values(values: Iterable[str | None]) -> tuple[str, ...]:
    """Return the distinct non-trivial secrets in ``values``, longest first."""
    kept = {value.strip() for value in values if value and len(value.strip()) >= MIN_SECRET_CHARS}
    return tuple(sorted(kept, key=lambda value: (-len(value), value)))


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask API keys and bearer tokens in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("sk-***", _BEARER.sub("Bearer ***", text))


def redact(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Drop secret-named keys and mask key-like strings anywhere in ``value``."""
    if isinstance(value, dict):
        return {
            key: redact(item, secrets)
            for key, item in value.items()
            if str(key).lower() not in _SECRET_KEYS
        }
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that masks keys in every record it sees; add it to log handlers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = secret_values(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask keys in the record's formatted message (and its exception text)."""
        record.msg = scrub(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        return True
