"""Bad input to assets and agreements, through the API on anvil: every refusal is a 4xx in the JSON error
envelope naming the field at fault, and nothing is written — no row in the journal, no transaction on
chain, no signature stored, no change of owners.

"Nothing written" is checked by comparing, before and after the refused request, the journal's rows
(``proposals``: ids, signatures, status, transaction) and the chain's block number (the service estimates
every transaction before sending it, so a refused one never mines a block)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.domain import eip712
from ledger.facade import Ledger
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.api.test_agreements_scenario import (
    DOC,
    YEAR,
    Parties,
    agree,
    propose,
    register_asset,
    sign,
    time_travel,
)
from tests.helpers import Chain, account

NUMBER_A = "201710601862.3"  # a valid CN invention application number (DOMAIN.md)
UNKNOWN_ID = "0x" + "ab" * 32

# --- helpers ---------------------------------------------------------------------------------


def state(api: Api) -> tuple[int, list[Any]]:
    """What a refusal must leave untouched: the chain's height and every journal row."""
    rows = [
        (p.agreement_id, p.kind, p.asset_id, p.signatures, p.status, p.tx_hash) for p in api.ledger.store.proposals()
    ]
    return api.chain.w3.eth.block_number, rows


def refused(resp: Any, status: int, field: str | None) -> dict[str, Any]:
    """The response is ``status`` with the error envelope naming ``field`` (None: no field expected)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == ["error"], body
    err = body["error"]
    assert isinstance(err["code"], str) and err["code"], err
    assert isinstance(err["message"], str) and err["message"], err
    if field is not None:
        assert err.get("field") == field, err
    return err


def onchain_status(api: Api, agreement_id: str) -> int:
    return int(api.ledger.assets.functions.agreement(bytes.fromhex(agreement_id[2:])).call()[1])


def owners(api: Api, asset_id: int) -> list[dict[str, int]]:
    resp = api.client.get(f"/v1/assets/{asset_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()["owners"]


def execute(api: Api, agreement_id: str) -> Any:
    return api.client.post(f"/v1/agreements/{agreement_id}/execute")


def post_signature(api: Api, agreement_id: str, signer: Any, typed_data: dict[str, Any]) -> Any:
    sig = eip712.sign(typed_data, signer)
    return api.client.post(
        f"/v1/agreements/{agreement_id}/signatures", json={"signer": signer.address, "signature": "0x" + sig.hex()}
    )


def assert_not_executed(api: Api, proposal: dict[str, Any], asset_id: int, owners_before: list[dict[str, int]]) -> None:
    """The agreement is still only proposed: nothing on chain, the asset's owners unchanged."""
    assert onchain_status(api, proposal["agreementId"]) == 0
    shown = api.client.get(f"/v1/agreements/{proposal['agreementId']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "proposed" and shown.json()["transactionHash"] is None
    assert owners(api, asset_id) == owners_before


class World:
    """The scenario's parties and one asset, A, owned by the university."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.p = Parties(api)
        self.a = register_asset(api, self.p.uni, self.p.p_uni, NUMBER_A, "A method of data attestation")
        self.now = time_travel(api, 1)

    def assignment(self, **over: Any) -> dict[str, Any]:
        return {
            "kind": "assignment",
            "assetId": self.a,
            "assignees": [{"partyId": self.p.p_x, "share": 10_000}],
            **over,
        }

    def licence(self, **over: Any) -> dict[str, Any]:
        return {
            "kind": "licence",
            "assetId": self.a,
            "licensee": self.p.p_y,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": self.now,
            "end": self.now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "100000"},
            **over,
        }

    def equity(self, **over: Any) -> dict[str, Any]:
        equity = {
            "appraiser": "深圳某资产评估有限公司",
            "appraisalReportHash": "0x" + keccak(text="appraisal").hex(),
            "appraisedValue": "8000000",
            "agreedValue": "7500000",
            "capitalAmount": "500000",
            "equityShare": 500,
        }
        return {"kind": "equity_contribution", "assetId": self.a, "company": self.p.p_w, "equity": equity, **over}

    def pledge(self, **over: Any) -> dict[str, Any]:
        return {
            "kind": "pledge",
            "assetId": self.a,
            "pledgee": self.p.p_bank,
            "start": self.now,
            "end": self.now + YEAR,
            "amount": "3000000",
            "currency": "CNY",
            **over,
        }


@pytest.fixture(scope="module")
def shared_world(anvil_chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module (admitting six parties per test would take most of the time budget); each
    test runs in its own chain snapshot, see ``world``. The journal is shared, but every check here
    compares it before and after a request, and every proposal has its own random salt."""
    start = anvil_chain.snapshot()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("bad-input") / "data",
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
    )
    ledger = Ledger(
        w3=anvil_chain.w3,
        manifest=anvil_chain.manifest,
        settings=settings,
        relayer=anvil_chain.sender,
        registrar=anvil_chain.registrar_sender,
        governance=anvil_chain.governance_sender,
    )
    try:
        with TestClient(create_app(ledger, settings, run_pipeline=False), raise_server_exceptions=False) as client:
            yield World(Api(client, ledger, anvil_chain))
    finally:
        ledger.close()
        anvil_chain.revert(start)


