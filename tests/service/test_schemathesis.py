"""Property tests against /openapi.json with schemathesis: no 5xx, every response as declared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from igent.service import create_app
from igent.settings import Settings
from tests.service.conftest import demo_offers, demo_registrations, make_keys

pytestmark = pytest.mark.slow
_FOLDER = Path(__file__).parent


def _app_and_key(tmp: Path) -> tuple[object, str]:
    app_settings = Settings(data_dir=tmp, rate_limit_per_minute=1_000_000)
    operator, _ = make_keys(app_settings.database_path())
    app = create_app(app_settings)
    # No lifespan here (it would close the database): requests only.
    http = TestClient(app, headers={"Authorization": f"Bearer {operator}"})
    body = {"campaign_id": "demo", "offers": demo_offers(), "campaign_date": "2026-06-01"}
    assert http.post("/v1/campaigns", json=body).status_code == 201
    for registration in demo_registrations()[:5]:
        assert http.post("/v1/campaigns/demo/registrations", json=registration).is_success
    return app, operator


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_matches_its_openapi_document(tmp_path: Path) -> None:
    app, key = _app_and_key(tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    tested = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/events"):
            continue  # follows new events until the client goes; tested in test_api.py
        tested.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        check()
    assert len(tested) >= 14, tested
    assert len(statuses) >= 10 * len(tested) // 2
    assert {200, 422} <= set(statuses), sorted(set(statuses))


def test_openapi_document_is_valid_json(tmp_path: Path) -> None:
    app, _ = _app_and_key(tmp_path)
    spec = TestClient(app).get("/openapi.json").json()
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    assert spec["openapi"].startswith("3.")


def test_stateful_links_between_operations_hold(tmp_path: Path) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    app, key = _app_and_key(tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema = schema.exclude(path_regex=r"/events$")
    base = schema.as_state_machine()
    calls: list[int] = []

    class Machine(base):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": {"Authorization": f"Bearer {key}"}}

        def validate_response(self, response, case, **kwargs) -> None:  # type: ignore[no-untyped-def]
            calls.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        ),
    )
    assert len(calls) >= 15
