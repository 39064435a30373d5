"""The OpenAPI document describes every success body, and the bodies the API answers match it.

Every operation declares a 2xx answer with a JSON schema or a non-JSON content type (a PDF, a ZIP, raw bytes);
every route of ``api/routes`` declares its ``response_model`` (or, answering no JSON, its ``response_class``).
Then real scenarios of the API suites (evidence registered and anchored, parties admitted and suspended, assets
confirmed and rejected, agreements proposed, signed, executed and withdrawn, a dispute opened and awarded,
documents stored and granted, the event index queried) run through a client that checks each 2xx JSON body
against its operation's schema, made strict: an object whose schema lists properties may carry no other key
(a key the ``TypedDict`` does not declare would otherwise be kept undocumented, ``ledger.domain.results``).
Meanwhile FastAPI's serialisation is watched: a ``TypedDict`` response model must answer exactly the dict the
service returned, byte for byte (the same keys in the same order, no value coerced).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import fastapi.routing
import jsonschema_rs
import pydantic
import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute

import api.routes as api_routes
from ledger.domain import agreements as ag
from ledger.domain import eip712
from tests.api import (
    test_agreements_scenario,
    test_agreements_withdrawal,
    test_asset_confirmation,
    test_disputes,
    test_documents,
    test_evidence,
    test_parties,
    test_query,
)
from tests.api.conftest import Api
from tests.helpers import account

JSON = "application/json"


def strict(node: Any) -> Any:
    """A copy of a schema in which every object that lists its properties refuses any other key."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


