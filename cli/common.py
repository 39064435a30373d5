"""What every command group of ``ipledger`` shares: the consoles, the shared options, the settings, the API client,
key loading, and the parsing of the values several groups take (shares, hashes, times).

Guarantees:
- Settings come from ``IPLEDGER_*`` (see ``docs/configuration.md``) with the command's non-None options on top
  (:func:`settings_with`); an invalid environment is a :class:`~ledger.errors.ConfigurationError` naming the
  variable, never a traceback.
- A keystore password is read from ``IPLEDGER_KEYSTORE_PASSWORD`` or, in a terminal only, a hidden prompt; a key
  is never read from the command line, and it never leaves this machine (:func:`load_party_key`).
- Every parsing helper raises :class:`~ledger.errors.InvalidInput` naming the option before anything is sent.
- This module imports no command group and nothing of ``cli.main``: groups import it, never the other way round.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ledger.config import Settings
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.hashing import HashAlgorithm, hash_file, parse_hash
from ledger.errors import ConfigurationError, DataDirError, InvalidInput, KeystoreError
from ledger.storage.files import KIB, MIB, read_bounded, read_bounded_text

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# --- options shared by several groups ---------------------------------------------------------------

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (chain state, manifest, queue). Env: IPLEDGER_DATA_DIR."),
]
RpcUrlOpt = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC URL of the chain. Env: IPLEDGER_RPC_URL.")]
ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="API address (also the base of printed links unless IPLEDGER_PUBLIC_URL is set). Env: IPLEDGER_API_URL; "
        "default http://127.0.0.1:IPLEDGER_PORT.",
    ),
]
KeystoreOpt = Annotated[
    Path | None, typer.Option("--keystore", help="The party account's keystore (v3 JSON). Env: IPLEDGER_KEYSTORE.")
]
# A party's profile, as `party admit` and `governance propose admit` take it.
IdentifierOpt = Annotated[str, typer.Option(help="USCC, HK BRN or other registration number.")]
AccountsOpt = Annotated[list[str], typer.Option("--account", help="Party account address; repeat for several.")]
JurisdictionOpt = Annotated[str, typer.Option(help="mainland | hksar | other")]
SchemeOpt = Annotated[str, typer.Option(help="uscc | hkbrn | other")]
NameZhOpt = Annotated[str, typer.Option("--name-zh", help="Name in Chinese.")]
NameEnOpt = Annotated[str, typer.Option("--name-en", help="Name in English.")]
# The signing keystores of `asset` and `agreement` commands.
KeystoresOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--keystore",
        help="A signing party account's keystore (v3 JSON); repeat for several. "
        "Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE (one).",
    ),
]
OneKeystoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        help="The signing party account's keystore (v3 JSON). Password from "
        "IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE.",
    ),
]
# `--json` of the `asset` and `agreement` commands (the `party` commands say "words" instead of "tables").
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of tables.")]
# `--json` of the commands that show something in words (not tables).
JsonWordsOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of words.")]
# `--json` of the commands that change something: a summary in words by default; with --json, the API's JSON on
# stdout and the summary on stderr (so `... --json | jq` works and a person still reads what happened).
JsonResultOpt = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON on stdout instead of a summary in words (then on stderr).")
]


# --- settings, keys, the API ------------------------------------------------------------------------


def settings_with(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's non-None options on top.

    Validated as a whole, so that what is derived (the API URL and the public URL from ``--port``) follows the
    options too."""
    from pydantic import ValidationError

    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        said = f"invalid setting IPLEDGER_{where.upper()}: {message}" if where else f"invalid settings: {message}"
        raise ConfigurationError(said, field=where or None) from None
    except Exception as exc:  # noqa: BLE001 - pydantic-settings' SettingsError (a value it cannot parse) names the variable
        raise ConfigurationError(f"invalid IPLEDGER_* environment: {str(exc).splitlines()[0]}") from None


def keystore_password(settings: Settings, keystore: Path) -> str:
    """The password of ``keystore``: IPLEDGER_KEYSTORE_PASSWORD, else a hidden prompt (in a terminal only)."""
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if not sys.stdin.isatty():
        raise KeystoreError(f"no password for keystore {keystore}: set IPLEDGER_KEYSTORE_PASSWORD or run in a terminal")
    return str(typer.prompt(f"Password for {keystore}", hide_input=True))


