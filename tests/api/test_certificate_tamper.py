"""Every field of a certificate is bound: tampering with any one of them makes verification fail, and the
check that fails is the one that owns the field (docs/certificate.md, "Checks").

Five real certificates are produced once for the module through the API on anvil: a direct registration
with a metadata commitment and a supersedes link, a private (salted) registration, an item of a batch
anchored together with other submissions, an item of a submission in that batch signed by an ERC-1271
contract wallet, and the direct certificate again with its metadata included.
Each leaf of each certificate (every proof node, the signature, every metadata value) is then tampered in
its own test case, and the set of failed checks must be non-empty and within the checks allowed to catch
that field (:data:`EXPECTED`).
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.certificates.verify import FAILED, Report, Rpc, verify
from ledger.chain.artifacts import load_artifact
from ledger.config import Settings
from ledger.domain import eip712, merkle
from ledger.domain.hashing import (
    HashAlgorithm,
    hash_bytes,
    private_binding,
    public_binding,
)
from ledger.domain.metadata import metadata_commitment, validate_metadata
from ledger.facade import Ledger
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.helpers import Chain, account

KINDS = ("direct", "private", "batch", "wallet", "metadata")
ALL_CHECKS = {
    "format",
    "file",
    "binding",
    "metadata",
    "chain",
    "block",
    "transaction",
    "record",
    "submission-proof",
    "submission-signature",
    "submission-deadline",
    "batch-proof",
    "anchor",
    "party",
    "registrations",
}
SALT = bytes.fromhex("5a" * 16 + "c3" * 16)
META = {
    "title": "前海大厦幕墙设计图 Facade drawing",
    "kind": "design",
    "creators": ["陈小明", "Alice Wong"],
    "created_at": "2024-03-01",
    "language": "zh-Hant-HK",
    "description": "Curtain wall, north side.\nRevision B.",
}


# --- module-scoped variants of the `anvil`, `api` and `firm` fixtures ---------------------------
# The conftest fixtures are function-scoped (snapshot/revert per test); producing the certificates once
# per module keeps the ~140 tamper cases fast. State is reverted when the module ends.


@pytest.fixture(scope="module")
def anvil_module(anvil_chain: Chain) -> Iterator[Chain]:
    snap = anvil_chain.snapshot()
    try:
        yield anvil_chain
    finally:
        anvil_chain.revert(snap)


@pytest.fixture(scope="module")
def api_module(anvil_module: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """As ``tests/api/conftest.py::api``, for the whole module."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tamper") / "data",
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        public_url="http://127.0.0.1:8000",
    )
    ledger = Ledger(
        w3=anvil_module.w3,
        manifest=anvil_module.manifest,
        settings=settings,
        relayer=anvil_module.sender,
        registrar=anvil_module.registrar_sender,
        governance=anvil_module.governance_sender,
    )
    app = create_app(ledger, settings, run_pipeline=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, ledger, anvil_module)
    ledger.close()


@pytest.fixture(scope="module")
def firm_module(api_module: Api) -> LocalAccount:
    """As ``tests/api/conftest.py::firm``, for the whole module."""
    acct = account("api-firm")
    api_module.admit(acct, "91110108551385082Q")
    return acct


def _single(api: Api, firm: LocalAccount, content: bytes, nonce: int = 0, **extra: Any) -> None:
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, content, nonce=nonce, **extra))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()


