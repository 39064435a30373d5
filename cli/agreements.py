"""``ipledger agreement propose|show|sign|execute|terminate|release|withdraw|certificate``: the agreements that
move or encumber an asset (assignment, licence, equity contribution, pledge).

Every party signs with its own keystore on its own machine; the API only relays. Before signing anything
the CLI rebuilds the EIP-712 typed data from the terms it shows and refuses if the API's typed data differs
(or if the off-chain details shown are not the ones the terms commit to), so what a party reads is what it
signs. Contract documents are never uploaded: ``--document FILE`` sends only the file's SHA-256.

Every command prints a short summary in words; with ``--json`` it prints the API's JSON on stdout and the summary
on stderr instead, so ``ipledger agreement propose ... --json | jq -r .agreementId`` works. Times are this
machine's local time with its zone (unix seconds only in the JSON).
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    TOTAL,
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
from cli.render import PartyLabels, asset_line, fmt_time, local_time, pct
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.hashing import parse_hash
from ledger.errors import InvalidInput, KeystoreError, LedgerError

app = typer.Typer(
    help="Propose, sign, withdraw, execute, terminate and release IP agreements "
    "(assignment, licence, equity contribution, pledge).",
    no_args_is_help=True,
)

KIND_ALIASES = {
    **{k.word: k.word for k in ag.AgreementKind.choices()},
    "license": "licence",
    "equity": "equity_contribution",
}
ROLES = {k.word: k.roles for k in ag.AgreementKind.choices()}

AgreementIdArg = Annotated[str, typer.Argument(help="Agreement id (0x + 64 hex), as printed by `agreement propose`.")]


# --- parsing the command line --------------------------------------------------------------------


def _bps(value: int | None, option: str) -> int | None:
    if value is not None and not 1 <= value <= TOTAL:
        raise InvalidInput(f"{option} is in basis points: 1..{TOTAL} (100% = {TOTAL}), not {value}", field=option)
    return value


def _territory(values: list[str]) -> list[str]:
    from ledger.domain.territory import to_mask

    codes = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
    if not codes:
        raise InvalidInput(
            "a licence needs --territory: ISO 3166-1 codes (CN = mainland China, HK = Hong Kong) or WORLD",
            field="--territory",
        )
    to_mask(codes, "--territory")  # unknown codes are named before anything is sent
    return codes


def _agreement_id(value: str) -> str:
    try:
        return "0x" + parse_hash(value, "agreement id").hex()
    except InvalidInput:
        raise InvalidInput(f"{value!r} is not an agreement id (0x + 64 hex characters)", field="agreement_id") from None


# --- checking the API's agreement against its terms -----------------------------------------------


def _checked(agreement: dict[str, Any]) -> ag.Terms:
    """The agreement's terms, after checking that the typed data, the id and the details all follow from them."""
    typed = agreement["typedData"]
    domain = assets_domain_of(typed)
    terms = ag.Terms.from_json(agreement["terms"])
    if terms.message(domain) != typed:
        raise InvalidInput("the typed data from the API does not match the agreement's terms; refusing it")
    if "0x" + terms.agreement_id(domain).hex() != str(agreement["agreementId"]).lower():
        raise InvalidInput("the agreement id from the API is not the hash of its terms; refusing it")
    details = agreement.get("details") or {}
    if hashlib.sha256(canonical_json(details)).digest() != terms.details_hash:
        raise InvalidInput("the agreement's details do not match the detailsHash its terms commit to; refusing it")
    if terms.kind == ag.AgreementKind.LICENCE and ag.field_of_use_hash(details.get("fieldOfUse")) != terms.field_of_use:
        raise InvalidInput("the field of use shown does not match the one the terms commit to; refusing it")
    return terms


# --- agreement ------------------------------------------------------------------------------------

