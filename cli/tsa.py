"""``ipledger tsa init|token new|token list|token revoke``: the keys and the client tokens of the RFC 3161
time-stamp authority (docs/tsa.md). They act on the data directory (DATA_DIR/tsa and DATA_DIR/tsa.sqlite3), as the
operator does on the machine that runs the service; a running service sees a new or revoked token at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import DataDirOpt, JsonResultOpt, console, pem_certificates, print_json, report, settings_with
from cli.render import local_time
from ledger.errors import InvalidInput

app = typer.Typer(
    help="The RFC 3161 time-stamp authority at POST /v1/tsa: its keys and its client tokens.", no_args_is_help=True
)
token_app = typer.Typer(
    help="Client tokens of the time-stamp authority (only their SHA-256 is kept).", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@app.command("init")
def tsa_init(
    data_dir: DataDirOpt = None,
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            help="Bring your own: the TSA certificate (PEM, critical extended key usage timeStamping), its chain after "
            "it. Without --cert, a local CA and TSA certificate are made.",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The private key of --cert (PEM; encrypted under IPLEDGER_TSA_KEY_PASSWORD)."),
    ] = None,
    ca: Annotated[
        Path | None, typer.Option("--ca", help="The CA certificate to publish at /v1/tsa/ca.pem (PEM).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the keys already in the data directory.")] = False,
    as_json: JsonResultOpt = False,
) -> None:
    """Make (or install) the time-stamp authority's keys in DATA_DIR/tsa.

    Without --cert: a local CA (self-signed) and a TSA certificate it issued, for the embedded default; the CA's key
    is discarded, the TSA's key is written encrypted under IPLEDGER_TSA_KEY_PASSWORD (or a random password kept in
    DATA_DIR/tsa/key.password, mode 0600). `ipledger up` does this by itself on first start. With --cert and --key: a
    chain issued by a CA of the deployment's choosing, checked and copied in. Tokens signed before keep verifying
    with the chain they name."""
    from ledger.certificates.timestamp import Signer
    from ledger.storage.tsa import init_local_tsa, install_tsa, load_tsa, local_password

    settings = settings_with(data_dir=data_dir)
    password = settings.tsa_key_password.get_secret_value() if settings.tsa_key_password else None
    if (cert is None) != (key is None):
        raise InvalidInput("--cert and --key go together", field="cert" if cert is None else "key")
    if cert is not None and key is not None:
        material = load_tsa(cert=cert, key=key, ca=ca, password=password)
        Signer(material.key, material.certificate)  # the key fits the certificate, which is a TSA's
        files = install_tsa(Path(settings.data_dir), cert=cert, key=key, ca=ca, force=force)
        made = "installed"
    else:
        if ca is not None:
            raise InvalidInput("--ca goes with --cert and --key", field="ca")
        files = init_local_tsa(Path(settings.data_dir), password, force=force)
        material = load_tsa(cert=files.cert, key=files.key, ca=files.ca, password=local_password(files, password))
        made = "made a local CA and"
    from cryptography import x509

    tsa = x509.load_der_x509_certificate(material.certificate)
    lines = [
        f"{made} TSA certificate {tsa.subject.rfc4514_string()} in {files.directory}",
        f"valid until {local_time(int(tsa.not_valid_after_utc.timestamp()))}; "
        "published at /v1/tsa/tsa.pem and /v1/tsa/ca.pem",
    ]
    if files.password.exists():
        lines.append(
            f"its key is encrypted; the password is in {files.password} (set IPLEDGER_TSA_KEY_PASSWORD instead)"
        )
    report(lines, {"directory": str(files.directory), "subject": tsa.subject.rfc4514_string()}, as_json)


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Argument(help="The client's name (letters, digits, '.', '_', '-'; at most 64).")],
    data_dir: DataDirOpt = None,
    as_json: JsonResultOpt = False,
) -> None:
    """Issue a bearer token for NAME: printed once, never stored (only its SHA-256 is)."""
    from ledger.storage.tsa import ClientTokens

    settings = settings_with(data_dir=data_dir)
    token = ClientTokens(Path(settings.data_dir)).issue(name)
    if as_json:
        print_json({"name": name, "token": token})
        return
    console.print(f"TSA client {name}: its bearer token (shown this once, keep it secret):", highlight=False)
    console.print(token, highlight=False, markup=False)


@token_app.command("list")
def token_list(
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of words.")] = False,
) -> None:
    """The clients with their issue and revocation times (never their tokens)."""
    from ledger.storage.tsa import ClientTokens

    settings = settings_with(data_dir=data_dir)
    clients = ClientTokens(Path(settings.data_dir)).clients()
    if as_json:
        print_json([c.to_json() for c in clients])
        return
    if not clients:
        console.print("no TSA clients (the operator token works; `ipledger tsa token new NAME` issues one)")
    for c in clients:
        state = f"revoked {local_time(c.revoked_at)}" if c.revoked_at else "active"
        console.print(f"{c.name:<24} issued {local_time(c.created_at)}  {state}", highlight=False, markup=False)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The client whose token is refused from now on.")],
    data_dir: DataDirOpt = None,
    as_json: JsonResultOpt = False,
) -> None:
    """Revoke NAME's token: the running service refuses it from its next request. The name stays taken."""
    from ledger.storage.tsa import ClientTokens

    settings = settings_with(data_dir=data_dir)
    client = ClientTokens(Path(settings.data_dir)).revoke(name)
    report([f"TSA client {name}: token revoked {local_time(client.revoked_at)}"], client.to_json(), as_json)


