"""The input rules (ledger/domain/inputs.py, api/schemas.py): bounded integers, ASCII digits, safe text, strict decimals;
operator routes checked before the body; the bearer scheme in any case; the envelope declared in the document.

Every refusal is a 4xx in the JSON envelope naming the field, and changes nothing on chain.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ledger.domain import inputs
from ledger.domain.parties import PartyProfile
from ledger.errors import InvalidInput
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.helpers import account

USCC = "91110108551385082Q"
USCC_2 = "91440300MA5FUTDD3D"


def refused(resp: Any, status: int, field: str | None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == ["error"], body
    err = body["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"], err
    if field is not None:
        assert err.get("field") == field, err
    return err


def party_count(api: Api) -> int:
    return int(api.ledger.evidence.functions.partyCount().call())


def party_body(**over: Any) -> dict[str, Any]:
    return {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": USCC,
        "nameZh": "前海测试公司",
        "nameEn": "Qianhai Test Ltd",
        "accounts": [account("rules-firm").address],
        **over,
    }


# --- integers bounded by the type they end in -----------------------------------------------------------


def evidence_body(api: Api, **over: Any) -> dict[str, Any]:
    acct = account("rules-registrant")
    body = api.single_body(acct, b"\x42" * 32)
    return {**body, **over}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"nonce": 2**256}, "nonce"),  # uint256 on chain: once a 500
        ({"nonce": -1}, "nonce"),
        ({"nonce": "5"}, "nonce"),  # a JSON number, not a string
        ({"nonce": 1.0}, "nonce"),
        ({"nonce": True}, "nonce"),
        ({"deadline": 2**63}, "deadline"),  # BIGINT in the journal (uint64 on chain): the smaller bound
        ({"deadline": 2**64}, "deadline"),
        ({"deadline": -5}, "deadline"),
    ],
    ids=[
        "nonce-2^256",
        "nonce-negative",
        "nonce-string",
        "nonce-float",
        "nonce-bool",
        "deadline-2^63",
        "deadline-2^64",
        "deadline-negative",
    ],
)
def test_evidence_integers_out_of_their_type_answer_422(api: Api, over: dict[str, Any], field: str) -> None:
    err = refused(api.client.post("/v1/evidence", json=evidence_body(api, **over)), 422, field)
    assert err["code"] == "invalid_input"


def test_largest_uint256_nonce_passes_the_schema_and_is_refused_by_the_ledger(api: Api, firm: Any) -> None:
    body = api.single_body(firm, b"\x43" * 32, nonce=0)
    resp = api.client.post("/v1/evidence", json={**body, "nonce": 2**256 - 1})
    assert 400 <= resp.status_code < 500 and resp.status_code != 422, resp.text  # a signature over another nonce


@pytest.mark.parametrize(
    "path",
    [
        "/v1/parties/{n}",
        "/v1/parties/{n}/document-key",
        "/v1/assets/{n}",
        "/v1/assets/{n}/title",
    ],
)
@pytest.mark.parametrize("n", [2**63, 2**64, 2**256, 10**400], ids=["2^63", "2^64", "2^256", "10^400"])
def test_path_ids_beyond_their_type_answer_422(api: Api, path: str, n: int) -> None:
    refused(api.client.get(path.format(n=n)), 422, "party_id" if "parties" in path else "asset_id")


def test_query_integers_beyond_bigint(api: Api) -> None:
    assert refused(api.client.get("/v1/assets/1/title", params={"at": str(2**64)}), 422, "at")
    assert refused(
        api.client.get("/v1/agreements/0x" + "ab" * 32 + "/termination", params={"deadline": str(2**63)}),
        422,
        "deadline",
    )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/index/evidence", {"party": str(2**63)}, "party"),
        ("/v1/index/assets", {"owner": str(2**64)}, "owner"),
        ("/v1/index/agreements", {"asset": "9" * 400}, "asset"),  # not even converted
        ("/v1/index/disputes", {"asset": str(2**63)}, "asset"),
        ("/v1/index/evidence", {"from": str(2**63)}, "from"),
        ("/v1/index/agreements", {"to": "9" * 30}, "to"),
        ("/v1/index/evidence", {"limit": "9" * 5000}, "limit"),
        (
            "/v1/index/evidence",
            {"cursor": base64.urlsafe_b64encode(json.dumps([2**63, 0]).encode()).decode()},
            "cursor",
        ),
        (
            "/v1/index/evidence",
            {"cursor": base64.urlsafe_b64encode(json.dumps([10**30, 1]).encode()).decode()},
            "cursor",
        ),
        ("/v1/index/evidence", {"cursor": "A" * 5000}, "cursor"),
    ],
)
def test_index_filters_and_cursors_beyond_bigint_answer_400(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    refused(api.client.get(path, params=params), 400, field)


@pytest.mark.parametrize(
    "rid", ["sub_" + "9" * 19, "sub_" + str(2**63), "sub_" + "9" * 5000, "sub_-1", "sub_ 1", "sub_1_0"]
)
def test_receipt_ids_beyond_bigint_or_malformed_answer_4xx(api: Api, rid: str) -> None:
    resp = api.client.get(f"/v1/receipts/{rid}")
    assert resp.status_code in (400, 422), resp.text
    assert resp.json()["error"]["field"] == "receipt_id"


def test_a_bigint_receipt_id_is_looked_up(api: Api) -> None:
    refused(api.client.get(f"/v1/receipts/sub_{2**63 - 1}"), 404, "receipt_id")


# --- ASCII digits only -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["١٢٣", "１", "۱", "१", "+1", " 1", "1 ", "1_0", "0x1", "1e3", "²"])
def test_only_ascii_digits_in_path_ids(api: Api, text: str) -> None:
    refused(api.client.get(f"/v1/parties/{text}"), 422, "party_id")
    refused(api.client.get(f"/v1/assets/{text}"), 422, "asset_id")


@pytest.mark.parametrize("text", ["١٢٣", "１", "²", "+1", "1_0"])
def test_only_ascii_digits_in_query_numbers_and_receipts(api: Api, text: str) -> None:
    refused(api.client.get("/v1/index/evidence", params={"party": text}), 400, "party")
    refused(api.client.get("/v1/index/evidence", params={"limit": text}), 400, "limit")
    refused(api.client.get("/v1/index/evidence", params={"from": text}), 400, "from")
    refused(api.client.get("/v1/assets/1/title", params={"at": text}), 422, "at")
    refused(api.client.get(f"/v1/receipts/sub_{text}"), 400, "receipt_id")


def test_ascii_digit_parser() -> None:
    assert inputs.parse_uint("0007", "n") == 7
    assert inputs.parse_uint(str(inputs.INT64_MAX), "n") == inputs.INT64_MAX
    for bad in ["", "١", "１", "-1", "+1", " 1", "1_0", str(inputs.INT64_MAX + 1), "9" * 100_000]:
        with pytest.raises(InvalidInput) as exc:
            inputs.parse_uint(bad, "n")
        assert exc.value.field == "n"


# --- human text ------------------------------------------------------------------------------------------

BAD_TEXT = {
    "nul": "Qianhai\x00Ltd",
    "control": "Qianhai\x07Ltd",
    "newline": "Qianhai\nLtd",
    "rlo": "Qianhai \u202eLtd",
    "lre": "Qianhai \u202aLtd",
    "pdi": "Qianhai \u2069Ltd",
    "lri": "Qianhai \u2066Ltd",
    "zwsp": "Qian\u200bhai",
    "zwj": "Qian\u200dhai",
    "word-joiner": "Qian\u2060hai",
    "bom": "\ufeffQianhai",
    "soft-hyphen": "Qian\u00adhai",
    "line-separator": "Qianhai\u2028Ltd",
    "private-use": "Qianhai\ue000",
    "not-nfc": "Cafe\u0301 Ltd",  # e + combining acute: NFC is "Café"
}


@pytest.mark.parametrize("field", ["nameZh", "nameEn"])
@pytest.mark.parametrize("text", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_party_names_must_be_safe_text(api: Api, field: str, text: str) -> None:
    before = party_count(api)
    err = refused(api.client.post("/v1/parties", json=party_body(**{field: text}), headers=api.auth), 422, field)
    assert err["code"] == "invalid_input"
    assert party_count(api) == before


def test_party_name_length_is_bounded(api: Api) -> None:
    refused(api.client.post("/v1/parties", json=party_body(nameEn="A" * 201), headers=api.auth), 422, "nameEn")


def test_good_text_is_accepted(api: Api) -> None:
    """NFC Chinese with an ideographic space, accents, apostrophes and emoji are fine."""
    body = party_body(nameZh="前海　深港合作区 测试公司", nameEn="Café d'Été (HK) Ltd 🚀")
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 201, resp.text
    assert resp.json()["nameZh"] == "前海　深港合作区 测试公司"


@pytest.mark.parametrize("text", [BAD_TEXT["rlo"], BAD_TEXT["nul"], BAD_TEXT["not-nfc"]], ids=["rlo", "nul", "not-nfc"])
def test_other_texts_on_chain_must_be_safe(api: Api, firm: Any, text: str) -> None:
    refused(api.client.post("/v1/parties/1/suspend", json={"reason": text}, headers=api.auth), 422, "reason")
    asset = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": text,
        "owners": [{"partyId": 1, "share": 10_000}],
    }
    refused(api.client.post("/v1/assets/payload", json=asset), 422, "title")
    licence = {
        "kind": "licence",
        "assetId": 1,
        "documentHash": "0x" + "ab" * 32,
        "licensee": 1,
        "licenceType": "ordinary",
        "territory": ["CN"],
        "fieldOfUse": text,
        "end": 4102444800,
        "royalty": {"basis": "lump_sum", "amount": "1"},
    }
    refused(api.client.post("/v1/agreements", json=licence), 422, "fieldOfUse")
    assert api.client.get("/v1/parties/1").json()["status"] == "active"


@pytest.mark.parametrize("text", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_the_ledger_refuses_the_same_text_before_sending(text: str) -> None:
    """The CLI and library path (PartyProfile.validated, the asset title, the suspension reason) apply the rules too."""
    with pytest.raises(InvalidInput) as exc:
        PartyProfile("firm", "mainland", "uscc", USCC, "前海测试公司", text).validated()
    assert exc.value.field == "nameEn"
    with pytest.raises(InvalidInput) as exc:
        inputs.check_text(text, "title", max_length=inputs.TITLE_MAX)
    assert exc.value.field == "title"


def test_the_ledger_refuses_an_unsafe_asset_title(api: Api, firm: Any) -> None:
    body = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": "Battery \u202eseparator",
        "owners": [{"partyId": 1, "share": 10_000}],
    }
    with pytest.raises(InvalidInput) as exc:
        api.ledger.asset_service.registration(body)
    assert exc.value.field == "title"


def test_the_ledger_refuses_an_unsafe_suspension_reason(api: Api, firm: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        api.ledger.parties.suspend(1, "fraud\u200b")
    assert exc.value.field == "reason"
    assert api.client.get("/v1/parties/1").json()["status"] == "active"


# --- decimal amounts -------------------------------------------------------------------------------------

BAD_DECIMALS = [
    "1e999",
    "1E5",
    "inf",
    "Infinity",
    "NaN",
    "-1",
    "+1",
    "1,000",
    " 1",
    "1 ",
    "1.",
    ".5",
    "0x10",
    "١٢",
    "１",
    "1_000",
    "1" * 31,
    "1." + "1" * 19,
    "",
]


@pytest.mark.parametrize("amount", BAD_DECIMALS)
def test_royalty_amounts_are_plain_decimals(api: Api, amount: str) -> None:
    body = {
        "kind": "licence",
        "assetId": 1,
        "documentHash": "0x" + "ab" * 32,
        "licensee": 1,
        "licenceType": "ordinary",
        "territory": ["CN"],
        "end": 4102444800,
        "royalty": {"basis": "lump_sum", "amount": amount},
    }
    refused(api.client.post("/v1/agreements", json=body), 422, "royalty.amount")


@pytest.mark.parametrize("field", ["appraisedValue", "agreedValue", "capitalAmount"])
def test_equity_values_are_plain_decimals(api: Api, field: str) -> None:
    equity = {
        "appraiser": "Shenzhen Appraisal Co",
        "appraisalReportHash": "0x" + "cd" * 32,
        "appraisedValue": "1000",
        "agreedValue": "1000",
        "capitalAmount": "1000",
        "equityShare": 1000,
        field: "1e999",
    }
    body = {
        "kind": "equity_contribution",
        "assetId": 1,
        "documentHash": "0x" + "ab" * 32,
        "company": 1,
        "equity": equity,
    }
    refused(api.client.post("/v1/agreements", json=body), 422, f"equity.{field}")


def test_pledge_amount_is_a_plain_decimal(api: Api) -> None:
    body = {
        "kind": "pledge",
        "assetId": 1,
        "documentHash": "0x" + "ab" * 32,
        "pledgee": 1,
        "end": 4102444800,
        "amount": "1e999",
    }
    refused(api.client.post("/v1/agreements", json=body), 422, "amount")


def test_decimal_parser_of_the_ledger() -> None:
    for good in ["0", "1250000.50", "9" * 30, "0." + "0" * 17 + "1"]:
        assert inputs.parse_decimal(good, "amount") == good
    for bad in [*BAD_DECIMALS, 5, 1.5, None]:
        with pytest.raises(InvalidInput) as exc:
            inputs.parse_decimal(bad, "amount")
        assert exc.value.field == "amount"


# --- operator routes: the token first, the scheme in any case -------------------------------------------

OPERATOR_CALLS = [
    ("post", "/v1/parties"),
    ("post", "/v1/parties/1/suspend"),
    ("post", "/v1/parties/1/reinstate"),
    ("post", "/v1/parties/1/suspension/confirm"),
    ("post", "/v1/parties/1/recovery"),
    ("post", "/v1/parties/not-a-number/suspend"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {OPERATOR_TOKEN}"},
        {"Authorization": OPERATOR_TOKEN},
    ],
    ids=["none", "wrong-token", "basic", "no-scheme"],
)
def test_operator_routes_refuse_before_reading_the_body(
    api: Api, method: str, path: str, headers: dict[str, str]
) -> None:
    before = party_count(api)
    for content in (b"{not json", b'{"kind": ' * 50 + b"1", json.dumps({"reason": "\u202e" * 3000}).encode()):
        resp = api.client.request(
            method.upper(), path, content=content, headers={"Content-Type": "application/json", **headers}
        )
        err = refused(resp, 403, "authorization")
        assert err["code"] == "permission_denied"
    assert party_count(api) == before


def test_with_the_token_the_same_malformed_body_is_a_422(api: Api) -> None:
    resp = api.client.post(
        "/v1/parties", content=b"{not json", headers={"Content-Type": "application/json", **api.auth}
    )
    refused(resp, 422, "body")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(api: Api, scheme: str) -> None:
    resp = api.client.post("/v1/parties", json=party_body(), headers={"Authorization": f"{scheme} {OPERATOR_TOKEN}"})
    assert resp.status_code == 201, resp.text


# --- validation errors in the envelope -------------------------------------------------------------------


def test_validation_errors_name_the_field_wherever_it_is(api: Api) -> None:
    refused(api.client.get("/v1/parties/x"), 422, "party_id")  # path
    refused(
        api.client.get("/v1/evidence/0x" + "ab" * 32 + "/certificate", params={"format": "doc"}), 422, "format"
    )  # query
    refused(api.client.post("/v1/evidence", content=b"[1,", headers={"Content-Type": "application/json"}), 422, "body")
    refused(api.client.post("/v1/evidence", content=b"", headers={"Content-Type": "application/json"}), 422, "body")
    err = refused(api.client.post("/v1/parties", json=party_body(accounts=[]), headers=api.auth), 422, "accounts")
    assert err["details"]["problems"][0]["field"] == "accounts"
    # a union (asset id or hash): the member names pydantic adds are not part of the field
    body = {
        "subject": "asset",
        "subjectId": 2**64,
        "claimant": 1,
        "respondent": 2,
        "claimHash": "0x" + "ab" * 32,
        "institution": 1,
    }
    refused(api.client.post("/v1/disputes/payload", json=body), 422, "subjectId")


# --- the OpenAPI document --------------------------------------------------------------------------------


def test_the_document_declares_the_envelope_for_every_error(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorEnvelope"]["required"] == ["error"]
    assert set(schemas["ErrorBody"]["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in json.dumps(doc)
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) >= 48
    for path, method, op in operations:
        responses = op["responses"]
        errors = {int(code) for code in responses if int(code) >= 400}
        assert {400, 408, 413, 431, 503} <= errors, (method, path, sorted(errors))
        if op.get("parameters") or op.get("requestBody"):
            assert 422 in errors, (method, path)
        for code in errors:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, code)
        assert "Retry-After" in responses["503"]["headers"]
    ops = {(path, method): op for path, method, op in operations}
    for method, path in OPERATOR_CALLS[:-1]:
        template = path.replace("/1/", "/{party_id}/").replace(
            "0x0000000000000000000000000000000000000001", "{account}"
        )
        assert "403" in ops[(template, method)]["responses"], template
    # the bounds are stated
    nonce = schemas["EvidenceCreate"]["properties"]["nonce"]
    assert nonce["maximum"] == 2**256 - 1 and nonce["minimum"] == 0
    party = next(p for p in ops[("/v1/parties/{party_id}", "get")]["parameters"] if p["name"] == "party_id")
    assert party["schema"]["maximum"] == inputs.PARTY_ID_MAX
    amount = schemas["RoyaltyIn"]["properties"]["amount"]["anyOf"][0]
    assert amount["pattern"] == inputs.DECIMAL_PATTERN


@pytest.mark.parametrize(
    "text", [BAD_TEXT["rlo"], BAD_TEXT["zwsp"], BAD_TEXT["not-nfc"]], ids=["rlo", "zwsp", "not-nfc"]
)
def test_the_cli_refuses_unsafe_text_before_any_call(text: str) -> None:
    """`ipledger party admit` and `ipledger asset register` check the text before they contact the API (here an
    address where nothing listens: a connection error would mean the check came too late)."""
    from typer.testing import CliRunner

    from cli.main import app

    nowhere = ["--api-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(
        app,
        [
            "party",
            "admit",
            "--kind",
            "firm",
            "--identifier",
            USCC,
            "--account",
            account("cli-firm").address,
            "--name-en",
            text,
            *nowhere,
        ],
    )
    assert isinstance(result.exception, InvalidInput) and result.exception.field == "nameEn", result.output
    result = CliRunner().invoke(
        app, ["asset", "register", "--number", "201710601862.3", "--title", text, "--owner", "1:10000", *nowhere]
    )
    assert isinstance(result.exception, InvalidInput) and result.exception.field == "title", result.output