@pytest.fixture
def world(shared_world: World) -> Iterator[World]:
    chain = shared_world.api.chain
    snap = chain.snapshot()
    try:
        yield shared_world
    finally:
        chain.revert(snap)
        ledger = shared_world.api.ledger
        for name in ("relayer", "registrar", "governance"):  # their cached nonces are from the reverted future
            sender = getattr(ledger, name, None)
            if sender is not None:
                sender.resync()


# --- assets: patent numbers, owners, shares ----------------------------------------------------


def _asset(w: World, **over: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201810000001.4",
        "title": "Battery separator",
        "owners": [{"partyId": w.p.p_uni, "share": 10_000}],
        **over,
    }


# (id, body, status, field, a fragment of the message saying what is wrong)
ASSET_CASES: list[tuple[str, Callable[[World], dict[str, Any]], int, str, str]] = [
    ("cn-wrong-check-digit", lambda w: _asset(w, number="201710601862.4"), 400, "number", "check digit"),
    ("cn-wrong-check-digit-zl", lambda w: _asset(w, number="ZL201810000001.5"), 400, "number", "check digit"),
    (
        "cn-type-digit-4",
        lambda w: _asset(w, number="201740601862.X"),
        400,
        "number",
        "type digit 4",
    ),  # check digit right, type 4 unknown
    ("cn-type-digit-0", lambda w: _asset(w, number="201700601862.8"), 400, "number", "type digit 0"),
    ("cn-format-11-digits", lambda w: _asset(w, number="20171060186.3"), 400, "number", "is not a CN patent number"),
    ("cn-format-letters", lambda w: _asset(w, number="2017A0601862.3"), 400, "number", "is not a CN patent number"),
    ("cn-format-hyphen", lambda w: _asset(w, number="2017-10601862.3"), 400, "number", "is not a CN patent number"),
    ("cn-format-empty", lambda w: _asset(w, number=""), 400, "number", "is not a CN patent number"),
    ("cn-year-before-2003", lambda w: _asset(w, number="200210601862.0"), 400, "number", "predates"),
    (
        "cn-invention-as-utility-model",
        lambda w: _asset(w, kind="utility_model", number=NUMBER_A),
        400,
        "kind",
        "kind must be invention",
    ),
    (
        "cn-design-as-invention",
        lambda w: _asset(w, kind="invention", number="201730601862.4"),
        400,
        "kind",
        "kind must be design",
    ),
    (
        "cn-utility-model-as-design",
        lambda w: _asset(w, kind="design", number="201720601862.9"),
        400,
        "kind",
        "kind must be utility_model",
    ),
    ("cn-pct-kind", lambda w: _asset(w, kind="pct_application"), 400, "kind", "for CN"),
    (
        "hk-bad-character",
        lambda w: _asset(w, jurisdiction="HK", kind="short_term_patent", number="HK#1234567"),
        400,
        "number",
        "HK patent number",
    ),
    (
        "hk-empty",
        lambda w: _asset(w, jurisdiction="HK", kind="standard_patent_r", number="  "),
        400,
        "number",
        "HK patent number",
    ),
    (
        "hk-too-long",
        lambda w: _asset(w, jurisdiction="HK", kind="standard_patent_o", number="1" * 33),
        400,
        "number",
        "HK patent number",
    ),
    (
        "hk-non-ascii",
        lambda w: _asset(w, jurisdiction="HK", kind="short_term_patent", number="１２３４５６７"),
        400,
        "number",
        "HK patent number",
    ),
    ("hk-cn-kind", lambda w: _asset(w, jurisdiction="HK", kind="invention", number="HK1234567"), 400, "kind", "for HK"),
    (
        "pct-short-year",
        lambda w: _asset(w, jurisdiction="PCT", kind="pct_application", number="PCT/CN23/123456"),
        400,
        "number",
        "PCT/CN2023/123456",
    ),
    (
        "pct-no-prefix",
        lambda w: _asset(w, jurisdiction="PCT", kind="pct_application", number="CN2023/123456"),
        400,
        "number",
        "PCT/CN2023/123456",
    ),
    (
        "pct-short-serial",
        lambda w: _asset(w, jurisdiction="PCT", kind="pct_application", number="PCT/CN2023/12345"),
        400,
        "number",
        "PCT/CN2023/123456",
    ),
    (
        "pct-cn-kind",
        lambda w: _asset(w, jurisdiction="PCT", kind="invention", number="PCT/CN2023/123456"),
        400,
        "kind",
        "for PCT",
    ),
    (
        "unknown-owner",
        lambda w: _asset(w, owners=[{"partyId": 99, "share": 10_000}]),
        400,
        "owners[0].partyId",
        "not an admitted party",
    ),
    (
        "owner-zero",
        lambda w: _asset(w, owners=[{"partyId": 0, "share": 10_000}]),
        400,
        "owners[0].partyId",
        "not an admitted party",
    ),
    (
        "unknown-co-owner",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 5_000}, {"partyId": 99, "share": 5_000}]),
        400,
        "owners[1].partyId",
        "not an admitted party",
    ),
    (
        "share-over-100",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 10_001}]),
        400,
        "owners[0].share",
        "basis points",
    ),
    (
        "share-zero",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 0}, {"partyId": w.p.p_x, "share": 10_000}]),
        400,
        "owners[0].share",
        "basis points",
    ),
    # below the type's range (uint16): refused by the schema (docs/operations.md, "Input rules")
    (
        "share-negative",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": -1}, {"partyId": w.p.p_x, "share": 10_001}]),
        422,
        "owners.0.share",
        "greater than or equal to 0",
    ),
    (
        "shares-sum-90",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 5_000}, {"partyId": w.p.p_x, "share": 4_000}]),
        400,
        "owners",
        "sum to 9000",
    ),
    (
        "shares-sum-110",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 6_000}, {"partyId": w.p.p_x, "share": 5_000}]),
        400,
        "owners",
        "sum to 11000",
    ),
    (
        "duplicate-owner",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 5_000}, {"partyId": w.p.p_uni, "share": 5_000}]),
        400,
        "owners",
        "twice",
    ),
    ("no-owner", lambda w: _asset(w, owners=[]), 400, "owners", "1 to 8 owners"),
    ("number-taken", lambda w: _asset(w, number="ZL" + NUMBER_A), 409, "number", "already registered"),
    ("jurisdiction-unknown", lambda w: _asset(w, jurisdiction="US"), 422, "jurisdiction", ""),
    (
        "owner-unknown-field",
        lambda w: _asset(w, owners=[{"partyId": w.p.p_uni, "share": 10_000, "role": "lead"}]),
        422,
        "owners.0.role",
        "",
    ),
]