def _certificate(api: Api, content: bytes) -> dict[str, Any]:
    resp = api.client.get(f"/v1/evidence/0x{content.hex()}/certificate")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def certs(api_module: Api, firm_module: LocalAccount) -> dict[str, tuple[dict[str, Any], bytes]]:
    """kind -> (certificate, file), all produced through the API on anvil."""
    api, firm = api_module, firm_module
    sha = HashAlgorithm.SHA256

    # direct: v2 supersedes v1 and commits to metadata
    v1, v2 = b"Facade drawing, revision A\n", b"Facade drawing, revision B\n"
    meta = validate_metadata(META)
    _single(api, firm, hash_bytes(v1, sha))
    _single(
        api, firm, hash_bytes(v2, sha), metadata_commitment=metadata_commitment(meta), supersedes=hash_bytes(v1, sha)
    )
    direct = _certificate(api, hash_bytes(v2, sha))

    # private: the chain holds only the salted binding; the party's client completes the certificate
    secret = b"Trade secret: furnace schedule 2024\n"
    commitment = private_binding(hash_bytes(secret, sha), api.party_of(firm), SALT, sha)
    _single(api, firm, b"", binding=commitment)
    private = _certificate(api, commitment)
    assert private["evidence"]["contentHash"] is None and private["registrations"] is None
    private["evidence"]["contentHash"] = "0x" + hash_bytes(secret, sha).hex()
    private["evidence"]["salt"] = "0x" + SALT.hex()

    # batch: the firm's five items and three other submissions (another party's, the firm's, and one signed by
    # a party whose account is an ERC-1271 contract wallet) anchored under one batch root
    files = [f"src/module_{i}.py: print({i})\n".encode() for i in range(5)]
    other = account("api-firm-tamper-2")
    api.admit(
        other,
        "31456712",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="香港示例大学",
        nameEn="Example University of Hong Kong",
    )
    for acct, hashes in (
        (firm, [hash_bytes(f, sha) for f in files]),
        (other, [hash_bytes(b"other party", sha)]),
        (firm, [hash_bytes(b"second submission", sha), hash_bytes(b"third", sha)]),
    ):
        resp = api.client.post("/v1/evidence/batch", json=api.batch_body(acct, hashes))
        assert resp.status_code == 202, resp.text
    wallet_files = [b"wallet item 0\n", b"wallet item 1\n", b"wallet item 2\n"]
    _submit_from_wallet(api, [hash_bytes(f, sha) for f in wallet_files])
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.pipeline.step()
    batch = _certificate(api, hash_bytes(files[2], sha))
    assert batch["anchor"]["batch"]["proof"]["size"] == 4 and len(batch["anchor"]["batch"]["proof"]["path"]) == 2
    wallet = _certificate(api, hash_bytes(wallet_files[1], sha))
    assert wallet["anchor"]["batch"]["root"] == batch["anchor"]["batch"]["root"]

    # metadata: the direct certificate with the metadata whose canonical SHA-256 was registered
    with_metadata = copy.deepcopy(direct)
    with_metadata["evidence"]["metadata"] = meta
    return {
        "direct": (direct, v2),
        "private": (private, secret),
        "batch": (batch, files[2]),
        "wallet": (wallet, wallet_files[1]),
        "metadata": (with_metadata, v2),
    }


def _submit_from_wallet(api: Api, hashes: list[bytes]) -> None:
    """A batch submission of content ``hashes`` by a party whose account is an ERC-1271 wallet; its owner key signs
    the EIP-712 digest."""
    owner, deployer = account("tamper-wallet-owner"), account("tamper-wallet-deployer")
    art = load_artifact("SingleOwnerWallet")
    factory = api.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(owner.address).build_transaction({"from": deployer.address, "gas": 0, "nonce": 0})[
        "data"
    ]
    # deployed from its own account: the operator key is the API relayer's, whose nonce the relayer tracks
    wallet = api.chain.as_(deployer).send({"data": data}).receipt["contractAddress"]
    body = {
        "kind": "university",
        "jurisdiction": "hksar",
        "identifierScheme": "hkbrn",
        "identifier": "31456799",
        "nameZh": "香港示例理工大学",
        "nameEn": "Example Polytechnic University",
        "accounts": [wallet],
    }
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 201, resp.text
    party = int(resp.json()["partyId"])
    hashes = [public_binding(x, party, HashAlgorithm.SHA256) for x in hashes]  # bound by the party's client
    deadline = api.chain.now() + 3600
    root = merkle.MerkleTree(merkle.leaf_hash(x) for x in hashes).root
    msg = eip712.batch_submission_message(
        api.domain(), root=root, count=len(hashes), algorithm=1, registrant=wallet, deadline=deadline
    )
    signature = eip712.sign_digest(eip712.digest(msg), owner)
    resp = api.client.post(
        "/v1/evidence/batch",
        json={
            "algorithm": "sha256",
            "bindings": ["0x" + x.hex() for x in hashes],
            "partyId": party,
            "registrant": wallet,
            "deadline": deadline,
            "signature": "0x" + signature.hex(),
        },
    )
    assert resp.status_code == 202, resp.text


