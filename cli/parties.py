"""``ipledger party admit|suspend|reinstate|show|recovery|veto-recovery|execute-recovery``: the operator's admission
and suspension of ordinary parties, a party's state and history, and the party's side of a key recovery
(docs/security.md "Key loss and recovery").

Guarantees:
- A veto is the party's own act: the ``RecoveryVeto`` EIP-712 message is signed here, with the party account's
  keystore on this machine; only the signature goes to the service, which relays it and pays the gas. The
  message names the recovery vetoed (its new account and executable time), so the signature cannot veto another.
- Times are shown in this machine's local time zone; whether a recovery can be executed is judged by the chain's
  latest block time (``GET /v1/health``), the clock the contract uses, not by this machine's clock.
- Human output by default; ``--json`` prints the API's JSON. Bad input: one line on stderr and exit 1 (usage
  errors exit 2), nothing sent.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    AccountsOpt,
    ApiUrlOpt,
    DataDirOpt,
    IdentifierOpt,
    JsonResultOpt,
    JurisdictionOpt,
    NameEnOpt,
    NameZhOpt,
    RpcUrlOpt,
    SchemeOpt,
    api_client,
    console,
    load_party_key,
    print_json,
    report,
    settings_with,
)
from cli.render import local_time, span
from ledger.domain import eip712
from ledger.domain.codes import PartyKind
from ledger.errors import Conflict, InvalidInput, LedgerError, PermissionDenied
from ledger.storage.files import MIB, read_bounded_text

app = typer.Typer(
    help="Admit and manage parties (operator), look them up, and a party's side of a key recovery (veto, execute).",
    no_args_is_help=True,
)

MAX_PARTY_ID = 2**24 - 1
PartyIdArg = Annotated[int, typer.Argument(min=1, max=MAX_PARTY_ID, help="Party id (1 … 16777215).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of words.")]
KeystoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        help="Your party account's keystore (v3 JSON); the key never leaves this machine. "
        "Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE.",
    ),
]

KIND_WORDS = {k.word: k.word.replace("_", " ") for k in PartyKind.choices()}
EVENT_WORDS = {
    "admitted": "admitted",
    "account_added": "account added",
    "account_removed": "account removed",
    "accounts_changed": "accounts changed by the party",
    "suspended": "suspended",
    "suspension_confirmed": "suspension confirmed by governance",
    "suspension_lapsed": "suspension lapsed (not confirmed in time)",
    "reinstated": "suspension lifted",
    "recovery_proposed": "key recovery proposed by governance",
    "recovery_vetoed": "key recovery vetoed",
    "recovery_cancelled": "key recovery cancelled by governance",
    "recovery_executed": "key recovery executed",
}


def chain_time(client: Any) -> tuple[int, bool]:
    """The chain's latest block time (the contract's clock), and whether it came from the chain; this machine's
    clock when the service cannot say."""
    try:
        return int(client.get("/v1/health")["latestBlockTime"]), True
    except (LedgerError, KeyError, TypeError, ValueError):
        return int(time.time()), False


def _party(client: Any, party_id: int) -> dict[str, Any]:
    party: dict[str, Any] = client.get(f"/v1/parties/{party_id}")
    return party


def _name(p: dict[str, Any]) -> str:
    if p.get("naturalPerson"):  # a natural person is named by number, never by name (docs/privacy.md)
        return f"{p['naturalPerson']['en']} / {p['naturalPerson']['zh']}"
    names = [n for n in (p.get("nameEn"), p.get("nameZh")) if n]
    return " / ".join(names) or str(p.get("identifier", ""))


def suspension_words(p: dict[str, Any]) -> str:
    state = p.get("suspensionState") or p.get("suspension") or "none"
    lapses = int(p.get("suspensionLapsesAt") or 0)
    if state == "provisional":
        return (
            f"SUSPENDED provisionally by the registrar since {local_time(p['suspendedAt'])}; lapses at "
            f"{local_time(lapses)} unless governance confirms it"
        )
    if state == "confirmed":
        return f"SUSPENDED (confirmed by governance; suspended since {local_time(p['suspendedAt'])})"
    if state == "lapsed":
        return (
            f"active: the registrar's suspension of {local_time(p['suspendedAt'])} lapsed at {local_time(lapses)} "
            "without confirmation by governance"
        )
    if state == "reinstated":
        return "active (an earlier suspension was lifted)"
    return "active"


def recovery_words(p: dict[str, Any], now: int, from_chain: bool) -> list[str]:
    """The pending recovery in words: what it does, when, and how to veto or execute it."""
    pending = p.get("pendingRecovery")
    pid = p["partyId"]
    if not pending:
        return [f"Party {pid} has no pending key recovery."]
    at = int(pending["executableAt"])
    clock = "chain time" if from_chain else "this machine's clock"
    lines = [
        f"Key recovery of party {pid} ({_name(p)}) proposed by governance:",
        f"  replaces every account ({', '.join(p['accounts'])}) by {pending['newAccount']}",
    ]
    if now < at:
        lines += [
            f"  executable by anyone from {local_time(at)} (in {span(at - now)}, by {clock})",
            f"  to veto it, any account of the party runs: ipledger party veto-recovery {pid} --keystore YOUR_KEYSTORE",
        ]
    else:
        lines += [
            f"  executable now (since {local_time(at)}): ipledger party execute-recovery {pid}",
            f"  until it is executed, any account of the party can still veto it: ipledger party veto-recovery {pid} "
            "--keystore YOUR_KEYSTORE",
        ]
    return lines


def history_words(item: dict[str, Any]) -> str:
    event = str(item["event"])
    words = EVENT_WORDS.get(event, event)
    if event in ("account_added", "account_removed", "recovery_vetoed") and item.get("account"):
        words += f" {'by ' if event == 'recovery_vetoed' else ''}{item['account']}"
    if event == "accounts_changed":
        words += f" ({item.get('action')}, nonce {item.get('nonce')}, threshold {item.get('threshold')})"
    if event == "recovery_proposed":
        words += f" to {item.get('newAccount')}, executable from {local_time(int(item.get('executableAt') or 0))}"
    if event == "recovery_executed":
        words += f": the party's account is now {item.get('newAccount')}"
    if event == "suspended" and item.get("reasonHash"):
        words += f" (reason hash {item['reasonHash']})"
    where = f"  block {item['block']}, tx {item['transactionHash']}" if item.get("block") is not None else ""
    return f"  {local_time(int(item['time']))}  {words}{where}"


@app.command("admit")
def party_admit(
    kind: Annotated[
        str,
        typer.Option(
            help="firm | university | arbitration_institution | financial_institution | service_agency | individual "
            "(a natural person: give --id-scheme, --identifier, a name and --consent; kept off chain)"
        ),
    ],
    identifier: IdentifierOpt,
    account: AccountsOpt,
    jurisdiction: JurisdictionOpt = "mainland",
    scheme: SchemeOpt = "uscc",
    id_scheme: Annotated[
        str | None,
        typer.Option(
            "--id-scheme",
            help="A natural person's identity document: hkid | cnric | moid | twid | passport (ISO3:NUMBER).",
        ),
    ] = None,
    consent: Annotated[
        str | None,
        typer.Option(help="A natural person's consent to the processing of their personal information (its text)."),
    ] = None,
    consent_version: Annotated[str, typer.Option("--consent-version", help="Version of the consent text.")] = "1",
    name_zh: NameZhOpt = "",
    name_en: NameEnOpt = "",
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Admit a party (operator). The USCC or HKID check character is verified before anything is sent. A natural
    person (--kind individual) goes on chain only as a salted commitment; their document number, names and consent
    stay with the service (docs/privacy.md). Prints the party in words (the API's JSON with --json)."""
    settings = settings_with(api_url=api_url, data_dir=data_dir)
    if kind == PartyKind.INDIVIDUAL.word:
        _admit_individual(
            settings, identifier, account, jurisdiction, id_scheme, consent, consent_version, name_zh, name_en, as_json
        )
        return
    if id_scheme is not None or consent is not None:
        raise InvalidInput("--id-scheme and --consent are for --kind individual (a natural person)", field="id_scheme")
    from ledger.domain.parties import PartyProfile

    PartyProfile(kind, jurisdiction, scheme, identifier, name_zh, name_en).validated()  # clear errors before the call
    body = {
        "kind": kind,
        "jurisdiction": jurisdiction,
        "identifierScheme": scheme,
        "identifier": identifier,
        "nameZh": name_zh,
        "nameEn": name_en,
        "accounts": account,
    }
    p = api_client(settings, operator=True).post("/v1/parties", json=body)
    lines = [
        f"party {p['partyId']} admitted: {_name(p)}",
        f"{KIND_WORDS.get(p['kind'], p['kind'])}, {p['jurisdiction']}, {p['identifierScheme'].upper()} {p['identifier']}",
        "accounts: " + ", ".join(p["accounts"]),
        "next: the party signs with its own keystore, e.g. `ipledger evidence register FILE --keystore KEY.json`",
    ]
    report(lines + _tx(p), p, as_json)