@pytest.mark.parametrize(
    ("build", "status", "field", "says"), [c[1:] for c in ASSET_CASES], ids=[c[0] for c in ASSET_CASES]
)
def test_asset_registration_refused(
    world: World, build: Callable[[World], dict[str, Any]], status: int, field: str, says: str
) -> None:
    api, body = world.api, build(world)
    before = state(api)
    err = refused(api.client.post("/v1/assets/payload", json=body), status, field)
    assert says in err["message"], err
    # the same body with a (well-formed) owner signature, straight to registration
    signed = {
        "deadline": api.chain.now() + 3600,
        **body,
        "signatures": [{"signer": world.p.uni.address, "signature": "0x" + "11" * 65}],
    }
    assert refused(api.client.post("/v1/assets", json=signed), status, field) == err
    assert state(api) == before
    assert api.ledger.assets.functions.assetCount().call() == 1


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"jurisdiction": "HK", "kind": "short_term_patent", "number": "HK1234567"},
        {"jurisdiction": "PCT", "kind": "pct_application", "number": "PCT/CN2023/123456"},
        {"kind": "design", "number": "201730601862.4"},
        {"kind": "utility_model", "number": "201720601862.9"},
    ],
    ids=["cn", "hk", "pct", "cn-design", "cn-utility-model"],
)
def test_the_valid_asset_bodies_are_accepted(world: World, over: dict[str, Any]) -> None:
    """The bases the refusals above are derived from pass validation, so each refusal is due to its one change."""
    resp = world.api.client.post("/v1/assets/payload", json=_asset(world, **over))
    assert resp.status_code == 200, resp.text


