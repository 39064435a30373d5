"""``ipledger asset register|confirm|reject|show|title``: IP assets (patents), their claims and their chain of title.

Every owner signs a registration with its own keystore on its own machine; the API only relays. Before signing,
the CLI checks that the API's EIP-712 typed data is the registration asked for (owners, shares, number and details
hashes), and an asset verifier's confirmation or rejection is rebuilt here before it is signed. A register
extract or a reason given as a file is hashed here and never sent.

Every command answers in words (tables for ``show`` and ``title``, local times); with ``--json`` it prints the API's
JSON on stdout instead, and a command that changes something still says what it did on stderr.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import (
    ApiUrlOpt,
    JsonOpt,
    JsonResultOpt,
    KeystoresOpt,
    OneKeystoreOpt,
    active_party_of,
    api_client,
    assets_domain_of,
    console,
    hash_or_file,
    load_party_key,
    load_party_keys,
    post_explained,
    print_json,
    report,
    settings_with,
    shares,
    unix_time,
)
from cli.render import PartyLabels, asset_line, id_column, local_time, pct, term
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.hashing import parse_hash
from ledger.errors import InvalidInput, KeystoreError

app = typer.Typer(
    help="Register IP assets (patents) signed by every owner; show them and their chain of title.", no_args_is_help=True
)


@app.command("register")
def asset_register(
    number: Annotated[
        str,
        typer.Option(
            "--number",
            help="Patent number. CN: application number with check digit "
            "(e.g. 201710601862.3, ZL prefix accepted); HK: patent number; PCT: PCT/CN2023/123456.",
        ),
    ],
    title: Annotated[str, typer.Option("--title", help="Title of the invention (1-500 characters).")],
    owner: Annotated[
        list[str],
        typer.Option(
            "--owner",
            help="An owner as PARTY_ID:SHARE_BPS (10000 = 100%); repeat for co-owners, shares summing to 10000.",
        ),
    ],
    keystore: KeystoresOpt = None,
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="CN | HK | PCT | OTHER")] = "CN",
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="CN: invention | utility_model | design; HK: standard_patent_r | "
            "standard_patent_o | short_term_patent; PCT: pct_application; OTHER: other_patent …",
        ),
    ] = "invention",
    filing_date: Annotated[str | None, typer.Option("--filing-date", help="Filing date, YYYY-MM-DD.")] = None,
    grant_date: Annotated[str | None, typer.Option("--grant-date", help="Grant date, YYYY-MM-DD.")] = None,
    evidence: Annotated[
        list[str] | None,
        typer.Option(
            "--evidence", help="Content hash of a registered evidence record to link (64 hex); repeat for several."
        ),
    ] = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Register a patent signed by every owner: one --keystore per owner account. Prints the asset in words (the
    API's JSON with --json)."""
    owners = shares(owner, "--owner", "owner")
    links = ["0x" + parse_hash(h, "--evidence").hex() for h in evidence or []]
    from ledger.domain.inputs import TITLE_MAX, check_text

    check_text(title, "title", max_length=TITLE_MAX, min_length=1)  # NFC, no control/bidi/zero-width, before any call
    client = api_client(settings_with(api_url=api_url))
    fields: dict[str, Any] = {
        "jurisdiction": jurisdiction.strip().upper(),
        "kind": kind.strip().lower(),
        "number": number,
        "title": title,
        "filingDate": filing_date,
        "grantDate": grant_date,
        "owners": owners,
        "evidence": links,
    }
    payload = client.post("/v1/assets/payload", json=fields)  # validates the number, the parties, the shares
    typed, details = payload["typedData"], payload["details"]
    msg = typed["message"]
    if (
        msg["owners"] != [o["partyId"] for o in owners]
        or msg["shares"] != [o["share"] for o in owners]
        or msg["numberHash"] != "0x" + ag.number_hash(details["number"]).hex()
        or msg["detailsHash"] != "0x" + hashlib.sha256(canonical_json(details)).hexdigest()
    ):
        raise InvalidInput("the typed data from the API does not match this registration; refusing it")
    assets_domain_of(typed)
    signatures: list[dict[str, str]] = []
    signed: dict[int, Path | None] = {}
    named: list[Path | None] = list(keystore) if keystore else [None]  # None: the key came from IPLEDGER_KEYSTORE
    for ks, acct in zip(named, load_party_keys(keystore), strict=True):
        party = active_party_of(client, acct.address)
        if party is None or party not in msg["owners"]:
            who = f"party {party}" if party else "no active party"
            raise InvalidInput(
                f"keystore {ks or acct.address} is account {acct.address} of {who}, not one of the owners "
                f"{msg['owners']}",
                field="--keystore",
            )
        if party in signed:
            raise InvalidInput(f"owner {party} is signed for twice ({signed[party]} and {ks})", field="--keystore")
        signed[party] = ks
        signatures.append({"signer": acct.address, "signature": "0x" + eip712.sign(typed, acct).hex()})
    missing = [p for p in msg["owners"] if p not in signed]
    if missing:
        raise InvalidInput(
            f"every owner signs a registration: no --keystore for owner(s) {missing}", field="--keystore"
        )
    result = post_explained(client, "/v1/assets", {**fields, "deadline": msg["deadline"], "signatures": signatures})
    parties = PartyLabels(client)
    lines = [
        f"registered: {asset_line(result)}",
        "owners: " + ", ".join(f"{parties.label(o['partyId'])} {pct(o['share'])}" for o in result.get("owners", [])),
    ]
    if result.get("transactionHash"):
        lines.append(f"transaction: {result['transactionHash']}")
    if result.get("status") == "claimed":
        lines.append(
            f"next: an asset verifier checks the register and confirms it (`ipledger asset confirm {result['assetId']} "
            "--extract EXTRACT --keystore verifier.json`); until then it cannot be dealt in"
        )
    report(lines, result, as_json)