def _admit_individual(
    settings: Any,
    identifier: str,
    accounts: list[str],
    jurisdiction: str,
    id_scheme: str | None,
    consent: str | None,
    consent_version: str,
    name_zh: str,
    name_en: str,
    as_json: bool,
) -> None:
    from ledger.domain.parties import PersonIdentity

    if id_scheme is None:
        raise InvalidInput(
            "a natural person needs --id-scheme (hkid, cnric, moid, twid or passport)", field="id_scheme"
        )
    if consent is None:
        raise InvalidInput("a natural person's --consent (the text they agreed to) is required", field="consent")
    PersonIdentity(id_scheme, identifier, name_zh, name_en, consent, consent_version).validated()  # before the call
    body = {
        "jurisdiction": jurisdiction,
        "idScheme": id_scheme,
        "identifier": identifier,
        "nameZh": name_zh,
        "nameEn": name_en,
        "consent": consent,
        "consentVersion": consent_version,
        "accounts": accounts,
    }
    p = api_client(settings, operator=True).post("/v1/parties/individuals", json=body)
    lines = [
        f"party {p['partyId']} admitted: {p['naturalPerson']['en']} / {p['naturalPerson']['zh']}, {p['jurisdiction']}",
        f"on chain only its commitment {p['identifier']}; the document number, names and consent are kept by the "
        "service off chain (docs/privacy.md)",
        "accounts: " + ", ".join(p["accounts"]),
        "next: the person signs with their own keystore, e.g. `ipledger evidence register FILE --keystore KEY.json`; "
        f"`ipledger party personal-data show {p['partyId']} --keystore KEY.json` shows what is held about them",
    ]
    report(lines + _tx(p), p, as_json)