# which options each kind takes (the common ones, --asset --document --contract-date --deadline, always apply)
KIND_OPTIONS = {
    "assignment": {"assignee"},
    "licence": {
        "licensee",
        "licence_type",
        "territory",
        "field",
        "start",
        "end",
        "royalty_basis",
        "royalty_amount",
        "royalty_rate",
        "minimum_annual",
        "currency",
        "sublicensable",
        "parent",
        "recordation_number",
        "recordation_date",
    },
    "equity_contribution": {
        "company",
        "appraiser",
        "appraisal_report",
        "appraised_value",
        "agreed_value",
        "capital_amount",
        "equity_share",
        "currency",
    },
    "pledge": {"pledgee", "amount", "currency", "start", "end", "registration_number"},
}
REQUIRED = {
    "assignment": ["assignee"],
    "licence": ["licensee", "licence_type", "territory", "end", "royalty_basis"],
    "equity_contribution": [
        "company",
        "appraiser",
        "appraisal_report",
        "appraised_value",
        "agreed_value",
        "capital_amount",
        "equity_share",
    ],
    "pledge": ["pledgee", "amount", "end"],
}


def _flag(name: str) -> str:
    return "--type" if name == "licence_type" else "--" + name.replace("_", "-")


@app.command("propose")
def agreement_propose(
    kind: Annotated[str, typer.Argument(help="assignment | licence | equity_contribution | pledge")],
    asset: Annotated[int, typer.Option("--asset", help="Id of the asset the agreement is about.")],
    document: Annotated[
        str,
        typer.Option(
            "--document",
            help="The signed contract document: a file (hashed locally "
            "with SHA-256, never uploaded) or its 64-hex SHA-256.",
        ),
    ],
    contract_date: Annotated[
        str | None, typer.Option("--contract-date", help="Date of the contract, YYYY-MM-DD.")
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option(
            "--deadline",
            help="Signing deadline (YYYY-MM-DD, ISO datetime or unix "
            "seconds); the agreement must be executed by then. Default: 7 days.",
        ),
    ] = None,
    assignee: Annotated[
        list[str] | None,
        typer.Option(
            "--assignee", help="assignment: a new owner as PARTY_ID:SHARE_BPS; repeat, shares summing to 10000."
        ),
    ] = None,
    licensee: Annotated[int | None, typer.Option("--licensee", help="licence: the licensee's party id.")] = None,
    licence_type: Annotated[
        str | None, typer.Option("--type", help="licence: exclusive (独占) | sole (排他) | ordinary (普通).")
    ] = None,
    territory: Annotated[
        list[str] | None,
        typer.Option(
            "--territory",
            help="licence: ISO 3166-1 code (CN = mainland "
            "China, HK = Hong Kong, MO, TW distinct), repeat or comma-separate; or WORLD.",
        ),
    ] = None,
    field: Annotated[
        str | None, typer.Option("--field", help="licence: field of use, free text; default all fields.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="licence, pledge: start of the term (YYYY-MM-DD = 00:00 "
            "UTC, ISO datetime or unix seconds); default now.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="licence, pledge: end of the term (YYYY-MM-DD = 00:00 UTC, ISO datetime or unix seconds)."
        ),
    ] = None,
    royalty_basis: Annotated[
        str | None, typer.Option("--royalty-basis", help="licence: lump_sum | percentage | per_unit | minimum_annual.")
    ] = None,
    royalty_amount: Annotated[
        str | None,
        typer.Option(
            "--royalty-amount", help="licence: royalty amount, a decimal (lump_sum, per_unit, minimum_annual)."
        ),
    ] = None,
    royalty_rate: Annotated[
        int | None,
        typer.Option("--royalty-rate", help="licence: royalty rate in basis points of sales (percentage; 300 = 3%)."),
    ] = None,
    minimum_annual: Annotated[
        str | None, typer.Option("--minimum-annual", help="licence: minimum annual royalty, a decimal.")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency", help="licence (royalty), equity_contribution, pledge: ISO 4217 currency code; default CNY."
        ),
    ] = None,
    sublicensable: Annotated[
        bool, typer.Option("--sublicensable", help="licence: the licensee may grant sublicences.")
    ] = False,
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent", help="licence: agreement id of the parent licence, for a sublicence granted by its licensee."
        ),
    ] = None,
    recordation_number: Annotated[
        str | None, typer.Option("--recordation-number", help="licence: CNIPA recordation (备案) number.")
    ] = None,
    recordation_date: Annotated[
        str | None, typer.Option("--recordation-date", help="licence: recordation date, YYYY-MM-DD.")
    ] = None,
    company: Annotated[
        int | None,
        typer.Option(
            "--company", help="equity_contribution: party id of the company (identified by a USCC) receiving the asset."
        ),
    ] = None,
    appraiser: Annotated[
        str | None, typer.Option("--appraiser", help="equity_contribution: the asset appraisal firm.")
    ] = None,
    appraisal_report: Annotated[
        str | None,
        typer.Option(
            "--appraisal-report",
            help="equity_contribution: the appraisal report, a file (hashed locally) or its 64-hex SHA-256.",
        ),
    ] = None,
    appraised_value: Annotated[
        str | None, typer.Option("--appraised-value", help="equity_contribution: appraised value, a decimal.")
    ] = None,
    agreed_value: Annotated[
        str | None,
        typer.Option("--agreed-value", help="equity_contribution: value agreed by the shareholders, a decimal."),
    ] = None,
    capital_amount: Annotated[
        str | None,
        typer.Option("--capital-amount", help="equity_contribution: registered capital subscribed, a decimal."),
    ] = None,
    equity_share: Annotated[
        int | None,
        typer.Option("--equity-share", help="equity_contribution: equity received, in basis points (500 = 5%)."),
    ] = None,
    pledgee: Annotated[
        int | None, typer.Option("--pledgee", help="pledge: party id of the pledgee (a financial institution).")
    ] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="pledge: the secured amount, a decimal.")] = None,
    registration_number: Annotated[
        str | None, typer.Option("--registration-number", help="pledge: CNIPA pledge registration number.")
    ] = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Propose an agreement about an asset. Prints its id, its kind, the parties whose signatures are needed, the
    signing deadline and what comes next (the API's JSON with --json).

    Each party then runs `ipledger agreement sign ID --keystore ...`, and anyone `ipledger agreement execute ID`.
    """
    name = KIND_ALIASES.get(kind.strip().lower().replace("-", "_"))
    if name is None:
        raise InvalidInput(
            f"{kind!r} is not an agreement kind: assignment, licence, equity_contribution or pledge", field="kind"
        )
    given = {
        k: v for k, v in locals().items() if k in set().union(*KIND_OPTIONS.values()) and v not in (None, False, [])
    }
    stray = [_flag(k) for k in given if k not in KIND_OPTIONS[name]]
    if stray:
        verb = "does" if len(stray) == 1 else "do"
        raise InvalidInput(
            f"{', '.join(stray)} {verb} not apply to {'an' if name[0] in 'ae' else 'a'} {name}", field=stray[0]
        )
    missing = [_flag(k) for k in REQUIRED[name] if k not in given]
    if missing:
        raise InvalidInput(f"{'an' if name[0] in 'ae' else 'a'} {name} needs {', '.join(missing)}", field=missing[0])
    body: dict[str, Any] = {
        "kind": name,
        "assetId": asset,
        "documentHash": hash_or_file(document, "--document"),
        "contractDate": contract_date,
        "deadline": unix_time(deadline, "--deadline"),
    }
    if name == "assignment":
        body["assignees"] = shares(assignee or [], "--assignee", "assignee")
    elif name == "equity_contribution":
        body["company"] = company
        body["equity"] = {
            "appraiser": appraiser,
            "appraisalReportHash": hash_or_file(str(appraisal_report), "--appraisal-report"),
            "appraisedValue": appraised_value,
            "agreedValue": agreed_value,
            "capitalAmount": capital_amount,
            "currency": (currency or "CNY").upper(),
            "equityShare": _bps(equity_share, "--equity-share"),
        }
    else:
        body["start"], body["end"] = unix_time(start, "--start"), unix_time(end, "--end")
        if body["start"] is not None and body["end"] <= body["start"]:
            raise InvalidInput("--end must be after --start", field="--end")
        if name == "licence":
            ltype = str(licence_type).strip().lower()
            if ltype not in ag.LicenceType.words():
                raise InvalidInput(f"--type is exclusive, sole or ordinary, not {licence_type!r}", field="--type")
            basis = str(royalty_basis).strip().lower()
            if basis not in ("lump_sum", "percentage", "per_unit", "minimum_annual"):
                raise InvalidInput(
                    f"--royalty-basis is lump_sum, percentage, per_unit or minimum_annual, not {royalty_basis!r}",
                    field="--royalty-basis",
                )
            if basis == "percentage" and royalty_rate is None:
                raise InvalidInput(
                    "a percentage royalty needs --royalty-rate (basis points of sales, 300 = 3%)",
                    field="--royalty-rate",
                )
            if basis != "percentage" and royalty_amount is None:
                raise InvalidInput(f"a {basis} royalty needs --royalty-amount", field="--royalty-amount")
            if basis != "percentage" and royalty_rate is not None:
                raise InvalidInput("--royalty-rate applies to --royalty-basis percentage", field="--royalty-rate")
            royalty = {
                "basis": basis,
                "amount": royalty_amount,
                "rate": _bps(royalty_rate, "--royalty-rate"),
                "minimumAnnual": minimum_annual,
                "currency": (currency or "CNY").upper(),
            }
            body |= {
                "licensee": licensee,
                "licenceType": ltype,
                "territory": _territory(territory or []),
                "fieldOfUse": field,
                "royalty": {k: v for k, v in royalty.items() if v is not None},
                "sublicensable": sublicensable,
                "parentLicence": _agreement_id(parent) if parent else None,
                "recordationNumber": recordation_number,
                "recordationDate": recordation_date,
            }
        else:
            body |= {
                "pledgee": pledgee,
                "amount": amount,
                "currency": (currency or "CNY").upper(),
                "registrationNumber": registration_number,
            }
    client = api_client(settings_with(api_url=api_url))
    proposal = client.post("/v1/agreements", json={k: v for k, v in body.items() if v is not None})
    parties = PartyLabels(client)
    aid = proposal["agreementId"]
    lines = [
        f"agreement {aid} proposed: {_kind_words(proposal)} of asset {asset}",
        f"signatures needed from: {_with_roles(proposal, parties, _owners_of(client, asset))}",
    ]
    deadline_ts = int(proposal.get("terms", {}).get("deadline") or 0)
    if deadline_ts:
        lines.append(f"sign by: {local_time(deadline_ts)}")
    lines += [
        f"next: each signs with `ipledger agreement sign {aid} --keystore ...`, "
        f"then anyone runs `ipledger agreement execute {aid}`",
    ]
    report(lines, proposal, as_json)


def _kind_words(agreement: dict[str, Any]) -> str:
    """``exclusive licence``, ``equity contribution``, ``pledge`` …"""
    kind = str(agreement.get("kind", "?")).replace("_", " ")
    return f"{agreement['licenceType']} {kind}" if agreement.get("licenceType") else kind


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


def _with_roles(
    agreement: dict[str, Any], parties: PartyLabels, owners: list[int] | None, ids: list[int] | None = None
) -> str:
    ids = [int(p) for p in (agreement.get("requiredParties", []) if ids is None else ids)]
    return ", ".join(f"{parties.label(p)} ({_role(agreement, p, owners)})" for p in ids) or "—"


def _summary(
    agreement: dict[str, Any], terms: ag.Terms, parties: PartyLabels, asset: dict[str, Any] | None
) -> list[str]:
    """The terms in words, one ``key  value`` line each (never truncated): what a party reads before signing."""
    d = agreement.get("details") or {}
    kind = agreement["kind"]
    grantor, grantee = ROLES[kind]
    lines: list[str] = []

    def row(key: str, value: str) -> None:
        lines.append(f"{key:<17}{value}")

    row("agreement", agreement["agreementId"])
    row("kind", kind.replace("_", " ") + (f" — {agreement.get('licenceType')} licence" if kind == "licence" else ""))
    row("asset", asset_line(asset) if asset else f"asset {terms.asset_id}")
    if kind in ("assignment",):
        row(
            grantee + "s",
            ", ".join(f"{parties.label(p)} {pct(s)}" for p, s in zip(terms.grantees, terms.shares, strict=True)),
        )
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
            parts.append(f"{pct(r['rate'])} of sales")
        if "amount" in r:
            parts.append(f"{r['amount']} {r.get('currency', '')}".strip())
        if "minimumAnnual" in r:
            parts.append(f"minimum {r['minimumAnnual']} {r.get('currency', '')} a year".strip())
        row("royalty", ", ".join(p for p in parts if p))
        if d.get("recordationNumber") or d.get("recordationDate"):
            row("recordation", " ".join(str(x) for x in (d.get("recordationNumber"), d.get("recordationDate")) if x))
    if kind in ("licence", "pledge"):
        row("term", f"{fmt_time(terms.start, day=True)} – {fmt_time(terms.end, day=True)}")
    if kind == "pledge":
        row("secured amount", f"{d.get('amount')} {d.get('currency', '')}")
        if d.get("registrationNumber"):
            row("registration", str(d["registrationNumber"]))
    if kind == "equity_contribution":
        cur = d.get("currency", "")
        row("appraiser", str(d.get("appraiser")))
        row("appraisal report", str(d.get("appraisalReportHash")))
        row(
            "values",
            f"appraised {d.get('appraisedValue')} {cur}, agreed {d.get('agreedValue')} {cur}, "
            f"capital {d.get('capitalAmount')} {cur}",
        )
        row("equity received", pct(int(d.get("equityShare", 0))))
    if d.get("contractDate"):
        row("contract date", str(d["contractDate"]))
    row("document", "0x" + terms.document_hash.hex() + " (SHA-256)")
    row("sign by", local_time(terms.deadline))
    return lines


def _status_lines(agreement: dict[str, Any], parties: PartyLabels, owners: list[int] | None) -> list[str]:
    status = agreement.get("status", "?")
    lines = [f"status: {status}"]
    if agreement.get("effectiveAt"):
        lines.append(f"effective since {local_time(agreement['effectiveAt'])}")
    if agreement.get("closedAt"):
        lines.append(f"closed at {local_time(agreement['closedAt'])}")
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


@app.command("show")
def agreement_show(agreement_id: AgreementIdArg, as_json: JsonOpt = False, api_url: ApiUrlOpt = None) -> None:
    """An agreement: its terms in words, who signed, and its status."""
    client = api_client(settings_with(api_url=api_url))
    agreement = client.get(f"/v1/agreements/{_agreement_id(agreement_id)}")
    if as_json:
        print_json(agreement)
        return
    parties = PartyLabels(client)
    terms = _checked(agreement)
    asset = _asset_or_none(client, terms.asset_id)
    for line in _summary(agreement, terms, parties, asset) + _status_lines(agreement, parties, _owner_ids(asset)):
        console.print(line, highlight=False, markup=False)


class _SafeSigner:
    """The party account that signs when it is a Safe: the Safe's address (its owners' keys sign for it)."""

    def __init__(self, address: str) -> None:
        self.address = address


@app.command("sign")
def agreement_sign(
    agreement_id: AgreementIdArg,
    keystore: Annotated[
        list[Path] | None,
        typer.Option(
            "--keystore",
            help="The signing party account's keystore (v3 "
            "JSON); with --safe, one keystore per Safe owner who signs (repeat up to the Safe's "
            "threshold). Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE.",
        ),
    ] = None,
    safe: Annotated[
        str | None,
        typer.Option(
            "--safe",
            help="Sign for the party's Safe multisig account at this address: "
            "each --keystore owner signs the Safe message of the terms' EIP-712 digest (ERC-1271).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Sign without asking for confirmation (only asked in a terminal).")
    ] = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Show the terms, then sign them with the party's keystore (or its Safe owners' keystores, with --safe) and add
    the signature to the agreement."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement.get("status") != "proposed":
        raise InvalidInput(
            f"agreement {aid} is {agreement.get('status')}; only a proposed agreement is signed", field="agreement_id"
        )
    terms = _checked(agreement)
    parties = PartyLabels(client)
    asset = _asset_or_none(client, terms.asset_id)
    for line in _summary(agreement, terms, parties, asset):
        console.print(line, highlight=False, markup=False)
    owners: list[Any] = []
    account: Any
    if safe is not None:
        from ledger.domain.parties import parse_account

        account = _SafeSigner(str(parse_account(safe, "--safe")))
        owners = load_party_keys(keystore)
    elif keystore is not None and len(keystore) > 1:
        raise InvalidInput("several --keystore are for the owners of a Safe: add --safe ADDRESS", field="--keystore")
    else:
        account = load_party_key(keystore[0] if keystore else None)
    party = active_party_of(client, account.address)
    required = [int(p) for p in agreement.get("requiredParties", [])]
    if party is None:
        raise InvalidInput(f"{account.address} is not an account of an active party", field="--keystore")
    if party not in required:
        raise InvalidInput(
            f"{account.address} belongs to {parties.label(party)}, which is not a party to this agreement "
            f"(parties: {parties.labels(required)})",
            field="--keystore",
        )
    if str(party) in (agreement.get("signatures") or {}):
        raise InvalidInput(f"{parties.label(party)} has already signed this agreement", field="--keystore")
    if (
        not yes
        and sys.stdin.isatty()
        and not typer.confirm(f"Sign these terms as {parties.label(party)}?", default=False)
    ):
        raise typer.Exit(1)
    if safe is not None:
        from ledger.chain import governance

        chain_id = int(agreement["typedData"]["domain"]["chainId"])
        signature = governance.safe_wallet_signature(
            owners, chain_id, account.address, eip712.digest(agreement["typedData"])
        )
    else:
        signature = eip712.sign(agreement["typedData"], account)
    result = client.post(
        f"/v1/agreements/{aid}/signatures", json={"signer": account.address, "signature": "0x" + signature.hex()}
    )
    console.print(
        f"signature of {parties.label(party)} added (account {account.address})", highlight=False, markup=False
    )
    for line in _status_lines(result, parties, _owner_ids(asset))[1:]:
        console.print(line, highlight=False, markup=False)


@app.command("execute")
def agreement_execute(agreement_id: AgreementIdArg, as_json: JsonResultOpt = False, api_url: ApiUrlOpt = None) -> None:
    """Put a fully signed agreement into effect: every signature in one transaction, all or nothing. Prints its
    status, since when, the transaction and how to fetch its certificate (the API's JSON with --json)."""
    from cli.client import ApiError

    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    try:
        result = post_explained(client, f"/v1/agreements/{aid}/execute")
    except ApiError as exc:
        missing = (exc.details or {}).get("missingParties")
        if not missing:
            raise
        agreement = client.get(f"/v1/agreements/{aid}")
        who = _with_roles(
            agreement, PartyLabels(client), _owners_of(client, agreement["assetId"]), [int(p) for p in missing]
        )
        raise InvalidInput(
            f"not executed: {who} must sign first (`ipledger agreement sign {aid} --keystore ...`)",
            field="signatures",
            details={"missingParties": missing},
        ) from None
    lines = [f"agreement {aid} ({_kind_words(result)} of asset {result.get('assetId')}) is {result.get('status')}"]
    if result.get("effectiveAt"):
        lines.append(f"effective since: {local_time(result['effectiveAt'])}")
    if result.get("transactionHash"):
        lines.append(f"transaction: {result['transactionHash']}")
    lines.append(
        f"next: its certificate with `ipledger agreement certificate {aid} -o agreement.json --pdf agreement.pdf`"
    )
    report(lines, result, as_json)


@app.command("terminate")
def agreement_terminate(
    agreement_id: AgreementIdArg,
    keystore: KeystoresOpt = None,
    deadline_minutes: Annotated[
        int,
        typer.Option("--deadline-minutes", min=1, help="The termination signatures are void after this many minutes."),
    ] = 60,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """End an effective licence or pledge by all its parties: one --keystore per party (licensors/pledgors and grantee)."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement["kind"] not in ("licence", "pledge"):
        raise InvalidInput(
            f"only licences and pledges are terminated; this is an {agreement['kind']} "
            "(title moves back by a new assignment)",
            field="agreement_id",
        )
    if agreement.get("status") != "effective":
        raise InvalidInput(
            f"agreement {aid} is {agreement.get('status')}; only an effective agreement is terminated",
            field="agreement_id",
        )
    deadline = int(time.time()) + 60 * deadline_minutes
    typed = client.get(f"/v1/agreements/{aid}/termination", params={"deadline": deadline})
    expected = ag.termination_message(assets_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    if typed != expected:
        raise InvalidInput("the termination typed data from the API is not for this agreement; refusing it")
    signatures = []
    for account in load_party_keys(keystore):
        signatures.append({"signer": account.address, "signature": "0x" + eip712.sign(typed, account).hex()})
    result = post_explained(client, f"/v1/agreements/{aid}/terminate", {"deadline": deadline, "signatures": signatures})
    report(_closed_lines(aid, result), result, as_json)


@app.command("release")
def agreement_release(
    agreement_id: AgreementIdArg,
    keystore: OneKeystoreOpt = None,
    deadline_minutes: Annotated[
        int, typer.Option("--deadline-minutes", min=1, help="The release signature is void after this many minutes.")
    ] = 60,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Release a pledge: signed by the pledgee alone (e.g. once the loan is repaid)."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement["kind"] != "pledge":
        raise InvalidInput(f"only a pledge is released; this is a {agreement['kind']}", field="agreement_id")
    if agreement.get("status") != "effective":
        raise InvalidInput(
            f"pledge {aid} is {agreement.get('status')}; only an effective pledge is released", field="agreement_id"
        )
    account = load_party_key(keystore)
    pledgee = int(agreement["terms"]["grantees"][0])
    party = active_party_of(client, account.address)
    if party != pledgee:
        parties = PartyLabels(client)
        raise KeystoreError(
            f"{account.address} is not an account of the pledgee {parties.label(pledgee)}; "
            "the pledgee releases a pledge",
            field="--keystore",
        )
    deadline = int(time.time()) + 60 * deadline_minutes
    message = ag.release_message(assets_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    body = {"deadline": deadline, "signer": account.address, "signature": "0x" + eip712.sign(message, account).hex()}
    result = post_explained(client, f"/v1/agreements/{aid}/release", body)
    report(_closed_lines(aid, result), result, as_json)


@app.command("withdraw")
def agreement_withdraw(
    agreement_id: AgreementIdArg,
    keystore: OneKeystoreOpt = None,
    deadline_minutes: Annotated[
        int,
        typer.Option(
            "--deadline-minutes",
            min=1,
            max=365 * 24 * 60,
            help="The withdrawal signature is void after this many minutes.",
        ),
    ] = 60,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Withdraw your party's consent to a proposal before it takes effect (signed with your own key, recorded on
    chain): no signature given for these terms can be used any more. Propose new terms to agree again."""
    client = api_client(settings_with(api_url=api_url))
    aid = _agreement_id(agreement_id)
    agreement = client.get(f"/v1/agreements/{aid}")
    if agreement.get("status") != "proposed":
        raise InvalidInput(
            f"agreement {aid} is {agreement.get('status')}; only a proposal is withdrawn", field="agreement_id"
        )
    account = load_party_key(keystore)
    deadline = int(time.time()) + 60 * deadline_minutes
    typed = client.get(f"/v1/agreements/{aid}/withdrawal", params={"deadline": deadline})
    expected = ag.withdrawal_message(assets_domain_of(agreement["typedData"]), bytes.fromhex(aid[2:]), deadline)
    if typed != expected:
        raise InvalidInput("the withdrawal typed data from the API is not for this agreement; refusing it")
    body = {"deadline": deadline, "signer": account.address, "signature": "0x" + eip712.sign(typed, account).hex()}
    result = post_explained(client, f"/v1/agreements/{aid}/withdraw", body)
    report(_closed_lines(aid, result), result, as_json)


def _closed_lines(aid: str, result: dict[str, Any]) -> list[str]:
    """The summary of a termination, release or withdrawal: the new status, when, and the transaction."""
    lines = [f"agreement {aid} ({_kind_words(result)} of asset {result.get('assetId')}) is {result.get('status')}"]
    if result.get("closedAt"):
        lines.append(f"since: {local_time(result['closedAt'])}")
    if result.get("transactionHash"):
        lines.append(f"transaction: {result['transactionHash']}")
    return lines


@app.command("certificate")
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
