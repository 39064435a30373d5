"""``ipledger asset`` and ``ipledger agreement``: IP assets, and the agreements that move or encumber them.

Every party signs with its own keystore on its own machine; the API only relays. Before signing anything
the CLI rebuilds the EIP-712 typed data from the terms it shows and refuses if the API's typed data differs
(or if the off-chain details shown are not the ones the terms commit to), so what a party reads is what it
signs. Contract documents are never uploaded: ``--document FILE`` sends only the file's SHA-256.

Human summaries go to stderr and JSON to stdout, so ``ipledger agreement propose ... | jq -r .agreementId``
works; ``show`` and ``title`` print tables unless ``--json``.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_utils import keccak
from rich.table import Column, Table
from rich.text import Text

from cli.evidence import _load_party_key
from cli.main import (
    ApiUrlOpt,
    _print_json,
    api_client,
    app,
    console,
    err_console,
    settings_with,
)
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.hashing import HashAlgorithm, hash_file, parse_hash
from ledger.errors import InvalidInput, KeystoreError, LedgerError

asset_app = typer.Typer(help="Register IP assets (patents) signed by every owner; show them and their chain of title.",
                        no_args_is_help=True)  # fmt: skip
agreement_app = typer.Typer(help="Propose, sign, withdraw, execute, terminate and release IP agreements "
                            "(assignment, licence, equity contribution, pledge).", no_args_is_help=True)  # fmt: skip
app.add_typer(asset_app, name="asset")
app.add_typer(agreement_app, name="agreement")

TOTAL = ag.TOTAL_SHARES
KIND_ALIASES = {**{k.word: k.word for k in ag.AgreementKind.choices()}, "license": "licence", "equity": "equity_contribution"}
ROLES = {k.word: k.roles for k in ag.AgreementKind.choices()}

KeystoresOpt = Annotated[
    list[Path] | None,
    typer.Option("--keystore", help="A signing party account's keystore (v3 JSON); repeat for several. "
                 "Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE (one)."),
]  # fmt: skip
OneKeystoreOpt = Annotated[
    Path | None,
    typer.Option("--keystore", help="The signing party account's keystore (v3 JSON). Password from "
                 "IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE."),
]  # fmt: skip
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of tables.")]
AgreementIdArg = Annotated[str, typer.Argument(help="Agreement id (0x + 64 hex), as printed by `agreement propose`.")]


# --- parsing the command line --------------------------------------------------------------------


def _party_share(text: str, option: str) -> dict[str, int]:
    """``PARTY_ID:SHARE_BPS`` -> ``{"partyId", "share"}``, with a message naming the option on any mistake."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if m is None:
        raise InvalidInput(f"{option} expects PARTY_ID:SHARE_BPS (e.g. 3:10000 for all of it), not {text!r}", field=option)
    party, share = int(m[1]), int(m[2])
    if party < 1:
        raise InvalidInput(f"{option} {text}: party ids start at 1", field=option)
    if not 1 <= share <= TOTAL:
        raise InvalidInput(f"{option} {text}: a share is 1..{TOTAL} basis points ({TOTAL} = 100%)", field=option)
    return {"partyId": party, "share": share}


