"""Regenerates the conformance vectors of docs/conformance/ from a real chain.

    python -m tests.vectors.make [--out docs/conformance]

It starts the embedded anvil node on a free port, deploys the contracts, and through the API (in process):
admits a firm and a university; registers a file directly (SHA-256, superseding an earlier version, with a
metadata commitment), another in SM3, a private (salted) one, and a batch of two submissions; registers a patent,
has it confirmed, and executes an exclusive licence. It fetches their certificates (completing the private one
with its content hash and salt, as the party's client does) and derives single-field tampers of each.

Every vector is then verified against the node by ``ledger.certificates`` with every JSON-RPC exchange recorded
into ``chain.json``. The checks each tamper fails are **declared** below (:data:`TAMPERS`, from the table of
docs/certificate.md §6 and the checks of docs/agreements.md) and the generator stops if the verifier disagrees;
genuine vectors must pass. What is written (``vectors.json``) is each check's verdict, which the test
``tests/certificates/test_conformance.py`` replays: nothing there is computed from the chain at test time.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.certificates import agreement as agreement_certificate
from ledger.certificates.evidence import complete, loads
from ledger.certificates.verify import FAILED, Report, Rpc, RpcError, verify
from ledger.chain.node import EmbeddedNode, free_port
from ledger.config import Settings
from ledger.domain.hashing import HashAlgorithm, hash_bytes, private_binding
from ledger.domain.metadata import metadata_commitment, validate_metadata
from ledger.facade import Ledger
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.api.test_agreements_scenario import YEAR, agree, register_asset
from tests.api.test_creators import endorsement
from tests.helpers import account, make_anvil_chain

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "conformance"
SALT = bytes.fromhex("5a" * 16 + "c3" * 16)
META = {
    "title": "前海大厦幕墙设计图 Facade drawing",
    "kind": "design",
    "creators": ["陈小明", "Alice Wong"],
    "created_at": "2024-03-01",
    "language": "zh-Hant-HK",
}


@dataclass
class Vector:
    name: str
    description: str
    kind: str  # evidence | agreement
    certificate: bytes  # the exact JSON text
    file: bytes | None = None
    at: int | None = None
    #: the checks that must fail (empty: a genuine certificate, every check passes or is skipped)
    fails: set[str] = field(default_factory=set)


def _text(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _flip(hex_text: str, pos: int = -1) -> str:
    pos %= len(hex_text)
    return hex_text[:pos] + format(int(hex_text[pos], 16) ^ 1, "x") + hex_text[pos + 1 :]


def _tamper(doc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    out = copy.deepcopy(doc)
    change(out)
    return _text(out)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        index: Any = int(last) if isinstance(target, list) else last
        if value is _DELETE:
            del target[index]
        else:
            target[index] = value(target[index]) if callable(value) else value

    return change


_DELETE = object()


def _produce(api: Api) -> tuple[dict[str, tuple[dict[str, Any], bytes | None]], int]:
    """The genuine certificates (name -> (certificate, file)) and the moment for the licence's status."""
    sha, sm3 = HashAlgorithm.SHA256, HashAlgorithm.SM3
    firm, uni = account("vector-firm"), account("vector-university")
    api.admit(firm, "91110108551385082Q", nameZh="前海示例科技有限公司", nameEn="Qianhai Example Technology Co., Ltd.")
    p_uni = api.admit(
        uni,
        "31456712",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="香港示例大學",
        nameEn="Example University of Hong Kong",
    )

    def single(content: bytes, algorithm: str = "sha256", **extra: Any) -> None:
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, content, algorithm=algorithm, **extra))
        assert resp.status_code == 202, resp.text
        assert api.ledger.pipeline.drain()

    def cert(key: str) -> dict[str, Any]:
        resp = api.client.get(f"/v1/evidence/{key}/certificate")
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    v1, v2 = b"Facade drawing, revision A\n", b"Facade drawing, revision B\n"
    meta = validate_metadata(META)
    single(hash_bytes(v1, sha))
    single(hash_bytes(v2, sha), metadata_commitment=metadata_commitment(meta), supersedes=hash_bytes(v1, sha))
    # the university, a creator of the drawing, adds its own signature to the firm's record (§3.7)
    v2_binding = api.binding(firm, hash_bytes(v2, sha))
    endorsed = api.client.post(
        f"/v1/evidence/0x{v2_binding.hex()}/endorsements",
        json=endorsement(api, uni, v2_binding, api.party_of(firm), "contributor"),
    )
    assert endorsed.status_code == 201, endorsed.text
    direct = cert("0x" + hash_bytes(v2, sha).hex())
    assert [e["partyId"] for e in direct["endorsements"]] == [p_uni]
    direct["evidence"]["metadata"] = meta
    superseded = cert("0x" + hash_bytes(v1, sha).hex())

    notebook = "实验记录 2024-05-02: 电池隔膜涂层 Battery separator coating, run 17\n".encode()
    single(hash_bytes(notebook, sm3), algorithm="sm3")
    sm3_cert = cert("0x" + hash_bytes(notebook, sm3).hex())

    secret = b"Trade secret: furnace schedule 2024\n"
    binding = private_binding(hash_bytes(secret, sha), api.party_of(firm), SALT, sha)
    single(b"", binding=binding)
    private = cert("0x" + binding.hex())
    private = complete(private, hash_bytes(secret, sha), SALT)  # what the party's client adds from its sidecar

    files = [f"src/module_{i}.py: print({i})\n".encode() for i in range(3)]
    for acct, hashes in ((firm, [hash_bytes(f, sha) for f in files]), (uni, [hash_bytes(b"thesis chapter 3\n", sha)])):
        resp = api.client.post("/v1/evidence/batch", json=api.batch_body(acct, hashes))
        assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.pipeline.step()
    batch = cert("0x" + hash_bytes(files[1], sha).hex())
    assert batch["anchor"]["method"] == "batch"

    asset = register_asset(api, uni, p_uni, "201710601862.3", "Battery separator")
    contract = b"%PDF-1.7 exclusive licence contract, CN201710601862.3\n"
    now = api.chain.now()
    lic = agree(
        api,
        {
            "documentHash": "0x" + hashlib.sha256(contract).hexdigest(),
            "kind": "licence",
            "assetId": asset,
            "licensee": api.party_of(firm),
            "licenceType": "exclusive",
            "territory": ["CN", "HK"],
            "start": now,
            "end": now + 3 * YEAR,
            "royalty": {"basis": "percentage", "rate": 250, "currency": "CNY"},
        },
        uni,
        firm,
    )
    licence = api.client.get(f"/v1/agreements/{lic['agreementId']}/certificate").json()
    moment = int(licence["anchor"]["blockTimestamp"]) + 60
    return (
        {
            "direct": (direct, v2),
            "superseded": (superseded, v1),
            "sm3": (sm3_cert, notebook),
            "private": (private, secret),
            "batch": (batch, files[1]),
            "licence": (licence, contract),
        },
        moment,
    )


