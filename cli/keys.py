"""``ipledger keys new|import|list|rotate`` and ``ipledger powers`` (a top-level command). Keys never
leave the party's machine unencrypted: keystores are eth-account v3 (scrypt), private keys are read from a file
or a prompt, never from the command line. A rotation is the party's own act: signed here by the old key (and the
new one, proving it), relayed by the service, which has no say in it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account import Account

from cli.common import (
    ApiUrlOpt,
    JsonOpt,
    JsonResultOpt,
    api_client,
    console,
    err_console,
    keystore_password,
    print_json,
    report,
    settings_with,
)
from ledger.domain import eip712
from ledger.errors import InvalidInput, KeystoreError
from ledger.storage.files import KIB, read_bounded_text
from ledger.storage.keys import MAX_KEYSTORE_BYTES, load_keystore, write_keystore

app = typer.Typer(help="Party account keys in encrypted keystores (eth-account v3, scrypt).", no_args_is_help=True)


def _new_password() -> str:
    settings = settings_with()
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if sys.stdin.isatty():
        return str(typer.prompt("New keystore password", hide_input=True, confirmation_prompt=True))
    raise KeystoreError("set IPLEDGER_KEYSTORE_PASSWORD or run in a terminal to choose a password")


@app.command("new")
def keys_new(path: Annotated[Path, typer.Argument(help="Where to write the keystore (never overwritten).")]) -> None:
    """Create a new account and write it encrypted; the password comes from IPLEDGER_KEYSTORE_PASSWORD or a prompt."""
    password = _new_password()
    account = Account.create()
    write_keystore(path, account, password)
    console.print(f"{account.address} written to {path}")


@app.command("import")
def keys_import(
    path: Annotated[Path, typer.Argument(help="Where to write the keystore (never overwritten).")],
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="A file holding the hex private key (else a prompt).")
    ] = None,
) -> None:
    """Import an existing private key into an encrypted keystore."""
    if key_file is not None:
        try:  # 64 hex characters; never echoed in an error
            raw = read_bounded_text(key_file, 4 * KIB, field="key_file", what="a private key file").strip()
        except OSError as exc:
            raise InvalidInput(f"{key_file} cannot be read ({type(exc).__name__})", field="key_file") from None
    elif sys.stdin.isatty():
        raw = str(typer.prompt("Private key (hex)", hide_input=True))
    else:
        raise KeystoreError("give --key-file or run in a terminal; a key is never read from the command line")
    try:
        account = Account.from_key(raw)
    except Exception:  # noqa: BLE001 - eth-keys raises several classes for a bad key
        raise InvalidInput("that is not a secp256k1 private key (64 hex characters)", field="key") from None
    write_keystore(path, account, _new_password())
    console.print(f"{account.address} written to {path}")


@app.command("list")
def keys_list(
    folder: Annotated[Path, typer.Argument(help="A folder of keystores.")] = Path("."),
    api_url: ApiUrlOpt = None,
) -> None:
    """List the keystores in a folder with their addresses and, when the API answers, their party."""
    client = api_client(settings_with(api_url=api_url))
    for path in sorted(folder.glob("*.json")):
        if not path.is_file():  # a directory, a device or a pipe named *.json is no keystore (and may never end)
            continue
        try:
            text = read_bounded_text(path, MAX_KEYSTORE_BYTES, field="keystore", what="a keystore")
            address = "0x" + str(json.loads(text)["address"]).removeprefix("0x")
        except (OSError, ValueError, KeyError, TypeError):  # not a keystore: not listed
            continue
        try:
            info = client.get(f"/v1/accounts/{address}")
            party = (
                f"party {info['partyId']} ({'active' if info['active'] else 'suspended'})"
                if info["partyId"]
                else "no party"
            )
        except Exception:  # noqa: BLE001 - the listing works without the API
            party = "?"
        console.print(f"{path}  {address}  {party}", highlight=False)


@app.command("rotate")
def keys_rotate(
    keystore: Annotated[Path, typer.Option("--keystore", help="The current (old) keystore.")],
    new: Annotated[Path, typer.Option("--new", help="The new keystore; created if it does not exist.")],
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Replace your party's account by a new one on chain: the old key signs the party's `AccountChange` (with
    the party's nonce and a one-hour deadline) and the new key signs it too; the service relays it. No operator
    is involved. A party whose threshold is above 1 collects its other signatures through the API instead. The
    old keystore stays on disk for your records but no longer signs for the party. Prints the party's accounts in
    words (the API's JSON with --json)."""
    settings = settings_with(api_url=api_url)
    old = load_keystore(keystore, keystore_password(settings, keystore))
    client = api_client(settings)
    info = client.get(f"/v1/accounts/{old.address}")
    if not info.get("partyId"):
        raise InvalidInput(f"{old.address} is not an account of any party", field="keystore")
    party = client.get(f"/v1/parties/{int(info['partyId'])}")
    if int(party["threshold"]) > 1:
        raise InvalidInput(
            f"party {party['partyId']} needs {party['threshold']} of its accounts to sign a rotation; "
            "collect them and POST /v1/parties/{id}/accounts",
            field="keystore",
        )
    if new.exists():
        fresh = load_keystore(new, keystore_password(settings, new))
    else:
        fresh = Account.create()
        write_keystore(new, fresh, _new_password())
        (err_console if as_json else console).print(f"new account {fresh.address} written to {new}")
    d = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    deadline = int(time.time()) + 3600
    msg = eip712.account_change_message(
        domain,
        party_id=int(party["partyId"]),
        action="rotate",
        account=old.address,
        new_account=fresh.address,
        threshold=1,
        nonce=int(party["accountNonce"]),
        deadline=deadline,
    )
    result = client.post(
        f"/v1/parties/{int(party['partyId'])}/accounts",
        json={
            "action": "rotate",
            "account": old.address,
            "newAccount": fresh.address,
            "threshold": 1,
            "nonce": int(party["accountNonce"]),
            "deadline": deadline,
            "signatures": [{"signer": old.address, "signature": "0x" + eip712.sign(msg, old).hex()}],
            "newAccountSignature": "0x" + eip712.sign(msg, fresh).hex(),
        },
    )
    lines = [
        f"party {result['partyId']}: account {old.address} replaced by {fresh.address}",
        "accounts now: " + ", ".join(result.get("accounts", [])),
    ]
    if result.get("transactionHash"):
        lines.append(f"transaction: {result['transactionHash']}")
    report(lines, result, as_json)