# --- proposals: parties, percentages, terms, territories, kinds ---------------------------------


PROPOSE_CASES: list[tuple[str, Callable[[World], dict[str, Any]], int, str]] = [
    # unknown parties
    (
        "unknown-assignee",
        lambda w: w.assignment(assignees=[{"partyId": 99, "share": 10_000}]),
        400,
        "assignees[0].partyId",
    ),
    ("assignee-zero", lambda w: w.assignment(assignees=[{"partyId": 0, "share": 10_000}]), 400, "assignees[0].partyId"),
    (
        "unknown-second-assignee",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 5_000}, {"partyId": 99, "share": 5_000}]),
        400,
        "assignees[1].partyId",
    ),
    ("unknown-licensee", lambda w: w.licence(licensee=99), 400, "licensee"),
    ("licensee-negative", lambda w: w.licence(licensee=-1), 422, "licensee"),  # below uint24: the schema refuses it
    ("unknown-company", lambda w: w.equity(company=99), 400, "company"),
    ("unknown-pledgee", lambda w: w.pledge(pledgee=99), 400, "pledgee"),
    ("missing-licensee", lambda w: {k: v for k, v in w.licence().items() if k != "licensee"}, 400, "licensee"),
    # percentages and shares
    (
        "assignee-share-over-100",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 10_001}]),
        400,
        "assignees[0].share",
    ),
    (
        "assignee-share-zero",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 0}, {"partyId": w.p.p_y, "share": 10_000}]),
        400,
        "assignees[0].share",
    ),
    (
        "assignee-shares-sum-90",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 6_000}, {"partyId": w.p.p_y, "share": 3_000}]),
        400,
        "assignees",
    ),
    (
        "duplicate-assignee",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 5_000}, {"partyId": w.p.p_x, "share": 5_000}]),
        400,
        "assignees",
    ),
    (
        "royalty-rate-over-100",
        lambda w: w.licence(royalty={"basis": "percentage", "rate": 10_001}),
        400,
        "royalty.rate",
    ),
    ("royalty-rate-missing", lambda w: w.licence(royalty={"basis": "percentage"}), 400, "royalty.rate"),
    ("royalty-missing", lambda w: {k: v for k, v in w.licence().items() if k != "royalty"}, 400, "royalty.basis"),
    (
        "royalty-amount-negative",
        lambda w: w.licence(royalty={"basis": "lump_sum", "amount": "-1"}),
        422,
        "royalty.amount",
    ),  # no sign
    (
        "royalty-currency-unknown",
        lambda w: w.licence(royalty={"basis": "lump_sum", "amount": "1", "currency": "RMB"}),
        400,
        "royalty.currency",
    ),
    (
        "equity-share-over-100",
        lambda w: w.equity(equity={**w.equity()["equity"], "equityShare": 10_001}),
        400,
        "equity.equityShare",
    ),
    # terms in time
    ("end-before-start", lambda w: w.licence(start=w.now + YEAR, end=w.now + 100), 400, "end"),
    ("end-equals-start", lambda w: w.licence(start=w.now + YEAR, end=w.now + YEAR), 400, "end"),
    ("term-already-ended", lambda w: w.licence(start=w.now - 2 * YEAR, end=w.now - YEAR), 400, "end"),
    ("pledge-end-before-start", lambda w: w.pledge(start=w.now + YEAR, end=w.now + 1), 400, "end"),
    ("pledge-term-ended", lambda w: w.pledge(start=w.now - 2 * YEAR, end=w.now - 1), 400, "end"),
    ("licence-without-end", lambda w: {k: v for k, v in w.licence().items() if k != "end"}, 400, "end"),
    ("deadline-passed", lambda w: w.assignment(deadline=w.now - 1), 400, "deadline"),
    # territories
    ("territory-XX", lambda w: w.licence(territory=["XX"]), 400, "territory"),
    ("territory-alpha3", lambda w: w.licence(territory=["CHN"]), 400, "territory"),
    ("territory-one-bad-of-two", lambda w: w.licence(territory=["HK", "ZZ"]), 400, "territory"),
    ("territory-empty", lambda w: w.licence(territory=[]), 400, "territory"),
    ("territory-missing", lambda w: {k: v for k, v in w.licence().items() if k != "territory"}, 400, "territory"),
    # who may be what
    ("equity-to-non-uscc-company", lambda w: w.equity(company=w.p.p_z), 400, "company"),
    ("equity-to-hk-university", lambda w: w.equity(company=w.p.p_uni), 400, "company"),
    ("pledge-to-firm", lambda w: w.pledge(pledgee=w.p.p_y), 400, "pledgee"),
    ("licence-to-owner", lambda w: w.licence(licensee=w.p.p_uni), 400, "licensee"),
    (
        "assignment-to-owner",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_uni, "share": 10_000}]),
        400,
        "assignees",
    ),
    # references and hashes
    ("unknown-asset", lambda w: w.assignment(assetId=99), 404, "assetId"),
    ("asset-zero", lambda w: w.assignment(assetId=0), 400, "assetId"),
    ("document-hash-short", lambda w: w.assignment(documentHash="0x1234"), 400, "documentHash"),
    ("salt-not-hex", lambda w: w.assignment(salt="zz" * 32), 400, "salt"),
    ("parent-licence-unknown", lambda w: w.licence(parentLicence=UNKNOWN_ID), 400, "parentLicence"),
    ("contract-date-invalid", lambda w: w.assignment(contractDate="2024-02-30"), 400, "contractDate"),
    # the schema (422): unknown fields, wrong types, unknown kinds
    ("unknown-field", lambda w: w.licence(licencee=w.p.p_y), 422, "licencee"),
    (
        "unknown-nested-field",
        lambda w: w.licence(royalty={"basis": "lump_sum", "amount": "1", "rat": 5}),
        422,
        "royalty.rat",
    ),
    (
        "unknown-assignee-field",
        lambda w: w.assignment(assignees=[{"partyId": w.p.p_x, "share": 10_000, "name": "X"}]),
        422,
        "assignees.0.name",
    ),
    ("asset-id-not-int", lambda w: w.assignment(assetId="A"), 422, "assetId"),
    ("unknown-kind", lambda w: w.assignment(kind="sale"), 422, "kind"),
    ("unknown-licence-type", lambda w: w.licence(licenceType="semi-exclusive"), 422, "licenceType"),
    ("territory-not-a-list", lambda w: w.licence(territory="CN"), 422, "territory"),
    (
        "document-hash-missing",
        lambda w: {k: v for k, v in w.assignment().items()} | {"documentHash": None},
        422,
        "documentHash",
    ),
]