# --- which check owns which field ----------------------------------------------------------------

_REGISTRANT_PROFILE = {
    **{f"registrant.{k}": {"party"} for k in ("identifier", "nameZh", "nameEn")},
    # one of USCC, HKBRN, OTHER (docs/certificate.md §3.3): another word is malformed
    "registrant.identifierScheme": {"format", "party"},
}
_COMMON = {
    "format": {"format"},
    "version": {"format"},
    "evidence.contentHash": {"file", "binding", "registrations"},
    "evidence.salt": {"binding"},
    "chain.chainId": {"chain"},
    "anchor.method": {"format"},
    "anchor.transactionHash": {"transaction"},
    "anchor.blockHash": {"block", "transaction"},
    **_REGISTRANT_PROFILE,
    # the public registrations of the content listed at issue time (docs/certificate.md, check 14)
    "registrations.asOfBlock": {"registrations"},
    "registrations.count": {"registrations"},
    "registrations.listed[*].partyId": {"registrations"},
    "registrations.listed[*].binding": {"registrations"},
    "registrations.listed[*].method": {"format"},
    "registrations.listed[*].blockNumber": {"registrations"},
    "registrations.listed[*].blockTimestamp": {"registrations"},
}
_DIRECT = {
    **_COMMON,
    "evidence.algorithm": {"file", "binding", "transaction", "record", "registrations"},
    "evidence.binding": {"binding", "transaction", "record"},
    "evidence.metadataCommitment": {"transaction"},
    "evidence.supersedes": {"transaction"},
    "registrant.account": {"transaction", "record", "party"},
    "registrant.partyId": {"binding", "transaction", "record", "party"},
    "chain.contract": {"transaction", "record", "party", "registrations"},
    "anchor.blockNumber": {"block", "transaction", "record", "party", "registrations"},
    "anchor.blockTimestamp": {"block", "record", "registrations"},
}
_BATCH = {
    **_COMMON,
    # the algorithm, account, contract and submission fields are all in the signed EIP-712 digest,
    # which is also the submission's leaf in the batch tree
    "evidence.algorithm": {"file", "binding", "submission-signature", "batch-proof", "registrations"},
    "evidence.binding": {"binding", "submission-proof"},
    "evidence.metadataCommitment": {"format"},  # a batched record has none
    "evidence.supersedes": {"format"},  # nor a supersedes link
    "registrant.account": {"submission-signature", "batch-proof", "party"},
    "registrant.partyId": {"binding", "party"},
    "chain.contract": {"transaction", "submission-signature", "batch-proof", "anchor", "party", "registrations"},
    "anchor.blockNumber": {"block", "transaction", "submission-signature", "anchor", "party", "registrations"},
    "anchor.blockTimestamp": {"block", "submission-deadline", "anchor", "registrations"},
    "anchor.method": {"format"},  # relabelled direct, its batch members are forbidden
    "anchor.submission.root": {"submission-proof", "submission-signature", "batch-proof"},
    "anchor.submission.count": {"submission-proof", "submission-signature", "batch-proof"},
    "anchor.submission.deadline": {"submission-signature", "submission-deadline", "batch-proof"},
    "anchor.submission.signature": {"submission-signature"},
    "anchor.submission.proof.index": {"format", "submission-proof"},
    # submission.count must equal the proof's size: the root alone does not always fix the size
    "anchor.submission.proof.size": {"format", "submission-proof"},
    "anchor.submission.proof.path[*]": {"submission-proof"},
    "anchor.batch.root": {"transaction", "batch-proof", "anchor"},
    "anchor.batch.proof.index": {"format", "batch-proof"},
    # for a leftmost leaf a larger size can give the same root; the anchored size catches it
    "anchor.batch.proof.size": {"format", "batch-proof", "anchor"},
    "anchor.batch.proof.path[*]": {"batch-proof"},
}
#: certificate kind -> field path (list indices as [*]) -> the checks allowed to catch a tamper of it
EXPECTED: dict[str, dict[str, set[str]]] = {
    "direct": _DIRECT,
    "private": {
        **_DIRECT,
        # issued for the binding: the issuer knew no content hash, so it lists no registrations
        "registrations": {"format"},
    },
    "metadata": {
        **_DIRECT,
        "evidence.metadataCommitment": {"transaction", "metadata"},
        "evidence.metadata.title": {"metadata"},
        "evidence.metadata.kind": {"metadata"},
        "evidence.metadata.creators[*]": {"metadata"},
        "evidence.metadata.created_at": {"metadata"},
        "evidence.metadata.language": {"metadata"},
        "evidence.metadata.description": {"metadata"},
    },
    "batch": _BATCH,
    "wallet": _BATCH,  # the signature is checked by the wallet (eth_call verifyBatchSubmission), not by ecrecover
}

