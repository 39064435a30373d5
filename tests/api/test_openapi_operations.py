"""The HTTP surface stays what clients know: every operation of the OpenAPI document is in the committed list
(tests/api/openapi_operations.json) and nothing else is, so a lost or renamed route fails here."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import Api

SNAPSHOT = Path(__file__).with_name("openapi_operations.json")


def test_the_operations_are_those_of_the_committed_list(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    operations = sorted(f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item)
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert len(expected) > 50
    assert [op for op in expected if op not in operations] == [], "routes lost"
    assert [op for op in operations if op not in expected] == [], "routes added: add them to the snapshot on purpose"