@pytest.mark.parametrize(
    ("build", "status", "field"), [c[1:] for c in PROPOSE_CASES], ids=[c[0] for c in PROPOSE_CASES]
)
def test_proposal_refused(world: World, build: Callable[[World], dict[str, Any]], status: int, field: str) -> None:
    api = world.api
    body = {"documentHash": DOC, **build(world)}
    before = state(api)
    refused(api.client.post("/v1/agreements", json=body), status, field)
    assert state(api) == before


def test_the_valid_agreement_bodies_are_accepted(world: World) -> None:
    """The bases the refusals are derived from are themselves good, so each refusal is due to its one change."""
    api = world.api
    rows = len(state(api)[1])
    for body in (world.assignment(), world.licence(), world.equity(), world.pledge()):
        proposal = propose(api, body)
        assert api.client.get(f"/v1/agreements/{proposal['agreementId']}").status_code == 200
    assert len(state(api)[1]) == rows + 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"kind": "assignment", "assetId": 1,', "JSON decode error"),
        ("not json", "JSON decode error"),
        ("[]", "valid dictionary"),
        ("", "required"),
    ],
    ids=["truncated", "text", "array", "empty"],
)
def test_malformed_json_bodies(world: World, content: str, message: str) -> None:
    api = world.api
    before = state(api)
    err = refused(
        api.client.post("/v1/agreements", content=content, headers={"Content-Type": "application/json"}), 422, None
    )
    assert err["code"] == "invalid_input" and message in err["message"], err
    assert state(api) == before


