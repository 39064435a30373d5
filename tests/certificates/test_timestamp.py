"""The RFC 3161 profile's pure half (ledger/certificates/timestamp.py): which requests are refused with which
failInfo, the leaf format of docs/tsa.md, the ledger extension's round trip, the keys `ipledger tsa init` makes,
and the verifier's signature and certificate checks on tokens made here (the chain checks: tests/api/test_tsa.py)."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger.certificates.timestamp import (
    DEFAULT_POLICY,
    LEDGER_ANCHOR_OID,
    MAX_REQUEST_BYTES,
    SM3_OID,
    LedgerAnchorInfo,
    Refusal,
    Signer,
    TimeStampResponse,
    parse_request,
    parse_token,
    rejection,
    token_response,
    tsa_leaf,
    verify_token,
)
from ledger.domain import merkle
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.errors import Conflict, InvalidInput, KeystoreError
from ledger.storage.tsa import ClientTokens, init_local_tsa, load_tsa, local_password

SHA256 = "2.16.840.1.101.3.4.2.1"


def request(oid: str = SHA256, imprint: bytes | None = None, **fields: object) -> bytes:
    body = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": oid}, "hashed_message": imprint or b"\x11" * 32},
        **fields,
    }
    return tsp.TimeStampReq(body).dump()


def refused(der: bytes, policy: str = DEFAULT_POLICY) -> str:
    with pytest.raises(Refusal) as caught:
        parse_request(der, policy)
    return caught.value.fail_info


def test_requests_are_refused_with_the_fail_info_of_their_fault() -> None:
    assert refused(b"") == "bad_data_format"
    assert refused(b"\x30\x03\x02\x01\x01") == "bad_data_format"
    assert refused(request() + b"\x00") == "bad_data_format"  # trailing bytes
    assert refused(b"\x30" * (MAX_REQUEST_BYTES + 1)) == "bad_data_format"
    assert refused(request(version="v2")) == "bad_data_format"
    assert refused(request("1.3.14.3.2.26", b"\x00" * 20)) == "bad_alg"  # SHA-1
    assert refused(request(SHA256, b"\x00" * 31)) == "bad_data_format"
    assert refused(request(req_policy="1.2.3")) == "unaccepted_policy"
    assert refused(request(nonce=-1)) == "bad_data_format"
    assert refused(request(nonce=1 << 256)) == "bad_data_format"
    ext = [{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]
    assert refused(request(extensions=ext)) == "unaccepted_extension"


def test_sha256_sha512_and_sm3_requests_are_accepted_with_nonce_and_cert_req() -> None:
    ok = parse_request(request(nonce=7, cert_req=True, req_policy=DEFAULT_POLICY), DEFAULT_POLICY)
    assert (ok.algorithm, ok.nonce, ok.cert_req) == ("sha256", 7, True)
    assert parse_request(request("2.16.840.1.101.3.4.2.3", b"\x01" * 64), DEFAULT_POLICY).algorithm == "sha512"
    sm3 = parse_request(request(SM3_OID), DEFAULT_POLICY)
    assert (sm3.algorithm, sm3.nonce, sm3.cert_req) == ("sm3", None, False)


def test_the_leaf_is_the_tagged_hash_of_docs_tsa_md() -> None:
    imprint, serial = bytes(range(32)), 0x0102
    expected = hashlib.sha256(b"ipledger:tsa:v1\x00sha256\x00" + imprint + serial.to_bytes(20, "big")).digest()
    assert tsa_leaf("sha256", imprint, serial) == expected
    assert tsa_leaf("sm3", imprint, serial) != expected  # the algorithm is bound
    assert tsa_leaf("sha256", imprint, serial + 1) != expected  # the serial is bound
    with pytest.raises(InvalidInput):
        tsa_leaf("md5", imprint, serial)
    with pytest.raises(InvalidInput):
        tsa_leaf("sha256", imprint, 1 << 160)


def anchor_for(leaves: list[bytes], index: int) -> LedgerAnchorInfo:
    tree = merkle.MerkleTree(merkle.leaf_hash(x) for x in leaves)
    return LedgerAnchorInfo(
        chain_id=31337,
        contract="0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
        transaction="0x" + "ab" * 32,
        block_number=12,
        block_hash="0x" + "cd" * 32,
        root=tree.root,
        leaf_index=index,
        tree_size=tree.size,
        audit_path=tuple(tree.proof(index)),
    )


def test_the_ledger_extension_round_trips_and_refuses_a_malformed_one() -> None:
    anchor = anchor_for([b"a", b"b", b"c"], 2)
    assert LedgerAnchorInfo.from_der(anchor.to_der()) == anchor
    broken = anchor.to_der().replace(bytes.fromhex("ab" * 32), bytes.fromhex("ab" * 31) + b"\x00" * 0)
    with pytest.raises(ValueError):
        LedgerAnchorInfo.from_der(broken)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Signer, bytes, Path]:
    data = tmp_path_factory.mktemp("tsa-keys")
    files = init_local_tsa(data, None)
    material = load_tsa(cert=files.cert, key=files.key, ca=files.ca, password=local_password(files, None))
    ca = x509.load_pem_x509_certificate(material.ca_pem).public_bytes(serialization.Encoding.DER)
    return Signer(material.key, material.certificate), ca, data


def test_init_makes_a_ca_a_tsa_certificate_and_an_encrypted_key_once(keys: tuple[Signer, bytes, Path]) -> None:
    _, _, data = keys
    assert b"ENCRYPTED PRIVATE KEY" in (data / "tsa" / "tsa.key.pem").read_bytes()
    assert (data / "tsa" / "tsa.key.pem").stat().st_mode & 0o077 == 0
    assert (data / "tsa" / "key.password").stat().st_mode & 0o077 == 0
    with pytest.raises(Conflict):
        init_local_tsa(data, None)
    files = init_local_tsa(data / "other", "a password")
    assert not files.password.exists()
    with pytest.raises(KeystoreError):
        load_tsa(cert=files.cert, key=files.key, ca=files.ca, password="wrong")
    assert repr(load_tsa(cert=files.cert, key=files.key, ca=None, password="a password")) == "TsaMaterial(<key hidden>)"


def test_a_certificate_without_critical_time_stamping_is_not_a_tsa_certificate() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a TSA")])
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for cert in (
        builder.sign(key, hashes.SHA256()),
        builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=False).sign(
            key, hashes.SHA256()
        ),
    ):
        with pytest.raises(InvalidInput):
            Signer(key, cert.public_bytes(serialization.Encoding.DER))


def test_a_token_verifies_offline_and_each_alteration_fails_its_check(keys: tuple[Signer, bytes, Path]) -> None:
    signer, ca, _ = keys
    content = b"design drawing"
    req = parse_request(request(imprint=hashlib.sha256(content).digest(), nonce=99, cert_req=True), DEFAULT_POLICY)
    serial = 12345
    leaf = tsa_leaf("sha256", req.imprint, serial)
    anchor = anchor_for([b"x", leaf, b"y"], 1)
    gen_time = int(x509.load_der_x509_certificate(signer.certificate.dump()).not_valid_before_utc.timestamp()) + 3600
    der = token_response(
        req, signer=signer, serial=serial, gen_time=gen_time, accuracy=10, policy=DEFAULT_POLICY, anchor=anchor
    )
    token = parse_token(der)
    assert token.anchor == anchor and token.tst_info["nonce"].native == 99
    ext = token.tst_info["extensions"][0]
    assert ext["extn_id"].dotted == LEDGER_ANCHOR_OID and ext["critical"].native is False

    report, _ = verify_token(der, None, file=io.BytesIO(content), ca_certificates=[ca])
    status = {c.name: c.status for c in report.checks}
    assert status == {
        "format": "passed",
        "imprint": "passed",
        "signature": "passed",
        "certificate": "passed",
        "anchor": "skipped",
    }
    assert report.passed

    other, _ = verify_token(der, None, file=io.BytesIO(content + b"!"), ca_certificates=[ca])
    assert {c.name: c.status for c in other.checks}["imprint"] == "failed"

    stranger_ca = init_local_tsa(Path(keys[2]) / "stranger", "pw")
    foreign = x509.load_pem_x509_certificate(stranger_ca.ca.read_bytes()).public_bytes(serialization.Encoding.DER)
    untrusted, _ = verify_token(der, None, file=io.BytesIO(content), ca_certificates=[foreign])
    assert {c.name: c.status for c in untrusted.checks}["certificate"] == "failed"

    tampered = bytearray(der)
    tampered[der.find(anchor.root) + 5] ^= 1
    bad, _ = verify_token(bytes(tampered), None, file=io.BytesIO(content), ca_certificates=[ca])
    assert {c.name: c.status for c in bad.checks}["signature"] == "failed"

    no_cert = parse_request(request(imprint=req.imprint), DEFAULT_POLICY)
    bare = token_response(
        no_cert, signer=signer, serial=serial, gen_time=gen_time, accuracy=10, policy=DEFAULT_POLICY, anchor=anchor
    )
    missing, _ = verify_token(bare, None, file=io.BytesIO(content), ca_certificates=[ca])
    assert {c.name: c.status for c in missing.checks}["signature"] == "failed"
    given, _ = verify_token(
        bare, None, file=io.BytesIO(content), ca_certificates=[ca], tsa_certificate=signer.certificate.dump()
    )
    assert given.passed


def test_a_rejection_is_an_rfc_3161_response_and_not_a_token() -> None:
    der = rejection("bad_alg", "SHA-1 is not accepted")
    info = TimeStampResponse.load(der)["status"]
    assert info["status"].native == "rejection" and info["fail_info"].native == {"bad_alg"}
    with pytest.raises(InvalidInput, match="rejection"):
        parse_token(der)
    report, parsed = verify_token(b"{}", None)
    assert parsed is None and not report.passed


def test_client_tokens_are_kept_as_hashes_and_refused_once_revoked(tmp_path: Path) -> None:
    store = ClientTokens(tmp_path)
    token = store.issue("agency-1")
    assert store.authenticate(token) == "agency-1"
    assert token.encode() not in (tmp_path / "tsa.sqlite3").read_bytes()
    assert hashlib.sha256(token.encode()).digest() in (tmp_path / "tsa.sqlite3").read_bytes()
    with pytest.raises(Conflict):
        store.issue("agency-1")
    with pytest.raises(InvalidInput):
        store.issue("../etc")
    store.revoke("agency-1")
    assert store.authenticate(token) is None
    assert [c.name for c in store.clients()] == ["agency-1"] and store.clients()[0].revoked_at
    assert store.authenticate("tsa_" + "x" * 500) is None


# --- the time-stamp certificate derived from a token alone (docs/tsa.md §7) ----------------------------------


def test_a_certificate_is_derived_from_the_token_alone_and_verifies_like_it(keys: tuple[Signer, bytes, Path]) -> None:
    import json

    from ledger.certificates import timestamp_certificate as tc

    signer, ca, _ = keys
    content = b"lab notebook, page 12"
    req = parse_request(request(SM3_OID, imprint=hash_bytes(content, HashAlgorithm.SM3)), DEFAULT_POLICY)
    anchor = anchor_for([tsa_leaf("sm3", req.imprint, 77), b"z"], 0)
    gen_time = int(x509.load_der_x509_certificate(signer.certificate.dump()).not_valid_before_utc.timestamp()) + 60
    der = token_response(
        req, signer=signer, serial=77, gen_time=gen_time, accuracy=5, policy=DEFAULT_POLICY, anchor=anchor
    )

    with pytest.raises(InvalidInput):
        tc.derive(b"{}")
    doc = json.loads(json.dumps(tc.derive(der, tsa_certificate=signer.certificate.dump())))
    assert doc["timeStamp"] == {
        "serialNumber": "77",
        "genTime": gen_time,
        "accuracySeconds": 5,
        "policy": DEFAULT_POLICY,
        "imprint": {"algorithm": "sm3", "hash": "0x" + req.imprint.hex()},
        "tsa": signer.certificate.subject.human_friendly,
    }
    assert doc["anchor"] == anchor.to_json() and "tsaCertificate" in doc

    report, _ = tc.verify(doc, None, file=io.BytesIO(content), ca_certificates=[ca])
    assert {c.name: c.status for c in report.checks} == {
        "format": "passed",
        "imprint": "passed",
        "signature": "passed",
        "certificate": "passed",
        "anchor": "skipped",
    }
    digests = {"sm3": hash_bytes(content, HashAlgorithm.SM3)}
    assert tc.verify(doc, None, file_digests=digests, ca_certificates=[ca])[0].passed
    wrong = tc.verify(doc, None, file_digests={"sm3": b"\0" * 32}, ca_certificates=[ca])[0]
    assert {c.name: c.status for c in wrong.checks}["imprint"] == "failed"
    only_sha = tc.verify(doc, None, file_digests={"sha256": b"\0" * 32}, ca_certificates=[ca])[0]
    assert {c.name: c.status for c in only_sha.checks}["imprint"] == "skipped"

    # the words must be the token's: a reader trusting them is never told what the signed token does not say
    for member, value in (
        ("timeStamp", {**doc["timeStamp"], "genTime": gen_time - 86400}),
        ("anchor", {**doc["anchor"], "blockNumber": 13}),
        # one byte short: the token's DER no longer parses, whatever length its signature happened to have
        ("token", base64.b64encode(base64.b64decode(doc["token"])[:-1]).decode()),
        ("version", 2),
        ("extra", 1),
    ):
        bad, parsed = tc.verify({**doc, member: value}, None, file=io.BytesIO(content), ca_certificates=[ca])
        assert [(c.name, c.status) for c in bad.checks] == [("format", "failed")] and parsed is None, member
    assert not tc.verify({k: v for k, v in doc.items() if k != "anchor"}, None)[0].passed
    assert not tc.verify([doc], None)[0].passed

    # without the carried certificate, the signature cannot be checked (the token was asked for without certReq)
    bare = {k: v for k, v in doc.items() if k != "tsaCertificate"}
    assert {c.name: c.status for c in tc.verify(bare, None, file=io.BytesIO(content))[0].checks}[
        "signature"
    ] == "failed"
    mismatched, _ = tc.verify(doc, None, file=io.BytesIO(content), ca_certificates=[ca], registry="0x" + "11" * 20)
    assert {c.name: c.status for c in mismatched.checks}["registry"] == "failed"
