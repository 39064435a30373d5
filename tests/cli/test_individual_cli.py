"""A Hong Kong resident through the CLI, on `ipledger up` (issue 15, "Done when"): admitted as a natural person,
registers a design draft in their own name, gets their own certificate copy naming them, an arbitrator verifies
the certificate and confirms the person; after erasure the name and the HKID are gone from every file of the data
directory (journal, index, personal store, node state, logs) and the certificate still verifies as registered by
"natural person, party N"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import UpProcess
from tests.helpers import cli_env, run_cli

PASSWORD = "person password"
NAME_EN, NAME_ZH, HKID = "Wong Mei Ling", "黃美玲", "AB987654(3)"


@pytest.mark.slow
def test_a_hong_kong_resident_registers_in_their_own_name_and_is_erased(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0"})
    p.wait_healthy()
    env = p.cli_env(PASSWORD)
    keystore = tmp_path / "person.json"
    assert run_cli("keys", "new", str(keystore), env=env).returncode == 0
    address = "0x" + json.loads(keystore.read_text())["address"]
    admit = [
        "party",
        "admit",
        "--kind",
        "individual",
        "--jurisdiction",
        "hksar",
        "--id-scheme",
        "hkid",
        "--identifier",
        "ab987654 (3)",
        "--name-en",
        NAME_EN,
        "--name-zh",
        NAME_ZH,
        "--consent",
        "I consent to the processing of my personal information as docs/privacy.md describes",
        "--account",
        address,
    ]
    bad = run_cli(*[("AB987654(4)" if a == "ab987654 (3)" else a) for a in admit], env=env)
    assert bad.returncode == 1 and "check character" in bad.stderr and "AB987654" not in bad.stderr
    out = run_cli(*admit, env=env)
    assert out.returncode == 0, out.stderr
    assert "natural person, party 1" in out.stdout and NAME_EN not in out.stdout and "AB987654" not in out.stdout
    dup = run_cli(*admit, env=env)
    assert dup.returncode == 1 and "already belongs to party 1" in dup.stderr

    draft = tmp_path / "lamp-design.svg"
    draft.write_bytes(b"<svg><!-- a design draft of a desk lamp --></svg>" * 50)
    out = run_cli("evidence", "register", str(draft), "--keystore", str(keystore), "--wait", env=env)
    assert out.returncode == 0, out.stderr
    public = Path(str(draft) + ".certificate.json")
    content = json.loads(public.read_text())["evidence"]["contentHash"]
    assert NAME_EN not in public.read_text() and "natural person, party 1" in public.read_text()

    own = tmp_path / "own-certificate.json"
    out = run_cli("party", "certificate", "1", content, "-o", str(own), "--keystore", str(keystore), env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(own.read_text())["holder"]["nameEn"] == NAME_EN
    ok = run_cli("verify", str(own), "--file", str(draft), env=env)
    assert ok.returncode == 0 and "natural person, party 1" in ok.stdout, ok.stdout + ok.stderr

    # a named copy for an arbitrator, with the person's signed consent; refused once altered or revoked
    binding = json.loads(public.read_text())["evidence"]["binding"]
    consent = tmp_path / "consent.json"
    give = ["party", "consent", "1", "--to", "HKIAC", "--binding", binding, "--purpose", "arbitration of the lamp"]
    out = run_cli(*give, "--expires", "30d", "-o", str(consent), "--keystore", str(keystore), env=env)
    assert out.returncode == 0 and "recorded" in out.stdout, out.stdout + out.stderr
    copy = tmp_path / "arbitrator-copy.json"
    out = run_cli("party", "certificate", "1", content, "-o", str(copy), "--consent", str(consent), env=env)
    assert out.returncode == 0 and "only in this copy" in out.stdout, out.stdout + out.stderr
    holder = json.loads(copy.read_text())["holder"]
    assert holder["nameEn"] == NAME_EN and holder["recipient"]["name"] == "HKIAC"
    assert holder["consent"]["digest"] == json.loads(consent.read_text())["digest"]
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(json.loads(consent.read_text()) | {"recipient": "Someone Else"}))
    out = run_cli(
        "party", "certificate", "1", content, "-o", str(tmp_path / "x.json"), "--consent", str(altered), env=env
    )
    assert out.returncode == 1 and "does not verify" in out.stderr and NAME_EN not in out.stderr, out.stderr
    later = tmp_path / "later.json"
    out = run_cli(*give, "--expires", "2d", "-o", str(later), "--keystore", str(keystore), "--json", env=env)
    assert out.returncode == 0, out.stderr
    digest = json.loads(out.stdout)["digest"]
    out = run_cli("party", "revoke-consent", "1", digest, "--keystore", str(keystore), env=env)
    assert out.returncode == 0 and "revoked" in out.stdout, out.stderr
    out = run_cli(
        "party", "certificate", "1", content, "-o", str(tmp_path / "y.json"), "--consent", str(later), env=env
    )
    assert out.returncode == 1 and "revoked" in out.stderr, out.stderr
    signed_request = run_cli("party", "personal-data", "sign", "1", "--keystore", str(keystore), env=env)
    assert signed_request.returncode == 0 and json.loads(signed_request.stdout)["partyId"] == 1

    # the arbitrator confirms that the person before them is party 1
    proof = tmp_path / "proof.json"
    out = run_cli("party", "prove", "1", "-o", str(proof), "--keystore", str(keystore), env=env)
    assert out.returncode == 0, out.stderr
    confirmed = run_cli("party", "verify-person", str(proof), "--certificate", str(public), env=env)
    assert confirmed.returncode == 0 and "CONFIRMED" in confirmed.stdout, confirmed.stdout + confirmed.stderr
    forged = json.loads(proof.read_text()) | {"identifier": "A123456(3)"}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    refused = run_cli("party", "verify-person", str(tmp_path / "forged.json"), "--certificate", str(public), env=env)
    assert refused.returncode == 1 and "NOT CONFIRMED" in refused.stdout

    shown = run_cli("party", "personal-data", "show", "1", "--keystore", str(keystore), "--json", env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout)["identifier"] == HKID
    assert any(NAME_EN.encode() in f.read_bytes() for f in p.data_dir.rglob("*") if f.is_file())
    out = run_cli("party", "erase", "1", "--keystore", str(keystore), "--yes", env=env)
    assert out.returncode == 0 and "erased" in out.stdout, out.stderr
    again = run_cli("verify", str(public), "--file", str(draft), env=env)
    assert again.returncode == 0 and "natural person, party 1" in again.stdout, again.stdout
    out = run_cli(
        "party", "certificate", "1", content, "-o", str(tmp_path / "z.json"), "--consent", str(consent), env=env
    )
    assert out.returncode == 1 and "erased" in out.stderr, out.stderr

    assert p.interrupt() == 0
    needles = [NAME_EN.encode(), NAME_ZH.encode(), b"AB987654", NAME_EN.encode("utf-16-le"), b"HKIAC", b"of the lamp"]
    files = [f for f in p.data_dir.rglob("*") if f.is_file()] + [p.log_path]
    assert len(files) > 3
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} remains in {f.relative_to(tmp_path)}"


def test_governance_does_not_propose_admitting_a_natural_person(tmp_path: Path) -> None:
    out = run_cli(
        "governance",
        "propose",
        "admit",
        "--kind",
        "individual",
        "--jurisdiction",
        "hksar",
        "--scheme",
        "person_commitment",
        "--identifier",
        "0x" + "ab" * 32,
        "--account",
        "0x" + "11" * 20,
        "-o",
        str(tmp_path / "p.json"),
        env=cli_env(IPLEDGER_DATA_DIR=str(tmp_path)),
    )
    assert out.returncode == 1 and "admitted by the registrar" in out.stderr, out.stdout + out.stderr
    assert not (tmp_path / "p.json").exists()