# --- agreement ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "aid",
    ["xyz", "0x" + "ab" * 31, "0x" + "ab" * 33, "0x" + "zz" * 32],
    ids=["word", "31-bytes", "33-bytes", "not-hex"],
)
def test_malformed_agreement_ids(world: World, aid: str) -> None:
    api = world.api
    before = state(api)
    refused(api.client.get(f"/v1/agreements/{aid}"), 400, "agreement_id")
    refused(api.client.post(f"/v1/agreements/{aid}/execute"), 400, "agreement_id")
    refused(
        api.client.post(
            f"/v1/agreements/{aid}/signatures", json={"signer": world.p.uni.address, "signature": "0x" + "11" * 65}
        ),
        400,
        "agreement_id",
    )
    assert state(api) == before


def test_unknown_agreement_ids(world: World) -> None:
    api = world.api
    before = state(api)
    refused(api.client.get(f"/v1/agreements/{UNKNOWN_ID}"), 404, "agreement_id")
    refused(api.client.post(f"/v1/agreements/{UNKNOWN_ID}/execute"), 404, "agreement_id")
    refused(
        api.client.post(
            f"/v1/agreements/{UNKNOWN_ID}/signatures",
            json={"signer": world.p.uni.address, "signature": "0x" + "11" * 65},
        ),
        404,
        "agreement_id",
    )
    assert state(api) == before


# --- signatures --------------------------------------------------------------------------------


def test_execute_before_every_party_signed(world: World) -> None:
    api, p = world.api, world.p
    owners_before = owners(api, world.a)
    proposal = propose(api, world.assignment())
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "signatures")
    assert err["details"]["missingParties"] == [p.p_uni, p.p_x]
    assert state(api) == before
    [signed] = sign(api, proposal, p.uni)
    assert signed.status_code == 200, signed.text
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "signatures")
    assert err["details"]["missingParties"] == [p.p_x]
    assert state(api) == before
    assert_not_executed(api, proposal, world.a, owners_before)


def test_same_party_signing_twice(world: World) -> None:
    api, p = world.api, world.p
    proposal = propose(api, world.assignment())
    [first] = sign(api, proposal, p.uni)
    assert first.status_code == 200, first.text
    stored = api.client.get(f"/v1/agreements/{proposal['agreementId']}").json()["signatures"]
    before = state(api)
    refused(sign(api, proposal, p.uni)[0], 409, "signer")
    assert state(api) == before
    # a second account of the same party is still the same party
    second = account("hku-second-account")
    api.chain.change_accounts(p.p_uni, "add", signers=[p.uni], new=second)  # the party's own signed change
    before = state(api)
    refused(post_signature(api, proposal["agreementId"], second, proposal["typedData"]), 409, "signer")
    assert state(api) == before
    assert api.client.get(f"/v1/agreements/{proposal['agreementId']}").json()["signatures"] == stored


def _other_terms(w: World, proposal: dict[str, Any]) -> dict[str, Any]:
    """The proposal's typed data with the assignee's share moved to another party: different terms."""
    typed = {**proposal["typedData"], "message": {**proposal["typedData"]["message"], "grantees": [w.p.p_y]}}
    assert typed["message"] != proposal["typedData"]["message"]
    return typed


