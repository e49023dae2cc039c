"""API keys: made once, stored only as a hash, checked on every /v1 request."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from igent.store.service_tables import KeyRole, KeyRow, ServiceTables

KEY_PREFIX = "igk_"


def hash_key(key: str) -> str:
    """Return the stored form of a key (SHA-256; keys are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(tables: ServiceTables, role: KeyRole, name: str = "") -> tuple[str, KeyRow]:
    """Make a new key, store its hash, and return (key, row); the key is not kept anywhere."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = tables.add_key(secrets.token_hex(6), hash_key(key), role, name)
    return key, row


def bearer_token(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer TOKEN`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyCache:
    """Look keys up by hash, remembering found ones for ``ttl_s`` (saves a query per request)."""

    def __init__(
        self, tables: ServiceTables, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tables = tables
        self.ttl_s = ttl_s
        self._clock = clock
        self._found: dict[str, tuple[KeyRow, float]] = {}

    def find(self, key: str) -> KeyRow | None:
        """Return the stored key matching ``key``, or None."""
        digest = hash_key(key)
        now = self._clock()
        cached = self._found.get(digest)
        if cached is not None and now - cached[1] < self.ttl_s:
            return cached[0]
        row = self.tables.find_key(digest)
        if row is None:
            self._found.pop(digest, None)
        else:
            self._found[digest] = (row, now)
        return row


__all__ = ["KEY_PREFIX", "KeyCache", "bearer_token", "create_key", "hash_key"]
