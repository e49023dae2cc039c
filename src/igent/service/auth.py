"""API keys: made once, stored only as a hash, checked on every /v1 request."""

from __future__ import annotations

import hashlib
import secrets

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


def find_key(tables: ServiceTables, key: str) -> KeyRow | None:
    """Return the stored key matching ``key``, or None."""
    return tables.find_key(hash_key(key))


__all__ = ["KEY_PREFIX", "bearer_token", "create_key", "find_key", "hash_key"]