# (signer account, typed data signed by which account, claimed signer) -> status, field
SIGNATURE_CASES: list[tuple[str, Callable[[World, dict[str, Any]], dict[str, str]], int, str]] = [
    ("party-not-to-the-agreement", lambda w, pr: _sig(w.p.y, pr["typedData"]), 400, "signer"),
    ("bank-not-to-the-agreement", lambda w, pr: _sig(w.p.bank, pr["typedData"]), 400, "signer"),
    ("account-of-no-party", lambda w, pr: _sig(account("stranger"), pr["typedData"]), 400, "signer"),
    ("other-terms", lambda w, pr: _sig(w.p.uni, _other_terms(w, pr)), 400, "signature"),
    (
        "other-domain-chain",
        lambda w, pr: _sig(w.p.uni, {**pr["typedData"], "domain": {**pr["typedData"]["domain"], "chainId": 1}}),
        400,
        "signature",
    ),
    ("another-partys-key", lambda w, pr: _sig(w.p.x, pr["typedData"], claimed=w.p.uni.address), 400, "signature"),
    ("signature-not-hex", lambda w, pr: {"signer": w.p.uni.address, "signature": "0x" + "zz" * 65}, 400, "signature"),
    ("signature-empty", lambda w, pr: {"signer": w.p.uni.address, "signature": "0x"}, 400, "signature"),
    ("signature-garbage", lambda w, pr: {"signer": w.p.uni.address, "signature": "0x" + "11" * 65}, 400, "signature"),
    ("signer-not-an-address", lambda w, pr: {"signer": "0x1234", "signature": "0x" + "11" * 65}, 400, "signer"),
    ("signer-missing", lambda w, pr: {"signature": "0x" + "11" * 65}, 422, "signer"),
    ("unknown-field", lambda w, pr: {**_sig(w.p.uni, pr["typedData"]), "partyId": w.p.p_uni}, 422, "partyId"),
]


def _sig(signer: Any, typed: dict[str, Any], claimed: str | None = None) -> dict[str, str]:
    return {"signer": claimed or signer.address, "signature": "0x" + eip712.sign(typed, signer).hex()}


@pytest.mark.parametrize(
    ("build", "status", "field"), [c[1:] for c in SIGNATURE_CASES], ids=[c[0] for c in SIGNATURE_CASES]
)
def test_signature_refused(
    world: World, build: Callable[[World, dict[str, Any]], dict[str, str]], status: int, field: str
) -> None:
    api = world.api
    proposal = propose(api, world.assignment())
    before = state(api)
    resp = api.client.post(f"/v1/agreements/{proposal['agreementId']}/signatures", json=build(world, proposal))
    refused(resp, status, field)
    assert state(api) == before
    assert api.client.get(f"/v1/agreements/{proposal['agreementId']}").json()["signatures"] == {}


def test_signatures_past_their_deadline(world: World) -> None:
    api, p = world.api, world.p
    owners_before = owners(api, world.a)
    now = time_travel(api, 1)
    proposal = propose(api, world.assignment(deadline=now + 30))
    assert all(r.status_code == 200 for r in sign(api, proposal, p.uni, p.x))
    time_travel(api, 120)
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "deadline")
    assert err["details"]["revert"] == "SignatureExpired" and err["details"]["deadline"] == now + 30
    assert state(api) == before
    assert_not_executed(api, proposal, world.a, owners_before)


def _suspend(api: Api, party_id: int) -> None:
    resp = api.client.post(f"/v1/parties/{party_id}/suspend", json={"reason": "licence revoked"}, headers=api.auth)
    assert resp.status_code == 200 and resp.json()["status"] == "suspended", resp.text


def test_a_suspended_partys_signature_is_refused(world: World) -> None:
    api, p = world.api, world.p
    proposal = propose(api, world.assignment())
    _suspend(api, p.p_x)
    before = state(api)
    err = refused(sign(api, proposal, p.x)[0], 400, "signer")
    assert err["details"]["revert"] == "AgreementSignerNotActive"
    assert state(api) == before
    assert api.client.get(f"/v1/agreements/{proposal['agreementId']}").json()["signatures"] == {}


def test_a_party_suspended_after_signing_blocks_execution(world: World) -> None:
    api, p = world.api, world.p
    owners_before = owners(api, world.a)
    proposal = propose(api, world.assignment())
    assert all(r.status_code == 200 for r in sign(api, proposal, p.uni, p.x))
    _suspend(api, p.p_x)
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "signatures")
    assert err["details"]["revert"] == "AgreementSignerNotActive" and err["details"]["signer"] == p.x.address
    assert state(api) == before
    assert_not_executed(api, proposal, world.a, owners_before)


