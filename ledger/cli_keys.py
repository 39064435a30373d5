"""``ipledger keys import|list|rotate`` (``keys new`` is in ledger/cli.py). Keys never leave the party's
machine unencrypted: keystores are eth-account v3 (scrypt), private keys are read from a file or a prompt,
never from the command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account

from ledger import eip712
from ledger.cli import ApiUrlOpt, _print_json, api_client, console, keys_app, keystore_password, settings_with
from ledger.errors import InvalidInput, KeystoreError
from ledger.keys import load_keystore, write_keystore


def _new_password() -> str:
    settings = settings_with()
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if sys.stdin.isatty():
        return str(typer.prompt("New keystore password", hide_input=True, confirmation_prompt=True))
    raise KeystoreError("set IPLEDGER_KEYSTORE_PASSWORD or run in a terminal to choose a password")


@keys_app.command("import")
def keys_import(
    path: Annotated[Path, typer.Argument(help="Where to write the keystore (never overwritten).")],
    key_file: Annotated[Path | None, typer.Option("--key-file", help="A file holding the hex private key (else a prompt).")] = None,
) -> None:
    """Import an existing private key into an encrypted keystore."""
    if key_file is not None:
        raw = key_file.read_text(encoding="utf-8").strip()
    elif sys.stdin.isatty():
        raw = str(typer.prompt("Private key (hex)", hide_input=True))
    else:
        raise KeystoreError("give --key-file or run in a terminal; a key is never read from the command line")
    try:
        account = Account.from_key(raw)
    except Exception:
        raise InvalidInput("that is not a secp256k1 private key (64 hex characters)", field="key") from None
    write_keystore(path, account, _new_password())
    console.print(f"{account.address} written to {path}")


@keys_app.command("list")
def keys_list(
    folder: Annotated[Path, typer.Argument(help="A folder of keystores.")] = Path("."),
    api_url: ApiUrlOpt = None,
) -> None:
    """List the keystores in a folder with their addresses and, when the API answers, their party."""
    client = api_client(settings_with(api_url=api_url))
    for path in sorted(folder.glob("*.json")):
        try:
            address = "0x" + str(json.loads(path.read_text(encoding="utf-8"))["address"]).removeprefix("0x")
        except (ValueError, KeyError, TypeError):
            continue
        try:
            info = client.get(f"/v1/accounts/{address}")
            party = f"party {info['partyId']} ({'active' if info['active'] else 'suspended'})" if info["partyId"] else "no party"
        except Exception:  # noqa: BLE001 - the listing works without the API
            party = "?"
        console.print(f"{path}  {address}  {party}", highlight=False)


@keys_app.command("rotate")
def keys_rotate(
    keystore: Annotated[Path, typer.Option("--keystore", help="The current (old) keystore.")],
    new: Annotated[Path, typer.Option("--new", help="The new keystore; created if it does not exist.")],
    api_url: ApiUrlOpt = None,
) -> None:
    """Replace the party's account by a new one on chain; both keys sign. The old keystore stays on disk for
    your records but no longer signs for the party."""
    settings = settings_with(api_url=api_url)
    old = load_keystore(keystore, keystore_password(settings, keystore))
    if new.exists():
        fresh = load_keystore(new, keystore_password(settings, new))
    else:
        fresh = Account.create()
        write_keystore(new, fresh, _new_password())
        console.print(f"new account {fresh.address} written to {new}")
    client = api_client(settings)
    d = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    deadline = int(time.time()) + 3600
    msg = eip712.rotation_message(domain, old.address, fresh.address, deadline)
    _print_json(client.post("/v1/accounts/rotate", json={
        "oldAccount": old.address, "newAccount": fresh.address, "deadline": deadline,
        "oldSignature": "0x" + eip712.sign(msg, old).hex(), "newSignature": "0x" + eip712.sign(msg, fresh).hex()}))  # fmt: skip