def _vectors(genuine: dict[str, tuple[dict[str, Any], bytes | None]], moment: int) -> list[Vector]:
    direct, v2 = genuine["direct"]
    superseded, v1 = genuine["superseded"]
    sm3_cert, notebook = genuine["sm3"]
    private, secret = genuine["private"]
    batch, item = genuine["batch"]
    licence, contract = genuine["licence"]
    out = [
        Vector(
            "direct",
            "direct SHA-256 registration superseding an earlier version, metadata disclosed, endorsed by a creator",
            "evidence",
            _text(direct),
            v2,
        ),
        Vector(
            "superseded",
            "the earlier version the direct registration supersedes: authentic, its status superseded",
            "evidence",
            _text(superseded),
            v1,
        ),
        Vector(
            "direct-hash-only",
            "the direct certificate checked without its file (check 2 skipped)",
            "evidence",
            _text(direct),
        ),
        Vector("sm3", "direct registration in SM3 (GB/T 32905-2016)", "evidence", _text(sm3_cert), notebook),
        Vector(
            "private",
            "private (salted) registration, certificate completed with contentHash and salt",
            "evidence",
            _text(private),
            secret,
        ),
        Vector(
            "batch",
            "item 1 of a 3-item submission, in a batch of 2 submissions by 2 parties",
            "evidence",
            _text(batch),
            item,
        ),
        Vector(
            "licence",
            "exclusive licence of a confirmed CN patent, with its contract document",
            "agreement",
            _text(licence),
            contract,
            moment,
        ),
    ]
    evidence_tampers: list[tuple[str, dict[str, Any], bytes | None, str, Callable[..., None] | bytes, set[str]]] = [
        ("direct-version-true", direct, v2, "version is true, not the integer 2", _set("version", True), {"format"}),
        ("direct-version-string", direct, v2, 'version is "2"', _set("version", "2"), {"format"}),
        (
            "direct-endorsement-role",
            direct,
            v2,
            "the university's endorsement says author; it signed as contributor",
            _set("endorsements.0.role", "author"),
            {"endorsements"},
        ),
        (
            "direct-endorsement-party",
            direct,
            v2,
            "the endorsement is attributed to the registrant's own party",
            _set("endorsements.0.partyId", 1),
            {"endorsements"},
        ),
        (
            "direct-missing-registrations",
            direct,
            v2,
            "the required member registrations is removed",
            _set("registrations", _DELETE),
            {"format"},
        ),
        (
            "direct-missing-salt",
            direct,
            v2,
            "the required member evidence.salt (null) is removed",
            _set("evidence.salt", _DELETE),
            {"format"},
        ),
        (
            "direct-duplicate-member",
            direct,
            v2,
            'the member "version" appears twice (same value)',
            _text(direct).replace(b'"version": 2,', b'"version": 2,\n  "version": 2,', 1),
            {"format"},
        ),
        (
            "direct-with-batch-member",
            direct,
            v2,
            "a direct certificate carries anchor.batch",
            _set("anchor.batch", batch["anchor"]["batch"]),
            {"format"},
        ),
        (
            "direct-chainid-2e63",
            direct,
            v2,
            "chain.chainId is 2^63, beyond int64",
            _set("chain.chainId", 2**63),
            {"format"},
        ),
        (
            "direct-contenthash",
            direct,
            v2,
            "evidence.contentHash, last hex digit changed",
            _set("evidence.contentHash", _flip),
            {"file", "binding", "registrations"},
        ),
        (
            "direct-binding",
            direct,
            v2,
            "evidence.binding, last hex digit changed",
            _set("evidence.binding", _flip),
            {"binding", "transaction", "record", "endorsements"},
        ),
        (
            "direct-metadatacommitment-null",
            direct,
            v2,
            "evidence.metadataCommitment set to null",
            _set("evidence.metadataCommitment", None),
            {"metadata", "transaction"},
        ),
        (
            "direct-supersedes",
            direct,
            v2,
            "evidence.supersedes, last hex digit changed",
            _set("evidence.supersedes", _flip),
            {"transaction"},
        ),
        (
            "direct-metadata-title",
            direct,
            v2,
            "evidence.metadata.title changed",
            _set("evidence.metadata.title", lambda t: t + "!"),
            {"metadata"},
        ),
        (
            "direct-partyid",
            direct,
            v2,
            "registrant.partyId + 1 (another admitted party)",
            _set("registrant.partyId", lambda p: p + 1),
            {"binding", "transaction", "record", "party", "endorsements"},
        ),
        (
            "direct-nameen",
            direct,
            v2,
            "registrant.nameEn changed",
            _set("registrant.nameEn", lambda n: n + "x"),
            {"party"},
        ),
        (
            "direct-scheme",
            direct,
            v2,
            "registrant.identifierScheme USCC -> HKBRN",
            _set("registrant.identifierScheme", "HKBRN"),
            {"party"},
        ),
        (
            "direct-chainid",
            direct,
            v2,
            "chain.chainId + 1 (verification stops after check 5)",
            _set("chain.chainId", lambda c: c + 1),
            {"chain"},
        ),
        (
            "direct-blocktimestamp",
            direct,
            v2,
            "anchor.blockTimestamp + 1",
            _set("anchor.blockTimestamp", lambda t: t + 1),
            {"block", "record", "registrations"},
        ),
        (
            "direct-blockhash",
            direct,
            v2,
            "anchor.blockHash, last hex digit changed",
            _set("anchor.blockHash", _flip),
            {"block", "transaction"},
        ),
        (
            "direct-transactionhash",
            direct,
            v2,
            "anchor.transactionHash, last hex digit changed",
            _set("anchor.transactionHash", _flip),
            {"transaction"},
        ),
        (
            "direct-registrations-count",
            direct,
            v2,
            "registrations.count + 1",
            _set("registrations.count", lambda c: c + 1),
            {"registrations"},
        ),
        (
            "direct-other-file",
            direct,
            b"Facade drawing, revision C\n",
            "the certificate with another file",
            lambda d: None,
            {"file"},
        ),
        (
            "sm3-algorithm",
            sm3_cert,
            notebook,
            "evidence.algorithm sm3 -> sha256",
            _set("evidence.algorithm", "sha256"),
            {"file", "binding", "transaction", "record", "registrations"},
        ),
        (
            "private-salt",
            private,
            secret,
            "evidence.salt, last hex digit changed",
            _set("evidence.salt", _flip),
            {"binding"},
        ),
        (
            "batch-signature",
            batch,
            item,
            "anchor.submission.signature, a digit of s changed",
            _set("anchor.submission.signature", lambda s: _flip(s, 2 + 64 + 20)),
            {"submission-signature"},
        ),
        (
            "batch-deadline-late",
            batch,
            item,
            "anchor.submission.deadline set before the anchoring block's time",
            _set("anchor.submission.deadline", batch["anchor"]["blockTimestamp"] - 1),
            {"submission-signature", "submission-deadline", "batch-proof"},
        ),
        (
            "batch-proof-path",
            batch,
            item,
            "anchor.batch.proof.path[0], last hex digit changed",
            _set("anchor.batch.proof.path.0", _flip),
            {"batch-proof"},
        ),
        (
            "batch-submission-count",
            batch,
            item,
            "anchor.submission.count + 1",
            _set("anchor.submission.count", lambda c: c + 1),
            {"submission-proof", "submission-signature", "batch-proof"},
        ),
        (
            "batch-with-commitment",
            batch,
            item,
            "a batch certificate with a metadataCommitment",
            _set("evidence.metadataCommitment", "0x" + "11" * 32),
            {"format"},
        ),
    ]
    for name, doc, file, what, change, fails in evidence_tampers:
        text = change if isinstance(change, bytes) else _tamper(doc, change)
        out.append(Vector(name, what, "evidence", text, file, None, fails))
    agreement_tampers: list[tuple[str, str, Callable[..., None] | bytes, set[str]]] = [
        (
            "licence-kind-label",
            'agreement.kind "licence" -> "pledge" (the signed terms say licence)',
            _set("agreement.kind", "pledge"),
            {"agreement-id"},
        ),
        ("licence-version-true", "version is true, not the integer 1", _set("version", True), {"format"}),
        (
            "licence-missing-salt",
            "the required member agreement.terms.salt is removed",
            _set("agreement.terms.salt", _DELETE),
            {"format"},
        ),
        (
            "licence-sublicensable-int",
            "agreement.terms.sublicensable is 0, not false",
            _set("agreement.terms.sublicensable", 0),
            {"format"},
        ),
        (
            "licence-licencetype",
            "agreement.terms.licenceType exclusive (1) -> ordinary (3)",
            _set("agreement.terms.licenceType", 3),
            {"agreement-id", "signatures"},
        ),
        (
            "licence-details",
            "agreement.details.royalty.rate changed",
            _set("agreement.details.royalty.rate", 300),
            {"details"},
        ),
        (
            "licence-signature",
            "signatures[0].signature, a digit of s changed",
            _set("signatures.0.signature", lambda s: _flip(s, 2 + 64 + 20)),
            {"signatures"},
        ),
        ("licence-party-name", "parties[0].nameEn changed", _set("parties.0.nameEn", lambda n: n + "x"), {"parties"}),
        ("licence-blocknumber", "anchor.blockNumber - 1", _set("anchor.blockNumber", lambda b: b - 1), {"block"}),
        (
            "licence-duplicate-member",
            'the member "format" appears twice',
            _text(licence).replace(
                b'"version": 1,', b'"version": 1,\n  "format": "qianhai-ip-ledger/agreement-certificate",', 1
            ),
            {"format"},
        ),
    ]
    for name, what, change, fails in agreement_tampers:
        text = change if isinstance(change, bytes) else _tamper(licence, change)
        out.append(Vector(name, what, "agreement", text, contract, moment, fails))
    out.append(
        Vector(
            "licence-other-document",
            "the licence certificate with another file as its contract document",
            "agreement",
            _text(licence),
            b"%PDF-1.7 another document\n",
            moment,
            {"document"},
        )
    )
    return out