def powers_cmd(api_url: ApiUrlOpt = None, as_json: JsonOpt = False) -> None:
    """Who holds each power of the deployment (role holders of every contract, read from the chain; the keys the
    service holds), in words; --json prints GET /v1/powers as it is."""
    powers = api_client(settings_with(api_url=api_url)).get("/v1/powers")
    if as_json:
        print_json(powers)
        return
    for line in powers_lines(powers):
        console.print(line, highlight=False, markup=False)


def powers_lines(powers: dict[str, Any]) -> list[str]:
    """The powers of a deployment (GET /v1/powers) in words: governance and who proposes to it, the service's own
    keys, then each contract's role holders with what the role may do."""
    from cli.render import span

    lines: list[str] = []
    g = powers.get("governance")
    if not g:
        lines.append("governance: none found (no account holds GOVERNANCE_ROLE)")
    else:
        delay = f", changes wait {span(int(g['delaySeconds']))} after they are scheduled" if "delaySeconds" in g else ""
        anyone = "; anyone may execute a change once due" if g.get("anyoneExecutes") else ""
        lines.append(f"governance: {g.get('kind', '?')} {g.get('address')}{delay}{anyone}")
        for p in g.get("proposers") or []:
            if p.get("kind") == "Safe":
                owners = p.get("owners") or []
                lines.append(
                    f"  proposer: Safe {p.get('address')}, {p.get('threshold')} of {len(owners)} owners must sign: "
                    + ", ".join(owners)
                )
            else:
                lines.append(f"  proposer: {p.get('kind', 'account')} {p.get('address')}")
    service = powers.get("service") or {}
    held = [f"{role} {addr}" for role, addr in service.items() if addr]
    lines.append("the service holds: " + (", ".join(held) if held else "no key") + " (never a party's key)")
    words = powers.get("rolePowers") or {}
    for name, c in (powers.get("contracts") or {}).items():
        lines.append(f"{name} {c.get('address')}")
        for role, holders in (c.get("roles") or {}).items():
            what = f" ({words[role]})" if role in words else ""
            lines.append(f"  {role}: {', '.join(holders) if holders else 'nobody'}{what}")
        for key, label in (
            ("recoveryDelaySeconds", "a key recovery waits"),
            ("suspensionConfirmationSeconds", "a registrar's suspension lapses unless confirmed within"),
            ("adminHandoverDelaySeconds", "handing over the admin role waits"),
        ):
            if key in c:
                lines.append(f"  {label} {span(int(c[key]))}")
        if c.get("disputeEffectsBoundTo"):
            lines.append(f"  awards take effect only from the dispute registry {c['disputeEffectsBoundTo']}")
    return lines
