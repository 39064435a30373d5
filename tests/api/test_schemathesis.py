"""Schemathesis over every operation of the OpenAPI document, against the real app on a real anvil chain.

Each operation is driven through the ASGI transport with cases schemathesis derives from the document
(its explicit examples, boundary values of every schema — the coverage phase — and random fuzzing, valid
and invalid), and every answer is checked:

- ``not_a_server_error``: no 5xx, ever;
- ``status_code_conformance``: the status is one the operation declares;
- ``content_type_conformance``: the content type is one declared for that status;
- ``response_schema_conformance``: the body matches the declared schema — every error answer the
  ``ErrorEnvelope``, and the success models where a route declares one;
- ``response_headers_conformance``: declared headers (``Retry-After`` of a 503) have their declared form.

Operator routes are called with the operator's token, so their bodies are explored too (without it they
answer 403 before reading anything: ``tests/api/test_input_rules.py``). The chain state is a snapshot the
``anvil`` fixture reverts afterwards. Examples per operation are bounded (``IPLEDGER_SCHEMATHESIS_EXAMPLES``,
default 30) so that the suite stays within a couple of minutes on a small machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api
from tests.helpers import account

EXAMPLES = int(os.environ.get("IPLEDGER_SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# POST /v1/tsa and POST /v1/tsa/certificate take DER (RFC 3161 §3.4): sent as raw bytes, as application/octet-stream is
schemathesis.serializer.alias("application/timestamp-query", "application/octet-stream")
schemathesis.serializer.alias("application/timestamp-reply", "application/octet-stream")


@pytest.fixture
def seeded(api: Api) -> Iterator[Api]:
    """Some state for the reads to find: a party with an account and one relayed registration."""
    firm: LocalAccount = account("schemathesis-firm")
    api.admit(firm, "91110108551385082Q")
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, b"\x5c" * 32))
    assert resp.status_code == 202, resp.text
    yield api


@pytest.fixture
def api_schema(seeded: Api) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.client.app)
    schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the test node per operation through ``_nodeid``, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid  # noqa: SLF001


def _operator_only(case: schemathesis.Case) -> bool:
    """Operator routes declare the `authorization` header (api.deps.require_operator)."""
    return any(str(p.name).lower() == "authorization" for p in case.operation.headers)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms(case: schemathesis.Case, seeded: Api) -> None:
    case.call_and_validate(headers=seeded.auth if _operator_only(case) else None, checks=CHECKS)
