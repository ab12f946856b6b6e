"""Schemathesis against the OpenAPI document: no 5xx, responses match it, no login means 401.

Every operation is run with generated valid and invalid input as each role, and without a login.
(Operations are driven one by one with Hypothesis: schemathesis' own pytest collection does not
work with this pytest version.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from api_fixtures import Api
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from support.contract import Node

from server.alerts.model import AlertAction, AlertKey
from server.store.ingest_writes import IngestBatch

# Thousands of generated requests per role: a minute and more.
pytestmark = pytest.mark.slow

PUBLIC = {"POST /api/v1/auth/login", "GET /healthz"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_api(module_api: Api) -> Iterator[Api]:
    """The module's API with a node, zones, events and alerts, so that lookups can succeed."""
    node = Node(module_api.site)
    at = node.status().ts
    batch = IngestBatch()
    batch.layouts[(module_api.site, "edge-1")] = (node.layout(), at)
    batch.events = [(node.event("person_entered", zone="door", people=[1]), at)]
    module_api.store.ingest.write(batch)
    for i in range(3):
        action = AlertAction("open", AlertKey(module_api.site, "window_over_limit", f"w{i}"), at.timestamp())
        module_api.store.alerts.apply([action], 300)
    # Every role logs in before any fuzzing: generated logins with wrong passwords (from whichever
    # test of this module runs first) trip the login rate limit for this client's address.
    for role in ("guide", "manager", "ops"):
        module_api.headers(role)
    yield module_api


def run_all(api: Api, check: Callable[[Any, str], None], max_examples: int) -> list[str]:
    """Run ``check(case, operation)`` on generated cases of every operation; returns the failures."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.server.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _runner(operation.as_strategy(generation_mode=mode), check, label, max_examples)()
            except Unsatisfiable:
                assert (
                    mode is GenerationMode.NEGATIVE
                    and not operation.path_parameters
                    and label == "GET /healthz"
                )
            except Exception as exc:  # collect, so one run reports every operation that fails
                failures.append(f"{label} ({mode.value}): {str(exc)[:600]}")
    return failures


def _runner(
    strategy: Any, check: Callable[[Any, str], None], label: str, max_examples: int
) -> Callable[[], None]:
    @settings(
        max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case, label)

    return run  # type: ignore[no-any-return]


@pytest.mark.parametrize("role", ["guide", "manager", "ops"])
def test_no_server_errors_and_responses_match_the_schema(fuzz_api: Api, role: str) -> None:
    headers = fuzz_api.headers(role)

    def check(case: Any, label: str) -> None:
        response = case.call(headers=headers)
        if label == "POST /api/v1/auth/login":
            return  # it answers 401 or 429 for generated users, which is checked elsewhere
        case.validate_response(response, checks=CHECKS, headers=headers)

    assert run_all(fuzz_api, check, max_examples=8) == []


def test_without_a_login_every_operation_is_refused(fuzz_api: Api) -> None:
    def check(case: Any, label: str) -> None:
        response = case.call()
        assert response.status_code < 500, response.text
        if label not in PUBLIC:
            assert response.status_code == 401, f"{label}: {response.status_code} {response.text[:200]}"

    assert run_all(fuzz_api, check, max_examples=8) == []