#: (kind, field path) -> (a known bug in ledger/ that lets the tamper through, how the test then fails);
#: such cases run as strict xfails. None is known.
KNOWN_BUGS: dict[tuple[str, str], tuple[str, type[BaseException]]] = {}


# --- tampering -----------------------------------------------------------------------------------

_HEX = re.compile(r"^0x[0-9a-fA-F]+$")


def _flip_hex(text: str, pos: int) -> str:
    """Changes the hex digit at ``pos`` (negative from the end) to another value, keeping its case."""
    pos %= len(text)
    c = text[pos]
    new = format(int(c, 16) ^ 1, "x")
    if c.isupper():
        new = new.upper()
    return text[:pos] + new + text[pos + 1 :]


def _tampers(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(case id, field path, tampered value) for every leaf under ``value``."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _tampers(sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _tampers(sub, f"{path}[{i}]")
    elif value is None:
        yield path, path, "0x" + "11" * 32
    elif path == "registrations.asOfBlock":  # a later block proves nothing wrong: an earlier one must fail
        yield path, path, 0
    elif isinstance(value, bool):
        yield path, path, not value
    elif isinstance(value, int):
        yield path, path, value + 1
    elif path == "evidence.algorithm":
        yield path, path, {"sha256": "sm3", "sm3": "sha256"}[value]
    elif isinstance(value, str) and _HEX.match(value):
        yield path, path, _flip_hex(value, -1)
        if path == "anchor.submission.signature":  # r, s and v each
            yield f"{path}:r", path, _flip_hex(value, 2 + 20)
            yield f"{path}:s", path, _flip_hex(value, 2 + 64 + 20)
    elif isinstance(value, str):
        last = value[-1:] if value else ""
        yield path, path, value[:-1] + ("y" if last == "x" else "x")
    else:  # pragma: no cover - certificates hold nothing else
        raise TypeError(f"{path}: {type(value).__name__}")


def _leaves(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, JSON type) of every leaf; null and the all-zero hash are both "none"."""
    if isinstance(value, dict):
        return [leaf for key, sub in value.items() for leaf in _leaves(sub, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [leaf for i, sub in enumerate(value) for leaf in _leaves(sub, f"{path}[{i}]")]
    return [(path, "none" if value in (None, "0x" + "00" * 32) else type(value).__name__)]


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value


def _pattern(path: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", path)


def _shape(kind: str) -> dict[str, Any]:
    """The structure of each certificate kind, known before the chain runs (for parametrisation)."""
    ev = {
        "contentHash": "0x" + "aa" * 32,
        "algorithm": "sha256",
        "salt": None,
        "binding": "0x" + "aa" * 32,
        "metadataCommitment": "0x" + "bb" * 32,
        "supersedes": "0x" + "cc" * 32,
    }
    if kind == "private":
        # the issuer writes an absent metadata commitment and an absent supersedes link as null (a verifier also
        # reads 32 zero bytes as "none"); _leaves counts both as "none"
        ev.update(salt="0x" + "dd" * 32, metadataCommitment=None, supersedes=None)
    if kind in ("batch", "wallet"):
        ev.update(metadataCommitment=None, supersedes=None)
    if kind == "metadata":
        ev["metadata"] = validate_metadata(META)
    anchor: dict[str, Any] = {
        "method": "direct",
        "transactionHash": "0x" + "ee" * 32,
        "blockNumber": 1,
        "blockHash": "0x" + "ff" * 32,
        "blockTimestamp": 1,
    }
    if kind in ("batch", "wallet"):
        # batch: leaf 2 of the firm's 5 items, submission 0 of 4; wallet: leaf 1 of 3, submission 3 of 4
        sub_proof = (
            {"index": 2, "size": 5, "path": ["0x" + "03" * 32] * 3}
            if kind == "batch"
            else {"index": 1, "size": 3, "path": ["0x" + "03" * 32] * 2}
        )
        bat_proof = {"index": 0 if kind == "batch" else 3, "size": 4, "path": ["0x" + "05" * 32] * 2}
        anchor.update(
            method="batch",
            submission={
                "root": "0x" + "01" * 32,
                "count": 5,
                "deadline": 1,
                "signature": "0x" + "02" * 65,
                "proof": sub_proof,
            },
            batch={"root": "0x" + "04" * 32, "proof": bat_proof},
        )
    registrations = (
        None
        if kind == "private"
        else {
            "asOfBlock": 1,
            "count": 1,
            "listed": [
                {
                    "partyId": 1,
                    "binding": "0x" + "aa" * 32,
                    "method": anchor["method"],
                    "blockNumber": 1,
                    "blockTimestamp": 1,
                }
            ],
        }
    )
    return {
        "format": "qianhai-ip-ledger/evidence-certificate",
        "version": 2,
        "evidence": ev,
        "registrant": {
            "account": "0x" + "ab" * 20,
            "partyId": 1,
            "identifierScheme": "USCC",
            "identifier": "91110108551385082Q",
            "nameZh": "前海测试公司",
            "nameEn": "Qianhai Test Ltd",
        },
        "chain": {"chainId": 31337, "contract": "0x" + "cd" * 20},
        "anchor": anchor,
        "registrations": registrations,
    }


def _cases() -> list[Any]:
    cases = []
    for kind in KINDS:
        for case_id, path, _ in _tampers(_shape(kind), ""):
            marks = []
            bug = KNOWN_BUGS.get((kind, path))
            if bug:
                marks.append(pytest.mark.xfail(strict=True, reason=bug[0], raises=bug[1]))
            cases.append(pytest.param(kind, case_id, id=f"{kind}:{case_id}", marks=marks))
    return cases


def _failed(report: Report) -> set[str]:
    return {c.name for c in report.checks if c.status == FAILED}


def _verify(api: Api, cert: dict[str, Any], file: bytes) -> Report:
    return verify(cert, Rpc.from_web3(api.chain.w3), file=io.BytesIO(file))


# --- tests ---------------------------------------------------------------------------------------


def test_the_expectations_name_real_checks_and_every_check_owns_some_field() -> None:
    owned = set().union(*(checks for table in EXPECTED.values() for checks in table.values()))
    assert owned <= ALL_CHECKS
    assert (
        owned | {"file"} == ALL_CHECKS
    )  # the file check is exercised by test_a_changed_file_fails_only_the_file_check


@pytest.mark.parametrize("kind", KINDS)
def test_each_untampered_certificate_verifies(api_module: Api, certs: dict[str, Any], kind: str) -> None:
    cert, file = certs[kind]
    report = _verify(api_module, cert, file)
    assert report.passed, report.to_json()
    names = [c.name for c in report.checks]
    assert all(c.status == "passed" for c in report.checks), report.to_json()
    if kind in ("batch", "wallet"):
        assert names == [
            "format",
            "file",
            "binding",
            "chain",
            "block",
            "transaction",
            "submission-proof",
            "submission-signature",
            "submission-deadline",
            "batch-proof",
            "anchor",
            "party",
            "registrations",
        ]
        signature = next(c.detail for c in report.checks if c.name == "submission-signature")
        assert ("ERC-1271" in signature) == (kind == "wallet"), signature
    else:
        meta = ["metadata"] if kind == "metadata" else []
        listed = [] if kind == "private" else ["registrations"]
        assert names == [
            "format",
            "file",
            "binding",
            *meta,
            "chain",
            "block",
            "transaction",
            "record",
            "party",
            *listed,
        ]


def test_the_parametrised_tampers_cover_every_leaf_of_the_real_certificates(certs: dict[str, Any]) -> None:
    for kind, (cert, _) in certs.items():
        assert sorted(_leaves(cert)) == sorted(_leaves(_shape(kind))), kind
        assert {_pattern(path) for _, path, _ in _tampers(cert, "")} <= set(EXPECTED[kind]), kind


@pytest.mark.parametrize(("kind", "case_id"), _cases())
def test_tampering_with_a_field_fails_the_check_that_owns_it(
    api_module: Api, certs: dict[str, Any], kind: str, case_id: str
) -> None:
    cert, file = certs[kind]
    tampers = {cid: (path, value) for cid, path, value in _tampers(cert, "")}
    path, value = tampers[case_id]
    doc = copy.deepcopy(cert)
    _set(doc, path, value)
    report = _verify(api_module, doc, file)
    failed = _failed(report)
    expected = EXPECTED[kind][_pattern(path)]
    assert not report.passed and failed, f"{kind}: tampering {path} -> {value!r} is not detected: {report.to_json()}"
    assert failed <= expected, f"{kind}: tampering {path} failed {sorted(failed)}, expected within {sorted(expected)}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", [0, -1])
def test_a_changed_file_fails_only_the_file_check(
    api_module: Api, certs: dict[str, Any], kind: str, where: int
) -> None:
    cert, file = certs[kind]
    changed = bytearray(file)
    changed[where] ^= 0x01
    report = _verify(api_module, cert, bytes(changed))
    assert _failed(report) == {"file"}, report.to_json()


def test_a_certificate_checked_on_another_chain_fails_the_chain_check(
    certs: dict[str, Any], eth_tester_chain: Chain
) -> None:
    other_id = int(eth_tester_chain.w3.eth.chain_id)
    for kind, (cert, file) in certs.items():
        assert cert["chain"]["chainId"] != other_id
        report = verify(cert, Rpc.from_web3(eth_tester_chain.w3), file=io.BytesIO(file))
        assert _failed(report) == {"chain"}, (kind, report.to_json())
        assert f"serves chain {other_id}" in next(c.detail for c in report.checks if c.name == "chain")


def test_a_direct_registration_sent_through_a_contract_wallet_verifies(api_module: Api, certs: dict[str, Any]) -> None:
    api = api_module
    owner, deployer = account("tamper-direct-wallet-owner"), account("tamper-direct-wallet-deployer")
    art = load_artifact("SingleOwnerWallet")
    factory = api.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(owner.address).build_transaction({"from": deployer.address, "gas": 0, "nonce": 0})[
        "data"
    ]
    address = api.chain.as_(deployer).send({"data": data}).receipt["contractAddress"]
    wallet = api.chain.w3.eth.contract(address=address, abi=art["abi"])
    body = {
        "kind": "university",
        "jurisdiction": "hksar",
        "identifierScheme": "hkbrn",
        "identifier": "31456798",
        "nameZh": "香港示例科技大学",
        "nameEn": "Example University of Science",
        "accounts": [address],
    }
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 201
    file = b"registered by the university's wallet itself\n"
    content = hash_bytes(file, HashAlgorithm.SHA256)
    binding = public_binding(content, int(resp.json()["partyId"]), HashAlgorithm.SHA256)
    call = api.chain.evidence.functions.register((binding, 1, b"\0" * 32, b"\0" * 32))
    calldata = call.build_transaction({"from": address, "gas": 0, "nonce": 0})["data"]
    api.chain.as_(owner).send_call(wallet.functions.execute(api.chain.evidence.address, calldata))
    report = _verify(api, _certificate(api, content), file)
    assert report.passed, report.to_json()


def test_a_wallet_certificate_verifies_on_a_node_that_kept_no_state_of_its_block(
    api_module: Api, certs: dict[str, Any]
) -> None:
    """The embedded node keeps the states of its last 64 blocks only: past them, the wallet's ERC-1271 check
    is made at the latest block and says so; a wrong signature still fails there."""
    chain = api_module.chain
    snap = chain.snapshot()
    try:
        chain.w3.provider.make_request("anvil_mine", [hex(200)])
        cert, file = certs["wallet"]
        with pytest.raises(Exception, match="(?i)block"):  # the node really has no state of the anchoring block
            chain.w3.eth.call({"to": chain.evidence.address, "data": "0x"}, cert["anchor"]["blockNumber"])
        report = verify(cert, Rpc.from_web3(chain.w3), file=io.BytesIO(file))
        assert report.passed, report.to_json()
        detail = next(c.detail for c in report.checks if c.name == "submission-signature")
        assert "latest block" in detail
        bad = copy.deepcopy(cert)
        sig = bad["anchor"]["submission"]["signature"]
        bad["anchor"]["submission"]["signature"] = sig[:-4] + ("00" if sig[-4:-2] != "00" else "11") + sig[-2:]
        report = verify(bad, Rpc.from_web3(chain.w3), file=io.BytesIO(file))
        assert "submission-signature" in _failed(report), report.to_json()
    finally:
        chain.revert(snap)


def _doc_field_table() -> list[tuple[str, dict[str, set[str]]]]:
    """docs/certificate.md §6 "Which check owns which field": (field cell, {"direct": checks, "batch": checks})."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "certificate.md").read_text(encoding="utf-8")
    table = text.split("**Which check owns which field.**")[1].split("### 6.1")[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("field", "---"):
            continue
        checks = {
            col: {w for w in re.findall(r"[a-z][a-z-]*", cell) if w in ALL_CHECKS}
            for col, cell in (("direct", cells[1]), ("batch", cells[2]))
        }
        rows.append((cells[0], checks))
    return rows


def _doc_row(rows: list[tuple[str, dict[str, set[str]]]], pattern: str) -> dict[str, set[str]] | None:
    """The row of the documented table that names ``pattern`` (a field path, list indices as [*])."""
    parts = pattern.split(".")
    head, last = parts[0], parts[-1]
    for cell, checks in rows:
        names = re.findall(r"`([^`]+)`", cell)
        if f"`{pattern}`" in cell or any(n.endswith(".*") and pattern.startswith(n[:-1]) for n in names):
            return checks
    for cell, checks in rows:  # a row listing siblings: `section.first`, `.second` or `second`
        names = re.findall(r"`([^`]+)`", cell)
        if names and names[0].startswith(head) and any(n.lstrip(".") in (last, last + "[*]") for n in names):
            return checks
    return None


def test_the_documented_field_table_allows_every_check_the_tampers_may_fail() -> None:
    """docs/certificate.md §6 lists, for each field, the checks a change of it may fail: every check this test
    allows (:data:`EXPECTED`) is in the documented row, so the text and the tampers cannot drift apart."""
    rows = _doc_field_table()
    missing = []
    for kind, column in (("direct", "direct"), ("batch", "batch")):
        for pattern, allowed in EXPECTED[kind].items():
            row = _doc_row(rows, pattern)
            if row is None:
                missing.append(f"{pattern}: no row")
            elif not allowed <= row[column]:
                missing.append(f"{pattern} ({column}): {sorted(allowed - row[column])} not documented")
    assert not missing, missing