def _shares(values: list[str], option: str, what: str) -> list[dict[str, int]]:
    entries = [_party_share(v, option) for v in values]
    ids = [e["partyId"] for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{option}: a party is listed twice", field=option)
    total = sum(e["share"] for e in entries)
    if total != TOTAL:
        raise InvalidInput(f"{what} shares sum to {total} basis points, not {TOTAL} (100%): give every {what} with "
                           f"{option} PARTY_ID:SHARE_BPS", field=option)  # fmt: skip
    return entries


def _hash_or_file(value: str, option: str) -> str:
    """A readable file is hashed locally with SHA-256 (never sent); otherwise the value must be a 64-hex hash."""
    path = Path(value).expanduser()
    if path.is_file():
        return "0x" + hash_file(path, HashAlgorithm.SHA256).hex()
    if re.fullmatch(r"(0[xX])?[0-9a-fA-F]{64}", value.strip()):
        return "0x" + parse_hash(value, option).hex()
    raise InvalidInput(f"{option} {value!r} is neither a readable file nor a SHA-256 hash (64 hex characters)", field=option)


def _unix_time(value: str | None, option: str) -> int | None:
    """Unix seconds, an ISO date (00:00 UTC) or an ISO datetime (UTC unless it carries an offset)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidInput(f"{option} {value!r} is not a time: give YYYY-MM-DD, an ISO datetime or unix seconds",
                           field=option) from None  # fmt: skip
    return int(moment.timestamp())


def _bps(value: int | None, option: str) -> int | None:
    if value is not None and not 1 <= value <= TOTAL:
        raise InvalidInput(f"{option} is in basis points: 1..{TOTAL} (100% = {TOTAL}), not {value}", field=option)
    return value


def _territory(values: list[str]) -> list[str]:
    from ledger.domain.territory import to_mask

    codes = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
    if not codes:
        raise InvalidInput("a licence needs --territory: ISO 3166-1 codes (CN = mainland China, HK = Hong Kong) or WORLD",
                           field="--territory")  # fmt: skip
    to_mask(codes, "--territory")  # unknown codes are named before anything is sent
    return codes


def _agreement_id(value: str) -> str:
    try:
        return "0x" + parse_hash(value, "agreement id").hex()
    except InvalidInput:
        raise InvalidInput(f"{value!r} is not an agreement id (0x + 64 hex characters)", field="agreement_id") from None


def _fmt_time(ts: int | None, *, day: bool = False) -> str:
    if not ts:
        return "—"
    moment = datetime.fromtimestamp(int(ts), tz=timezone.utc)
    return moment.strftime("%Y-%m-%d" if day and moment.time() == datetime.min.time() else "%Y-%m-%d %H:%M:%S UTC")


def _term(start: int, end: int) -> str:
    return f"{_fmt_time(start, day=True)} – {_fmt_time(end, day=True)}"


def _pct(bps: int) -> str:
    return f"{bps / 100:g}%"


# --- talking to the API ----------------------------------------------------------------------------


class _Parties:
    """Party labels (``#3 Example Bank``) for summaries, one lookup per party."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._cache: dict[int, str] = {}

    def label(self, party_id: int) -> str:
        party_id = int(party_id)
        if party_id not in self._cache:
            try:
                p = self.client.get(f"/v1/parties/{party_id}")
                name = p.get("nameEn") or p.get("nameZh") or p.get("identifier") or ""
                if p.get("nameEn") and p.get("nameZh"):
                    name = f"{p['nameEn']} / {p['nameZh']}"
                self._cache[party_id] = f"#{party_id} {name}".strip()
            except LedgerError:  # a label is cosmetic; the id alone will do
                self._cache[party_id] = f"#{party_id}"
        return self._cache[party_id]

    def labels(self, ids: list[int]) -> str:
        return ", ".join(self.label(i) for i in ids) or "—"


def _post(client: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST, with the contract's signature reverts told in words (party names instead of bare ids)."""
    from cli.client import ApiError

    try:
        return client.post(path, json=body)
    except ApiError as exc:
        d = exc.details or {}
        parties = _Parties(client)
        said = {
            "AgreementSignatureMissing": lambda: f"{parties.label(d['partyId'])} has not signed: add its signature",
            "AgreementSignerNotAParty": lambda: f"{d.get('signer')} signs for {parties.label(d['partyId'])}, which is "
                                                "not one of the parties whose signatures this needs",
            "AgreementSignerNotActive": lambda: f"{d.get('signer')} is not an account of an active party",
            "SignatureExpired": lambda: "the signing deadline has passed; sign again",
        }.get(str(d.get("revert")))  # fmt: skip
        try:
            text = said() if said is not None else None
        except KeyError:  # not the arguments expected: the API's own message will do
            text = None
        if text is None:
            raise
        raise ApiError(f"refused by the contract ({d['revert']}): {text}", field=exc.field, details=d) from None


def _signer_party(client: Any, address: str) -> int | None:
    info = client.get(f"/v1/accounts/{address}")
    return int(info["partyId"]) if info.get("partyId") and info.get("active") else None


def _load_keys(keystores: list[Path] | None) -> list[Any]:
    if keystores:
        return [_load_party_key(k) for k in keystores]
    return [_load_party_key(None)]  # IPLEDGER_KEYSTORE, or the "--keystore is required" error


def _domain_of(typed_data: dict[str, Any]) -> eip712.Domain:
    d = typed_data.get("domain") or {}
    if d.get("name") != ag.ASSETS_DOMAIN_NAME or d.get("version") != eip712.DOMAIN_VERSION:
        raise InvalidInput(f"the API's typed data is not for the {ag.ASSETS_DOMAIN_NAME} domain; refusing it")
    return ag.assets_domain(int(d["chainId"]), str(d["verifyingContract"]))


def _field_of_use_hash(text: str | None) -> bytes:
    """As ``ledger.services.agreements.field_of_use_hash`` (a test keeps them equal), without importing web3 into the CLI."""
    if text is None or text.strip() == "" or text.strip().lower() == "all":
        return ag.ZERO32
    return bytes(keccak(text=" ".join(text.strip().lower().split())))


def _checked(agreement: dict[str, Any]) -> ag.Terms:
    """The agreement's terms, after checking that the typed data, the id and the details all follow from them."""
    typed = agreement["typedData"]
    domain = _domain_of(typed)
    terms = ag.Terms.from_json(agreement["terms"])
    if terms.message(domain) != typed:
        raise InvalidInput("the typed data from the API does not match the agreement's terms; refusing it")
    if "0x" + terms.agreement_id(domain).hex() != str(agreement["agreementId"]).lower():
        raise InvalidInput("the agreement id from the API is not the hash of its terms; refusing it")
    details = agreement.get("details") or {}
    if hashlib.sha256(canonical_json(details)).digest() != terms.details_hash:
        raise InvalidInput("the agreement's details do not match the detailsHash its terms commit to; refusing it")
    if terms.kind == ag.AgreementKind.LICENCE and _field_of_use_hash(details.get("fieldOfUse")) != terms.field_of_use:
        raise InvalidInput("the field of use shown does not match the one the terms commit to; refusing it")
    return terms


# --- asset --------------------------------------------------------------------------------------


@asset_app.command("register")
def asset_register(
    number: Annotated[str, typer.Option("--number", help="Patent number. CN: application number with check digit "
                                        "(e.g. 201710601862.3, ZL prefix accepted); HK: patent number; PCT: PCT/CN2023/123456.")],
    title: Annotated[str, typer.Option("--title", help="Title of the invention (1-500 characters).")],
    owner: Annotated[list[str], typer.Option("--owner", help="An owner as PARTY_ID:SHARE_BPS (10000 = 100%); "
                                             "repeat for co-owners, shares summing to 10000.")],
    keystore: KeystoresOpt = None,
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="CN | HK | PCT | OTHER")] = "CN",
    kind: Annotated[str, typer.Option("--kind", help="CN: invention | utility_model | design; HK: standard_patent_r | "
                                      "standard_patent_o | short_term_patent; PCT: pct_application; OTHER: other_patent …")] = "invention",
    filing_date: Annotated[str | None, typer.Option("--filing-date", help="Filing date, YYYY-MM-DD.")] = None,
    grant_date: Annotated[str | None, typer.Option("--grant-date", help="Grant date, YYYY-MM-DD.")] = None,
    evidence: Annotated[list[str] | None, typer.Option("--evidence", help="Content hash of a registered evidence "
                                                       "record to link (64 hex); repeat for several.")] = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Register a patent signed by every owner: one --keystore per owner account. Prints the asset as JSON."""
    owners = _shares(owner, "--owner", "owner")
    links = ["0x" + parse_hash(h, "--evidence").hex() for h in evidence or []]
    from ledger.domain.inputs import TITLE_MAX, check_text

    check_text(title, "title", max_length=TITLE_MAX, min_length=1)  # NFC, no control/bidi/zero-width, before any call
    client = api_client(settings_with(api_url=api_url))
    fields: dict[str, Any] = {"jurisdiction": jurisdiction.strip().upper(), "kind": kind.strip().lower(), "number": number,
                              "title": title, "filingDate": filing_date, "grantDate": grant_date, "owners": owners,
                              "evidence": links}  # fmt: skip
    payload = client.post("/v1/assets/payload", json=fields)  # validates the number, the parties, the shares
    typed, details = payload["typedData"], payload["details"]
    msg = typed["message"]
    if (msg["owners"] != [o["partyId"] for o in owners] or msg["shares"] != [o["share"] for o in owners]
            or msg["numberHash"] != "0x" + ag.number_hash(details["number"]).hex()
            or msg["detailsHash"] != "0x" + hashlib.sha256(canonical_json(details)).hexdigest()):  # fmt: skip
        raise InvalidInput("the typed data from the API does not match this registration; refusing it")
    _domain_of(typed)
    signatures: list[dict[str, str]] = []
    signed: dict[int, Path | None] = {}
    named: list[Path | None] = list(keystore) if keystore else [None]  # None: the key came from IPLEDGER_KEYSTORE
    for ks, acct in zip(named, _load_keys(keystore), strict=True):
        party = _signer_party(client, acct.address)
        if party is None or party not in msg["owners"]:
            who = f"party {party}" if party else "no active party"
            raise InvalidInput(f"keystore {ks or acct.address} is account {acct.address} of {who}, not one of the owners "
                               f"{msg['owners']}", field="--keystore")  # fmt: skip
        if party in signed:
            raise InvalidInput(f"owner {party} is signed for twice ({signed[party]} and {ks})", field="--keystore")
        signed[party] = ks
        signatures.append({"signer": acct.address, "signature": "0x" + eip712.sign(typed, acct).hex()})
    missing = [p for p in msg["owners"] if p not in signed]
    if missing:
        raise InvalidInput(f"every owner signs a registration: no --keystore for owner(s) {missing}", field="--keystore")
    result = _post(client, "/v1/assets", {**fields, "deadline": msg["deadline"], "signatures": signatures})
    err_console.print(f"asset {result['assetId']} registered: {details['number']} (tx {result.get('transactionHash')})", highlight=False, markup=False)
    _print_json(result)


def _decide_claim(decision: str, asset_id: int, value: str, option: str, keystore: Path | None, deadline_minutes: int,
                  api_url: str | None) -> None:
    """An asset verifier's confirmation or rejection of a claim: typed data fetched from the API, rebuilt and
    compared here, signed with the verifier's own keystore, relayed by the API (which never holds the key)."""
    digest = _hash_or_file(value, option)
    client = api_client(settings_with(api_url=api_url))
    asset = client.get(f"/v1/assets/{asset_id}")
    if asset.get("status") != "claimed":
        raise InvalidInput(f"asset {asset_id} is {asset.get('status')}: only an open claim is confirmed or rejected "
                           "(a confirmed title changes only by an arbitral award)", field="asset_id")  # fmt: skip
    account = _load_party_key(keystore)
    info = client.get(f"/v1/accounts/{account.address}")
    if not info.get("partyId"):
        raise KeystoreError(f"{account.address} is not an account of any party; an asset verifier signs this", field="--keystore")
    deadline = int(time.time()) + 60 * deadline_minutes
    key = "registerExtractHash" if decision == "confirm" else "reasonHash"
    path = "confirmation" if decision == "confirm" else "rejection"
    typed = client.get(f"/v1/assets/{asset_id}/{path}", params={key: digest, "deadline": deadline})
    build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
    if typed != build(_domain_of(typed), asset_id, bytes.fromhex(digest[2:]), deadline):
        raise InvalidInput(f"the typed data from the API is not this {decision} of asset {asset_id}; refusing it")
    body = {key: digest, "deadline": deadline, "signer": account.address, "signature": "0x" + eip712.sign(typed, account).hex()}
    result = _post(client, f"/v1/assets/{asset_id}/{path}", body)
    err_console.print(f"asset {asset_id} is {result.get('status')}: {result.get('statusNote')} (tx {result.get('transactionHash')})",
                      highlight=False, markup=False)  # fmt: skip
    _print_json(result)


DecisionDeadlineOpt = Annotated[int, typer.Option("--deadline-minutes", min=1, max=365 * 24 * 60,
                                                  help="The signature is void after this many minutes.")]  # fmt: skip


@asset_app.command("confirm")
def asset_confirm(
    asset_id: Annotated[int, typer.Argument(help="Asset id of the claim, as printed by `asset register`.")],
    extract: Annotated[str, typer.Option("--extract", help="The register extract checked (CNIPA, HK IPD …): a file, "
                                         "hashed here with SHA-256 and never sent, or its SHA-256 hash.")],
    keystore: OneKeystoreOpt = None,
    deadline_minutes: DecisionDeadlineOpt = 60,
    api_url: ApiUrlOpt = None,
) -> None:
    """As an asset verifier, confirm a claim against the patent register: from then on the asset can be assigned,
    licensed, contributed or pledged. Signed with the verifier's own keystore (a party of kind asset_verifier,
    admitted by governance, owning no share of the asset)."""
    _decide_claim("confirm", asset_id, extract, "--extract", keystore, deadline_minutes, api_url)


@asset_app.command("reject")
def asset_reject(
    asset_id: Annotated[int, typer.Argument(help="Asset id of the claim.")],
    reason: Annotated[str, typer.Option("--reason", help="The verifier's reasons (e.g. the register names another "
                                        "owner): a file, hashed here and never sent, or its SHA-256 hash.")],
    keystore: OneKeystoreOpt = None,
    deadline_minutes: DecisionDeadlineOpt = 60,
    api_url: ApiUrlOpt = None,
) -> None:
    """As an asset verifier, reject (strike) an unconfirmed claim found false on the register: the number is
    free for a new claim. A confirmed asset is not rejected; only an arbitral award changes its title."""
    _decide_claim("reject", asset_id, reason, "--reason", keystore, deadline_minutes, api_url)


@asset_app.command("show")
def asset_show(
    asset_id: Annotated[int, typer.Argument(help="Asset id, as printed by `asset register`.")],
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """An asset: jurisdiction, kind, number, title, status (claim or confirmed), owners and shares."""
    client = api_client(settings_with(api_url=api_url))
    asset = client.get(f"/v1/assets/{asset_id}")
    if as_json:
        _print_json(asset)
        return
    _print_asset(asset, _Parties(client))


def _asset_line(asset: dict[str, Any]) -> str:
    d = asset.get("details") or {}
    frozen = " [FROZEN: open dispute]" if asset.get("frozen") else ""
    status = "" if asset.get("status") == "confirmed" else f" [{str(asset.get('status', '?')).upper()}: {asset.get('statusNote')}]"
    return f"asset {asset['assetId']}: {asset['jurisdiction']} {asset['kind']} {d.get('number', '?')} “{d.get('title', '')}”{status}{frozen}"


def _id_column(header: str) -> Column:
    """A column of 32-byte ids: folded onto several lines when narrow, never cut short with an ellipsis."""
    return Column(header, overflow="fold", min_width=18)


def _print_asset(asset: dict[str, Any], parties: _Parties) -> None:
    d = asset.get("details") or {}
    console.print(_asset_line(asset), highlight=False, markup=False)
    grid = Table.grid(padding=(0, 2))
    for k, v in (("filed", d.get("filingDate")), ("granted", d.get("grantDate")), ("evidence", ", ".join(d.get("evidence") or []))):
        if v:
            grid.add_row(k, Text(v))
    console.print(grid)
    table = Table("owner", "share", title="owners")
    for o in asset["owners"]:
        table.add_row(Text(parties.label(o["partyId"])), _pct(o["share"]))
    console.print(table)


@asset_app.command("title")
def asset_title(
    asset_id: Annotated[int, typer.Argument(help="Asset id.")],
    at: Annotated[str | None, typer.Option("--at", help="As of this time: unix seconds, YYYY-MM-DD (00:00 UTC) or an "
                                           "ISO datetime; default now.")] = None,
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Chain of title: owners, licences and pledges in force at a time, and every change in time order."""
    client = api_client(settings_with(api_url=api_url))
    when = _unix_time(at, "--at")
    report = client.get(f"/v1/assets/{asset_id}/title", params={"at": when} if when is not None else None)
    if as_json:
        _print_json(report)
        return
    parties = _Parties(client)
    console.print(_asset_line(client.get(f"/v1/assets/{asset_id}")) + f" — title as of {_fmt_time(report['at'])}", highlight=False, markup=False)
    decided = report.get("statusDecidedBy") or {}
    by = f" by asset verifier {parties.label(decided['verifierPartyId'])} on {_fmt_time(decided.get('time'))}" if decided else ""
    console.print(f"status: {report.get('status')} — {report.get('statusNote')}{by}", highlight=False, markup=False)
    owners = Table("owner", "share", "since", _id_column("under agreement"), title="owners")
    for o in report["owners"]:
        owners.add_row(Text(parties.label(o["partyId"])), _pct(o["share"]), _fmt_time(report.get("ownersSince")),
                       report.get("underAgreement") or "registration")  # fmt: skip
    console.print(owners)
    if report["licences"]:
        lic = Table(_id_column("licence"), "licensee", "type", "territory", "term", title="licences in force")
        for x in report["licences"]:
            kind = x["licenceType"] + (" (sublicence)" if x.get("sublicence") else "")
            lic.add_row(x["agreementId"], Text(parties.label(x["licensee"])), kind, " ".join(x["territory"]),
                        _term(x["start"], x["end"]))  # fmt: skip
        console.print(lic)
    else:
        console.print("no licence in force")
    if report["pledges"]:
        pl = Table(_id_column("pledge"), "pledgee", "pledgors", "term", title="pledges in force")
        for x in report["pledges"]:
            pl.add_row(x["agreementId"], Text(parties.label(x["pledgee"])), Text(parties.labels(x["pledgors"])),
                       _term(x["start"], x["end"]))  # fmt: skip
        console.print(pl)
    else:
        console.print("no pledge in force")
    hist = Table("time", "event", _id_column("agreement / dispute"), "block", title="history")
    for e in report["history"]:
        event = e["event"] + (f" ({e['kind']})" if e.get("kind") else "")
        if e.get("owners"):
            event += ": " + ", ".join(f"{parties.label(o['partyId'])} {_pct(o['share'])}" for o in e["owners"])
        if e.get("verifierPartyId"):
            event += f" by {parties.label(e['verifierPartyId'])}"
        if e.get("formerOwners"):
            event += f": the claim of {parties.labels(e['formerOwners'])} struck by the award"
        hist.add_row(_fmt_time(e["time"]), Text(event), e.get("agreementId") or e.get("disputeId") or "", str(e["block"]))
    console.print(hist)


# --- agreement ------------------------------------------------------------------------------------

# which options each kind takes (the common ones, --asset --document --contract-date --deadline, always apply)
KIND_OPTIONS = {
    "assignment": {"assignee"},
    "licence": {"licensee", "licence_type", "territory", "field", "start", "end", "royalty_basis", "royalty_amount",
                "royalty_rate", "minimum_annual", "currency", "sublicensable", "parent", "recordation_number", "recordation_date"},
    "equity_contribution": {"company", "appraiser", "appraisal_report", "appraised_value", "agreed_value", "capital_amount",
                            "equity_share", "currency"},
    "pledge": {"pledgee", "amount", "currency", "start", "end", "registration_number"},
}  # fmt: skip
REQUIRED = {
    "assignment": ["assignee"],
    "licence": ["licensee", "licence_type", "territory", "end", "royalty_basis"],
    "equity_contribution": ["company", "appraiser", "appraisal_report", "appraised_value", "agreed_value",
                            "capital_amount", "equity_share"],
    "pledge": ["pledgee", "amount", "end"],
}  # fmt: skip


def _flag(name: str) -> str:
    return "--type" if name == "licence_type" else "--" + name.replace("_", "-")


@agreement_app.command("propose")
def agreement_propose(
    kind: Annotated[str, typer.Argument(help="assignment | licence | equity_contribution | pledge")],
    asset: Annotated[int, typer.Option("--asset", help="Id of the asset the agreement is about.")],
    document: Annotated[str, typer.Option("--document", help="The signed contract document: a file (hashed locally "
                                          "with SHA-256, never uploaded) or its 64-hex SHA-256.")],
    contract_date: Annotated[str | None, typer.Option("--contract-date", help="Date of the contract, YYYY-MM-DD.")] = None,
    deadline: Annotated[str | None, typer.Option("--deadline", help="Signing deadline (YYYY-MM-DD, ISO datetime or unix "
                                                 "seconds); the agreement must be executed by then. Default: 7 days.")] = None,
    assignee: Annotated[list[str] | None, typer.Option("--assignee", help="assignment: a new owner as "
                                                       "PARTY_ID:SHARE_BPS; repeat, shares summing to 10000.")] = None,
    licensee: Annotated[int | None, typer.Option("--licensee", help="licence: the licensee's party id.")] = None,
    licence_type: Annotated[str | None, typer.Option("--type", help="licence: exclusive (独占) | sole (排他) | ordinary (普通).")] = None,
    territory: Annotated[list[str] | None, typer.Option("--territory", help="licence: ISO 3166-1 code (CN = mainland "
                                                        "China, HK = Hong Kong, MO, TW distinct), repeat or comma-separate; or WORLD.")] = None,
    field: Annotated[str | None, typer.Option("--field", help="licence: field of use, free text; default all fields.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="licence, pledge: start of the term (YYYY-MM-DD = 00:00 "
                                              "UTC, ISO datetime or unix seconds); default now.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="licence, pledge: end of the term (YYYY-MM-DD = 00:00 UTC, "
                                            "ISO datetime or unix seconds).")] = None,
    royalty_basis: Annotated[str | None, typer.Option("--royalty-basis", help="licence: lump_sum | percentage | per_unit | "
                                                      "minimum_annual.")] = None,
    royalty_amount: Annotated[str | None, typer.Option("--royalty-amount", help="licence: royalty amount, a decimal "
                                                       "(lump_sum, per_unit, minimum_annual).")] = None,
    royalty_rate: Annotated[int | None, typer.Option("--royalty-rate", help="licence: royalty rate in basis points of "
                                                     "sales (percentage; 300 = 3%).")] = None,
    minimum_annual: Annotated[str | None, typer.Option("--minimum-annual", help="licence: minimum annual royalty, a decimal.")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="licence (royalty), equity_contribution, pledge: "
                                                 "ISO 4217 currency code; default CNY.")] = None,
    sublicensable: Annotated[bool, typer.Option("--sublicensable", help="licence: the licensee may grant sublicences.")] = False,
    parent: Annotated[str | None, typer.Option("--parent", help="licence: agreement id of the parent licence, for a "
                                               "sublicence granted by its licensee.")] = None,
    recordation_number: Annotated[str | None, typer.Option("--recordation-number", help="licence: CNIPA recordation "
                                                           "(备案) number.")] = None,
    recordation_date: Annotated[str | None, typer.Option("--recordation-date", help="licence: recordation date, YYYY-MM-DD.")] = None,
    company: Annotated[int | None, typer.Option("--company", help="equity_contribution: party id of the company "
                                                "(identified by a USCC) receiving the asset.")] = None,
    appraiser: Annotated[str | None, typer.Option("--appraiser", help="equity_contribution: the asset appraisal firm.")] = None,
    appraisal_report: Annotated[str | None, typer.Option("--appraisal-report", help="equity_contribution: the appraisal "
                                                         "report, a file (hashed locally) or its 64-hex SHA-256.")] = None,
    appraised_value: Annotated[str | None, typer.Option("--appraised-value", help="equity_contribution: appraised value, a decimal.")] = None,
    agreed_value: Annotated[str | None, typer.Option("--agreed-value", help="equity_contribution: value agreed by the "
                                                     "shareholders, a decimal.")] = None,
    capital_amount: Annotated[str | None, typer.Option("--capital-amount", help="equity_contribution: registered "
                                                       "capital subscribed, a decimal.")] = None,
    equity_share: Annotated[int | None, typer.Option("--equity-share", help="equity_contribution: equity received, in "
                                                     "basis points (500 = 5%).")] = None,
    pledgee: Annotated[int | None, typer.Option("--pledgee", help="pledge: party id of the pledgee (a financial institution).")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="pledge: the secured amount, a decimal.")] = None,
    registration_number: Annotated[str | None, typer.Option("--registration-number", help="pledge: CNIPA pledge "
                                                            "registration number.")] = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Propose an agreement about an asset. Prints its id, the parties whose signatures are needed, and the JSON.

    Each party then runs `ipledger agreement sign ID --keystore ...`, and anyone `ipledger agreement execute ID`.
    """
    name = KIND_ALIASES.get(kind.strip().lower().replace("-", "_"))
    if name is None:
        raise InvalidInput(f"{kind!r} is not an agreement kind: assignment, licence, equity_contribution or pledge", field="kind")
    given = {k: v for k, v in locals().items() if k in set().union(*KIND_OPTIONS.values()) and v not in (None, False, [])}
    stray = [_flag(k) for k in given if k not in KIND_OPTIONS[name]]
    if stray:
        verb = "does" if len(stray) == 1 else "do"
        raise InvalidInput(f"{', '.join(stray)} {verb} not apply to {'an' if name[0] in 'ae' else 'a'} {name}", field=stray[0])
    missing = [_flag(k) for k in REQUIRED[name] if k not in given]
    if missing:
        raise InvalidInput(f"{'an' if name[0] in 'ae' else 'a'} {name} needs {', '.join(missing)}", field=missing[0])
    body: dict[str, Any] = {"kind": name, "assetId": asset, "documentHash": _hash_or_file(document, "--document"),
                            "contractDate": contract_date, "deadline": _unix_time(deadline, "--deadline")}  # fmt: skip
    if name == "assignment":
        body["assignees"] = _shares(assignee or [], "--assignee", "assignee")
    elif name == "equity_contribution":
        body["company"] = company
        body["equity"] = {"appraiser": appraiser, "appraisalReportHash": _hash_or_file(str(appraisal_report), "--appraisal-report"),
                          "appraisedValue": appraised_value, "agreedValue": agreed_value, "capitalAmount": capital_amount,
                          "currency": (currency or "CNY").upper(), "equityShare": _bps(equity_share, "--equity-share")}  # fmt: skip
    else:
        body["start"], body["end"] = _unix_time(start, "--start"), _unix_time(end, "--end")
        if body["start"] is not None and body["end"] <= body["start"]:
            raise InvalidInput("--end must be after --start", field="--end")
        if name == "licence":
            ltype = str(licence_type).strip().lower()
            if ltype not in ag.LicenceType.words():
                raise InvalidInput(f"--type is exclusive, sole or ordinary, not {licence_type!r}", field="--type")
            basis = str(royalty_basis).strip().lower()
            if basis not in ("lump_sum", "percentage", "per_unit", "minimum_annual"):
                raise InvalidInput(f"--royalty-basis is lump_sum, percentage, per_unit or minimum_annual, not {royalty_basis!r}",
                                   field="--royalty-basis")  # fmt: skip
            if basis == "percentage" and royalty_rate is None:
                raise InvalidInput("a percentage royalty needs --royalty-rate (basis points of sales, 300 = 3%)", field="--royalty-rate")
            if basis != "percentage" and royalty_amount is None:
                raise InvalidInput(f"a {basis} royalty needs --royalty-amount", field="--royalty-amount")
            if basis != "percentage" and royalty_rate is not None:
                raise InvalidInput("--royalty-rate applies to --royalty-basis percentage", field="--royalty-rate")
            royalty = {"basis": basis, "amount": royalty_amount, "rate": _bps(royalty_rate, "--royalty-rate"),
                       "minimumAnnual": minimum_annual, "currency": (currency or "CNY").upper()}  # fmt: skip
            body |= {"licensee": licensee, "licenceType": ltype, "territory": _territory(territory or []), "fieldOfUse": field,
                     "royalty": {k: v for k, v in royalty.items() if v is not None}, "sublicensable": sublicensable,
                     "parentLicence": _agreement_id(parent) if parent else None, "recordationNumber": recordation_number,
                     "recordationDate": recordation_date}  # fmt: skip
        else:
            body |= {"pledgee": pledgee, "amount": amount, "currency": (currency or "CNY").upper(),
                     "registrationNumber": registration_number}  # fmt: skip
    client = api_client(settings_with(api_url=api_url))
    proposal = client.post("/v1/agreements", json={k: v for k, v in body.items() if v is not None})
    parties = _Parties(client)
    err_console.print(f"agreement {proposal['agreementId']} proposed: {name} of asset {asset}", highlight=False, markup=False)
    owners = _owners_of(client, asset)
    err_console.print(f"signatures needed from: {_with_roles(proposal, parties, owners)}", highlight=False, markup=False)
    err_console.print(f"each signs with `ipledger agreement sign {proposal['agreementId']} --keystore ...`", highlight=False, markup=False)
    _print_json(proposal)


def _owner_ids(asset: dict[str, Any] | None) -> list[int] | None:
    return [int(o["partyId"]) for o in asset["owners"]] if asset else None


def _owners_of(client: Any, asset_id: int) -> list[int] | None:
    return _owner_ids(_asset_or_none(client, asset_id))


def _role(agreement: dict[str, Any], party: int, owners: list[int] | None) -> str:
    grantor, grantee = ROLES[agreement["kind"]]
    if party in agreement["terms"]["grantees"]:
        return grantee
    if int(str(agreement["terms"].get("parentLicence", "0x0")), 16):
        return "licensor (licensee of the parent licence)"
    if owners is None or party in owners:
        return grantor
    return "pledgee of the asset, consenting"


def _with_roles(agreement: dict[str, Any], parties: _Parties, owners: list[int] | None, ids: list[int] | None = None) -> str:
    ids = [int(p) for p in (agreement.get("requiredParties", []) if ids is None else ids)]
    return ", ".join(f"{parties.label(p)} ({_role(agreement, p, owners)})" for p in ids) or "—"


def _summary(agreement: dict[str, Any], terms: ag.Terms, parties: _Parties, asset: dict[str, Any] | None) -> list[str]:
    """The terms in words, one ``key  value`` line each (never truncated): what a party reads before signing."""
    d = agreement.get("details") or {}
    kind = agreement["kind"]
    grantor, grantee = ROLES[kind]
    lines: list[str] = []

    def row(key: str, value: str) -> None:
        lines.append(f"{key:<17}{value}")

    row("agreement", agreement["agreementId"])
    row("kind", kind.replace("_", " ") + (f" — {agreement.get('licenceType')} licence" if kind == "licence" else ""))
    row("asset", _asset_line(asset) if asset else f"asset {terms.asset_id}")
    if kind in ("assignment",):
        row(grantee + "s", ", ".join(f"{parties.label(p)} {_pct(s)}" for p, s in zip(terms.grantees, terms.shares, strict=True)))
    else:
        row(grantee, parties.label(terms.grantees[0]))
    owners = _owner_ids(asset)
    if owners and terms.parent_licence == ag.ZERO32:
        row(grantor + "s" if len(owners) > 1 else grantor, parties.labels(owners))
    if "requiredParties" in agreement:
        row("must sign", _with_roles(agreement, parties, owners))
    if kind == "licence":
        row("territory", " ".join(agreement.get("territory") or []))
        row("field of use", str(d.get("fieldOfUse", "all")))
        row("sublicensable", "yes" if terms.sublicensable else "no")
        if terms.parent_licence != ag.ZERO32:
            row("sublicence of", "0x" + terms.parent_licence.hex())
        r = d.get("royalty") or {}
        parts = [r.get("basis", "").replace("_", " ")]
        if "rate" in r:
            parts.append(f"{_pct(r['rate'])} of sales")
        if "amount" in r:
            parts.append(f"{r['amount']} {r.get('currency', '')}".strip())
        if "minimumAnnual" in r:
            parts.append(f"minimum {r['minimumAnnual']} {r.get('currency', '')} a year".strip())
        row("royalty", ", ".join(p for p in parts if p))
        if d.get("recordationNumber") or d.get("recordationDate"):
            row("recordation", " ".join(str(x) for x in (d.get("recordationNumber"), d.get("recordationDate")) if x))
    if kind in ("licence", "pledge"):
        row("term", f"{_fmt_time(terms.start, day=True)} – {_fmt_time(terms.end, day=True)}")
    if kind == "pledge":
        row("secured amount", f"{d.get('amount')} {d.get('currency', '')}")
        if d.get("registrationNumber"):
            row("registration", str(d["registrationNumber"]))
    if kind == "equity_contribution":
        cur = d.get("currency", "")
        row("appraiser", str(d.get("appraiser")))
        row("appraisal report", str(d.get("appraisalReportHash")))
        row("values", f"appraised {d.get('appraisedValue')} {cur}, agreed {d.get('agreedValue')} {cur}, "
                      f"capital {d.get('capitalAmount')} {cur}")  # fmt: skip
        row("equity received", _pct(int(d.get("equityShare", 0))))
    if d.get("contractDate"):
        row("contract date", str(d["contractDate"]))
    row("document", "0x" + terms.document_hash.hex() + " (SHA-256)")
    row("sign by", _fmt_time(terms.deadline))
    return lines


def _status_lines(agreement: dict[str, Any], parties: _Parties, owners: list[int] | None) -> list[str]:
    status = agreement.get("status", "?")
    lines = [f"status: {status}"]
    if agreement.get("effectiveAt"):
        lines.append(f"effective since {_fmt_time(agreement['effectiveAt'])}")
    if agreement.get("closedAt"):
        lines.append(f"closed at {_fmt_time(agreement['closedAt'])}")
    sigs = agreement.get("signatures") or {}
    if sigs:
        lines.append("signed by: " + ", ".join(f"{parties.label(int(p))} ({s['signer']})" for p, s in sigs.items()))
    if agreement.get("missingParties"):
        lines.append("still to sign: " + _with_roles(agreement, parties, owners, agreement["missingParties"]))
    elif status == "proposed":
        lines.append(f"every party has signed: `ipledger agreement execute {agreement['agreementId']}`")
    if agreement.get("transactionHash"):
        lines.append(f"transaction: {agreement['transactionHash']}")
    return lines


def _asset_or_none(client: Any, asset_id: int) -> dict[str, Any] | None:
    try:
        return dict(client.get(f"/v1/assets/{asset_id}"))
    except LedgerError:
        return None


@agreement_app.command("show")
def agreement_show(agreement_id: AgreementIdArg, as_json: JsonOpt = False, api_url: ApiUrlOpt = None) -> None:
    """An agreement: its terms in words, who signed, and its status."""
    client = api_client(settings_with(api_url=api_url))
    agreement = client.get(f"/v1/agreements/{_agreement_id(agreement_id)}")
    if as_json:
        _print_json(agreement)
        return
    parties = _Parties(client)
    terms = _checked(agreement)
    asset = _asset_or_none(client, terms.asset_id)
    for line in _summary(agreement, terms, parties, asset) + _status_lines(agreement, parties, _owner_ids(asset)):
        console.print(line, highlight=False, markup=False)


class _SafeSigner:
    """The party account that signs when it is a Safe: the Safe's address (its owners' keys sign for it)."""

    def __init__(self, address: str) -> None:
        self.address = address


@agreement_app.command("sign")
def agreement_sign(
    agreement_id: AgreementIdArg,
    keystore: Annotated[list[Path] | None, typer.Option("--keystore", help="The signing party account's keystore (v3 "
                        "JSON); with --safe, one keystore per Safe owner who signs (repeat up to the Safe's "
                        "threshold). Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE.")] = None,
    safe: Annotated[str | None, typer.Option("--safe", help="Sign for the party's Safe multisig account at this address: "
                    "each --keystore owner signs the Safe message of the terms' EIP-712 digest (ERC-1271).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Sign without asking for confirmation (only asked in a terminal).")] = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Show the terms, then sign them with the party's keystore (or its Safe owners' keystores, with --safe) and add
    the signature to the agreement."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement.get("status") != "proposed":
        raise InvalidInput(f"agreement {aid} is {agreement.get('status')}; only a proposed agreement is signed", field="agreement_id")
    terms = _checked(agreement)
    parties = _Parties(client)
    asset = _asset_or_none(client, terms.asset_id)
    for line in _summary(agreement, terms, parties, asset):
        console.print(line, highlight=False, markup=False)
    owners: list[Any] = []
    account: Any
    if safe is not None:
        from ledger.domain.parties import parse_account

        account = _SafeSigner(str(parse_account(safe, "--safe")))
        owners = _load_keys(keystore)
    elif keystore is not None and len(keystore) > 1:
        raise InvalidInput("several --keystore are for the owners of a Safe: add --safe ADDRESS", field="--keystore")
    else:
        account = _load_party_key(keystore[0] if keystore else None)
    party = _signer_party(client, account.address)
    required = [int(p) for p in agreement.get("requiredParties", [])]
    if party is None:
        raise InvalidInput(f"{account.address} is not an account of an active party", field="--keystore")
    if party not in required:
        raise InvalidInput(f"{account.address} belongs to {parties.label(party)}, which is not a party to this agreement "
                           f"(parties: {parties.labels(required)})", field="--keystore")  # fmt: skip
    if str(party) in (agreement.get("signatures") or {}):
        raise InvalidInput(f"{parties.label(party)} has already signed this agreement", field="--keystore")
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Sign these terms as {parties.label(party)}?", default=False):
        raise typer.Exit(1)
    if safe is not None:
        from ledger.chain import governance

        chain_id = int(agreement["typedData"]["domain"]["chainId"])
        signature = governance.safe_wallet_signature(owners, chain_id, account.address, eip712.digest(agreement["typedData"]))
    else:
        signature = eip712.sign(agreement["typedData"], account)
    result = client.post(f"/v1/agreements/{aid}/signatures", json={"signer": account.address, "signature": "0x" + signature.hex()})
    console.print(f"signature of {parties.label(party)} added (account {account.address})", highlight=False, markup=False)
    for line in _status_lines(result, parties, _owner_ids(asset))[1:]:
        console.print(line, highlight=False, markup=False)


@agreement_app.command("execute")
def agreement_execute(agreement_id: AgreementIdArg, api_url: ApiUrlOpt = None) -> None:
    """Put a fully signed agreement into effect: every signature in one transaction, all or nothing."""
    from cli.client import ApiError

    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    try:
        result = _post(client, f"/v1/agreements/{aid}/execute")
    except ApiError as exc:
        missing = (exc.details or {}).get("missingParties")
        if not missing:
            raise
        agreement = client.get(f"/v1/agreements/{aid}")
        who = _with_roles(agreement, _Parties(client), _owners_of(client, agreement["assetId"]), [int(p) for p in missing])
        raise InvalidInput(f"not executed: {who} must sign first (`ipledger agreement sign {aid} --keystore ...`)",
                           field="signatures", details={"missingParties": missing}) from None  # fmt: skip
    err_console.print(f"agreement {aid} is {result.get('status')} (tx {result.get('transactionHash')})", highlight=False, markup=False)
    _print_json(result)


@agreement_app.command("terminate")
def agreement_terminate(
    agreement_id: AgreementIdArg,
    keystore: KeystoresOpt = None,
    deadline_minutes: Annotated[int, typer.Option("--deadline-minutes", min=1, help="The termination signatures are "
                                                  "void after this many minutes.")] = 60,
    api_url: ApiUrlOpt = None,
) -> None:
    """End an effective licence or pledge by all its parties: one --keystore per party (licensors/pledgors and grantee)."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement["kind"] not in ("licence", "pledge"):
        raise InvalidInput(f"only licences and pledges are terminated; this is an {agreement['kind']} "
                           "(title moves back by a new assignment)", field="agreement_id")  # fmt: skip
    if agreement.get("status") != "effective":
        raise InvalidInput(f"agreement {aid} is {agreement.get('status')}; only an effective agreement is terminated", field="agreement_id")
    deadline = int(time.time()) + 60 * deadline_minutes
    typed = client.get(f"/v1/agreements/{aid}/termination", params={"deadline": deadline})
    expected = ag.termination_message(_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    if typed != expected:
        raise InvalidInput("the termination typed data from the API is not for this agreement; refusing it")
    signatures = []
    for account in _load_keys(keystore):
        signatures.append({"signer": account.address, "signature": "0x" + eip712.sign(typed, account).hex()})
    result = _post(client, f"/v1/agreements/{aid}/terminate", {"deadline": deadline, "signatures": signatures})
    err_console.print(f"agreement {aid} is {result.get('status')}", highlight=False, markup=False)
    _print_json(result)


@agreement_app.command("release")
def agreement_release(
    agreement_id: AgreementIdArg,
    keystore: OneKeystoreOpt = None,
    deadline_minutes: Annotated[int, typer.Option("--deadline-minutes", min=1, help="The release signature is void "
                                                  "after this many minutes.")] = 60,
    api_url: ApiUrlOpt = None,
) -> None:
    """Release a pledge: signed by the pledgee alone (e.g. once the loan is repaid)."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement["kind"] != "pledge":
        raise InvalidInput(f"only a pledge is released; this is a {agreement['kind']}", field="agreement_id")
    if agreement.get("status") != "effective":
        raise InvalidInput(f"pledge {aid} is {agreement.get('status')}; only an effective pledge is released", field="agreement_id")
    account = _load_party_key(keystore)
    pledgee = int(agreement["terms"]["grantees"][0])
    party = _signer_party(client, account.address)
    if party != pledgee:
        parties = _Parties(client)
        raise KeystoreError(f"{account.address} is not an account of the pledgee {parties.label(pledgee)}; "
                            "the pledgee releases a pledge", field="--keystore")  # fmt: skip
    deadline = int(time.time()) + 60 * deadline_minutes
    message = ag.release_message(_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    body = {"deadline": deadline, "signer": account.address, "signature": "0x" + eip712.sign(message, account).hex()}
    result = _post(client, f"/v1/agreements/{aid}/release", body)
    err_console.print(f"pledge {aid} is {result.get('status')}", highlight=False, markup=False)
    _print_json(result)


@agreement_app.command("withdraw")
def agreement_withdraw(
    agreement_id: AgreementIdArg,
    keystore: OneKeystoreOpt = None,
    deadline_minutes: Annotated[int, typer.Option("--deadline-minutes", min=1, max=365 * 24 * 60,
                                                  help="The withdrawal signature is void after this many minutes.")] = 60,
    api_url: ApiUrlOpt = None,
) -> None:
    """Withdraw your party's consent to a proposal before it takes effect (signed with your own key, recorded on
    chain): no signature given for these terms can be used any more. Propose new terms to agree again."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement.get("status") != "proposed":
        raise InvalidInput(f"agreement {aid} is {agreement.get('status')}; only a proposal is withdrawn", field="agreement_id")
    account = _load_party_key(keystore)
    deadline = int(time.time()) + 60 * deadline_minutes
    typed = client.get(f"/v1/agreements/{aid}/withdrawal", params={"deadline": deadline})
    expected = ag.withdrawal_message(_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    if typed != expected:
        raise InvalidInput("the withdrawal typed data from the API is not for this agreement; refusing it")
    body = {"deadline": deadline, "signer": account.address, "signature": "0x" + eip712.sign(typed, account).hex()}
    result = _post(client, f"/v1/agreements/{aid}/withdraw", body)
    err_console.print(f"agreement {aid} is {result.get('status')}", highlight=False, markup=False)
    _print_json(result)


@agreement_app.command("certificate")
def agreement_certificate_cmd(
    agreement_id: Annotated[str, typer.Argument(help="The agreement id.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the JSON certificate here.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the bilingual PDF rendering here.")] = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Fetch the certificate of an agreement in effect; check it with `ipledger verify CERT --rpc-url URL`."""
    import json as _json

    client = api_client(settings_with(api_url=api_url))
    cert = client.get(f"/v1/agreements/{agreement_id}/certificate")
    text = _json.dumps(cert, indent=2, ensure_ascii=False) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"certificate written to {out}")
    if pdf:
        pdf.write_bytes(client.get(f"/v1/agreements/{agreement_id}/certificate", params={"format": "pdf"}))
        console.print(f"PDF written to {pdf}")
    if not out and not pdf:
        console.print(text, highlight=False)