@app.command("certificate")
def tsa_certificate(
    token: Annotated[Path, typer.Argument(help="The token: a TimeStampResp (.tsr) or a bare TimeStampToken (DER).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the certificate (default: TOKEN with .json)."),
    ] = None,
    tsa_cert: Annotated[
        Path | None,
        typer.Option(
            "--tsa-cert",
            help="The TSA certificate (PEM) to carry when the token holds none (it was asked for without certReq); "
            "default: the data directory's DATA_DIR/tsa/tsa.pem, when there is one.",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonResultOpt = False,
) -> None:
    """Derive the time-stamp certificate (JSON, docs/tsa.md §7) from TOKEN alone: the token itself, and beside it in
    words what it says (imprint, time, TSA, and the ledger anchor: chain, contract, transaction, block, batch root,
    audit path). No chain or service is asked. Check it with `ipledger verify CERT --file F --rpc-url URL`, at
    POST /v1/verify or in the portal."""
    import json

    from ledger.certificates.timestamp_certificate import carries_certificate, derive
    from ledger.storage.files import MIB, read_bounded
    from ledger.storage.tsa import TsaFiles

    try:  # a token is a few KiB of DER
        raw = read_bounded(token, 1 * MIB, field="token", what="an RFC 3161 token")
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"{token} not found", field="token") from None
    given = pem_certificates(tsa_cert, "tsa_cert")
    if not given:
        local = TsaFiles.in_data_dir(Path(settings_with(data_dir=data_dir).data_dir)).cert
        given = pem_certificates(local, "tsa_cert") if local.is_file() else []
    doc = derive(raw, tsa_certificate=given[0] if given else None)
    target = output or token.with_suffix(".json")
    if target.resolve() == token.resolve():
        raise InvalidInput("the certificate would overwrite the token: give another --output", field="output")
    target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    stamp, anchor = doc["timeStamp"], doc["anchor"]
    lines = [
        f"time-stamp certificate written to {target}",
        f"  {stamp['imprint']['algorithm']} {stamp['imprint']['hash']}",
        f"  existed no later than {local_time(stamp['genTime'])}: batch root {anchor['root']}, leaf "
        f"{anchor['leafIndex']} of {anchor['treeSize']}, block {anchor['blockNumber']} of chain {anchor['chainId']}",
    ]
    if not carries_certificate(doc):
        lines.append("  it carries no TSA certificate: verifiers need --tsa-cert to check the signature")
    report(lines, {"output": str(target), **doc}, as_json)