def run_vector(vector_text: bytes, kind: str, file: bytes | None, at: int | None, rpc: Rpc) -> Report:
    """Verifies one vector as ``ipledger verify`` does: the JSON read strictly, then the checks."""
    import io

    from ledger.certificates.evidence import CertificateMalformed

    try:
        doc = loads(vector_text)
    except CertificateMalformed as exc:
        report = Report()
        report.add("format", False, "", exc.message)
        return report
    stream = io.BytesIO(file) if file is not None else None
    if kind == "agreement":
        return agreement_certificate.verify(doc, rpc, document=stream, at=at)
    return verify(doc, rpc, file=stream)


def _recording_rpc(w3: Any, exchanges: dict[str, dict[str, Any]]) -> Rpc:
    from tests.vectors.replay import key

    def request(method: str, params: list[Any]) -> Any:
        resp = w3.provider.make_request(method, params)
        answer = {"error": resp["error"]} if "error" in resp else {"result": resp.get("result")}
        exchanges.setdefault(key(method, params), {"request": {"method": method, "params": params}, "response": answer})
        if "error" in resp:
            raise RpcError(str(resp["error"].get("message", resp["error"])))
        return resp.get("result")

    return Rpc(request)


def make(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ipledger-vectors-") as tmp:
        node = EmbeddedNode(Path(tmp) / "node", port=free_port())
        node.start()
        try:
            chain = make_anvil_chain(node.rpc_url)
            settings = Settings(
                data_dir=Path(tmp) / "data",
                operator_token=OPERATOR_TOKEN,
                confirmations=1,
                final_after=0,
                public_url="http://127.0.0.1:8000",
            )
            ledger = Ledger(
                w3=chain.w3,
                manifest=chain.manifest,
                settings=settings,
                relayer=chain.sender,
                registrar=chain.registrar_sender,
                governance=chain.governance_sender,
            )
            app = create_app(ledger, settings, run_pipeline=False)
            with TestClient(app, raise_server_exceptions=False) as client:
                api = Api(client, ledger, chain)
                genuine, moment = _produce(api)
                vectors = _vectors(genuine, moment)
                exchanges: dict[str, dict[str, Any]] = {}
                rpc = _recording_rpc(chain.w3, exchanges)
                results = []
                for v in vectors:
                    report = run_vector(v.certificate, v.kind, v.file, v.at, rpc)
                    failed = {c.name for c in report.checks if c.status == FAILED}
                    if failed != v.fails:
                        raise SystemExit(
                            f"{v.name}: the verifier failed {sorted(failed)}, declared {sorted(v.fails)}:\n"
                            + json.dumps(report.to_json(), indent=2)
                        )
                    results.append((v, report))
            ledger.close()
        finally:
            node.stop()
    _write(out, results, list(exchanges.values()), chain.manifest.chain_id)


def _write(out: Path, results: list[tuple[Vector, Report]], exchanges: list[dict[str, Any]], chain_id: int) -> None:
    for sub in ("certificates", "files"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    index = []
    for v, report in results:
        cert_path = f"certificates/{v.name}.json"
        (out / cert_path).write_bytes(v.certificate)
        file_path = None
        if v.file is not None:
            file_path = f"files/{hashlib.sha256(v.file).hexdigest()[:16]}.bin"
            (out / file_path).write_bytes(v.file)
        entry: dict[str, Any] = {
            "name": v.name,
            "description": v.description,
            "kind": v.kind,
            "certificate": cert_path,
            "file": file_path,
            "at": v.at,
            "verdict": "passed" if report.passed else "failed",
            "checks": [{"name": c.name, "status": c.status} for c in report.checks],
        }
        entry["status"] = report.status.state if report.status is not None else None
        index.append(entry)
    (out / "vectors.json").write_text(
        json.dumps({"chainId": chain_id, "vectors": index}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "chain.json").write_text(json.dumps(exchanges, indent=1) + "\n", encoding="utf-8")
    print(f"{len(index)} vectors, {len(exchanges)} recorded JSON-RPC answers written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the vectors' directory (docs/conformance)")
    make(parser.parse_args().out)


if __name__ == "__main__":
    main()