class Contract:
    """Validates the 2xx JSON answers of a client against the app's OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = strict(document.get("components", {}))
        self.operations: list[tuple[str, re.Pattern[str], str]] = []
        for path, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            self.operations.extend((method.upper(), pattern, path) for method in item)
        # literal paths before templated ones (/v1/assets/payload is not /v1/assets/{asset_id})
        self.operations.sort(key=lambda op: op[2].count("{"))
        self.checked: dict[tuple[str, str], int] = {}
        self.unchanged = 0  # bodies found identical to what the service returned

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for verb, pattern, template in self.operations:
            if verb == method and pattern.match(path):
                return template, self.document["paths"][template][method.lower()]
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")

    def check(self, method: str, path: str, status: int, content_type: str, body: Any) -> None:
        template, op = self.operation(method, path)
        declared = op["responses"].get(str(status))
        assert declared is not None, f"{method} {template} answered {status}, which it does not declare"
        if not content_type.startswith(JSON):
            assert content_type.split(";")[0] in declared.get("content", {}), (method, template, content_type)
            return
        schema = declared["content"][JSON]["schema"]
        validator = jsonschema_rs.validator_for({**strict(schema), "components": self.components})
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method} {template} ({status}) does not match its schema: {errors[:5]}"
        self.checked[(method, template)] = self.checked.get((method, template), 0) + 1


@pytest.fixture
def contract(api: Api, monkeypatch: pytest.MonkeyPatch) -> Contract:
    """Every 2xx answer of ``api.client`` from now on is checked against the document."""
    checker = Contract(api.client.app.openapi())  # type: ignore[attr-defined]
    send = api.client.request

    def request(method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        resp = send(method, url, *args, **kwargs)
        path, ctype = resp.request.url.path, resp.headers.get("content-type", "")
        if (
            200 <= resp.status_code < 300
            and path not in ("/", "/openapi.json")
            and not path.startswith(("/static/", "/docs", "/redoc"))
        ):
            checker.check(
                method.upper(), path, resp.status_code, ctype, resp.json() if ctype.startswith(JSON) else None
            )
        return resp

    monkeypatch.setattr(api.client, "request", request)
    watched = unchanged_by_the_model(fastapi.routing.serialize_response, checker)
    monkeypatch.setattr(fastapi.routing, "serialize_response", watched)
    return checker


def unchanged_by_the_model(serialize: Any, checker: Contract) -> Any:
    """FastAPI's ``serialize_response``, checking that a ``TypedDict`` (or map) response model answers exactly the
    dict the service returned: no key dropped, added or moved, no value coerced (``True`` to ``1``, ``3`` to
    ``3.0``). The pydantic models that were response models before (``PartyPublic`` …) are left out: they
    shape their answer themselves (absent optional fields answer ``null``), as they always did."""

    async def serialize_response(*, field: Any = None, response_content: Any, **kwargs: Any) -> Any:
        out = await serialize(field=field, response_content=response_content, **kwargs)
        annotation = getattr(getattr(field, "field_info", None), "annotation", None)
        if field is not None and not (isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)):
            answered = json.loads(out) if isinstance(out, (bytes, str)) else out
            assert json.dumps(answered) == json.dumps(jsonable_encoder(response_content)), (
                f"the response model {annotation} changed the body:\n{answered}\n!=\n{response_content}"
            )
            checker.unchanged += 1
        return out

    return serialize_response


def test_every_operation_declares_its_success_body(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, op in item.items():
            success = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            assert success, f"{method.upper()} {path} declares no 2xx answer"
            for code, response in success.items():
                content = response.get("content")
                assert content, f"{method.upper()} {path} {code} declares no content"
                assert response.get("description"), f"{method.upper()} {path} {code} has no description"
                if JSON in content:
                    schema = content[JSON].get("schema")
                    assert schema, f"{method.upper()} {path} {code} declares JSON without a schema"
                    # a bare object is no description: a $ref, properties, a union, or a described map
                    assert set(schema) & {"$ref", "properties", "anyOf", "oneOf", "description"}, (method, path, schema)
                else:
                    assert all(not media.startswith(JSON) for media in content), (method, path, content)


def test_every_route_declares_a_response_model_or_a_non_json_response_class() -> None:
    modules = [importlib.import_module(f"api.routes.{m.name}") for m in pkgutil.iter_modules(api_routes.__path__)]
    routes = [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 49
    for route in routes:
        media = getattr(route.response_class, "media_type", None)
        if route.response_model is None:
            assert media != JSON, f"{route.path} answers JSON without a response_model"
        else:
            assert media in (None, JSON), route.path


def test_a_body_with_an_undeclared_key_or_a_wrong_type_fails_the_contract(api: Api) -> None:
    contract = Contract(api.client.get("/openapi.json").json())
    body = {"account": account("a").address, "partyId": 1, "active": True, "nonce": 0}
    contract.check("GET", f"/v1/accounts/{body['account']}", 200, JSON, body)
    with pytest.raises(AssertionError, match="does not match its schema"):
        contract.check("GET", f"/v1/accounts/{body['account']}", 200, JSON, {**body, "undeclared": 1})
    with pytest.raises(AssertionError, match="does not match its schema"):
        contract.check("GET", "/v1/disputes/0x" + "ab" * 32, 200, JSON, {"disputeId": 1})
    with pytest.raises(AssertionError, match="does not declare"):
        contract.check("GET", "/v1/health", 201, JSON, {})


def _evidence_single(api: Api) -> None:
    firm = account("api-firm")
    api.admit(firm, "91110108551385082Q")
    test_evidence.test_a_relayed_registration_goes_from_pending_to_final_with_a_certificate_that_verifies(api, firm)
    assert api.client.get("/v1/signing-domain").status_code == 200
    assert api.client.get("/v1/health").status_code == 200
    assert api.client.get(f"/v1/accounts/{firm.address}").status_code == 200


def _evidence_batch(api: Api) -> None:
    firm = account("api-firm")
    api.admit(firm, "91110108551385082Q")
    test_evidence.test_a_batch_is_anchored_and_each_item_has_a_certificate_that_verifies(api, firm)


def _verify(api: Api) -> None:
    firm = account("api-firm")
    api.admit(firm, "91110108551385082Q")
    test_evidence.test_the_verify_endpoint_streams_the_file_and_reports_each_check(api, firm)


def _parties(api: Api) -> None:
    test_parties.test_suspend_confirm_and_reinstate_through_the_api(api)
    test_parties.test_powers_lists_the_role_holders_of_every_contract(api)
    assert api.client.get("/v1/parties/1").status_code == 200


def _recovery(api: Api) -> None:
    test_parties.test_a_recovery_is_proposed_vetoed_and_reported_through_the_api(api)


def _dispute(api: Api) -> None:
    test_disputes.test_a_disputed_licence_is_frozen_then_voided_by_the_award(api)
    api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    api.ledger.index.sync()
    listed = api.client.get("/v1/index/disputes")
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    assert api.client.get(f"/v1/disputes/{listed.json()['items'][0]['disputeId']}").status_code == 200


def _termination_and_release(api: Api) -> None:
    """A licence terminated by its parties and a pledge released by its pledgee (no other suite relays them)."""
    p = test_agreements_scenario.Parties(api)
    a = test_agreements_scenario.register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    now = api.chain.now()
    lic = test_agreements_scenario.agree(
        api,
        {
            "kind": "licence",
            "assetId": a,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + 86400,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
        p.uni,
        p.y,
    )
    deadline = now + 3600
    typed = api.client.get(f"/v1/agreements/{lic['agreementId']}/termination", params={"deadline": deadline})
    assert typed.status_code == 200, typed.text
    sigs = [{"signer": s.address, "signature": "0x" + eip712.sign(typed.json(), s).hex()} for s in (p.uni, p.y)]
    done = api.client.post(
        f"/v1/agreements/{lic['agreementId']}/terminate", json={"deadline": deadline, "signatures": sigs}
    )
    assert done.status_code == 200 and done.json()["status"] == "terminated", done.text
    pledge = test_agreements_scenario.agree(
        api,
        {"kind": "pledge", "assetId": a, "pledgee": p.p_bank, "start": now, "end": now + 86400, "amount": "1000"},
        p.uni,
        p.bank,
    )
    message = ag.release_message(
        api.ledger.agreement_service.domain(), bytes.fromhex(pledge["agreementId"][2:]), deadline
    )
    body = {"deadline": deadline, "signer": p.bank.address, "signature": "0x" + eip712.sign(message, p.bank).hex()}
    released = api.client.post(f"/v1/agreements/{pledge['agreementId']}/release", json=body)
    assert released.status_code == 200 and released.json()["status"] == "released", released.text


def _withdrawal(api: Api) -> None:
    test_agreements_withdrawal.test_a_party_withdraws_and_the_collected_signatures_can_no_longer_execute(
        test_agreements_withdrawal.World(api)
    )


# Each runs one scenario of the API suites (a function of theirs, so that the scenario is theirs to keep right)
# and names operations whose bodies it must have checked.
SCENARIOS: dict[str, tuple[Callable[[Api], None], set[tuple[str, str]]]] = {
    "evidence": (
        _evidence_single,
        {
            ("POST", "/v1/evidence"),
            ("GET", "/v1/evidence/{content_hash}"),
            ("GET", "/v1/evidence/{content_hash}/certificate"),
            ("GET", "/v1/receipts/{receipt_id}"),
            ("GET", "/v1/health"),
            ("GET", "/v1/signing-domain"),
            ("GET", "/v1/accounts/{account}"),
        },
    ),
    "batch": (_evidence_batch, {("POST", "/v1/evidence/batch"), ("GET", "/v1/evidence/{content_hash}")}),
    "verify": (_verify, {("POST", "/v1/verify")}),
    "parties": (
        _parties,
        {
            ("POST", "/v1/parties"),
            ("POST", "/v1/parties/{party_id}/suspend"),
            ("GET", "/v1/powers"),
            ("POST", "/v1/parties/{party_id}/reinstate"),
            ("GET", "/v1/parties/{party_id}"),
        },
    ),
    "accounts": (
        test_parties.test_a_party_rotates_its_own_account_through_the_api_and_the_operator_cannot,
        {("POST", "/v1/parties/{party_id}/accounts")},
    ),
    "recovery": (
        _recovery,
        {("POST", "/v1/parties/{party_id}/recovery"), ("POST", "/v1/parties/{party_id}/recovery/veto")},
    ),
    "index": (
        test_query.test_lists_answer_with_items_and_stable_cursors,
        {
            ("POST", "/v1/assets/payload"),
            ("POST", "/v1/assets"),
            ("GET", "/v1/assets/{asset_id}/confirmation"),
            ("POST", "/v1/assets/{asset_id}/confirmation"),
            ("POST", "/v1/agreements"),
            ("POST", "/v1/agreements/{agreement_id}/signatures"),
            ("POST", "/v1/agreements/{agreement_id}/execute"),
            ("GET", "/v1/index/status"),
            ("GET", "/v1/index/evidence"),
            ("GET", "/v1/index/assets"),
            ("GET", "/v1/index/agreements"),
            ("GET", "/v1/index/disputes"),
        },
    ),
    "dispute": (
        _dispute,
        {
            ("POST", "/v1/disputes/payload"),
            ("POST", "/v1/disputes"),
            ("GET", "/v1/disputes/{dispute_id}"),
            ("GET", "/v1/index/disputes"),
            ("POST", "/v1/disputes/{dispute_id}/award/payload"),
            ("POST", "/v1/disputes/{dispute_id}/award"),
            ("GET", "/v1/assets/{asset_id}/title"),
        },
    ),
    "rejection": (
        test_asset_confirmation.test_a_squatters_claim_is_rejected_and_the_rightful_owner_registers_the_number,
        {
            ("GET", "/v1/assets/{asset_id}/rejection"),
            ("POST", "/v1/assets/{asset_id}/rejection"),
            ("GET", "/v1/assets/{asset_id}"),
        },
    ),
    "documents": (
        test_documents.test_a_document_for_two_parties_granted_to_the_arbitrator_is_readable_by_exactly_those_three,
        {
            ("POST", "/v1/document-keys"),
            ("GET", "/v1/parties/{party_id}/document-key"),
            ("POST", "/v1/documents"),
            ("GET", "/v1/documents/{document_id}"),
            ("POST", "/v1/documents/{document_id}/grants"),
        },
    ),
    "termination": (
        _termination_and_release,
        {
            ("GET", "/v1/agreements/{agreement_id}/termination"),
            ("POST", "/v1/agreements/{agreement_id}/terminate"),
            ("POST", "/v1/agreements/{agreement_id}/release"),
        },
    ),
    "withdrawal": (
        _withdrawal,
        {
            ("GET", "/v1/agreements/{agreement_id}/withdrawal"),
            ("POST", "/v1/agreements/{agreement_id}/withdraw"),
            ("GET", "/v1/agreements/{agreement_id}"),
        },
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_bodies_of_a_real_scenario_match_their_declared_schemas(api: Api, contract: Contract, name: str) -> None:
    scenario, operations = SCENARIOS[name]
    scenario(api)
    missing = operations - set(contract.checked)
    assert not missing, f"the {name} scenario checked no body of {sorted(missing)}"
    if name not in ("accounts", "recovery"):  # those answer PartyPublic only (a pydantic model, left out above)
        assert contract.unchanged > 0, "no body was compared with the dict the service returned"
