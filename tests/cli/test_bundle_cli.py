"""Bulk registration writes one certificate bundle, and one setting moves the API's port.

`ipledger up` runs as a real subprocess with its port given by IPLEDGER_PORT alone; the CLI is given the same
variable and nothing else about the API. Fifty small files in two folders (the same names in both) are registered
with `--wait`: the bundle's index lists each of them with its certificate, every certificate verifies against its
file on the chain, nothing is written beside the inputs, and the output is a short summary. A bad `--out` is refused
with a clear message before anything is sent, and changes nothing.
"""

from __future__ import annotations

import csv
import json
import subprocess
import zipfile
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from pypdf import PdfReader
from rich.console import Console

import cli.common
from cli.bundle import Target
from cli.common import PROGRESS_FILES, hashing_progress, settings_with, status_progress
from ledger.certificates.verify import Rpc, verify
from ledger.chain.rpc import connect
from ledger.domain.hashing import HashAlgorithm, hash_file, public_binding
from ledger.errors import ConfigurationError, InvalidInput
from tests.cli.conftest import UpProcess
from tests.helpers import IPLEDGER, cli_env

PASSWORD = "bundle password"


def ipledger(*args: str, env: dict[str, str], cwd: Path) -> Any:
    return subprocess.run([IPLEDGER, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def listing(*dirs: Path) -> list[str]:
    return sorted(str(p) for d in dirs for p in d.rglob("*"))


@pytest.mark.slow
def test_bulk_registration_writes_one_bundle_on_a_port_set_by_one_setting(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_BATCH_INTERVAL": "0.3"},
        port_by_env=True,
    )
    p.wait_healthy()
    assert p.port != 8000
    link_base = f"http://127.0.0.1:{p.port}"
    assert f"links and certificate QR codes use {link_base}" in p.output(), p.output()

    firm = p.admit_firm("Bundle Test Ltd")
    keystore = tmp_path / "firm.json"
    keystore.write_text(json.dumps(Account.encrypt(firm.key, PASSWORD, kdf="pbkdf2", iterations=1000)))
    # the CLI knows the API's port from the same one setting, nothing else
    env = cli_env(IPLEDGER_PORT=str(p.port), IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)

    inputs_a, inputs_b, work = tmp_path / "a", tmp_path / "b", tmp_path / "work"
    for d in (inputs_a, inputs_b, work):
        d.mkdir()
    files = []
    for i in range(25):
        for folder in (inputs_a, inputs_b):
            f = folder / f"draft-{i}.txt"
            f.write_text(f"{folder.name}: draft {i}\n")
            files.append(f)
    before = listing(inputs_a, inputs_b)

    # a bad --out is refused before anything is sent, and changes nothing
    full = work / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine\n")
    a_file = work / "a-file"
    a_file.write_text("x\n")
    (work / "old.zip").write_bytes(b"PK")
    for bad, said in [
        (full, "not empty"),
        (a_file / "bundle", "cannot be created"),
        (a_file, "is a file"),
        (work / "old.zip", "already exists"),
    ]:
        out = ipledger("evidence", "register", *map(str, files), "--keystore", str(keystore), "--out", str(bad),
                       "--wait", env=env, cwd=work)  # fmt: skip
        assert out.returncode == 1, out.stdout + out.stderr
        assert said in out.stderr and str(bad) in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert out.stdout == ""
    assert listing(work) == sorted(str(work / n) for n in ("a-file", "full", "full/keep.txt", "old.zip"))
    assert (work / "old.zip").read_bytes() == b"PK"
    binding = public_binding(hash_file(files[0], HashAlgorithm.SHA256), 1, HashAlgorithm.SHA256)
    unknown = httpx.get(p.api + f"/v1/evidence/0x{binding.hex()}", params={"partyId": 1}, timeout=10)
    assert unknown.status_code == 404, unknown.text

    # fifty files: one bundle in the working directory, a short summary, nothing beside the inputs
    out = ipledger("evidence", "register", *map(str, files), "--keystore", str(keystore), "--wait", env=env, cwd=work)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert (
        lines[0]
        == "50 files: 50 registered, 0 already registered earlier by this party, 0 pending, 0 failed; 50 certificates"
    ), lines
    assert len(lines) == 2 and lines[1].startswith("bundle: certificates-"), lines
    assert "━" not in out.stderr and "hashing" not in out.stderr  # no progress bar without a terminal
    assert listing(inputs_a, inputs_b) == before
    (bundle,) = [d for d in work.iterdir() if d.name.startswith("certificates-")]
    assert lines[1].startswith(f"bundle: {bundle.name} (directory")

    index = json.loads((bundle / "index.json").read_text())
    assert index["format"] == "qianhai-ip-ledger/certificate-bundle" and index["counts"]["certificates"] == 50
    assert [e["path"] for e in index["entries"]] == [str(f) for f in files]
    names = [e["certificate"] for e in index["entries"]]
    assert len(set(names)) == 50 and all(e["status"] in ("registered", "final") for e in index["entries"])
    rows = list(csv.DictReader((bundle / "index.csv").open(encoding="utf-8")))
    assert [r["path"] for r in rows] == [str(f) for f in files] and all(r["registeredAt"] for r in rows)
    rpc = Rpc.from_web3(connect(f"http://127.0.0.1:{p.node_port}"))
    for e, f in zip(index["entries"], files, strict=True):
        cert = json.loads((bundle / e["certificate"]).read_text())
        assert cert["evidence"]["contentHash"] == e["contentHash"]
        with f.open("rb") as fh:
            report = verify(cert, rpc, file=fh)
        assert report.passed, (f, [c for c in report.checks if c.status != "passed"])
    # the other folder's file of the same name has another certificate, which does not fit this file
    with files[0].open("rb") as fh:
        wrong = verify(json.loads((bundle / names[1]).read_text()), rpc, file=fh)
    assert not wrong.passed

    # the links the service prints on certificates use the port of the one setting
    html = httpx.get(
        p.api + f"/v1/evidence/{index['entries'][0]['binding']}/certificate",
        params={"partyId": 1, "format": "html"},
        timeout=30,
    )
    assert html.status_code == 200 and f"{link_base}/?hash=" in html.text, html.text[:500]
    # ... and so do the links the CLI prints
    pdf = work / "one.pdf"
    out = ipledger("certificate", index["entries"][0]["binding"], "--party", "1", "--pdf", str(pdf), env=env, cwd=work)
    assert out.returncode == 0, out.stdout + out.stderr
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(pdf).pages)
    assert f"{link_base}/?hash=" in text, text[:2000]
    pdf.unlink()

    # two files registered again and a new one: the earlier records' certificates, counted apart
    again = [files[0], files[1], work / "new.txt"]
    again[2].write_text("new\n")
    out = ipledger("evidence", "register", *map(str, again), "--keystore", str(keystore), "--wait", "--out", "again",
                   env=env, cwd=work)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("3 files: 1 registered, 2 already registered earlier by this party, 0 pending"), out
    entries = json.loads((work / "again" / "index.json").read_text())["entries"]
    assert [e["status"] for e in entries][:2] == ["duplicate", "duplicate"]
    assert json.loads((work / "again" / entries[0]["certificate"]).read_text()) == json.loads(
        (bundle / names[0]).read_text()
    )

    # private, into an archive, with --json: the machine summary; the salts are in the archive's index
    more = [work / f"more-{i}.bin" for i in range(3)]
    for i, f in enumerate(more):
        f.write_bytes(bytes([i + 1]) * 100)
    out = ipledger("evidence", "register", *map(str, more), "--private", "--keystore", str(keystore), "--wait",
                   "--out", "out/certs.zip", "--json", env=env, cwd=work)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads(out.stdout)
    assert summary["bundle"] == "out/certs.zip" and summary["failed"] == []
    assert summary["counts"]["registered"] == 3 and summary["counts"]["certificates"] == 3
    assert sorted(x.name for x in (work / "out").iterdir()) == ["certs.zip"]
    with zipfile.ZipFile(work / "out" / "certs.zip") as zf:
        zindex = json.loads(zf.read("index.json"))
        assert all(e["salt"] for e in zindex["entries"])
        cert = json.loads(zf.read(zindex["entries"][2]["certificate"]))
    with more[2].open("rb") as fh:
        assert verify(cert, rpc, file=fh).passed
    assert not any(x.name.endswith((".ipledger.json", ".certificate.json")) for x in work.iterdir())
    p.interrupt()


# --- without a service ------------------------------------------------------------------------------------------


def test_one_setting_derives_the_api_and_public_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IPLEDGER_PORT", "IPLEDGER_HOST", "IPLEDGER_API_URL", "IPLEDGER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    s = settings_with()
    assert (s.port, s.api_url, s.public_url) == (8000, "http://127.0.0.1:8000", "http://127.0.0.1:8000")
    monkeypatch.setenv("IPLEDGER_PORT", "9123")
    s = settings_with()
    assert (s.port, s.api_url, s.public_url) == (9123, "http://127.0.0.1:9123", "http://127.0.0.1:9123")
    s = settings_with(port=9124, host="0.0.0.0")  # `ipledger up --port 9124 --host 0.0.0.0`
    assert (s.port, s.api_url, s.public_url) == (9124, "http://127.0.0.1:9124", "http://127.0.0.1:9124")
    s = settings_with(api_url="http://ledger.example:8443")  # a CLI reaching a service elsewhere
    assert (s.port, s.api_url, s.public_url) == (9123, "http://ledger.example:8443", "http://ledger.example:8443")
    monkeypatch.delenv("IPLEDGER_PORT")
    monkeypatch.setenv("IPLEDGER_API_URL", "http://localhost:9125")  # a loopback API URL sets the port too
    monkeypatch.setenv("IPLEDGER_PUBLIC_URL", "https://ledger.example")  # explicit wins
    s = settings_with()
    assert (s.port, s.api_url, s.public_url) == (9125, "http://localhost:9125", "https://ledger.example")
    monkeypatch.setenv("IPLEDGER_API_URL", "ledger.example:9000")
    with pytest.raises(ConfigurationError, match="IPLEDGER_API_URL must be an http"):
        settings_with()
    with pytest.raises(ConfigurationError, match="IPLEDGER_PORT"):
        settings_with(api_url="http://127.0.0.1:1", port=70000)


def test_a_bad_out_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("x")
    (tmp_path / "old.zip").write_bytes(b"PK")
    before = listing(tmp_path)
    for bad, said in [
        ("full", "not empty"),
        ("file", "is a file"),
        ("file/sub", "cannot be created"),
        ("file/sub.zip", "cannot be created"),
        ("old.zip", "already exists"),
    ]:
        with pytest.raises(InvalidInput, match=said) as exc:
            Target.parse(tmp_path / bad)
        assert exc.value.field == "out"
    assert listing(tmp_path) == before
    (tmp_path / "empty").mkdir()
    assert Target.parse(tmp_path / "empty") == Target(tmp_path / "empty", False)
    assert Target.parse(tmp_path / "new" / "deeper" / "b.ZIP").archive
    assert listing(tmp_path) == sorted([*before, str(tmp_path / "empty")])


def test_bulk_progress_bars_show_in_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def drawn(*, terminal: bool, quiet: bool = False, files: int = PROGRESS_FILES) -> str:
        out = StringIO()
        monkeypatch.setattr(cli.common, "err_console", Console(file=out, force_terminal=terminal, width=120))
        with hashing_progress(100, quiet=quiet, files=files) as advance:
            advance(100)
        with status_progress("waiting for the chain", total=None, quiet=quiet) as tick:
            tick(0, "queued")
        with status_progress("fetching certificates", total=files, quiet=quiet) as tick:
            for _ in range(files):
                tick(1, None)
        return out.getvalue()

    shown = drawn(terminal=True)
    assert f"hashing {PROGRESS_FILES} files" in shown and "waiting for the chain" in shown and "queued" in shown
    assert f"{PROGRESS_FILES}/{PROGRESS_FILES}" in shown
    assert drawn(terminal=False) == ""
    assert drawn(terminal=True, quiet=True) == ""
    assert "hashing" not in drawn(terminal=True, files=PROGRESS_FILES - 1)


def test_json_of_one_file_without_a_bundle_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "one.txt"
    f.write_text("one\n")
    out = ipledger("evidence", "register", str(f), "--json", env=cli_env(IPLEDGER_PORT="9"), cwd=tmp_path)
    assert out.returncode == 1 and "--json applies to a bundle" in out.stderr and "Traceback" not in out.stderr
    assert listing(tmp_path) == [str(f)]