# --- a natural person's own requests (signed here with their keystore) ---------------------------------------


def _person_request(
    client: Any, signer: Any, action: str, party_id: int, subject: str = "0x" + "00" * 32
) -> dict[str, Any]:
    """The signed body of a `PersonalDataRequest` (docs/privacy.md): the party's request nonce, a deadline ten
    minutes after the chain's latest block time, signed with the person's key on this machine."""
    nonce = int(client.get(f"/v1/parties/{party_id}/personal-data/nonce")["nonce"])
    now, _ = chain_time(client)
    d = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    deadline = now + 600
    message = eip712.personal_data_request_message(
        domain, action=action, party_id=party_id, subject=subject, nonce=nonce, deadline=deadline
    )
    return {
        "account": signer.address,
        "nonce": nonce,
        "deadline": deadline,
        "signature": "0x" + eip712.sign(message, signer).hex(),
    }


def _person_lines(d: dict[str, Any]) -> list[str]:
    if d["state"] == "erased":
        return [
            f"party {d['partyId']} ({d['naturalPerson']['en']}): personal data erased at {local_time(int(d['erasedAt']))}",
            f"what remains: the party, its accounts, its records and the on-chain commitment {d['commitment']}, "
            "which without the salt says nothing about the person",
        ]
    consent = d.get("consent") or {}
    given = [
        f"  consent {c['digest']} to {c['recipient']}"
        + (f" (party {c['recipientParty']})" if c.get("recipientParty") else "")
        + f", recorded {local_time(int(c['recordedAt']))}, "
        + (
            f"revoked {local_time(int(c['revokedAt']))}"
            if c.get("revokedAt")
            else f"until {local_time(int(c['expires']))}"
        )
        + f", {c['issued']} cop{'y' if c['issued'] == 1 else 'ies'} issued"
        for c in d.get("consents") or []
    ]
    return [
        f"party {d['partyId']} ({d['naturalPerson']['en']}), held by the service since {local_time(int(d['createdAt']))}:",
        f"  names: {d.get('nameEn') or '-'} / {d.get('nameZh') or '-'}",
        f"  identity document: {d.get('idScheme')} {d.get('identifier')}",
        f"  salt of the on-chain commitment: {d.get('salt')}",
        f"  commitment on chain: {d['commitment']}",
        f"  consent (version {consent.get('version')}, given {local_time(int(consent.get('givenAt') or 0))}): "
        f"{consent.get('text')}",
        *given,
    ]


