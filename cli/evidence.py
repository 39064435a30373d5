"""``ipledger evidence register|show``, and the top-level ``ipledger certificate`` and ``ipledger verify``.

Registration signs with the party's own keystore and sends only *bindings* to the API, never a content hash:
each file's hash is bound to the party's id on this machine (``ledger.domain.hashing.public_binding``), so a
registration copied from the pending pool proves nothing for the copier and cannot block this one. One file is
a single relayed registration, several files one batch submission. A private registration binds a salt too
(``private_binding``); the salt stays on the party's machine in the *sidecar* ``<file>.ipledger.json`` (content
hash, algorithm, party id, binding, salt, receipt) and is written into the party's copy of the certificate. The
service never learns the content hash of a private registration: it is looked up by its binding (which
``register`` prints), or by either hash with ``--sidecar``, which also completes and verifies its certificate.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import bundle
from cli.common import (
    ApiUrlOpt,
    JsonWordsOpt,
    PartyKeystoresOpt,
    RpcUrlOpt,
    SafeOpt,
    api_client,
    console,
    err_console,
    hashing_progress,
    party_signer,
    pem_certificates,
    print_json,
    refuse_empty,
    settings_with,
    status_progress,
    unix_time,
)
from cli.render import PartyLabels, local_time
from ledger.certificates.evidence import complete as complete_certificate
from ledger.domain import eip712
from ledger.domain.hashing import (
    HashAlgorithm,
    hash_file,
    new_salt,
    parse_algorithm,
    parse_hash,
    private_binding,
    public_binding,
)
from ledger.domain.metadata import CREATOR_ROLES, EVIDENCE_KINDS, metadata_commitment, validate_metadata
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.storage.files import MIB, read_bounded, read_bounded_text

if TYPE_CHECKING:
    from ledger.certificates.verify import LegalStatus

app = typer.Typer(help="Register evidence of IP creation and look it up.", no_args_is_help=True)

SIDECAR = ".ipledger.json"


@app.command("register")
def register(
    files: Annotated[list[Path], typer.Argument(help="Files to register; only their hashes leave this machine.")],
    keystore: PartyKeystoresOpt = None,
    safe: SafeOpt = None,
    alg: Annotated[str, typer.Option("--alg", help="sha256 or sm3")] = "sha256",
    private: Annotated[
        bool, typer.Option("--private", help="Register a salted binding; keep the salt locally.")
    ] = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Register a 0-byte file too. Refused otherwise: its hash is that of nothing, the same for every "
            "empty file, and once registered every other party is refused for it. A rule of this command: the API "
            "receives bindings only and cannot know a file's size.",
        ),
    ] = False,
    supersedes: Annotated[
        str | None,
        typer.Option(
            help="Binding of an earlier version registered by the same party "
            "(its FILE.ipledger.json `binding`; single file only)."
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Metadata: the work's title (single file only).")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Metadata: " + ", ".join(EVIDENCE_KINDS) + " (single file only)."),
    ] = None,
    creator: Annotated[
        list[str] | None,
        typer.Option("--creator", help="Metadata: a creator named in words (repeatable; single file only)."),
    ] = None,
    creator_party: Annotated[
        list[str] | None,
        typer.Option(
            "--creator-party",
            help="Metadata: a creator who is an admitted party, as PARTY_ID:ROLE with ROLE one of "
            + ", ".join(CREATOR_ROLES)
            + " (repeatable; a natural person is named by number only). They can add their own signature with "
            "`ipledger evidence endorse`.",
        ),
    ] = None,
    created_at: Annotated[
        str | None, typer.Option("--created-at", help="Metadata: when the work was made (ISO 8601 date or time).")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Metadata: the work's language (zh-CN, en, zh-Hant-HK).")] = None,
    description: Annotated[str | None, typer.Option(help="Metadata: a description (at most 5,000 characters).")] = None,
    metadata_file: Annotated[
        Path | None,
        typer.Option(
            "--metadata",
            help="Metadata from a JSON object (docs/certificate.md §3.2); the options above add to or replace its "
            "members. Its SHA-256 commitment goes on chain; the metadata itself stays in FILE.ipledger.json and "
            "the certificates saved here.",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait until on chain and save the certificates: in the bundle for several files (or --out), "
            "beside the file for one.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="The certificate bundle of several files: a new (or empty) directory, or NAME.zip for an archive; "
            "default ./certificates-<local time>/. Holds index.json, index.csv and one certificate per file; "
            "nothing is written beside the files. Given for one file, that file gets a bundle too.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the bundle's summary as JSON (no progress bars); several files, or one with --out."
        ),
    ] = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Hash FILES, bind each hash to the party, sign with the party's keystore, and submit through the API's relayer.

    Only the bindings leave this machine (docs/certificate.md "Bindings"). One file: its record (binding, salt,
    receipt) goes to FILE.ipledger.json and, with --wait, its certificate to FILE.certificate.json. Several files
    (or --out): one signed batch, and one certificate bundle (a directory or a ZIP archive with an index) instead of
    files beside the inputs; the output is a short summary. An empty (0-byte) file is refused unless --allow-empty;
    in a terminal, progress bars show the hashing (many files, or over 64 MiB) and the wait for the chain."""
    algorithm = parse_algorithm(alg)
    for f in files:
        if not f.is_file():
            raise InvalidInput(f"{f} is not a readable file", field="files")
        if not allow_empty:
            refuse_empty(f, "files", allow="--allow-empty")
    if supersedes and len(files) != 1:
        raise InvalidInput("--supersedes applies to a single file", field="supersedes")
    metadata = _metadata_of(
        metadata_file,
        {"title": title, "kind": kind, "created_at": created_at, "language": language, "description": description},
        creator or [],
        creator_party or [],
    )
    if metadata is not None and len(files) != 1:
        raise InvalidInput(
            "metadata applies to a single file (batched records carry no metadata commitment)", field="metadata"
        )
    if as_json and out is None and len(files) == 1:
        raise InvalidInput("--json applies to a bundle: several files, or one with --out", field="json")
    target = bundle.Target.parse(out) if out is not None or len(files) > 1 else None
    quiet = as_json or not (console.is_terminal and err_console.is_terminal)
    if target is None:  # the sidecar goes beside the file
        _keep_earlier_salt(files[0])
    settings = settings_with(api_url=api_url)
    client = api_client(settings)
    account = party_signer(keystore, safe, lambda: int(client.get("/v1/signing-domain")["chainId"]))
    state = client.get(f"/v1/accounts/{account.address}")
    party_id = state.get("partyId")
    if not party_id:
        raise InvalidInput(f"account {account.address} is not an account of any admitted party", field="keystore")
    if metadata is not None:
        _check_creator_parties(client, metadata)
    entries = _hash_files(files, algorithm, private, int(party_id), quiet=quiet)
    if metadata is not None:
        entries[0]["metadata"] = metadata
    domain_json = client.get("/v1/signing-domain")
    domain = eip712.Domain(int(domain_json["chainId"]), domain_json["verifyingContract"])
    deadline = int(time.time()) + 3600
    if len(entries) == 1:
        from ledger.domain.evidence import sign_single

        entry = entries[0]
        nonce = int(state["nonce"])
        sup = parse_hash(supersedes, "supersedes") if supersedes else b"\0" * 32
        req = sign_single(
            account,
            domain,
            binding=entry["binding"],
            party_id=int(party_id),
            algorithm=int(algorithm),
            nonce=nonce,
            deadline=deadline,
            supersedes=sup,
            metadata_commitment=metadata_commitment(metadata) if metadata is not None else b"\0" * 32,
        )
        body = {
            "binding": "0x" + entry["binding"].hex(),
            "partyId": int(party_id),
            "algorithm": algorithm.name.lower(),
            "registrant": account.address,
            "nonce": nonce,
            "deadline": deadline,
            "signature": "0x" + req.signature.hex(),
        }
        if supersedes:
            body["supersedes"] = "0x" + sup.hex()
        if metadata is not None:  # the commitment only: the metadata stays on this machine (sidecar, certificate)
            body["metadataCommitment"] = "0x" + req.metadata_commitment.hex()
        accepted = client.post("/v1/evidence", json=body)
    else:
        from ledger.domain.evidence import sign_batch

        bindings = [e["binding"] for e in entries]
        batch_req = sign_batch(
            account, domain, bindings=bindings, party_id=int(party_id), algorithm=int(algorithm), deadline=deadline
        )
        accepted = client.post(
            "/v1/evidence/batch",
            json={
                "algorithm": algorithm.name.lower(),
                "bindings": ["0x" + x.hex() for x in bindings],
                "partyId": int(party_id),
                "registrant": account.address,
                "deadline": deadline,
                "signature": "0x" + batch_req.signature.hex(),
            },
        )
    if target is not None:
        _register_bundle(
            target, client, entries, accepted, algorithm, account.address, int(party_id), wait, timeout, quiet, as_json
        )
        return
    for e in entries:
        _write_sidecar(e, algorithm, int(party_id), accepted["receiptId"])
        if e["salt"] is None:
            console.print(
                f"{e['file']}  {algorithm.name.lower()}:0x{e['content'].hex()}  receipt {accepted['receiptId']}"
            )
        else:  # the content hash of a private registration is found by no one without the salt: print the binding
            console.print(
                f"{e['file']}  private (salted), binding 0x{e['binding'].hex()}  receipt {accepted['receiptId']}  "
                f"(content hash and salt kept in {e['file']}{SIDECAR})",
                highlight=False,
                markup=False,
            )
    if wait:
        _wait_and_save(client, entries, int(party_id), accepted["receiptId"], timeout)