def load_party_key(keystore: Path | None) -> LocalAccount:
    """The party account of ``keystore`` (else IPLEDGER_KEYSTORE), decrypted on this machine."""
    from ledger.storage.keys import load_keystore

    settings = settings_with(keystore=keystore)
    if settings.keystore is None:
        raise KeystoreError("a party keystore is required: --keystore PATH (or IPLEDGER_KEYSTORE)", field="keystore")
    return load_keystore(settings.keystore, keystore_password(settings, settings.keystore))


def load_party_keys(keystores: list[Path] | None) -> list[LocalAccount]:
    """One account per ``--keystore``; none given: IPLEDGER_KEYSTORE, or the "--keystore is required" error."""
    if keystores:
        return [load_party_key(k) for k in keystores]
    return [load_party_key(None)]


# `--keystore` of a command a party may do from a Safe multisig account: one key, or (with --safe) its owners'.
PartyKeystoresOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--keystore",
        help="The party account's keystore (v3 JSON); with --safe, one keystore per Safe owner who signs (repeat up to "
        "the Safe's threshold). Password from IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE.",
    ),
]
SafeOpt = Annotated[
    str | None,
    typer.Option(
        "--safe",
        help="Act for the party's Safe multisig account at this address: each --keystore is an owner, and the Safe's "
        "signature (its owners' signatures of the Safe message, ERC-1271) goes to the API.",
    ),
]


class SafeSigner:
    """A party account that is a Safe: signs like an ``eth_account`` account (``address``, ``sign_message``), with
    the owners' keys over the Safe message of the EIP-712 digest, which the Safe accepts under ERC-1271."""

    def __init__(self, address: str, owners: list[LocalAccount], chain_id: int) -> None:
        self.address = address
        self.owners = owners
        self.chain_id = chain_id

    def sign_message(self, signable: Any) -> Any:
        from types import SimpleNamespace

        from eth_utils import keccak

        from ledger.chain.governance import safe_wallet_signature

        digest = bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))
        return SimpleNamespace(signature=safe_wallet_signature(self.owners, self.chain_id, self.address, digest))


def party_signer(keystores: list[Path] | None, safe: str | None, chain_id: Callable[[], int]) -> Any:
    """The account that signs for the party: the one --keystore's key, or with --safe the Safe, signed by the
    owners whose keystores are given (``chain_id`` is asked only then)."""
    if safe is None:
        if keystores is not None and len(keystores) > 1:
            raise InvalidInput("several --keystore are for the owners of a Safe: add --safe ADDRESS", field="keystore")
        return load_party_key(keystores[0] if keystores else None)
    from ledger.domain.parties import parse_account

    return SafeSigner(str(parse_account(safe, "safe")), load_party_keys(keystores), chain_id())


def operator_token(settings: Settings, *, create: bool = False) -> str | None:
    """The operator's bearer token: IPLEDGER_OPERATOR_TOKEN, else DATA_DIR/operator.token (created by `up`)."""
    if settings.operator_token is not None:
        return settings.operator_token.get_secret_value()
    path = Path(settings.data_dir) / "operator.token"
    if path.exists():
        try:
            return read_bounded_text(path, 4 * KIB, field="operator_token", what="a token").strip()
        except (InvalidInput, OSError) as exc:
            raise DataDirError(
                f"{path} cannot be read as the operator's token ({type(exc).__name__}): delete it and `ipledger up`"
                " writes a new one, or set IPLEDGER_OPERATOR_TOKEN",
                field="operator_token",
            ) from None
    if not create:
        return None
    import os
    import secrets

    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def api_client(settings: Settings, *, operator: bool = False) -> Any:
    """A client of the API at ``settings.api_url``; with ``operator``, carrying the operator's token (required)."""
    from cli.client import ApiClient

    token = operator_token(settings) if operator else None
    if operator and not token:
        raise ConfigurationError(
            "operator commands need IPLEDGER_OPERATOR_TOKEN (or DATA_DIR/operator.token written by `ipledger up`)"
        )
    return ApiClient(settings.api_url, token=token)