personal_app = typer.Typer(
    help="A natural person's personal data held by the service (docs/privacy.md): see it; erase it with "
    "`ipledger party erase`.",
    no_args_is_help=True,
)
app.add_typer(personal_app, name="personal-data")


@personal_app.command("show")
def party_personal_data(
    party_id: PartyIdArg, keystore: KeystoreOpt = None, as_json: JsonOpt = False, api_url: ApiUrlOpt = None
) -> None:
    """A natural person sees what the service holds about them (document number, names, salt, consent): a request
    signed here with their party account's keystore."""
    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    d = client.post(f"/v1/parties/{party_id}/personal-data", json=_person_request(client, signer, "show", party_id))
    report(_person_lines(d), d, as_json)


@personal_app.command("sign")
def party_personal_data_sign(
    party_id: PartyIdArg,
    keystore: KeystoreOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the JSON here instead of printing it.")] = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Print a signed `show` request (JSON) without sending it: paste it into the portal's "my registrations" view
    when the browser has no wallet. Valid once, for ten minutes; it carries no personal data."""
    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    body = {"partyId": party_id, **_person_request(client, signer, "show", party_id)}
    text = json.dumps(body, indent=2)
    if out is None:
        print(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    console.print(f'wrote {out}: paste it into the portal\'s "my registrations" view', highlight=False, markup=False)


@app.command("erase")
def party_erase(
    party_id: PartyIdArg,
    keystore: KeystoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """A natural person erases the personal data the service holds about them (names, document number, salt): a
    request signed here with their party account's keystore. The party, its accounts and records remain, verifiable
    as registered by "natural person, party N"; the on-chain commitment cannot be erased but without the salt says
    nothing about them. Keep `ipledger party prove` output first if you may need to prove who you are later."""
    signer = load_party_key(keystore)
    if not yes and not typer.confirm(f"Erase the personal data of party {party_id}? This cannot be undone"):
        raise typer.Exit(1)
    client = api_client(settings_with(api_url=api_url))
    d = client.post(
        f"/v1/parties/{party_id}/personal-data/erase", json=_person_request(client, signer, "erase", party_id)
    )
    report(_person_lines(d), d, as_json)


@app.command("certificate")
def party_certificate(
    party_id: PartyIdArg,
    content_hash: Annotated[
        str, typer.Argument(help="The content hash of the registration (64 hex); with --consent, or its binding.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the certificate JSON.")],
    keystore: KeystoreOpt = None,
    consent: Annotated[
        Path | None,
        typer.Option(
            "--consent",
            help="A recipient's request: the consent file the person gave you (`ipledger party consent`). No "
            "keystore is needed; the copy states that it was issued to you under that consent.",
        ),
    ] = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """The named copy of the certificate of a natural person's registration (a `holder` section naming them): the
    person's own, signed here with their keystore; or, with --consent, the copy for the recipient the person's
    signed consent names. The public certificate shows only "natural person, party N"."""
    from ledger.domain.hashing import parse_hash

    content = "0x" + parse_hash(content_hash, "content_hash").hex()
    client = api_client(settings_with(api_url=api_url))
    if consent is not None:
        given = _read_consent(consent)
        body = {"consent": given, "registration": content}
        doc = client.post(f"/v1/parties/{party_id}/certificate/consented", json=body)
        _write_json(out, doc)
        holder = doc.get("holder") or {}
        consent_seen = holder.get("consent") or {}
        console.print(
            f"wrote {out}: the copy issued to {holder.get('recipient', {}).get('name')} under consent "
            f"{consent_seen.get('digest')} (signed by {consent_seen.get('signer')}, recorded "
            f"{local_time(int(consent_seen.get('recordedAt') or 0))}), naming {holder.get('nameEn') or holder.get('nameZh')} "
            f"as party {party_id}; the name appears only in this copy. Check it with `ipledger verify {out} --rpc-url URL`",
            highlight=False,
            markup=False,
        )
        return
    signer = load_party_key(keystore)
    body = {**_person_request(client, signer, "certificate", party_id, content), "contentHash": content}
    doc = client.post(f"/v1/parties/{party_id}/certificate", json=body)
    _write_json(out, doc)
    holder = doc.get("holder") or {}
    console.print(
        f"wrote {out}: your copy of the certificate, naming {holder.get('nameEn') or holder.get('nameZh')} as party "
        f"{party_id}; check it with `ipledger verify {out} --rpc-url URL`",
        highlight=False,
        markup=False,
    )


def _write_json(out: Path, doc: Any) -> None:
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


CONSENT_FORMAT = "qianhai-ip-ledger/certificate-consent"
CONSENT_FIELDS = (
    "partyId",
    "recipient",
    "recipientParty",
    "bindings",
    "purpose",
    "expires",
    "nonce",
    "deadline",
    "account",
    "signature",
)
MAX_CONSENT_FILE = 64 * 1024
#: A party certificate is a few KiB of JSON; a file over this is not one (and is never read whole).
MAX_CERTIFICATE_FILE = 16 * MIB


def _read_consent(path: Path) -> dict[str, Any]:
    """The signed consent in a consent file (bounded size; only the signed fields are sent)."""
    try:
        data = json.loads(read_bounded_text(path, MAX_CONSENT_FILE, field="consent", what="a consent file"))
    except InvalidInput:
        raise
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the consent file cannot be read ({type(exc).__name__})", field="consent") from None
    if not isinstance(data, dict) or data.get("format") != CONSENT_FORMAT:
        raise InvalidInput(f"{path.name} is not a consent file ({CONSENT_FORMAT})", field="consent")
    missing = [k for k in CONSENT_FIELDS if k not in data]
    if missing:
        raise InvalidInput(f"the consent file lacks {', '.join(missing)}", field="consent")
    return {k: data[k] for k in CONSENT_FIELDS}


def _expiry(value: str, now: int) -> int:
    """``90d`` (days from the chain's time), YYYY-MM-DD, an ISO datetime or unix seconds."""
    from cli.common import unix_time

    text = value.strip()
    if text.endswith("d") and text[:-1].isdigit() and len(text) <= 5:
        return now + int(text[:-1]) * 86400
    moment = unix_time(text, "expires")
    assert moment is not None
    return moment


@app.command("consent")
def party_consent(
    party_id: PartyIdArg,
    to: Annotated[str, typer.Option("--to", help="The recipient's name, as the copy will state it.")],
    binding: Annotated[
        list[str],
        typer.Option(
            "--binding",
            help="The binding of your registration the consent covers (its certificate's evidence.binding); "
            "repeat for several (at most 16).",
        ),
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose, in words (e.g. the arbitration case).")],
    expires: Annotated[
        str,
        typer.Option(
            "--expires", help="Until when: e.g. 90d (days), 2027-06-30 (00:00 UTC), an ISO datetime; at most two years."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the consent file for the recipient.")],
    to_party: Annotated[
        int, typer.Option("--to-party", min=0, max=MAX_PARTY_ID, help="The recipient's party id, if they are one.")
    ] = 0,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """A natural person consents that a named recipient (an arbitrator, a licensee) obtains the copy of the
    certificates of the listed registrations naming them, for a purpose, until an expiry: signed here with your
    keystore (EIP-712 CertificateConsent), recorded by the service with its date, and written to a file you give
    the recipient, who runs `ipledger party certificate N HASH --consent FILE -o OUT`. Revoke it with
    `ipledger party revoke-consent N DIGEST`."""
    from ledger.domain.hashing import parse_hash

    bindings = ["0x" + parse_hash(b, f"binding[{i}]").hex() for i, b in enumerate(binding)]
    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    nonce = int(client.get(f"/v1/parties/{party_id}/personal-data/nonce")["nonce"])
    now, _ = chain_time(client)
    until = _expiry(expires, now)
    d = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    fields: dict[str, Any] = {
        "partyId": party_id,
        "recipient": to,
        "recipientParty": to_party,
        "bindings": bindings,
        "purpose": purpose,
        "expires": until,
        "nonce": nonce,
        "deadline": now + 600,
    }
    message = eip712.certificate_consent_message(
        domain,
        party_id=party_id,
        recipient=to,
        recipient_party=to_party,
        bindings=bindings,
        purpose=purpose,
        expires=until,
        nonce=nonce,
        deadline=now + 600,
    )
    body = {**fields, "account": signer.address, "signature": "0x" + eip712.sign(message, signer).hex()}
    recorded = client.post(f"/v1/parties/{party_id}/consents", json=body)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(
            {"format": CONSENT_FORMAT, **body, "digest": recorded["digest"], "recordedAt": recorded["recordedAt"]},
            fh,
            ensure_ascii=False,
            indent=2,
        )
    who = to + (f" (party {to_party})" if to_party else "")
    lines = [
        f"consent {recorded['digest']} recorded {local_time(int(recorded['recordedAt']))}: {who} may obtain the copy "
        f"naming you of {len(bindings)} registration(s) until {local_time(until)}, for: {purpose}",
        f"wrote {out} (mode 0600): give it to the recipient; they run `ipledger party certificate {party_id} HASH "
        f"--consent {out.name} -o COPY.json`",
        f"revoke it before then with `ipledger party revoke-consent {party_id} {recorded['digest']} --keystore KEY.json`",
    ]
    report(lines, recorded, as_json)


@app.command("revoke-consent")
def party_revoke_consent(
    party_id: PartyIdArg,
    digest: Annotated[str, typer.Argument(help="The consent's digest (printed by `ipledger party consent`).")],
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """A natural person revokes a consent they gave: no copy is issued under it any more (copies already issued
    remain with their holders). A request signed here with your keystore."""
    from ledger.domain.hashing import parse_hash

    key = "0x" + parse_hash(digest, "digest").hex()
    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    body = _person_request(client, signer, "revoke-consent", party_id, key)
    d = client.post(f"/v1/parties/{party_id}/consents/{key}/revoke", json=body)
    report([f"consent {d['digest']} to {d['recipient']} revoked {local_time(int(d['revokedAt']))}"], d, as_json)


@app.command("prove")
def party_prove(
    party_id: PartyIdArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the proof (keep it private).")],
    keystore: KeystoreOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """A natural person writes the proof that they are party N: their document number, its scheme and the salt of
    the on-chain commitment (a signed request to the service). Hand it to an arbitrator, who checks it with
    `ipledger party verify-person`, and show them the identity document. It reveals your document number to whoever
    holds it; it still works after an erasure of the service's copy."""
    from ledger.certificates.verify import PERSON_PROOF_FORMAT

    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    d = client.post(f"/v1/parties/{party_id}/personal-data", json=_person_request(client, signer, "show", party_id))
    if d["state"] != "admitted":
        raise Conflict(
            f"the personal data of party {party_id} was erased: there is nothing to prove with", field="party_id"
        )
    proof = {
        "format": PERSON_PROOF_FORMAT,
        "partyId": party_id,
        "idScheme": d["idScheme"],
        "identifier": d["identifier"],
        "salt": d["salt"],
        "commitment": d["commitment"],
    }
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(proof, fh, indent=2)
    console.print(f"wrote {out} (mode 0600): the proof that you are party {party_id}", highlight=False, markup=False)


@app.command("verify-person")
def party_verify_person(
    proof: Annotated[Path, typer.Argument(help="The person's proof (from `ipledger party prove`).")],
    certificate: Annotated[
        Path, typer.Option("--certificate", help="The certificate whose registrant the person claims to be.")
    ],
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """An arbitrator confirms that the person before them is the certificate's registrant: the commitment recomputed
    from their document number and salt must be the party's on-chain identifier (JSON-RPC only; no service). Then
    compare the document number in the proof with the identity document the person shows. Exit 0: confirmed."""
    from ledger.certificates.verify import PASSED, Rpc, verify_person
    from ledger.chain.rpc import connect

    settings = settings_with(rpc_url=rpc_url)
    if not settings.rpc_url:
        raise InvalidInput("--rpc-url is required (any JSON-RPC endpoint of the certificate's chain)", field="rpc_url")
    try:
        doc = json.loads(
            read_bounded_text(certificate, MAX_CERTIFICATE_FILE, field="certificate", what="a certificate")
        )
        given = json.loads(read_bounded_text(proof, MAX_CONSENT_FILE, field="proof", what="a proof"))
        party_id, contract = int(doc["registrant"]["partyId"]), str(doc["chain"]["contract"])
    except InvalidInput:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"the certificate or the proof cannot be read ({type(exc).__name__})", field="proof"
        ) from None
    result = verify_person(given, Rpc.from_web3(connect(settings.rpc_url)), contract, party_id)
    code = 0 if result.passed else 1
    if as_json:
        print_json({**result.to_json(), "exitCode": code})
        raise typer.Exit(code)
    for check in result.checks:
        mark = "✓ passed" if check.status == PASSED else "✗ FAILED"
        console.print(f"{mark} {check.name:<12} {check.detail}", highlight=False, markup=False)
    verdict = "CONFIRMED" if result.passed else "NOT CONFIRMED"
    console.print(
        f"{verdict}: the person's proof {'is' if result.passed else 'is not'} party {party_id}'s commitment",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(code)


def _tx(p: dict[str, Any]) -> list[str]:
    return [f"transaction: {p['transactionHash']}"] if p.get("transactionHash") else []


@app.command("suspend")
def party_suspend(
    party_id: int,
    reason: Annotated[str, typer.Option(help="Why (its hash is recorded on chain).")],
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Suspend a party (operator): its accounts can no longer register or sign. Prints its status in words (local
    times; the API's JSON with --json)."""
    settings = settings_with(api_url=api_url, data_dir=data_dir)
    p = api_client(settings, operator=True).post(f"/v1/parties/{party_id}/suspend", json={"reason": reason})
    report([f"party {p['partyId']} ({_name(p)}): {suspension_words(p)}", *_tx(p)], p, as_json)


@app.command("reinstate")
def party_reinstate(
    party_id: int, as_json: JsonResultOpt = False, api_url: ApiUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Lift a party's suspension (operator). Prints its status in words (the API's JSON with --json)."""
    settings = settings_with(api_url=api_url, data_dir=data_dir)
    p = api_client(settings, operator=True).post(f"/v1/parties/{party_id}/reinstate")
    report([f"party {p['partyId']} ({_name(p)}): {suspension_words(p)}", *_tx(p)], p, as_json)


@app.command("show")
def party_show(party_id: PartyIdArg, as_json: JsonOpt = False, api_url: ApiUrlOpt = None) -> None:
    """Show a party: kind, identifier, status (a registrar's suspension is provisional and lapses unless governance
    confirms it), accounts and threshold, a pending key recovery, and its history as the index has read it."""
    client = api_client(settings_with(api_url=api_url))
    p = _party(client, party_id)
    if as_json:
        print_json(p)
        return
    now, from_chain = chain_time(client)
    out = [
        f"Party {p['partyId']}: {_name(p)}",
        f"  {KIND_WORDS.get(p['kind'], p['kind'])}, {p['jurisdiction']}, {p['identifierScheme'].upper()} {p['identifier']}, "
        f"admitted {local_time(p['admittedAt'])}",
        f"  status: {suspension_words(p)}",
        f"  accounts ({p['threshold']} of {len(p['accounts'])} sign a change of accounts; next change nonce "
        f"{p['accountNonce']}):",
    ]
    out += [f"    {a}" for a in p["accounts"]]
    if p.get("pendingRecovery"):
        out += recovery_words(p, now, from_chain)
    history = p.get("history")
    if history is None:
        out.append(f"  history: unavailable ({p.get('historyNote') or 'the index cannot be read'})")
    elif not history:
        out.append(f"  history: none yet ({p.get('historyNote') or 'the index has not read it yet'})")
    else:
        total = int(p.get("historyTotal") or len(history))
        shown = f"newest {len(history)} of {total}" if total > len(history) else "newest first"
        out.append(f"  history ({shown}; local time):")
        out += [history_words(item) for item in history]
    console.print("\n".join(out), highlight=False, markup=False)


@app.command("recovery")
def party_recovery(party_id: PartyIdArg, as_json: JsonOpt = False, api_url: ApiUrlOpt = None) -> None:
    """Show a party's pending key recovery: the account that would replace every account of the party, when
    anyone can execute it (local time), and how an account of the party vetoes it."""
    client = api_client(settings_with(api_url=api_url))
    p = _party(client, party_id)
    now, from_chain = chain_time(client)
    if as_json:
        pending = p.get("pendingRecovery")
        executable = pending is not None and now >= int(pending["executableAt"])
        print_json(
            {
                "partyId": p["partyId"],
                "accounts": p["accounts"],
                "pendingRecovery": pending,
                "chainTime": now,
                "executable": executable,
            }
        )
        return
    console.print("\n".join(recovery_words(p, now, from_chain)), highlight=False, markup=False)


@app.command("veto-recovery")
def party_veto_recovery(
    party_id: PartyIdArg, keystore: KeystoreOpt = None, as_json: JsonOpt = False, api_url: ApiUrlOpt = None
) -> None:
    """Veto your party's pending key recovery with one of its accounts: the `RecoveryVeto` EIP-712 message
    (party, new account, executable time) is signed here with your keystore and relayed by the service. Any
    single account of the party can veto, until the recovery is executed."""
    signer = load_party_key(keystore)
    client = api_client(settings_with(api_url=api_url))
    p = _party(client, party_id)
    pending = p.get("pendingRecovery")
    if not pending:
        raise Conflict(f"party {party_id} has no pending key recovery: nothing to veto", field="party_id")
    if signer.address not in p["accounts"]:
        raise PermissionDenied(
            f"{signer.address} (your keystore) is not an account of party {party_id}; its accounts "
            f"are {', '.join(p['accounts'])}",
            field="keystore",
        )
    d = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    message = eip712.recovery_veto_message(
        domain, party_id=party_id, new_account=pending["newAccount"], executable_at=int(pending["executableAt"])
    )
    signature = eip712.sign(message, signer)
    result = client.post(
        f"/v1/parties/{party_id}/recovery/veto", json={"account": signer.address, "signature": "0x" + signature.hex()}
    )
    if as_json:
        print_json(result)
        return
    console.print(
        f"Vetoed: the key recovery of party {party_id} to {pending['newAccount']} will not happen "
        f"(veto by {signer.address}; transaction {result.get('transactionHash')}). The party keeps its "
        f"accounts: {', '.join(result['accounts'])}.",
        highlight=False,
        markup=False,
    )


@app.command("execute-recovery")
def party_execute_recovery(party_id: PartyIdArg, as_json: JsonOpt = False, api_url: ApiUrlOpt = None) -> None:
    """Carry out a party's pending key recovery once its public delay has passed (anyone may; the service pays
    the gas). Before that it refuses, saying when (local time)."""
    from cli.client import ApiError

    client = api_client(settings_with(api_url=api_url))
    p = _party(client, party_id)
    pending = p.get("pendingRecovery")
    if not pending:
        raise Conflict(
            f"party {party_id} has no pending key recovery (none proposed, or it was vetoed, cancelled or "
            "executed already: see `ipledger party show`)",
            field="party_id",
        )
    now, from_chain = chain_time(client)
    at = int(pending["executableAt"])
    if now < at:
        raise Conflict(
            f"the key recovery of party {party_id} can be executed from {local_time(at)}, in {span(at - now)} "
            f"(by {'chain time' if from_chain else 'this clock'}); until then any account of the party can "
            "veto it",
            field="party_id",
        )
    try:
        result = client.post(f"/v1/parties/{party_id}/recovery/execute")
    except ApiError as exc:  # the service judges by its own reading of the chain: say when in local time
        when = (exc.details or {}).get("executableAt")
        if when is None:
            raise
        raise Conflict(
            f"the key recovery of party {party_id} can be executed from {local_time(int(when))}", field="party_id"
        ) from None
    if as_json:
        print_json(result)
        return
    console.print(
        f"Executed: party {party_id}'s accounts were replaced by {', '.join(result['accounts'])} (transaction "
        f"{result.get('transactionHash')}).",
        highlight=False,
        markup=False,
    )
