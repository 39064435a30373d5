"""The query API over the event index (/v1/index/*): answers, pagination, and bad input naming the field."""

from __future__ import annotations

import pytest

from ledger.index.queries import encode_cursor
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import Parties, agree, register_asset
from tests.helpers import h


def test_lists_answer_with_items_and_stable_cursors(api: Api) -> None:
    p = Parties(api)
    a = register_asset(api, p.uni, p.p_uni, "201710601862.3", "一种数据存证方法")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": a,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + 86400,
            "royalty": {"basis": "lump_sum", "amount": "1", "currency": "HKD"},
        },
        p.uni,
        p.y,
    )
    hashes = [h(f"q{i}") for i in range(3)]
    assert api.client.post("/v1/evidence/batch", json=api.batch_body(p.x, hashes)).status_code == 202
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.index.sync()

    status = api.client.get("/v1/index/status").json()
    assert status["behind"] == 0 and status["counts"]["assets"] == 1 and status["counts"]["evidence"] == 3

    first = api.client.get("/v1/index/evidence", params={"limit": 2, "party": p.p_x})
    assert first.status_code == 200, first.text
    body = first.json()
    assert len(body["items"]) == 2 and body["nextCursor"]
    second = api.client.get(
        "/v1/index/evidence", params={"limit": 2, "party": p.p_x, "cursor": body["nextCursor"]}
    ).json()
    assert second["nextCursor"] is None
    assert {e["binding"] for e in body["items"] + second["items"]} == {"0x" + api.binding(p.x, x).hex() for x in hashes}

    assets = api.client.get("/v1/index/assets", params={"owner": p.p_uni, "jurisdiction": "CN"}).json()
    assert [x["assetId"] for x in assets["items"]] == [a] and assets["nextCursor"] is None
    assert api.client.get("/v1/index/assets", params={"number": "201910000003.8"}).json()["items"] == []
    agreements = api.client.get(
        "/v1/index/agreements",
        params={
            "party": p.p_y,
            "type": "licence",
            "status": "effective",
            "asset": a,
            "from": now - 60,
            "to": now + 3600,
        },
    ).json()
    assert [x["agreementId"] for x in agreements["items"]] == [lic["agreementId"]]
    assert api.client.get("/v1/index/disputes", params={"party": p.p_y, "status": "open"}).json() == {
        "items": [],
        "nextCursor": None,
    }


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/index/evidence", {"colour": "red"}, "colour"),
        ("/v1/index/assets", {"owners": "1"}, "owners"),
        ("/v1/index/agreements", {"kind": "licence"}, "kind"),
        ("/v1/index/disputes", {"from": "1"}, "from"),
        ("/v1/index/status", {"x": "1"}, "x"),
        ("/v1/index/evidence", {"cursor": "not a cursor"}, "cursor"),
        ("/v1/index/evidence", {"cursor": encode_cursor([1])}, "cursor"),
        ("/v1/index/assets", {"cursor": "eyJ4IjoxfQ"}, "cursor"),
        ("/v1/index/evidence", {"from": "2025-02-01", "to": "2025-01-01"}, "from"),
        ("/v1/index/agreements", {"from": "2000", "to": "1000"}, "from"),
        ("/v1/index/evidence", {"to": "yesterday"}, "to"),
        ("/v1/index/evidence", {"limit": "501"}, "limit"),
        ("/v1/index/agreements", {"limit": "-1"}, "limit"),
        ("/v1/index/evidence", {"kind": "bulk"}, "kind"),
        ("/v1/index/agreements", {"type": "sale"}, "type"),
        ("/v1/index/agreements", {"asset": "A"}, "asset"),
        ("/v1/index/assets", {"jurisdiction": "US"}, "jurisdiction"),
        ("/v1/index/disputes", {"status": "pending"}, "status"),
        ("/v1/index/evidence", {"registrant": "0x1234"}, "registrant"),
    ],
)
def test_bad_input_answers_400_naming_the_field(api: Api, path: str, params: dict[str, str], field: str) -> None:
    resp = api.client.get(path, params=params)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input" and err["field"] == field, err


def test_a_repeated_parameter_is_refused(api: Api) -> None:
    resp = api.client.get("/v1/index/evidence?party=1&party=2")
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "party"


def test_the_routes_are_documented(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in (
        "/v1/index/evidence",
        "/v1/index/assets",
        "/v1/index/agreements",
        "/v1/index/disputes",
        "/v1/index/status",
    ):
        op = spec["paths"][path]["get"]
        assert op["description"] and op["summary"], path
    names = {p["name"] for p in spec["paths"]["/v1/index/evidence"]["get"]["parameters"]}
    assert {"party", "from", "to", "kind", "cursor", "limit"} <= names