# --- frozen and pledged assets ---------------------------------------------------------------


def _freeze(api: Api, asset_id: int) -> None:
    """An arbitrator opens a dispute over the asset: the only way an asset is frozen."""
    from tests.helpers import admit_arbitrator, open_dispute

    arbitrator, _ = admit_arbitrator(api.chain, "bad-input-arbitrator")
    owner = api.client.get(f"/v1/assets/{asset_id}").json()["owners"][0]["partyId"]
    claimant = 1 if owner != 1 else 2
    open_dispute(api.chain, arbitrator, "asset", asset_id, claimant, owner)
    assert api.client.get(f"/v1/assets/{asset_id}").json()["frozen"] is True


@pytest.mark.parametrize("kind", ["assignment", "licence", "equity", "pledge"])
def test_no_proposal_on_a_frozen_asset(world: World, kind: str) -> None:
    api = world.api
    body = getattr(world, kind)()
    _freeze(api, world.a)
    before = state(api)
    refused(api.client.post("/v1/agreements", json={"documentHash": DOC, **body}), 409, "assetId")
    assert state(api) == before


def test_no_execution_on_an_asset_frozen_after_signing(world: World) -> None:
    api, p = world.api, world.p
    owners_before = owners(api, world.a)
    proposal = propose(api, world.assignment())
    assert all(r.status_code == 200 for r in sign(api, proposal, p.uni, p.x))
    _freeze(api, world.a)
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "assetId")
    assert err["details"]["revert"] == "AssetIsFrozen" and err["details"]["assetId"] == world.a
    assert state(api) == before
    assert_not_executed(api, proposal, world.a, owners_before)


@pytest.mark.parametrize("kind", ["assignment", "exclusive", "sole", "equity"])
def test_a_pledged_asset_is_not_moved_without_the_pledgee(world: World, kind: str) -> None:
    api, p = world.api, world.p
    agree(api, world.pledge(), p.uni, p.bank)
    owners_before = owners(api, world.a)
    body, grantee, grantee_id = {
        "assignment": (world.assignment(), p.x, p.p_x),
        "exclusive": (world.licence(licenceType="exclusive"), p.y, p.p_y),
        "sole": (world.licence(licenceType="sole"), p.y, p.p_y),
        "equity": (world.equity(), p.w, p.p_w),
    }[kind]
    proposal = propose(api, body)
    assert proposal["requiredParties"] == [p.p_uni, grantee_id, p.p_bank]
    assert all(r.status_code == 200 for r in sign(api, proposal, p.uni, grantee))
    before = state(api)
    err = refused(execute(api, proposal["agreementId"]), 400, "signatures")
    assert err["details"]["missingParties"] == [p.p_bank]
    assert state(api) == before
    assert_not_executed(api, proposal, world.a, owners_before)


def test_a_pledged_asset_is_not_pledged_again(world: World) -> None:
    api, p = world.api, world.p
    # a second pledge proposed before the first takes effect is refused by the contract at execution ...
    early = propose(api, world.pledge(amount="1"))
    assert all(r.status_code == 200 for r in sign(api, early, p.uni, p.bank))
    first = agree(api, world.pledge(), p.uni, p.bank)
    before = state(api)
    err = refused(execute(api, early["agreementId"]), 400, "assetId")
    assert err["details"]["revert"] == "AssetPledged" and err["details"]["pledge"] == first["agreementId"]
    assert state(api) == before
    assert onchain_status(api, early["agreementId"]) == 0
    # ... and one proposed after it is refused at once
    refused(api.client.post("/v1/agreements", json={"documentHash": DOC, **world.pledge(amount="2")}), 409, "assetId")
    assert state(api) == before


def test_malformed_json_names_the_body(world: World) -> None:
    resp = world.api.client.post(
        "/v1/agreements", content='{"kind": "assignment", "assetId": 1,', headers={"Content-Type": "application/json"}
    )
    err = refused(resp, 422, "body")
    assert err["message"].startswith("the body is not valid JSON"), err
