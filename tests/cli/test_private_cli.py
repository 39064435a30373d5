"""Private (salted) registrations end to end, through `ipledger up`, the CLI and the API: the hash `evidence
register --private` prints looks up, the content hash looks up with the sidecar, the certificate says "private
(salted)" in its JSON and its PDF, and `ipledger verify` checks it against the original file with the salt kept in
the sidecar -- and refuses clearly when the salt is nowhere."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from tests.cli.conftest import UpProcess
from tests.helpers import run_cli

PASSWORD = "private registration password"


@pytest.mark.slow
def test_a_private_registration_looks_up_certifies_and_verifies_with_its_sidecar(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0"})
    p.wait_healthy()
    env = p.cli_env(PASSWORD)
    keystore = tmp_path / "firm.json"
    assert run_cli("keys", "new", str(keystore), env=env).returncode == 0
    address = json.loads(keystore.read_text())["address"]
    admitted = run_cli(
        "party",
        "admit",
        "--kind",
        "firm",
        "--identifier",
        "91110108551385082Q",
        "--name-en",
        "Qianhai Example Technology",
        "--account",
        "0x" + address,
        env=env,
    )
    assert admitted.returncode == 0, admitted.stderr

    secret = tmp_path / "recipe.txt"
    secret.write_bytes(b"Trade secret: furnace schedule, 1180 C for 40 min\n" * 50)
    out = run_cli("evidence", "register", str(secret), "--keystore", str(keystore), "--private", "--wait", env=env)
    assert out.returncode == 0, out.stderr
    sidecar = Path(str(secret) + ".ipledger.json")
    side = json.loads(sidecar.read_text())
    assert side["salt"] and side["binding"] != side["contentHash"]
    # what it prints is the binding (the service never learns the content hash), and it says where the salt is
    printed = re.search(r"private \(salted\), binding (0x[0-9a-f]{64})", out.stdout)
    assert printed and printed.group(1) == side["binding"], out.stdout
    assert f"{secret}.ipledger.json" in out.stdout.replace("\n", "")
    assert side["contentHash"] not in out.stdout
    # registering it again would replace the only copy of the salt: refused before anything is sent
    before = sidecar.read_text()
    again = run_cli("evidence", "register", str(secret), "--keystore", str(keystore), "--private", env=env)
    assert again.returncode == 1 and "holds the salt of an earlier private registration" in again.stderr
    assert sidecar.read_text() == before and "Traceback" not in again.stderr

    # the printed hash looks up, without --party
    shown = run_cli("evidence", "show", printed.group(1), env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"binding      {side['binding']}" in shown.stdout and "registered by #1 " in shown.stdout
    # the content hash alone finds nothing, and the message says how a private registration is found
    alone = run_cli("evidence", "show", side["contentHash"], env=env)
    assert alone.returncode == 1 and "--sidecar" in alone.stderr and "Traceback" not in alone.stderr, alone.stderr
    # with the sidecar, the content hash looks up too
    shown = run_cli("evidence", "show", side["contentHash"], "--sidecar", str(sidecar), env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"content hash {side['contentHash']}" in shown.stdout and "private (salted)" in shown.stdout
    wrong = run_cli("evidence", "show", "0x" + "ab" * 32, "--sidecar", str(sidecar), env=env)
    assert wrong.returncode == 1 and "neither the content hash nor the binding" in wrong.stderr

    # the certificate the service issues for the printed hash: it cannot tell public from private, and says so
    bare = tmp_path / "bare.json"
    out = run_cli("certificate", printed.group(1), "-o", str(bare), env=env)
    assert out.returncode == 0, out.stderr
    assert "--sidecar" in out.stderr
    ev = json.loads(bare.read_text())["evidence"]
    assert ev["contentHash"] is None and ev["salt"] is None and ev["privacy"] is None

    # completed with the sidecar (looked up by the content hash): private (salted), JSON and PDF
    full, pdf = tmp_path / "full.json", tmp_path / "full.pdf"
    out = run_cli(
        "certificate", side["contentHash"], "--sidecar", str(sidecar), "-o", str(full), "--pdf", str(pdf), env=env
    )
    assert out.returncode == 0, out.stderr
    ev = json.loads(full.read_text())["evidence"]
    assert ev["privacy"] == "private" and ev["salt"] == side["salt"] and ev["contentHash"] == side["contentHash"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "私密登记（加盐）" in text and "Private (salted)" in text and "Public (unsalted" not in text
    # the one --wait saved beside the file is the same document
    assert json.loads(Path(str(secret) + ".certificate.json").read_text())["evidence"] == ev

    # verification: the complete certificate with the original file
    ok = run_cli("verify", str(full), "--file", str(secret), env=env)
    assert ok.returncode == 0 and "VERIFIED" in ok.stdout and "private registration" in ok.stdout, ok.stdout
    # the service's certificate, with the sidecar beside the file found by itself, or named
    ok = run_cli("verify", str(bare), "--file", str(secret), env=env)
    assert ok.returncode == 0 and "NOT VERIFIED" not in ok.stdout, ok.stdout + ok.stderr
    kept = tmp_path / "kept" / "recipe.txt.ipledger.json"
    kept.parent.mkdir()
    shutil.move(sidecar, kept)
    ok = run_cli("verify", str(bare), "--file", str(secret), "--sidecar", str(kept), env=env)
    assert ok.returncode == 0 and "private registration" in ok.stdout, ok.stdout + ok.stderr
    # without the sidecar the service's certificate does not open, and the check says where the salt is
    failed = run_cli("verify", str(bare), "--file", str(secret), env=env)
    assert failed.returncode == 1 and "NOT VERIFIED" in failed.stdout and "--sidecar" in failed.stdout

    # a private certificate whose salt was taken out: refused, naming the sidecar; verified with it
    stripped = tmp_path / "stripped.json"
    doc = json.loads(full.read_text())
    doc["evidence"]["salt"] = None
    stripped.write_text(json.dumps(doc))
    refused = run_cli("verify", str(stripped), "--file", str(secret), env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "private registration" in refused.stderr and "--sidecar" in refused.stderr, refused.stderr
    ok = run_cli("verify", str(stripped), "--file", str(secret), "--sidecar", str(kept), env=env)
    assert ok.returncode == 0 and "VERIFIED" in ok.stdout, ok.stdout + ok.stderr

    # a sidecar of another registration, or one that contradicts the certificate, is refused, not silently used
    alien = tmp_path / "alien.ipledger.json"
    alien.write_text(json.dumps({**json.loads(kept.read_text()), "binding": "0x" + "ab" * 32}))
    refused = run_cli("verify", str(stripped), "--file", str(secret), "--sidecar", str(alien), env=env)
    assert refused.returncode == 1 and "not the certificate's" in refused.stderr, refused.stderr
    alien.write_text(json.dumps({**json.loads(kept.read_text()), "contentHash": "0x" + "cd" * 32}))
    refused = run_cli("verify", str(full), "--file", str(secret), "--sidecar", str(alien), env=env)
    assert refused.returncode == 1 and "another contentHash" in refused.stderr, refused.stderr

    # another file fails, with the certificate and with the sidecar
    other = tmp_path / "other.txt"
    other.write_bytes(b"Trade secret: furnace schedule, 1180 C for 45 min\n" * 50)
    bad = run_cli("verify", str(full), "--file", str(other), env=env)
    assert bad.returncode == 1 and "NOT VERIFIED" in bad.stdout
    bad = run_cli("verify", str(bare), "--file", str(other), "--sidecar", str(kept), env=env)
    assert bad.returncode == 1 and "NOT VERIFIED" in bad.stdout

    # the API agrees: the complete certificate with the original file passes, with another file fails
    for body, passed in ((secret.read_bytes(), True), (other.read_bytes(), False)):
        resp = httpx.post(
            p.api + "/v1/verify",
            files={"certificate": ("c.json", full.read_bytes(), "application/json"), "file": ("f", body)},
            timeout=60,
        )
        assert resp.status_code == 200, resp.text
        assert (resp.json()["verdict"] == "passed") is passed, resp.json()
    # and the service's own HTML of the binding certificate says it cannot tell, in both languages
    html = httpx.get(p.api + f"/v1/evidence/{side['binding']}/certificate", params={"format": "html"}, timeout=60)
    assert html.status_code == 200 and "公开或私密未知" in html.text and "Public or private not known" in html.text
    p.interrupt()
