"""PostgreSQL and Redis for tests: a fresh schema per session; skip (laptop) or fail (CI).

On a machine without the services these tests skip with a message saying how to start them;
with ``CI=true`` a missing service fails the test instead, so CI never silently skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOW_TO = {
    "PostgreSQL": (
        "start one with `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
        "-e POSTGRES_DB=test postgres:16` or set TEST_POSTGRES_URL"
    ),
    "Redis": "start one with `docker run -d -p 6379:6379 redis:7` or set TEST_REDIS_URL",
}


def unavailable(service: str, error: object) -> None:
    """Skip the test (fail it under CI=true) because ``service`` does not answer."""
    message = f"{service} is not reachable ({error}); {HOW_TO[service]}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI requires {message}")
    pytest.skip(message)


def postgres_available() -> str | None:
    """Return None when PostgreSQL answers, else the error."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return None


def redis_available() -> str | None:
    """Return None when Redis answers, else the error."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return str(exc) or repr(exc)
    return None


def schema_url(schema: str) -> str:
    """Return the test database URL with ``search_path`` set to ``schema``."""
    joiner = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema(prefix: str = "igent_test") -> Iterator[str]:
    """Create a uniquely named schema, yield a URL using it, and drop it afterwards."""
    import psycopg

    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema for this test session (dropped at the end)."""
    error = postgres_available()
    if error is not None:
        unavailable("PostgreSQL", error)
    with fresh_schema() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL of the tests, once Redis answers."""
    error = redis_available()
    if error is not None:
        unavailable("Redis", error)
    return REDIS_URL


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test only (queues, limiter); its keys are deleted afterwards."""
    import redis

    name = f"igent-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


LEDGER_TABLES = "campaigns, suppliers, decisions, audits, meta"
# The service tables of 0002 are emptied too (the service runs on PostgreSQL as well).
SERVICE_TABLES = (
    "api_keys, service_campaigns, offer_versions, submissions, cancellations, jobs, job_items, "
    "events"
)


def empty_ledger(url: str) -> None:
    """Delete every ledger row in the schema of ``url`` (between tests of one session)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('decisions')").fetchone()
        if exists is not None and exists[0] is not None:
            conn.execute(f"TRUNCATE {LEDGER_TABLES}, {SERVICE_TABLES} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger on each backend (a fresh schema per session for PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    empty_ledger(url)
    return url