def _decide_claim(
    decision: str,
    asset_id: int,
    value: str,
    option: str,
    keystore: Path | None,
    deadline_minutes: int,
    api_url: str | None,
    as_json: bool,
) -> None:
    """An asset verifier's confirmation or rejection of a claim: typed data fetched from the API, rebuilt and
    compared here, signed with the verifier's own keystore, relayed by the API (which never holds the key)."""
    digest = hash_or_file(value, option)
    client = api_client(settings_with(api_url=api_url))
    asset = client.get(f"/v1/assets/{asset_id}")
    if asset.get("status") != "claimed":
        raise InvalidInput(
            f"asset {asset_id} is {asset.get('status')}: only an open claim is confirmed or rejected "
            "(a confirmed title changes only by an arbitral award)",
            field="asset_id",
        )
    account = load_party_key(keystore)
    info = client.get(f"/v1/accounts/{account.address}")
    if not info.get("partyId"):
        raise KeystoreError(
            f"{account.address} is not an account of any party; an asset verifier signs this", field="--keystore"
        )
    deadline = int(time.time()) + 60 * deadline_minutes
    key = "registerExtractHash" if decision == "confirm" else "reasonHash"
    path = "confirmation" if decision == "confirm" else "rejection"
    typed = client.get(f"/v1/assets/{asset_id}/{path}", params={key: digest, "deadline": deadline})
    build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
    if typed != build(assets_domain_of(typed), asset_id, bytes.fromhex(digest[2:]), deadline):
        raise InvalidInput(f"the typed data from the API is not this {decision} of asset {asset_id}; refusing it")
    body = {
        key: digest,
        "deadline": deadline,
        "signer": account.address,
        "signature": "0x" + eip712.sign(typed, account).hex(),
    }
    result = post_explained(client, f"/v1/assets/{asset_id}/{path}", body)
    lines = [f"asset {asset_id} is {result.get('status')}: {result.get('statusNote')}"]
    if result.get("transactionHash"):
        lines.append(f"transaction: {result['transactionHash']}")
    if result.get("status") == "confirmed":
        lines.append("next: it can now be assigned, licensed, contributed or pledged (`ipledger agreement propose`)")
    report(lines, result, as_json)


DecisionDeadlineOpt = Annotated[
    int,
    typer.Option("--deadline-minutes", min=1, max=365 * 24 * 60, help="The signature is void after this many minutes."),
]


