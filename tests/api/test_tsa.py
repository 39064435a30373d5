"""The RFC 3161 time-stamp authority (POST /v1/tsa, docs/tsa.md) against a real `ipledger up`, with clients no one
here wrote: `openssl ts` makes the queries and verifies the replies, pyHanko time-stamps a PDF through our URL and
validates it with our CA as its trust root, and `ipledger verify` checks the token's anchor on the chain."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import tsp

from ledger.certificates.timestamp import SM3_OID, TimeStampResponse
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from tests.cli.conftest import UpProcess
from tests.helpers import IPLEDGER, cli_env

pytestmark = pytest.mark.slow

OPERATOR = "tsa-test-operator-token"


@dataclass
class Tsa:
    up: UpProcess
    dir: Path
    client: str  # a client token issued with `ipledger tsa token new`

    @property
    def url(self) -> str:
        return self.up.api + "/v1/tsa"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = cli_env(IPLEDGER_DATA_DIR=str(self.up.data_dir), IPLEDGER_RPC_URL=f"http://127.0.0.1:{self.up.node_port}")
        return subprocess.run([IPLEDGER, *args], capture_output=True, text=True, env=env, timeout=120)

    def post(self, body: bytes, token: str | None = None, content_type: str = "application/timestamp-query") -> bytes:
        headers = {"Content-Type": content_type}
        if token != "":
            headers["Authorization"] = f"Bearer {token or self.client}"
        resp = httpx.post(self.url, content=body, headers=headers, timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/timestamp-reply"
        return resp.content

    def file(self, name: str, content: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(content)
        return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)


def status_of(reply: bytes) -> tuple[str, set[str], str]:
    info = TimeStampResponse.load(reply)["status"]  # a rejection has no token, which tsp.TimeStampResp requires
    fail = info["fail_info"].native
    return info["status"].native, set(fail or ()), " ".join(info["status_string"].native or [])


def tst_info(reply: bytes) -> tsp.TSTInfo:
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"]
    return token["content"]["encap_content_info"]["content"].parsed


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    env = {
        "IPLEDGER_OPERATOR_TOKEN": OPERATOR,
        "IPLEDGER_CONFIRMATIONS": "0",
        "IPLEDGER_TSA_MAX_WAIT": "0.3",
        "IPLEDGER_TSA_RATE": "0.05",  # one request every 20 s once a client's burst is spent
        "IPLEDGER_TSA_BURST": "35",
    }
    base = tmp_path_factory.mktemp("tsa")
    up = UpProcess(base / "data", env=env)
    try:
        up.wait_healthy()
        t = Tsa(up, base, "")
        made = t.cli("tsa", "token", "new", "tests", "--json")
        assert made.returncode == 0, made.stderr
        t.client = json.loads(made.stdout)["token"]
        (base / "ca.pem").write_bytes(httpx.get(up.api + "/v1/tsa/ca.pem", timeout=10).content)
        (base / "tsa.pem").write_bytes(httpx.get(up.api + "/v1/tsa/tsa.pem", timeout=10).content)
        yield t
    finally:
        up.kill_all()


def stamp_with_openssl(tsa: Tsa, name: str, content: bytes, *flags: str) -> tuple[Path, Path, Path]:
    data = tsa.file(name, content)
    query = tsa.dir / f"{name}.tsq"
    made = openssl("ts", "-query", "-data", data, *flags, "-out", query)
    assert made.returncode == 0, made.stderr
    reply = tsa.dir / f"{name}.tsr"
    reply.write_bytes(tsa.post(query.read_bytes()))
    return data, query, reply


def openssl_verify(tsa: Tsa, reply: Path, *source: str | Path) -> subprocess.CompletedProcess[str]:
    return openssl(
        "ts", "-verify", *source, "-in", reply, "-CAfile", tsa.dir / "ca.pem", "-untrusted", tsa.dir / "tsa.pem"
    )


def test_openssl_verifies_a_token_and_refuses_it_for_another_file_or_an_altered_token(tsa: Tsa) -> None:
    data, query, reply = stamp_with_openssl(tsa, "contract.txt", b"licence terms v1\n", "-sha256", "-cert")
    assert status_of(reply.read_bytes())[0] == "granted"
    ok = openssl_verify(tsa, reply, "-queryfile", query)
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr
    assert openssl_verify(tsa, reply, "-data", data).returncode == 0

    other = tsa.file("contract-altered.txt", b"licence terms v2\n")
    assert openssl_verify(tsa, reply, "-data", other).returncode != 0

    raw = bytearray(reply.read_bytes())
    tst = tst_info(bytes(raw)).dump()
    at = bytes(raw).find(tst) + len(tst) - 40  # a byte inside the signed TSTInfo (its ledger extension)
    raw[at] ^= 0x01
    altered = tsa.file("altered.tsr", bytes(raw))
    assert openssl_verify(tsa, altered, "-queryfile", query).returncode != 0


def test_sha512_imprints_are_stamped_and_the_nonce_echoed(tsa: Tsa) -> None:
    _, query, reply = stamp_with_openssl(tsa, "big.bin", b"\x00" * 5000, "-sha512", "-cert")
    asked = tsp.TimeStampReq.load(query.read_bytes())
    info = tst_info(reply.read_bytes())
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"
    assert asked["nonce"].native is not None and info["nonce"].native == asked["nonce"].native
    assert openssl_verify(tsa, reply, "-queryfile", query).returncode == 0


def sm3_query(content: bytes, *, nonce: int = 424242, cert_req: bool = True) -> bytes:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": SM3_OID},
                "hashed_message": hash_bytes(content, HashAlgorithm.SM3),
            },
            "nonce": nonce,
            "cert_req": cert_req,
        }
    ).dump()


def test_sm3_imprints_are_stamped_and_verified_by_ipledger(tsa: Tsa) -> None:
    content = "专利申请说明书".encode()
    data = tsa.file("sm3.txt", content)
    reply = tsa.file("sm3.tsr", tsa.post(sm3_query(content)))
    info = tst_info(reply.read_bytes())
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].dotted == SM3_OID
    assert info["nonce"].native == 424242
    out = tsa.cli("verify", str(reply), "--file", str(data), "--ca-file", str(tsa.dir / "ca.pem"), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["verdict"] == "passed"


def test_openssl_asks_for_and_verifies_an_sm3_token_too(tsa: Tsa) -> None:
    data, query, reply = stamp_with_openssl(tsa, "sm3-openssl.txt", "设计图纸 v3".encode(), "-sm3", "-cert")
    assert tst_info(reply.read_bytes())["message_imprint"]["hash_algorithm"]["algorithm"].dotted == SM3_OID
    assert openssl_verify(tsa, reply, "-queryfile", query).returncode == 0
    assert openssl_verify(tsa, reply, "-data", data).returncode == 0
    assert openssl_verify(tsa, reply, "-data", tsa.file("sm3-other.txt", b"other")).returncode != 0


def test_the_tsa_certificate_is_included_only_when_asked(tsa: Tsa) -> None:
    content = b"no certificate please"
    reply = tsa.post(sm3_query(content, cert_req=False))
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"]
    assert len(token["content"]["certificates"]) == 0
    with_cert = tsp.TimeStampResp.load(tsa.post(sm3_query(content)))["time_stamp_token"]
    certs = with_cert["content"]["certificates"]
    assert len(certs) == 1 and certs[0].chosen.dump() in _pem_der(tsa.dir / "tsa.pem")
    # without the certificate in the token, ipledger verify takes it from --tsa-cert
    path = tsa.file("nocert.tsr", reply)
    data = tsa.file("nocert.txt", content)
    args = ["verify", str(path), "--file", str(data), "--ca-file", str(tsa.dir / "ca.pem"), "--json"]
    assert tsa.cli(*args).returncode == 1
    assert tsa.cli(*args, "--tsa-cert", str(tsa.dir / "tsa.pem")).returncode == 0


def _pem_der(path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(path.read_bytes()))


def test_ipledger_verify_checks_signature_imprint_and_anchor_and_refuses_alterations(tsa: Tsa) -> None:
    data, _, reply = stamp_with_openssl(tsa, "design.txt", b"industrial design drawing\n", "-sha256", "-cert")
    ca = str(tsa.dir / "ca.pem")
    out = tsa.cli("verify", str(reply), "--file", str(data), "--ca-file", ca)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "VERIFIED" in out.stdout and "existed no later than" in out.stdout
    report = json.loads(tsa.cli("verify", str(reply), "--file", str(data), "--ca-file", ca, "--json").stdout)
    checks = {c["name"]: c["status"] for c in report["checks"]}
    for name in ("imprint", "signature", "certificate", "merkle", "batch", "inclusion", "block", "genTime"):
        assert checks[name] == "passed", report
    info = tst_info(reply.read_bytes())
    assert report["genTime"] == int(info["gen_time"].native.timestamp())

    other = tsa.file("design-altered.txt", b"industrial design drawing, altered\n")
    failed = tsa.cli("verify", str(reply), "--file", str(other), "--ca-file", ca, "--json")
    assert failed.returncode == 1
    assert {c["name"]: c["status"] for c in json.loads(failed.stdout)["checks"]}["imprint"] == "failed"

    raw = bytearray(reply.read_bytes())
    tst = info.dump()
    raw[bytes(raw).find(tst) + len(tst) - 3] ^= 0x01  # inside the audit path of the ledger extension
    altered = tsa.file("design-altered.tsr", bytes(raw))
    bad = tsa.cli("verify", str(altered), "--file", str(data), "--ca-file", ca, "--json")
    assert bad.returncode == 1
    statuses = {c["name"]: c["status"] for c in json.loads(bad.stdout)["checks"]}
    assert statuses["signature"] == "failed"


def test_a_certificate_derived_from_the_token_alone_verifies_at_every_door(tsa: Tsa) -> None:
    """docs/tsa.md §7: `POST /v1/tsa/certificate` and `ipledger tsa certificate` derive the JSON certificate from a
    token (without the TSA certificate in it: the published one is carried); `POST /v1/verify` (a streamed file,
    or its hash) and `ipledger verify` check it; words that differ from the token's, another file, or an anchor in
    another contract are refused."""
    made = tsa.cli("tsa", "token", "new", "certificates", "--json")
    client = json.loads(made.stdout)["token"]
    content = b"licence schedule B, HK university to Qianhai firm\n"
    data = tsa.file("schedule.txt", content)
    query = tsa.dir / "schedule.tsq"
    assert openssl("ts", "-query", "-data", data, "-sha512", "-out", query).returncode == 0
    reply = tsa.dir / "schedule.tsr"
    reply.write_bytes(tsa.post(query.read_bytes(), token=client))

    resp = httpx.post(f"{tsa.up.api}/v1/tsa/certificate", content=reply.read_bytes(), timeout=30)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    info = tst_info(reply.read_bytes())
    assert doc["format"] == "qianhai-ip-ledger/timestamp-certificate" and "tsaCertificate" in doc
    assert doc["timeStamp"]["imprint"] == {"algorithm": "sha512", "hash": "0x" + hashlib.sha512(content).hexdigest()}
    assert doc["timeStamp"]["genTime"] == int(info["gen_time"].native.timestamp())
    health = httpx.get(f"{tsa.up.api}/v1/health", timeout=10).json()
    assert doc["anchor"]["contract"] == health["contracts"]["EvidenceRegistry"]

    def verify_api(certificate: dict[str, object], file: bytes) -> dict[str, str]:
        files = {"certificate": (None, json.dumps(certificate)), "file": ("f", file)}
        r = httpx.post(f"{tsa.up.api}/v1/verify", files=files, timeout=60)
        assert r.status_code == 200, r.text
        return {c["name"]: c["status"] for c in r.json()["checks"]}

    checks = verify_api(doc, content)
    for name in ("format", "imprint", "signature", "certificate", "merkle", "batch", "block", "genTime", "registry"):
        assert checks[name] == "passed", checks
    assert verify_api(doc, content + b"!")["imprint"] == "failed"
    by_hash = httpx.post(
        f"{tsa.up.api}/v1/verify",
        json={"certificate": doc, "fileHash": "0x" + hashlib.sha512(content).hexdigest()},
        timeout=60,
    )
    assert by_hash.status_code == 200 and by_hash.json()["verdict"] == "passed", by_hash.text
    short = httpx.post(f"{tsa.up.api}/v1/verify", json={"certificate": doc, "fileHash": "0x12"}, timeout=30)
    assert short.status_code == 400 and short.json()["error"]["field"] == "fileHash", short.text
    later = {**doc, "timeStamp": {**doc["timeStamp"], "genTime": doc["timeStamp"]["genTime"] - 3600}}
    assert verify_api(later, content) == {"format": "failed"}

    not_token = httpx.post(f"{tsa.up.api}/v1/tsa/certificate", content=b"\x30\x03\x02\x01\x01", timeout=30)
    assert not_token.status_code == 400 and not_token.json()["error"]["field"] == "token", not_token.text

    out = tsa.cli("tsa", "certificate", str(reply), "-o", str(tsa.dir / "schedule.json"))
    assert out.returncode == 0 and "existed no later than" in out.stdout, out.stdout + out.stderr
    assert json.loads((tsa.dir / "schedule.json").read_text()) == doc
    ca = str(tsa.dir / "ca.pem")
    ok = tsa.cli("verify", str(tsa.dir / "schedule.json"), "--file", str(data), "--ca-file", ca)
    assert ok.returncode == 0 and "VERIFIED" in ok.stdout, ok.stdout + ok.stderr
    other = tsa.file("schedule-v2.txt", content + b"v2")
    assert tsa.cli("verify", str(tsa.dir / "schedule.json"), "--file", str(other), "--ca-file", ca).returncode == 1


def test_the_anchor_creates_no_record_in_a_party_name(tsa: Tsa) -> None:
    content = b"a firm's file time-stamped through the TSA"
    stamp_with_openssl(tsa, "noparty.txt", content, "-sha256")
    digest = hashlib.sha256(content).hexdigest()
    resp = httpx.get(f"{tsa.up.api}/v1/evidence/0x{digest}", timeout=10)
    assert resp.status_code == 404, resp.text


def test_requests_without_a_valid_token_are_rejected_with_bad_request(tsa: Tsa) -> None:
    query = sm3_query(b"who are you")
    for token in ("", "wrong", "tsa_not-issued"):
        status, fail, text = status_of(tsa.post(query, token=token))
        assert (status, fail) == ("rejection", {"bad_request"}), text
    assert status_of(tsa.post(query, token=OPERATOR))[0] == "granted"


def test_malformed_oversized_and_unsupported_requests_are_rejections_never_5xx(tsa: Tsa) -> None:
    assert status_of(tsa.post(b"not DER at all"))[:2] == ("rejection", {"bad_data_format"})
    assert status_of(tsa.post(b"\x30\x82\xff\xff" + b"[" * 100))[:2] == ("rejection", {"bad_data_format"})
    assert status_of(tsa.post(b"\x30" * 9000))[:2] == ("rejection", {"bad_data_format"})
    assert status_of(tsa.post(sm3_query(b"x"), content_type="application/json"))[:2] == ("rejection", {"bad_request"})
    sha1 = tsa.file("sha1.txt", b"old")
    made = openssl("ts", "-query", "-data", sha1, "-sha1", "-out", tsa.dir / "sha1.tsq")
    assert made.returncode == 0
    assert status_of(tsa.post((tsa.dir / "sha1.tsq").read_bytes()))[:2] == ("rejection", {"bad_alg"})
    made = openssl("ts", "-query", "-data", sha1, "-sha256", "-tspolicy", "1.2.3.4", "-out", tsa.dir / "pol.tsq")
    assert made.returncode == 0
    assert status_of(tsa.post((tsa.dir / "pol.tsq").read_bytes()))[:2] == ("rejection", {"unaccepted_policy"})


def test_a_revoked_client_token_is_refused(tsa: Tsa) -> None:
    made = tsa.cli("tsa", "token", "new", "short-lived", "--json")
    token = json.loads(made.stdout)["token"]
    query = sm3_query(b"revocation")
    assert status_of(tsa.post(query, token=token))[0] == "granted"
    listed = json.loads(tsa.cli("tsa", "token", "list", "--json").stdout)
    assert {c["name"] for c in listed} >= {"tests", "short-lived"}
    assert token not in json.dumps(listed) and token.encode() not in (tsa.up.data_dir / "tsa.sqlite3").read_bytes()
    assert tsa.cli("tsa", "token", "revoke", "short-lived").returncode == 0
    status, fail, _ = status_of(tsa.post(query, token=token))
    assert (status, fail) == ("rejection", {"bad_request"})


def test_a_client_over_its_rate_is_refused_with_retry_after(tsa: Tsa) -> None:
    token = json.loads(tsa.cli("tsa", "token", "new", "hasty", "--json").stdout)["token"]
    answers = [
        httpx.post(
            tsa.url,
            content=b"junk",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/timestamp-query"},
            timeout=30,
        )
        for _ in range(50)
    ]
    limited = [a for a in answers if "rate limit" in status_of(a.content)[2]]
    assert limited and all(status_of(a.content)[1] == {"system_failure"} for a in limited)
    assert all(a.status_code == 200 and int(a.headers["retry-after"]) >= 1 for a in limited)
    # another client is not held back by this one
    assert status_of(tsa.post(b"junk"))[1] == {"bad_data_format"}


def test_pyhanko_time_stamps_a_pdf_through_the_tsa_and_validates_it_with_our_ca(tsa: Tsa) -> None:
    from io import BytesIO

    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation import validate_pdf_timestamp
    from pyhanko_certvalidator import ValidationContext
    from reportlab.pdfgen import canvas

    source = BytesIO()
    page = canvas.Canvas(source)
    page.drawString(72, 720, "Patent licence, signed copy")
    page.save()
    _, _, der = pem.unarmor((tsa.dir / "ca.pem").read_bytes())
    root = x509.Certificate.load(der)
    stamper = HTTPTimeStamper(tsa.url, headers={"Authorization": f"Bearer {tsa.client}"}, timeout=60)

    def stamp_and_validate() -> tuple[Any, bool]:
        out = signers.PdfTimeStamper(stamper).timestamp_pdf(
            IncrementalPdfFileWriter(BytesIO(source.getvalue())),
            "sha256",
            validation_context=ValidationContext(trust_roots=[root]),
        )
        reader = PdfFileReader(out)
        (signature,) = reader.embedded_timestamp_signatures
        status = validate_pdf_timestamp(signature, validation_context=ValidationContext(trust_roots=[root]))
        stranger = ValidationContext(trust_roots=[])  # a reader without our CA in its trust list
        return status, validate_pdf_timestamp(signature, validation_context=stranger).trusted

    # pyHanko's synchronous calls start their own asyncio loop: run them in a thread of their own, so that a
    # loop another test left running on this worker's main thread (Playwright's sync API) cannot get in the way
    with ThreadPoolExecutor(1) as pool:
        status, trusted_by_stranger = pool.submit(stamp_and_validate).result(timeout=300)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert not trusted_by_stranger


def test_the_published_chain_is_a_ca_and_a_tsa_certificate(tsa: Tsa) -> None:
    ca = openssl("x509", "-in", tsa.dir / "ca.pem", "-noout", "-text").stdout
    assert "CA:TRUE" in ca
    cert = openssl("x509", "-in", tsa.dir / "tsa.pem", "-noout", "-text").stdout
    assert "X509v3 Extended Key Usage: critical" in cert and "Time Stamping" in cert
    key = (tsa.up.data_dir / "tsa" / "tsa.key.pem").read_text()
    assert "ENCRYPTED PRIVATE KEY" in key
    assert "PRIVATE KEY" not in tsa.up.output()


def test_requests_arriving_together_share_one_anchor_and_each_verifies(tsa: Tsa) -> None:
    contents = [f"claim set {i}".encode() for i in range(6)]
    with ThreadPoolExecutor(len(contents)) as pool:
        replies = list(pool.map(lambda c: tsa.post(sm3_query(c, nonce=len(c))), contents))
    anchors = []
    for i, (content, reply) in enumerate(zip(contents, replies, strict=True)):
        assert status_of(reply)[0] == "granted"
        path = tsa.file(f"together-{i}.tsr", reply)
        data = tsa.file(f"together-{i}.txt", content)
        out = tsa.cli("verify", str(path), "--file", str(data), "--ca-file", str(tsa.dir / "ca.pem"), "--json")
        assert out.returncode == 0, out.stdout
        anchors.append(json.loads(out.stdout)["anchor"])
    shared = [a for a in anchors if a["treeSize"] > 1]
    assert shared, "no two requests of six sent at once shared an anchor"
    assert len({(a["root"], a["leafIndex"]) for a in anchors}) == len(anchors)


def test_a_token_signed_by_the_tsa_but_naming_another_anchor_fails_the_chain_checks(tsa: Tsa) -> None:
    """The anchor checks stand on their own: the TSA's own key cannot make a token whose anchor is not on chain."""
    from dataclasses import replace

    from ledger.certificates.timestamp import DEFAULT_POLICY, Signer, parse_request, parse_token, token_response
    from ledger.storage.tsa import TsaFiles, load_tsa, local_password

    files = TsaFiles.in_data_dir(tsa.up.data_dir)
    material = load_tsa(cert=files.cert, key=files.key, ca=files.ca, password=local_password(files, None))
    signer = Signer(material.key, material.certificate)
    content = b"the real file"
    data = tsa.file("forged.txt", content)
    query = sm3_query(content)
    real = parse_token(tsa.post(query))
    assert real.anchor is not None
    req = parse_request(query, DEFAULT_POLICY)
    serial = int(real.tst_info["serial_number"].native)
    gen_time = int(real.tst_info["gen_time"].native.timestamp())
    forgeries = {
        "genTime": dict(gen_time=gen_time - 3600, anchor=real.anchor),
        "merkle": dict(gen_time=gen_time, anchor=replace(real.anchor, leaf_index=real.anchor.leaf_index + 1)),
        "batch": dict(gen_time=gen_time, anchor=replace(real.anchor, block_number=real.anchor.block_number - 1)),
        "chain": dict(gen_time=gen_time, anchor=replace(real.anchor, chain_id=1)),
    }
    for check, fields in forgeries.items():
        der = token_response(req, signer=signer, serial=serial, accuracy=10, policy=DEFAULT_POLICY, **fields)
        path = tsa.file(f"forged-{check}.tsr", der)
        out = tsa.cli("verify", str(path), "--file", str(data), "--ca-file", str(tsa.dir / "ca.pem"), "--json")
        statuses = {c["name"]: c["status"] for c in json.loads(out.stdout)["checks"]}
        assert out.returncode == 1 and statuses["signature"] == "passed", out.stdout
        assert statuses[check] == "failed", (check, statuses)


def test_tsa_init_installs_a_deployment_chain_and_refuses_a_certificate_that_is_no_tsa_s(tmp_path: Path) -> None:
    from ledger.storage.tsa import init_local_tsa

    theirs = init_local_tsa(tmp_path / "their-ca", "their password")
    env = cli_env(IPLEDGER_DATA_DIR=str(tmp_path / "data"), IPLEDGER_TSA_KEY_PASSWORD="their password")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([IPLEDGER, "tsa", "init", *args], capture_output=True, text=True, env=env, timeout=60)

    wrong = run("--cert", str(theirs.ca), "--key", str(theirs.key))  # the CA certificate is not the key's
    assert wrong.returncode == 1 and "error" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "data" / "tsa" / "tsa.pem").exists()
    done = run("--cert", str(theirs.cert), "--key", str(theirs.key), "--ca", str(theirs.ca))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "tsa" / "tsa.pem").read_bytes() == theirs.cert.read_bytes()
    again = run()
    assert again.returncode == 1 and "--force" in again.stderr
    assert run("--force").returncode == 0
    assert (tmp_path / "data" / "tsa" / "tsa.pem").read_bytes() != theirs.cert.read_bytes()