def print_json(obj: Any) -> None:
    """``obj`` as JSON on stdout (non-ASCII kept as is)."""
    console.print_json(json.dumps(obj, ensure_ascii=False))


def report(lines: list[str], result: Any, as_json: bool) -> None:
    """What a command did: ``lines`` in words on stdout; with ``as_json``, ``result`` as JSON on stdout and the lines
    on stderr."""
    out = err_console if as_json else console
    for line in lines:
        out.print(line, highlight=False, markup=False)
    if as_json:
        print_json(result)


def active_party_of(client: Any, address: str) -> int | None:
    """The id of the active party ``address`` is an account of, else None."""
    info = client.get(f"/v1/accounts/{address}")
    return int(info["partyId"]) if info.get("partyId") and info.get("active") else None


def post_explained(client: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST, with the contract's signature reverts told in words (party names instead of bare ids)."""
    from cli.client import ApiError
    from cli.render import PartyLabels

    try:
        return client.post(path, json=body)
    except ApiError as exc:
        d = exc.details or {}
        parties = PartyLabels(client)
        said = {
            "AgreementSignatureMissing": lambda: f"{parties.label(d['partyId'])} has not signed: add its signature",
            "AgreementSignerNotAParty": lambda: (
                f"{d.get('signer')} signs for {parties.label(d['partyId'])}, which is "
                "not one of the parties whose signatures this needs"
            ),
            "AgreementSignerNotActive": lambda: f"{d.get('signer')} is not an account of an active party",
            "SignatureExpired": lambda: "the signing deadline has passed; sign again",
        }.get(str(d.get("revert")))
        try:
            text = said() if said is not None else None
        except KeyError:  # not the arguments expected: the API's own message will do
            text = None
        if text is None:
            raise
        raise ApiError(f"refused by the contract ({d['revert']}): {text}", field=exc.field, details=d) from None


# --- checking what the API asks us to sign ----------------------------------------------------------


def assets_domain_of(typed_data: dict[str, Any]) -> eip712.Domain:
    """The EIP-712 domain of typed data from the API, refused unless it is the asset registry's."""
    d = typed_data.get("domain") or {}
    if d.get("name") != ag.ASSETS_DOMAIN_NAME or d.get("version") != eip712.DOMAIN_VERSION:
        raise InvalidInput(f"the API's typed data is not for the {ag.ASSETS_DOMAIN_NAME} domain; refusing it")
    return ag.assets_domain(int(d["chainId"]), str(d["verifyingContract"]))


# --- parsing the command line -----------------------------------------------------------------------

TOTAL = ag.TOTAL_SHARES


def party_share(text: str, option: str) -> dict[str, int]:
    """``PARTY_ID:SHARE_BPS`` -> ``{"partyId", "share"}``, with a message naming the option on any mistake."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if m is None:
        raise InvalidInput(
            f"{option} expects PARTY_ID:SHARE_BPS (e.g. 3:10000 for all of it), not {text!r}", field=option
        )
    party, share = int(m[1]), int(m[2])
    if party < 1:
        raise InvalidInput(f"{option} {text}: party ids start at 1", field=option)
    if not 1 <= share <= TOTAL:
        raise InvalidInput(f"{option} {text}: a share is 1..{TOTAL} basis points ({TOTAL} = 100%)", field=option)
    return {"partyId": party, "share": share}


def shares(values: list[str], option: str, what: str) -> list[dict[str, int]]:
    """Every ``PARTY_ID:SHARE_BPS`` of ``option``: distinct parties whose shares sum to 100%."""
    entries = [party_share(v, option) for v in values]
    ids = [e["partyId"] for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{option}: a party is listed twice", field=option)
    total = sum(e["share"] for e in entries)
    if total != TOTAL:
        raise InvalidInput(
            f"{what} shares sum to {total} basis points, not {TOTAL} (100%): give every {what} with "
            f"{option} PARTY_ID:SHARE_BPS",
            field=option,
        )
    return entries


#: Hashing shows a progress bar on stderr from this many bytes on (in a terminal only).
PROGRESS_FROM = 64 << 20
#: ... or from this many files on.
PROGRESS_FILES = 20


@contextmanager
def hashing_progress(total: int, *, quiet: bool = False, files: int = 1) -> Iterator[Callable[[int], None]]:
    """A callback for :func:`~ledger.domain.hashing.hash_file` that advances a progress bar on stderr.

    The bar shows only for ``total`` bytes of at least :data:`PROGRESS_FROM` (or at least :data:`PROGRESS_FILES`
    ``files``), when stderr is a terminal and not ``quiet`` (``--json``); otherwise the callback does nothing. The
    bar disappears once hashing is done."""
    if quiet or (total < PROGRESS_FROM and files < PROGRESS_FILES) or not err_console.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        TextColumn(f"hashing {files} files" if files > 1 else "hashing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("hash", total=total)
        yield lambda n: progress.advance(task, n)


@contextmanager
def status_progress(
    what: str, *, total: int | None, quiet: bool = False
) -> Iterator[Callable[[int, str | None], None]]:
    """A callback ``tick(advance, status)`` for a long wait: a bar of ``total`` steps (a spinner with the latest
    ``status`` when ``total`` is None) on stderr, in a terminal and not ``quiet`` only; it disappears when done."""
    if quiet or not err_console.is_terminal:
        yield lambda _n, _s: None
        return
    columns = [SpinnerColumn(), TextColumn(what), TextColumn("{task.fields[status]}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(what, total=total, status="")

        def tick(n: int, status: str | None) -> None:
            if status is None:
                progress.update(task, advance=n)
            else:
                progress.update(task, advance=n, status=status)

        yield tick


def refuse_empty(path: Path, option: str, *, allow: str | None = None) -> None:
    """Refuses a 0-byte file: its hash is the hash of nothing, the same for every empty file on every machine.

    ``allow`` names the option that accepts it anyway; without one, the message says to give the hash itself."""
    if path.stat().st_size:
        return
    if allow:
        how = f"pass {allow} if you mean to register an empty file"
    else:
        how = f"give its hash (SHA-256 of nothing, {EMPTY_SHA256}) instead of the file if you mean it"
    named = f"{option} {path}" if option.startswith("--") else str(path)
    raise InvalidInput(f"{named} is empty (0 bytes): {how}", field=option)


#: The SHA-256 of zero bytes, which a file name in a hash option must not silently become.
EMPTY_SHA256 = "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def hash_or_file(value: str, option: str) -> str:
    """A readable file is hashed locally with SHA-256 (never sent); otherwise the value must be a 64-hex hash.

    An empty file is refused (:func:`refuse_empty`): a name that points at an empty file is a mistake far more
    often than a commitment to nothing; its hash, given as such, is accepted."""
    path = Path(value).expanduser()
    if path.is_file():
        refuse_empty(path, option)
        with hashing_progress(path.stat().st_size) as advance:
            return "0x" + hash_file(path, HashAlgorithm.SHA256, advance).hex()
    if re.fullmatch(r"(0[xX])?[0-9a-fA-F]{64}", value.strip()):
        return "0x" + parse_hash(value, option).hex()
    raise InvalidInput(
        f"{option} {value!r} is neither a readable file nor a SHA-256 hash (64 hex characters)", field=option
    )


def unix_time(value: str | None, option: str) -> int | None:
    """Unix seconds, an ISO date (00:00 UTC) or an ISO datetime (UTC unless it carries an offset)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not a time: give YYYY-MM-DD, an ISO datetime or unix seconds", field=option
        ) from None
    return int(moment.timestamp())


def pem_certificates(path: Path | None, field: str) -> list[bytes]:
    """The certificates of a PEM file, as DER."""
    if path is None:
        return []
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        pem = read_bounded(path, 1 * MIB, field=field, what="a PEM certificate chain")
        return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"{path} not found", field=field) from None
    except InvalidInput:
        raise
    except ValueError:
        raise InvalidInput(f"{path} holds no PEM certificate", field=field) from None