def _hash_files(
    files: list[Path], algorithm: HashAlgorithm, private: bool, party_id: int, *, quiet: bool = False
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    with hashing_progress(sum(f.stat().st_size for f in files), quiet=quiet, files=len(files)) as advance:
        for f in files:
            content = hash_file(f, algorithm, advance)
            salt = new_salt() if private else None
            if salt:
                binding = private_binding(content, party_id, salt, algorithm)
            else:
                binding = public_binding(content, party_id, algorithm)
            entries.append({"file": f, "content": content, "salt": salt, "binding": binding})
    return entries


def _keep_earlier_salt(file: Path) -> None:
    """Refuses to register ``file`` again while its sidecar holds the salt of an earlier private registration: the
    new sidecar would replace it, and nothing else keeps that salt."""
    path = Path(str(file) + SIDECAR)
    try:
        earlier = json.loads(read_bounded_text(path, MAX_SIDECAR_FILE, field="sidecar", what="a sidecar"))
    except (OSError, ValueError):
        return
    if isinstance(earlier, dict) and earlier.get("salt"):
        raise InvalidInput(
            f"{path} holds the salt of an earlier private registration of {file} (binding {earlier.get('binding')}); "
            "registering again would replace it, and without it that registration cannot be verified: move the "
            "sidecar elsewhere first (and give it with --sidecar when you need it)",
            field="files",
        )


#: Largest --metadata file read.
MAX_METADATA_FILE = 256 * 1024
#: A sidecar is a few hundred bytes of JSON; a file over this is not one (and is never read whole).
MAX_SIDECAR_FILE = 1 * MIB


def _metadata_of(
    file: Path | None, options: dict[str, str | None], names: list[str], parties: list[str]
) -> dict[str, Any] | None:
    """The normalised metadata of ``--metadata`` and the metadata options (which add to or replace its members), or
    None when none is given. Refused with the field at fault (``metadata.kind``, ``creator-party``)."""
    metadata: dict[str, Any] = {}
    if file is not None:
        try:
            text = read_bounded_text(file, MAX_METADATA_FILE, field="metadata", what="a metadata file")
            metadata = json.loads(text)
        except OSError:
            raise InvalidInput(f"{file} is not a readable file", field="metadata") from None
        except InvalidInput:
            raise
        except ValueError:
            raise InvalidInput(f"{file} is not JSON", field="metadata") from None
        if not isinstance(metadata, dict):
            raise InvalidInput(f"{file} must hold a JSON object", field="metadata")
    metadata.update({k: v for k, v in options.items() if v is not None})
    creators: list[Any] = [*names]
    for text in parties:
        party, _, role = text.partition(":")
        if not party.strip().isdigit() or not role.strip():
            raise InvalidInput(
                f"--creator-party {text!r}: give PARTY_ID:ROLE, such as 7:designer", field="creator-party"
            )
        creators.append({"partyId": int(party), "role": role.strip().lower()})
    if creators:
        metadata["creators"] = creators
    return validate_metadata(metadata) if metadata else None


def _check_creator_parties(client: Any, metadata: dict[str, Any]) -> None:
    """Every creator named as a party is an admitted party (asked of the API before anything is signed)."""
    from cli.client import ApiError

    for i, c in enumerate(metadata.get("creators", [])):
        if isinstance(c, dict):
            try:
                client.get(f"/v1/parties/{c['partyId']}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
                raise InvalidInput(
                    f"creator {i + 1} names party {c['partyId']}, which is not admitted",
                    field=f"metadata.creators[{i}].partyId",
                ) from None


def _write_sidecar(entry: dict[str, Any], algorithm: HashAlgorithm, party_id: int, receipt: str) -> None:
    path = Path(str(entry["file"]) + SIDECAR)
    doc = {
        "contentHash": "0x" + entry["content"].hex(),
        "algorithm": algorithm.name.lower(),
        "partyId": party_id,
        "binding": "0x" + entry["binding"].hex(),
        "salt": "0x" + entry["salt"].hex() if entry["salt"] else None,
        "receiptId": receipt,
    }
    if entry.get("metadata") is not None:
        doc["metadata"] = entry["metadata"]
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _wait_and_save(client: Any, entries: list[dict[str, Any]], party_id: int, receipt: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/v1/receipts/{receipt}")
        if status["status"] in ("registered", "final"):
            break
        if status["status"] == "rejected":
            raise InvalidInput(f"the registration was rejected: {status.get('error')}")
        if time.monotonic() > deadline:
            raise InvalidInput(f"still {status['status']} after {timeout:.0f}s; run `ipledger certificate` later")
        time.sleep(0.5)
    for e in entries:
        cert = client.get(f"/v1/evidence/0x{e['binding'].hex()}/certificate", params={"partyId": party_id})
        cert = complete_certificate(cert, e["content"], e["salt"], e.get("metadata"))
        out = Path(str(e["file"]) + ".certificate.json")
        out.write_text(json.dumps(cert, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"certificate saved to {out}")


SidecarOpt = Annotated[
    Path | None,
    typer.Option(
        "--sidecar",
        help="The FILE.ipledger.json written beside FILE when it was registered: it holds the content hash, the "
        "party, the binding and the salt of a private registration (which nothing else keeps).",
    ),
]


class Sidecar:
    """A registration's sidecar file, ``FILE.ipledger.json``: what only the registrant's machine keeps."""

    def __init__(self, path: Path) -> None:
        try:
            doc = json.loads(read_bounded_text(path, MAX_SIDECAR_FILE, field="sidecar", what="a sidecar"))
        except FileNotFoundError:
            raise InvalidInput(
                f"{path} not found (the sidecar is FILE{SIDECAR}, beside the file)", field="sidecar"
            ) from None
        except (OSError, ValueError):
            raise InvalidInput(
                f"{path} is not a sidecar file (JSON written by `evidence register`)", field="sidecar"
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("partyId"), int):
            raise InvalidInput(f"{path} is not a sidecar file (no partyId)", field="sidecar")
        try:
            self.content = parse_hash(str(doc.get("contentHash")), "sidecar")
            self.binding = parse_hash(str(doc.get("binding")), "sidecar")
            self.salt = parse_hash(doc["salt"], "sidecar") if doc.get("salt") is not None else None
        except InvalidInput:
            raise InvalidInput(
                f"{path}: contentHash, binding and salt must be 32-byte hex (salt null when public)", field="sidecar"
            ) from None
        metadata = doc.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInput(f"{path}: metadata must be a JSON object", field="sidecar")
        self.metadata: dict[str, Any] | None = metadata
        self.path = path
        self.party_id: int = doc["partyId"]
        self.algorithm = str(doc.get("algorithm"))

    @property
    def words(self) -> str:
        return "private (salted)" if self.salt is not None else "public (unsalted)"

    def key(self, value: bytes | None) -> bytes:
        """The binding to look up for ``value`` (the content hash or the binding in this sidecar, or None)."""
        if value is not None and value not in (self.content, self.binding):
            raise InvalidInput(
                f"0x{value.hex()} is neither the content hash nor the binding in {self.path}", field="sidecar"
            )
        return self.binding


def _sidecar_of(path: Path | None) -> Sidecar | None:
    return Sidecar(path) if path is not None else None


def _lookup_key(content_hash: str | None, side: Sidecar | None, party: int | None) -> tuple[bytes, int | None]:
    """What to ask the API for: HASH as given, or with a sidecar its binding under the sidecar's party."""
    if side is None:
        if content_hash is None:
            raise InvalidInput("give a HASH, or --sidecar FILE.ipledger.json", field="content_hash")
        return parse_hash(content_hash, "content_hash"), party
    if party is not None and party != side.party_id:
        raise InvalidInput(f"--party {party}, but {side.path} is of party {side.party_id}", field="party")
    return side.key(parse_hash(content_hash, "content_hash") if content_hash else None), side.party_id


def _get_evidence(client: Any, path: str, party: int | None) -> Any:
    """GET an evidence route; a content hash found for no one says how a private registration is found."""
    from cli.client import ApiError

    try:
        return client.get(path, params={"partyId": party} if party else None)
    except ApiError as exc:
        if exc.status != 404:
            raise
        raise NotFound(
            f"{exc.message}. A private (salted) registration is found by the binding `evidence register` printed, "
            f"or by either hash with --sidecar FILE{SIDECAR} (written beside the file when it was registered)",
            field="content_hash",
        ) from None


def _register_bundle(
    target: bundle.Target,
    client: Any,
    entries: list[dict[str, Any]],
    accepted: dict[str, Any],
    algorithm: HashAlgorithm,
    registrant: str,
    party_id: int,
    wait: bool,
    timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Several files: one bundle with the index (written at once: it holds any salts) and, with ``wait``, every
    certificate; then a short summary (with ``as_json``, the machine summary). Exit 1 if any file failed or is
    still pending after ``wait``."""
    receipt = accepted["receiptId"]
    duplicates = {int(d["index"]) for d in accepted.get("duplicates", [])}
    for i, e in enumerate(entries):
        e.update(
            algorithm=algorithm.name.lower(),
            partyId=party_id,
            receiptId=receipt,
            status="duplicate" if i in duplicates else "accepted",
        )
    b = bundle.Bundle(
        target,
        entries,
        {
            "createdAt": datetime.now().astimezone().isoformat(timespec="seconds"),
            "partyId": party_id,
            "registrant": registrant,
            "algorithm": algorithm.name.lower(),
            "private": any(e["salt"] for e in entries),
            "receiptId": receipt,
        },
    )
    problem = None
    try:
        b.write_index()
        if wait:
            problem = _collect_certificates(client, b, receipt, timeout, quiet)
            b.write_index()
    finally:
        b.close()
    counts = b.counts()
    failed = [
        {"path": str(e["file"]), "error": e.get("error")} for e in entries if e["status"] in ("failed", "rejected")
    ]
    if as_json:
        print_json({"bundle": str(b.where), "receiptId": receipt, "counts": counts, "failed": failed})
    else:
        for line in _bundle_summary(b, counts, failed, wait, problem):
            console.print(line, highlight=False, markup=False)
    if wait and (counts["failed"] or counts["pending"]):
        raise typer.Exit(1)


def _collect_certificates(client: Any, b: bundle.Bundle, receipt: str, timeout: float, quiet: bool) -> str | None:
    """Waits for the batch (a spinner in a terminal), then fetches every certificate into the bundle (a bar);
    returns why the wait ended without certificates, if it did."""
    deadline = time.monotonic() + timeout
    with status_progress("waiting for the chain", total=None, quiet=quiet) as tick:
        while True:
            status = client.get(f"/v1/receipts/{receipt}")
            tick(0, status["status"])
            if status["status"] in ("registered", "final", "rejected", "expired"):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    state = status["status"]
    if state in ("rejected", "expired"):
        for e in b.entries:
            e["status"], e["error"] = "failed", f"the batch was {state}: {status.get('error')}"
        return f"the registration was {state}: {status.get('error')}"
    if state not in ("registered", "final"):
        for e in b.entries:
            if e["status"] != "duplicate":
                e["status"] = "pending"
        return (
            f"still {state} after {timeout:.0f} s: the index holds each binding and salt; fetch the certificates "
            f"later with `ipledger certificate BINDING --party {b.meta['partyId']}` (receipt {receipt})"
        )

    def fetch(e: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        try:
            return e, client.get(f"/v1/evidence/0x{e['binding'].hex()}/certificate", params={"partyId": e["partyId"]})
        except LedgerError as exc:
            return e, exc

    # a few requests at once: the service answers each from the chain, so most of a request's time is waiting
    with (
        status_progress("fetching certificates", total=len(b.entries), quiet=quiet) as tick,
        ThreadPoolExecutor(FETCHERS) as pool,
    ):
        for e, cert in pool.map(fetch, b.entries):
            if isinstance(cert, LedgerError):
                e["status"], e["error"] = "failed", cert.message
            else:
                b.save_certificate(e, complete_certificate(cert, e["content"], e["salt"], e.get("metadata")))
                if e["status"] != "duplicate":
                    e["status"] = state
                    e["blockNumber"], e["blockTimestamp"] = status.get("blockNumber"), status.get("blockTimestamp")
            tick(1, None)
    return None


#: Certificates fetched at once by a bulk registration.
FETCHERS = 4


def _bundle_summary(
    b: bundle.Bundle, counts: dict[str, int], failed: list[dict[str, Any]], wait: bool, problem: str | None
) -> list[str]:
    kind = "archive" if b.target.archive else "directory"
    if not wait:
        head = (
            f"{counts['files']} files accepted in one signed batch (receipt {b.meta['receiptId']}), not yet on chain; "
            "certificates with --wait"
        )
    else:
        head = (
            f"{counts['files']} files: {counts['registered']} registered, {counts['duplicates']} already registered "
            f"earlier by this party, {counts['pending']} pending, {counts['failed']} failed; "
            f"{counts['certificates']} certificates"
        )
    lines = [head, f"bundle: {b.where} ({kind}: index.json, index.csv, certificates/)"]
    if problem:
        lines.append(problem)
    if failed:
        lines.append("failed:")
        lines += [f"  {f['path']}: {f['error']}" for f in failed]
    return lines


PartyOpt = Annotated[
    int | None,
    typer.Option("--party", min=1, max=2**24 - 1, help="Only this party's registration; HASH may then be its binding."),
]


@app.command("endorse")
def endorse(
    binding: Annotated[
        str | None,
        typer.Argument(
            help="The record's binding (the registrant's FILE.ipledger.json `binding`, or what `evidence register` "
            "printed); or give --file for a public registration."
        ),
    ] = None,
    registrant_party: Annotated[
        int, typer.Option("--registrant-party", help="The party that registered the record (employer, university).")
    ] = 0,
    role: Annotated[str, typer.Option(help="What you did: " + ", ".join(CREATOR_ROLES) + ".")] = "",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="The registered file, hashed here: its public binding to the registrant's party is the record "
            "(a private registration is endorsed by its binding).",
        ),
    ] = None,
    alg: Annotated[str, typer.Option("--alg", help="With --file: sha256 or sm3.")] = "sha256",
    keystore: PartyKeystoresOpt = None,
    safe: SafeOpt = None,
    as_json: JsonWordsOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Add your own signature, as a creator, to a record your employer or university registered.

    Signed with your party's keystore (EIP-712 `CreatorEndorsement`) and relayed by the service; it answers once the
    endorsement is on chain. The record's certificate then lists you (a natural person by party number, never by
    name) with your role, and a verifier checks it against the chain. An endorsement is permanent."""
    if registrant_party < 1:
        raise InvalidInput(
            "--registrant-party is required (the party that registered the record)", field="registrant-party"
        )
    if role.strip().lower() not in CREATOR_ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(CREATOR_ROLES)}", field="role")
    if (binding is None) == (file is None):
        raise InvalidInput("give the record's BINDING or --file (one of them)", field="binding")
    if file is not None:
        if not file.is_file():
            raise InvalidInput(f"{file} is not a readable file", field="file")
        algorithm = parse_algorithm(alg)
        key = public_binding(hash_file(file, algorithm), registrant_party, algorithm)
    else:
        key = parse_hash(str(binding), "binding")
    client = api_client(settings_with(api_url=api_url))
    domain_json = client.get("/v1/creators/signing-domain")
    account = party_signer(keystore, safe, lambda: int(domain_json["chainId"]))
    state = client.get(f"/v1/accounts/{account.address}")
    if not state.get("partyId"):
        raise InvalidInput(f"account {account.address} is not an account of any admitted party", field="keystore")
    domain = eip712.Domain(int(domain_json["chainId"]), domain_json["verifyingContract"], name=domain_json["name"])
    deadline = int(time.time()) + 3600
    nonce = int(state["nonce"])
    from ledger.domain.codes import CreatorRole

    word = role.strip().lower()
    message = eip712.creator_endorsement_message(
        domain,
        binding=key,
        registrant_party_id=registrant_party,
        role=int(CreatorRole.from_word(word)),
        creator=account.address,
        nonce=nonce,
        deadline=deadline,
    )
    body = {
        "registrantPartyId": registrant_party,
        "role": word,
        "creator": account.address,
        "nonce": nonce,
        "deadline": deadline,
        "signature": "0x" + eip712.sign(message, account).hex(),
    }
    with status_progress("waiting for the chain", total=None, quiet=as_json):
        done = client.post(f"/v1/evidence/0x{key.hex()}/endorsements", json=body)
    if as_json:
        print_json(done)
        return
    labels = PartyLabels(client)
    console.print(
        f"{labels.label(done['partyId'])} endorsed, as {done['role']}, the record 0x{key.hex()} of "
        f"{labels.label(registrant_party)}: block {done['blockNumber']}, {local_time(done['blockTimestamp'])}",
        highlight=False,
        markup=False,
    )


@app.command("show")
def show(
    content_hash: Annotated[
        str | None,
        typer.Argument(
            help="Content hash (64 hex), or the binding `evidence register` printed for a private registration; "
            "optional with --sidecar"
        ),
    ] = None,
    party: PartyOpt = None,
    sidecar: SidecarOpt = None,
    as_json: JsonWordsOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Who registered a content hash: the first party (block, local time), every other party, and earlier versions,
    in words (the API's JSON with --json).

    A private (salted) registration is found by its binding, or by its content hash with --sidecar (the service
    never learns the content hash of a private registration)."""
    side = _sidecar_of(sidecar)
    raw, party = _lookup_key(content_hash, side, party)
    client = api_client(settings_with(api_url=api_url))
    found = _get_evidence(client, f"/v1/evidence/0x{raw.hex()}", party)
    if as_json:
        print_json(found)
        return
    lines = _lookup_lines(found, PartyLabels(client))
    if side is not None and not found.get("contentHash"):
        lines.insert(0, f"content hash 0x{side.content.hex()} ({side.algorithm}, {side.words}; from {side.path})")
    for line in lines:
        console.print(line, highlight=False, markup=False)


def _when(item: dict[str, Any]) -> str:
    if item.get("blockNumber") is None:
        return "not yet on chain"
    return f"{local_time(item.get('blockTimestamp'))}, block {item['blockNumber']}"


def _lookup_lines(found: dict[str, Any], parties: PartyLabels) -> list[str]:
    """An evidence lookup in words: the registration found, every registration of the content, earlier versions."""
    lines = []
    if found.get("contentHash"):
        lines.append(f"content hash {found['contentHash']} ({found.get('algorithm')})")
    lines += [
        f"binding      {found.get('binding')}",
        f"registered by {parties.label(found['partyId'])} (account {found.get('registrant')}), "
        f"{found.get('method')}, {found.get('status')}",
        f"on chain     {_when(found)}",
    ]
    if found.get("acceptedAt"):
        lines.append(f"accepted     {local_time(found['acceptedAt'])} (receipt {found.get('receiptId')})")
    if found.get("error"):
        lines.append(f"rejected     {found['error']}")
    regs = found.get("registrations") or []
    if regs:
        lines.append(
            f"registrations of this content, earliest first ({found.get('registrationCount', len(regs))} in all):"
        )
        for r in regs:
            who = parties.label(r["partyId"]) if r.get("partyId") else "?"
            lines.append(f"  {who}: {_when(r)}, {r.get('method')}, {r.get('status')}")
    for v in found.get("versions") or []:
        lines.append(f"supersedes   {v.get('binding')} ({_when(v)})")
    return lines


def certificate_cmd(
    content_hash: Annotated[
        str | None,
        typer.Argument(
            help="Content hash, or the binding `evidence register` printed for a private registration; "
            "optional with --sidecar"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the JSON certificate here.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the bilingual PDF rendering here.")] = None,
    sidecar: SidecarOpt = None,
    party: PartyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Fetch the evidence certificate of the first registration of a content hash, or of one party's (--party).

    The certificate of a private (salted) registration is complete only with --sidecar: the service issues it for
    the binding, and the sidecar adds the content hash and the salt (and says "private (salted)")."""
    side = _sidecar_of(sidecar)
    raw, party = _lookup_key(content_hash, side, party)
    client = api_client(settings_with(api_url=api_url))
    cert = _get_evidence(client, f"/v1/evidence/0x{raw.hex()}/certificate", party)
    if side is not None:
        if cert["evidence"]["binding"] != "0x" + side.binding.hex():
            raise InvalidInput(f"the certificate is not of the binding in {side.path}", field="sidecar")
        cert = complete_certificate(cert, side.content, side.salt, side.metadata)
    elif cert["evidence"].get("contentHash") is None:
        err_console.print(
            "issued for a binding: the service cannot tell a public from a private registration by it. Complete it "
            f"with the content hash (and the salt of a private registration): --sidecar FILE{SIDECAR}",
            highlight=False,
            markup=False,
        )
    text = json.dumps(cert, indent=2, ensure_ascii=False) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"certificate written to {out}")
    if pdf:
        from ledger.certificates.render import pdf as certificate_pdf

        url = f"{settings_with(api_url=api_url).public_url.rstrip('/')}/?hash=0x{raw.hex()}"
        pdf.write_bytes(certificate_pdf.render_pdf(cert, verify_url=url))
        console.print(f"PDF written to {pdf}")
    if not out and not pdf:
        console.print(text, highlight=False)


VERIFY_EXIT_NOT_IN_FORCE = 3  # click takes 2 for usage errors
#: Case-file items (docs/disputes.md): `ipledger verify` refuses --file for them rather than ignore it.
NO_FILE_FORMATS = (
    "qianhai-ip-ledger/title-event",
    "qianhai-ip-ledger/dispute-opened",
    "qianhai-ip-ledger/dispute-closed",
    "qianhai-ip-ledger/case-file",
)


def verify_cmd(
    cert: Annotated[Path, typer.Argument(help="The certificate JSON.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Evidence certificate: the registered file. Agreement certificate: the signed contract "
            "document (its SHA-256 must be the terms' documentHash). Hashed locally.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Give the status at this moment (YYYY-MM-DD, an ISO datetime, UTC unless it carries an offset, "
            "or unix seconds) instead of now: an agreement's legal status, or whether an evidence record was "
            "already superseded then.",
        ),
    ] = None,
    sidecar: Annotated[
        Path | None,
        typer.Option(
            "--sidecar",
            help="Evidence certificate of a private (salted) registration without its salt: the FILE.ipledger.json "
            "written when it was registered (default: the one beside --file, if any).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of words.")] = False,
    rpc_url: RpcUrlOpt = None,
    anchor_rpc_url: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor-rpc-url",
            help="A JSON-RPC endpoint of a public chain that holds a checkpoint of the certificate's record "
            "(repeat for several chains; each is matched to the certificate's checkpoint by the chain id it answers "
            "with). Without it the checkpoint's public-chain check is skipped and the assurance is the consortium's.",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="RFC 3161 token or time-stamp certificate: the CA certificate (PEM) the TSA certificate must chain "
            "to (GET /v1/tsa/ca.pem).",
        ),
    ] = None,
    tsa_cert: Annotated[
        Path | None,
        typer.Option(
            "--tsa-cert",
            help="RFC 3161 token requested without certReq (or a time-stamp certificate that carries none): the TSA "
            "certificate (PEM).",
        ),
    ] = None,
) -> None:
    """Check an evidence or agreement certificate, an RFC 3161 time-stamp token of this ledger (a DER .tsr) or the
    time-stamp certificate derived from one (JSON, `ipledger tsa certificate`), against any JSON-RPC endpoint of
    its chain.

    A time-stamp token (docs/tsa.md): its CMS signature with the TSA certificate (chained to --ca-file), the
    imprint against --file, and its anchor on chain (the batch root held by the registry in the token's block, the
    leaf's audit path, genTime equal to that block's timestamp). A time-stamp certificate: the same checks on the
    token it carries, once every member in words is found to be what that token says.

    An evidence certificate with a `checkpoint` section (a checkpoint of the ledger on a public chain covers the
    record) is also checked against the public chains given with --anchor-rpc-url, and the assurance reached is
    printed: the consortium's word alone, or anchored on public chain N at block B with k confirmations.

    An evidence certificate of a private (salted) registration that lacks its content hash or salt is completed
    from the sidecar written when it was registered: FILE.ipledger.json beside --file, or --sidecar PATH.

    It says apart whether the certificate is authentic and where the record stands now (or at --at). An
    agreement: in force, not yet in force, expired, terminated, released, voided by an arbitral award,
    withdrawn, ended with its parent licence. An evidence record: current, or superseded by a later record of
    the same party (it still proves the content existed when it was registered).

    Exit 0: authentic, and in force (an agreement) or current (evidence). Exit 1: a check failed, not
    authentic. Exit 3: authentic, but not in force or superseded (or the node could not give the status).
    Exit 2: bad usage."""
    from ledger.certificates.verify import FAILED, PASSED, Rpc, verify
    from ledger.chain.rpc import connect

    settings = settings_with(rpc_url=rpc_url)
    if not settings.rpc_url:
        raise InvalidInput("--rpc-url is required (any JSON-RPC endpoint of the certificate's chain)", field="rpc_url")
    from ledger.certificates.casefile import MAX_CASE_BYTES

    try:  # the largest thing it recognises is a case file, which it sends to `ipledger verify-case`
        raw = read_bounded(cert, MAX_CASE_BYTES, field="cert", what="a certificate, token or case file")
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"{cert} not found", field="cert") from None
    from ledger.certificates.timestamp import looks_like_token
    from ledger.certificates.timestamp_certificate import FORMAT as TIMESTAMP_FORMAT

    is_stamp = looks_like_token(raw) or _claims_format(raw, TIMESTAMP_FORMAT)
    if is_stamp:
        if at is not None or sidecar is not None:
            raise InvalidInput("--at and --sidecar do not apply to a time stamp", field="at" if at else "sidecar")
        raise typer.Exit(_verify_token(raw, file, settings.rpc_url, ca_file, tsa_cert, as_json))
    if ca_file is not None or tsa_cert is not None:
        raise InvalidInput(
            "--ca-file and --tsa-cert apply to RFC 3161 time-stamp tokens and time-stamp certificates only",
            field="ca_file",
        )
    if raw.startswith(b"PK\x03\x04"):
        raise InvalidInput(
            f"{cert} is a case file (ZIP): check it with `ipledger verify-case {cert}`"
            + ("; --file does not apply to case files (each item carries its own hashes)" if file else ""),
            field="cert",
        )
    from ledger.certificates.evidence import CertificateMalformed, loads

    malformed: CertificateMalformed | None = None
    try:
        doc = loads(raw)
    except CertificateMalformed as exc:  # JSON, but against the specification's rules: a failed format check
        doc, malformed = None, exc
    except ValueError:
        raise InvalidInput(f"{cert} is not JSON", field="cert") from None
    fmt = doc.get("format") if isinstance(doc, dict) else None
    is_agreement = fmt == "qianhai-ip-ledger/agreement-certificate"
    if file is not None and fmt in NO_FILE_FORMATS:
        raise InvalidInput(
            f"--file does not apply to {cert} (a {fmt.rsplit('/', 1)[-1]} of a case file, which carries its own "
            "hashes): it checks a file against an evidence certificate or the contract document against an "
            "agreement certificate",
            field="file",
        )
    if at is not None and fmt in NO_FILE_FORMATS:
        raise InvalidInput(
            "--at applies to evidence and agreement certificates (their status at a date), not to case files",
            field="at",
        )
    moment = unix_time(at, "--at")
    if file is not None and not file.is_file():
        raise InvalidInput(f"{file} is not a readable file", field="file")
    if sidecar is not None and fmt != "qianhai-ip-ledger/evidence-certificate":
        raise InvalidInput("--sidecar applies to evidence certificates only", field="sidecar")
    if fmt == "qianhai-ip-ledger/evidence-certificate":
        doc = _salted(doc, file, sidecar)
    w3 = connect(settings.rpc_url)
    with open(file, "rb") if file else _null() as fh:
        if malformed is not None:
            from ledger.certificates.verify import Report

            report = Report()
            report.add("format", False, "", malformed.message)
        elif is_agreement:
            from ledger.certificates import agreement as agreement_certificate

            report = agreement_certificate.verify(doc, Rpc.from_web3(w3), document=fh, at=moment)
        else:
            report = verify(doc, Rpc.from_web3(w3), file=fh, at=moment, anchors=_anchors(anchor_rpc_url or []))
    code = 1 if not report.passed else 0
    if report.status is not None and not report.status.in_force:
        code = VERIFY_EXIT_NOT_IN_FORCE if report.passed else 1
    if as_json:
        print_json({**report.to_json(), "exitCode": code})
        raise typer.Exit(code)
    marks = {PASSED: "[green]✓ passed [/]", FAILED: "[red]✗ FAILED [/]"}
    for check in report.checks:
        console.print(
            f"{marks.get(check.status, '[yellow]- skipped[/]')} {check.name:<22} {check.detail}", highlight=False
        )
    verdict = "[green]VERIFIED[/]" if report.passed else "[red]NOT VERIFIED[/]"
    what = " (authentic)" if is_agreement and report.passed else ""
    console.print(
        f"{verdict}{what}: {sum(c.status == PASSED for c in report.checks)} passed, "
        f"{sum(c.status == FAILED for c in report.checks)} failed",
        highlight=False,
    )
    if report.assurance is not None:
        words = {"public": "[green]public chain[/]", "consortium": "consortium only", "none": "[red]none[/]"}
        console.print(
            f"ASSURANCE: {words.get(report.assurance.level, report.assurance.level)} ({report.assurance.detail})",
            highlight=False,
        )
    if report.status is not None:
        label = "LEGAL STATUS" if is_agreement else "STATUS"
        console.print(_status_line(report.status, given=moment is not None, label=label), highlight=False)
    elif is_agreement:
        console.print("LEGAL STATUS: not assessed, the certificate is not authentic", highlight=False)
    raise typer.Exit(code)


#: Most --anchor-rpc-url endpoints (a certificate names at most 8 public chains).
MAX_ANCHOR_URLS = 8


def _anchors(urls: list[str]) -> dict[int, Any]:
    """The public chains' endpoints by the chain id each answers with; one that does not answer is an error (the
    user named it), with the URL's credentials left out of the message."""
    from ledger.certificates.verify import Rpc
    from ledger.chain.rpc import connect

    if len(urls) > MAX_ANCHOR_URLS:
        raise InvalidInput(f"at most {MAX_ANCHOR_URLS} --anchor-rpc-url endpoints", field="anchor_rpc_url")
    out: dict[int, Any] = {}
    for url in urls:
        w3 = connect(url)
        out[int(w3.eth.chain_id)] = Rpc.from_web3(w3)
    return out


def _claims_format(raw: bytes, fmt: str) -> bool:
    """Whether ``raw`` is a JSON object whose ``format`` is ``fmt`` (the verify command's dispatch)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("format") == fmt


def _verify_token(
    raw: bytes, file: Path | None, rpc_url: str, ca_file: Path | None, tsa_cert: Path | None, as_json: bool
) -> int:
    """Verifies an RFC 3161 token of this ledger, or the time-stamp certificate derived from one (JSON); prints the
    report; the exit code (0 verified, 1 not)."""
    from cli.render import local_time
    from ledger.certificates import timestamp_certificate
    from ledger.certificates.evidence import CertificateMalformed, loads
    from ledger.certificates.timestamp import looks_like_token, verify_token
    from ledger.certificates.verify import FAILED, PASSED, Report, Rpc
    from ledger.chain.rpc import connect

    if file is not None and not file.is_file():
        raise InvalidInput(f"{file} is not a readable file", field="file")
    cas = pem_certificates(ca_file, "ca_file")
    given = pem_certificates(tsa_cert, "tsa_cert")
    rpc = Rpc.from_web3(connect(rpc_url))
    with open(file, "rb") if file else _null() as fh:
        if looks_like_token(raw):
            rep, parsed = verify_token(
                raw, rpc, file=fh, ca_certificates=cas, tsa_certificate=given[0] if given else None
            )
        else:
            try:
                doc = loads(raw)
            except CertificateMalformed as exc:
                rep, parsed = Report(), None
                rep.add("format", False, "", exc.message)
            else:
                if given and isinstance(doc, dict) and "tsaCertificate" not in doc:
                    doc = {**doc, "tsaCertificate": base64.b64encode(given[0]).decode("ascii")}
                rep, parsed = timestamp_certificate.verify(doc, rpc, file=fh, ca_certificates=cas)
    code = 0 if rep.passed and file is not None else 1
    gen_time = int(parsed.tst_info["gen_time"].native.timestamp()) if parsed is not None else None
    if as_json:
        body = {**rep.to_json(), "exitCode": code, "genTime": gen_time}
        if parsed is not None and parsed.anchor is not None:
            body["anchor"] = parsed.anchor.to_json()
        print_json(body)
        return code
    marks = {PASSED: "[green]✓ passed [/]", FAILED: "[red]✗ FAILED [/]"}
    for check in rep.checks:
        console.print(
            f"{marks.get(check.status, '[yellow]- skipped[/]')} {check.name:<22} {check.detail}", highlight=False
        )
    if file is None:
        console.print("[red]NOT VERIFIED[/]: give the time-stamped file with --file", highlight=False)
        return code
    verdict = "[green]VERIFIED[/]" if rep.passed else "[red]NOT VERIFIED[/]"
    console.print(
        f"{verdict}: {sum(c.status == PASSED for c in rep.checks)} passed, "
        f"{sum(c.status == FAILED for c in rep.checks)} failed",
        highlight=False,
    )
    if rep.passed and gen_time is not None:
        console.print(f"the file existed no later than {local_time(gen_time)} (the anchoring block's time)")
    return code


def _salted(doc: Any, file: Path | None, sidecar: Path | None) -> Any:
    """An evidence certificate completed from its sidecar when it lacks the content hash or the salt: ``sidecar``, or
    else ``FILE.ipledger.json`` beside ``file`` when there is one. Only what is missing is filled in: a sidecar that
    disagrees with what the certificate says is refused. A private one is refused when the salt is nowhere."""
    from ledger.certificates.evidence import PRIVATE, privacy_of

    ev = doc.get("evidence") if isinstance(doc, dict) else None
    if not isinstance(ev, dict):
        return doc
    beside = Path(str(file) + SIDECAR) if file is not None else None
    path = sidecar if sidecar is not None else (beside if beside is not None and beside.is_file() else None)
    incomplete = ev.get("salt") is None and (privacy_of(ev) == PRIVATE or ev.get("contentHash") is None)
    if path is None:
        if incomplete and privacy_of(ev) == PRIVATE:
            raise InvalidInput(
                "this certificate is of a private registration and carries no salt; give the sidecar written when "
                f"it was registered: --sidecar FILE{SIDECAR} (beside the registered file)",
                field="sidecar",
            )
        return doc
    try:
        side = Sidecar(path)
    except InvalidInput:
        if sidecar is None and not incomplete:
            return doc  # an unreadable file beside a complete certificate: not needed
        raise
    if ev.get("binding") != "0x" + side.binding.hex():
        if sidecar is None:
            return doc  # a sidecar of another registration of the file: not this certificate's
        raise InvalidInput(f"{path} is of binding 0x{side.binding.hex()}, not the certificate's", field="sidecar")
    for key, value in (("contentHash", side.content), ("salt", side.salt)):
        if ev.get(key) is not None and value is not None and ev[key] != "0x" + value.hex():
            raise InvalidInput(f"{path} gives another {key} than the certificate", field="sidecar")
    if not incomplete:
        if side.metadata is not None and "metadata" not in ev:
            ev["metadata"] = side.metadata
        return doc
    return complete_certificate(doc, side.content, side.salt, side.metadata)


def _status_line(status: LegalStatus, *, given: bool, label: str = "LEGAL STATUS") -> str:
    """The record's status (an agreement's legal status, or an evidence record's version) in words, with this
    machine's local times."""
    from cli.render import local_time

    when = f"at {local_time(status.at)}" if given else "now"
    since = local_time(status.since) if status.since else "?"
    words = {
        "in_force": "[green]in force[/]" + (f" until {local_time(status.until)}" if status.until else ""),
        "not_yet_in_force": f"[yellow]NOT YET IN FORCE[/]: its term starts {since}",
        "expired": f"[yellow]EXPIRED[/]: its term ended {since}",
        "terminated": f"[yellow]TERMINATED[/] on {since}",
        "released": f"[yellow]RELEASED[/] (the pledge was released) on {since}",
        "withdrawn": f"[yellow]WITHDRAWN[/] on {since}",
        "ended_with_parent": f"[yellow]ENDED WITH ITS PARENT LICENCE[/] on {since}",
        "not_yet_executed": f"[yellow]NOT YET IN EFFECT[/]: the parties put it into effect on {since}",
        "current": "[green]current[/]: no later record of the party supersedes it",
        "superseded": f"[yellow]SUPERSEDED[/] on {since} by the party's later record {status.superseded_by}; "
        "it still proves the content existed when it was registered",
        "not_yet_registered": f"[yellow]NOT YET REGISTERED[/]: it was registered on {since}",
        "voided": f"[red]VOIDED by arbitral award[/] on {since}"
        + (
            f" (dispute {status.dispute_id}; see `ipledger dispute show {status.dispute_id}`)"
            if status.dispute_id
            else " (see `ipledger dispute show`)"
        ),
    }
    return f"{label} {when}: " + words.get(status.state, f"[yellow]UNKNOWN[/]: {status.detail}")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
