"""The README walkthrough, for real: `ipledger up`, a party admitted, files registered with the party's
keystore, certificates fetched and checked with `ipledger verify` — and refused when tampered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.conftest import UpProcess
from tests.helpers import run_cli

PASSWORD = "walkthrough password"


@pytest.mark.slow
def test_register_files_fetch_certificates_and_verify_them(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_BATCH_INTERVAL": "0.3"}
    )
    p.wait_healthy()
    env = p.cli_env(PASSWORD)
    keystore = tmp_path / "firm.json"
    out = run_cli("keys", "new", str(keystore), env=env)
    assert out.returncode == 0, out.stderr
    address = json.loads(keystore.read_text())["address"]

    out = run_cli(
        "party",
        "admit",
        "--kind",
        "firm",
        "--identifier",
        "91110108551385082Q",
        "--account",
        "0x" + address,
        "--name-zh",
        "前海示例科技有限公司",
        "--name-en",
        "Qianhai Example Technology",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    bad = run_cli(
        "party", "admit", "--kind", "firm", "--identifier", "91110000600037341M", "--account", "0x" + address, env=env
    )
    assert bad.returncode == 1 and "check" in bad.stderr.lower() and "Traceback" not in bad.stderr

    drawing = tmp_path / "drawing.dwg"
    drawing.write_bytes(b"design drawing for a utility model " * 1000)
    out = run_cli("evidence", "register", str(drawing), "--keystore", str(keystore), "--wait", env=env)
    assert out.returncode == 0, out.stderr
    cert = Path(str(drawing) + ".certificate.json")
    ok = run_cli("verify", str(cert), "--file", str(drawing), env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout

    # only the binding left the machine; the content hash finds the party that registered it first
    side = json.loads(Path(str(drawing) + ".ipledger.json").read_text())
    assert side["partyId"] == 1 and side["binding"] != side["contentHash"] and side["salt"] is None
    shown = run_cli("evidence", "show", side["contentHash"], "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"registrationCount": 1' in shown.stdout and f'"binding": "{side["binding"]}"' in shown.stdout
    words = run_cli("evidence", "show", side["contentHash"], env=env)
    assert words.returncode == 0 and "{" not in words.stdout, words.stdout + words.stderr
    assert f"binding      {side['binding']}" in words.stdout and "registered by #1 " in words.stdout, words.stdout
    assert re.search(r"^on chain     \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+, block \d+$", words.stdout, re.M)
    mine = run_cli("evidence", "show", side["binding"], "--party", "1", "--json", env=env)
    assert mine.returncode == 0 and '"partyId": 1' in mine.stdout, mine.stderr

    drawing.write_bytes(drawing.read_bytes() + b"x")
    tampered = run_cli("verify", str(cert), "--file", str(drawing), env=env)
    assert tampered.returncode == 1 and "NOT VERIFIED" in tampered.stdout

    # several files, SM3, private: one batch submission; the salts stay in the bundle's index
    files = []
    for i in range(3):
        f = tmp_path / f"source-{i}.py"
        f.write_text(f"print({i})\n")
        files.append(str(f))
    bundle_dir = tmp_path / "bundle"
    out = run_cli(
        "evidence", "register", *files, "--keystore", str(keystore), "--alg", "sm3", "--private", "--wait",
        "--out", str(bundle_dir), env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    entry = json.loads((bundle_dir / "index.json").read_text())["entries"][1]
    assert entry["path"] == files[1] and entry["salt"] and entry["binding"] != entry["contentHash"]
    side = {"partyId": entry["partyId"], "contentHash": entry["contentHash"], "salt": entry["salt"]}
    side["binding"] = entry["binding"]
    (tmp_path / "source-1.ipledger.json").write_text(json.dumps(side))
    ok = run_cli("verify", str(bundle_dir / entry["certificate"]), "--file", files[1], env=env)
    assert ok.returncode == 0, ok.stdout
    assert "submission-signature" in ok.stdout

    shown = run_cli("evidence", "show", side["binding"], "--json", env=env)
    assert shown.returncode == 0 and '"method": "batch"' in shown.stdout
    pdf = tmp_path / "cert.pdf"
    out = run_cli(
        "certificate",
        side["binding"],
        "--sidecar",
        str(tmp_path / "source-1.ipledger.json"),
        "-o",
        str(tmp_path / "c.json"),
        "--pdf",
        str(pdf),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert json.loads((tmp_path / "c.json").read_text())["evidence"]["salt"] == side["salt"]
    p.interrupt()
