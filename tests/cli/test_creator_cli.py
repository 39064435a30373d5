"""Creators through the CLI, on `ipledger up` (issue 15, "creators linked to parties"): a firm registers a design
draft naming its employee, a Hong Kong resident admitted as a natural person, as the designer; the designer adds
her own signature with `evidence endorse`; the firm's certificate lists both the metadata and the endorsement, and
`ipledger verify` checks them against the chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import UpProcess
from tests.helpers import run_cli

PASSWORD = "creator password"


def _keystore(path: Path, env: dict[str, str]) -> str:
    assert run_cli("keys", "new", str(path), env=env).returncode == 0
    return "0x" + json.loads(path.read_text())["address"]


@pytest.mark.slow
def test_a_designer_signs_her_employers_registration(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0"})
    p.wait_healthy()
    env = p.cli_env(PASSWORD)
    firm_key, person_key = tmp_path / "firm.json", tmp_path / "designer.json"
    firm_address, person_address = _keystore(firm_key, env), _keystore(person_key, env)
    firm = run_cli(
        "party", "admit", "--kind", "firm", "--jurisdiction", "mainland", "--scheme", "uscc",
        "--identifier", "91110108551385082Q", "--name-en", "Qianhai Hinge Ltd", "--account", firm_address,
        env=env,
    )  # fmt: skip
    assert firm.returncode == 0, firm.stderr
    person = run_cli(
        "party", "admit", "--kind", "individual", "--jurisdiction", "hksar", "--id-scheme", "hkid",
        "--identifier", "AB987654(3)", "--name-en", "Wong Mei Ling", "--consent", "I consent (docs/privacy.md)",
        "--account", person_address,
        env=env,
    )  # fmt: skip
    assert person.returncode == 0, person.stderr

    draft = tmp_path / "hinge.svg"
    draft.write_bytes(b"<svg><!-- a folding hinge, sheet 1 --></svg>" * 40)
    bad = run_cli(
        "evidence", "register", str(draft), "--keystore", str(firm_key), "--creator-party", "2:janitor", env=env
    )
    assert bad.returncode == 1 and "role" in bad.stderr, bad.stdout + bad.stderr
    bad = run_cli(
        "evidence", "register", str(draft), "--keystore", str(firm_key), "--creator-party", "9:designer", env=env
    )
    assert bad.returncode == 1 and "not admitted" in bad.stderr, bad.stdout + bad.stderr
    assert not Path(str(draft) + ".ipledger.json").exists()  # refused before anything was sent or written
    out = run_cli(
        "evidence", "register", str(draft), "--keystore", str(firm_key), "--title", "Folding hinge",
        "--kind", "design", "--creator-party", "2:designer", "--created-at", "2026-11-30", "--wait",
        env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    sidecar = json.loads(Path(str(draft) + ".ipledger.json").read_text())
    assert sidecar["metadata"]["creators"] == [{"partyId": 2, "role": "designer"}]

    refused = run_cli(
        "evidence", "endorse", "--file", str(draft), "--registrant-party", "1", "--role", "designer",
        "--keystore", str(firm_key), env=env,
    )  # fmt: skip
    assert refused.returncode == 1 and "registered this record" in refused.stderr, refused.stdout + refused.stderr
    signed = run_cli(
        "evidence", "endorse", "--file", str(draft), "--registrant-party", "1", "--role", "designer",
        "--keystore", str(person_key), env=env,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert "natural person" in signed.stdout and "endorsed, as designer" in signed.stdout, signed.stdout
    assert "Wong Mei Ling" not in signed.stdout

    cert_path = tmp_path / "hinge.certificate.json"
    out = run_cli("certificate", "--sidecar", str(draft) + ".ipledger.json", "-o", str(cert_path), env=env)
    assert out.returncode == 0, out.stderr
    cert = json.loads(cert_path.read_text())
    assert cert["evidence"]["metadata"]["title"] == "Folding hinge"
    assert [(e["partyId"], e["role"]) for e in cert["endorsements"]] == [(2, "designer")]
    ok = run_cli("verify", str(cert_path), "--file", str(draft), env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "endorsements" in ok.stdout and "party 2 as designer" in ok.stdout, ok.stdout
    cert["endorsements"][0]["role"] = "author"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(cert))
    bad = run_cli("verify", str(forged), "--file", str(draft), env=env)
    assert bad.returncode == 1 and "endorsements" in bad.stdout, bad.stdout