@app.command("confirm")
def asset_confirm(
    asset_id: Annotated[int, typer.Argument(help="Asset id of the claim, as printed by `asset register`.")],
    extract: Annotated[
        str,
        typer.Option(
            "--extract",
            help="The register extract checked (CNIPA, HK IPD …): a file, "
            "hashed here with SHA-256 and never sent, or its SHA-256 hash.",
        ),
    ],
    keystore: OneKeystoreOpt = None,
    deadline_minutes: DecisionDeadlineOpt = 60,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """As an asset verifier, confirm a claim against the patent register: from then on the asset can be assigned,
    licensed, contributed or pledged. Signed with the verifier's own keystore (a party of kind asset_verifier,
    admitted by governance, owning no share of the asset)."""
    _decide_claim("confirm", asset_id, extract, "--extract", keystore, deadline_minutes, api_url, as_json)


@app.command("reject")
def asset_reject(
    asset_id: Annotated[int, typer.Argument(help="Asset id of the claim.")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="The verifier's reasons (e.g. the register names another "
            "owner): a file, hashed here and never sent, or its SHA-256 hash.",
        ),
    ],
    keystore: OneKeystoreOpt = None,
    deadline_minutes: DecisionDeadlineOpt = 60,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """As an asset verifier, reject (strike) an unconfirmed claim found false on the register: the number is
    free for a new claim. A confirmed asset is not rejected; only an arbitral award changes its title."""
    _decide_claim("reject", asset_id, reason, "--reason", keystore, deadline_minutes, api_url, as_json)


@app.command("show")
def asset_show(
    asset_id: Annotated[int, typer.Argument(help="Asset id, as printed by `asset register`.")],
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """An asset: jurisdiction, kind, number, title, status (claim or confirmed), owners and shares."""
    client = api_client(settings_with(api_url=api_url))
    asset = client.get(f"/v1/assets/{asset_id}")
    if as_json:
        print_json(asset)
        return
    _print_asset(asset, PartyLabels(client))


def _print_asset(asset: dict[str, Any], parties: PartyLabels) -> None:
    d = asset.get("details") or {}
    console.print(asset_line(asset), highlight=False, markup=False)
    grid = Table.grid(padding=(0, 2))
    for k, v in (
        ("filed", d.get("filingDate")),
        ("granted", d.get("grantDate")),
        ("evidence", ", ".join(d.get("evidence") or [])),
    ):
        if v:
            grid.add_row(k, Text(v))
    console.print(grid)
    table = Table("owner", "share", title="owners")
    for o in asset["owners"]:
        table.add_row(Text(parties.label(o["partyId"])), pct(o["share"]))
    console.print(table)


@app.command("title")
def asset_title(
    asset_id: Annotated[int, typer.Argument(help="Asset id.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="As of this time: unix seconds, YYYY-MM-DD (00:00 UTC) or an ISO datetime; default now."
        ),
    ] = None,
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Chain of title: owners, licences and pledges in force at a time, and every change in time order."""
    client = api_client(settings_with(api_url=api_url))
    when = unix_time(at, "--at")
    report = client.get(f"/v1/assets/{asset_id}/title", params={"at": when} if when is not None else None)
    if as_json:
        print_json(report)
        return
    parties = PartyLabels(client)
    console.print(
        asset_line(client.get(f"/v1/assets/{asset_id}")) + f" — title as of {local_time(report['at'])}",
        highlight=False,
        markup=False,
    )
    decided = report.get("statusDecidedBy") or {}
    by = (
        f" by asset verifier {parties.label(decided['verifierPartyId'])} on {local_time(decided.get('time'))}"
        if decided
        else ""
    )
    console.print(f"status: {report.get('status')} — {report.get('statusNote')}{by}", highlight=False, markup=False)
    owners = Table("owner", "share", "since", id_column("under agreement"), title="owners")
    for o in report["owners"]:
        owners.add_row(
            Text(parties.label(o["partyId"])),
            pct(o["share"]),
            local_time(report.get("ownersSince")),
            report.get("underAgreement") or "registration",
        )
    console.print(owners)
    if report["licences"]:
        lic = Table(id_column("licence"), "licensee", "type", "territory", "term", title="licences in force")
        for x in report["licences"]:
            kind = x["licenceType"] + (" (sublicence)" if x.get("sublicence") else "")
            lic.add_row(
                x["agreementId"],
                Text(parties.label(x["licensee"])),
                kind,
                " ".join(x["territory"]),
                term(x["start"], x["end"]),
            )
        console.print(lic)
    else:
        console.print("no licence in force")
    if report["pledges"]:
        pl = Table(id_column("pledge"), "pledgee", "pledgors", "term", title="pledges in force")
        for x in report["pledges"]:
            pl.add_row(
                x["agreementId"],
                Text(parties.label(x["pledgee"])),
                Text(parties.labels(x["pledgors"])),
                term(x["start"], x["end"]),
            )
        console.print(pl)
    else:
        console.print("no pledge in force")
    hist = Table("time", "event", id_column("agreement / dispute"), "block", title="history")
    for e in report["history"]:
        event = e["event"] + (f" ({e['kind']})" if e.get("kind") else "")
        if e.get("owners"):
            event += ": " + ", ".join(f"{parties.label(o['partyId'])} {pct(o['share'])}" for o in e["owners"])
        if e.get("verifierPartyId"):
            event += f" by {parties.label(e['verifierPartyId'])}"
        if e.get("formerOwners"):
            event += f": the claim of {parties.labels(e['formerOwners'])} struck by the award"
        hist.add_row(
            local_time(e["time"]), Text(event), e.get("agreementId") or e.get("disputeId") or "", str(e["block"])
        )
    console.print(hist)
