"""A university whose account is a 2-of-3 Safe signs a licence from the CLI, for real: `ipledger up`, a Safe made
from the deployment's own Safe contracts, `ipledger agreement sign ID --safe SAFE --keystore owner1 --keystore
owner2`; one owner alone is refused; the licence takes effect and its certificate verifies with `ipledger verify`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from ledger.chain import governance as gov
from ledger.chain.sender import TxSender
from ledger.domain import eip712
from ledger.storage.keys import write_keystore
from tests.cli.conftest import UpProcess
from tests.helpers import account, cli_env, council_admit, run_cli

PASSWORD = "safe password"
#: anvil's development account 5 (public key material): pays for the Safe's creation
FUNDED = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"


@pytest.mark.slow
def test_a_safe_university_signs_a_licence_from_the_cli(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_GOVERNANCE_DELAY": "1"}
    )
    p.wait_healthy()
    rpc = f"http://127.0.0.1:{p.node_port}"
    env = cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_DATA_DIR=str(p.data_dir), IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    w3 = Web3(Web3.HTTPProvider(rpc))
    record = json.loads((p.data_dir / "deployments" / "31337.json").read_text())["governance"]
    factory = gov.SafeFactory(record["safeSingleton"], record["safeProxyFactory"], record["fallbackHandler"], 0)
    owners = [account(f"cli-hku-officer-{i}") for i in range(3)]
    safe = gov.create_safe(
        TxSender(w3, Account.from_key(FUNDED)), factory, [o.address for o in owners], 2, salt_nonce=7
    )
    keys = [write_keystore(tmp_path / f"officer{i}.json", o, PASSWORD, kdf="pbkdf2") for i, o in enumerate(owners)]
    firm = account("cli-safe-licensee")
    firm_key = write_keystore(tmp_path / "firm.json", firm, PASSWORD, kdf="pbkdf2")

    def ok(*args: str) -> str:
        out = run_cli(*args, env=env)
        assert out.returncode == 0, f"ipledger {' '.join(args)}\n{out.stdout}\n{out.stderr}"
        return str(out.stdout)

    uni = json.loads(
        ok(
            "party",
            "admit",
            "--json",
            "--kind",
            "university",
            "--identifier",
            "12345678",
            "--jurisdiction",
            "hksar",
            "--scheme",
            "hkbrn",
            "--name-en",
            "Example University of Hong Kong",
            "--account",
            safe,
        )
    )["partyId"]
    p_firm = json.loads(
        ok(
            "party",
            "admit",
            "--json",
            "--kind",
            "firm",
            "--identifier",
            "91110108551385082Q",
            "--name-en",
            "Qianhai Example Tech",
            "--account",
            firm.address,
        )
    )["partyId"]

    # the patent, registered by the Safe (two officers) through the API
    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": "Battery separator",
        "filingDate": "2017-07-20",
        "owners": [{"partyId": uni, "share": 10_000}],
    }
    payload = httpx.post(f"{p.api}/v1/assets/payload", json=fields).json()
    fields["deadline"] = payload["typedData"]["message"]["deadline"]
    sig = gov.safe_wallet_signature(owners[:2], 31337, safe, eip712.digest(payload["typedData"]))
    resp = httpx.post(
        f"{p.api}/v1/assets", json={**fields, "signatures": [{"signer": safe, "signature": "0x" + sig.hex()}]}
    )
    assert resp.status_code == 201, resp.text
    asset = str(resp.json()["assetId"])
    # an asset verifier, admitted by the council, confirms the claim before anything is dealt in it
    verifier = account("cli-safe-verifier")
    verifier_key = write_keystore(tmp_path / "verifier.json", verifier, PASSWORD, kdf="pbkdf2")
    council_admit(
        env,
        rpc,
        tmp_path / "admit-verifier.json",
        "--kind",
        "asset_verifier",
        "--scheme",
        "other",
        "--identifier",
        "VERIFIER-0001",
        "--name-en",
        "Example Patent Agency",
        "--account",
        verifier.address,
    )
    assert (
        json.loads(ok("asset", "confirm", asset, "--extract", "ef" * 32, "--keystore", str(verifier_key), "--json"))[
            "status"
        ]
        == "confirmed"
    )

    end = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    lid = json.loads(
        ok(
            "agreement",
            "propose",
            "--json",
            "licence",
            "--asset",
            asset,
            "--document",
            "ab" * 32,
            "--licensee",
            str(p_firm),
            "--type",
            "exclusive",
            "--territory",
            "CN",
            "--end",
            end,
            "--royalty-basis",
            "percentage",
            "--royalty-rate",
            "300",
        )
    )["agreementId"]

    one = run_cli("agreement", "sign", lid, "--safe", safe, "--keystore", str(keys[0]), "--yes", env=env)
    assert one.returncode == 1 and "does not verify" in one.stderr and "Traceback" not in one.stderr
    several = run_cli(
        "agreement", "sign", lid, "--keystore", str(keys[0]), "--keystore", str(keys[1]), "--yes", env=env
    )
    assert several.returncode == 1 and "--safe" in several.stderr
    signed = ok(
        "agreement", "sign", lid, "--safe", safe, "--keystore", str(keys[2]), "--keystore", str(keys[0]), "--yes"
    )
    assert "still to sign" in signed
    ok("agreement", "sign", lid, "--keystore", str(firm_key), "--yes")
    assert json.loads(ok("agreement", "execute", lid, "--json"))["status"] == "effective"

    cert = tmp_path / "licence.json"
    ok("agreement", "certificate", lid, "-o", str(cert))
    assert any(s["signer"] == safe for s in json.loads(cert.read_text())["signatures"])
    verified = run_cli("verify", str(cert), "--rpc-url", rpc, env=env)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr

    # the Safe university registers evidence, singly and as a batch, signed by two of its three officers
    thesis = tmp_path / "thesis.pdf"
    thesis.write_bytes(b"%PDF-1.4 a thesis chapter on battery separators\n")
    one_owner = run_cli("evidence", "register", str(thesis), "--safe", safe, "--keystore", str(keys[1]), env=env)
    assert one_owner.returncode == 1 and "Traceback" not in one_owner.stderr, one_owner.stdout + one_owner.stderr
    ok("evidence", "register", str(thesis), "--safe", safe, "--keystore", str(keys[1]), "--keystore", str(keys[2]),
       "--wait")  # fmt: skip
    registered = Path(str(thesis) + ".certificate.json")
    assert json.loads(registered.read_text())["registrant"]["account"] == safe
    checked = run_cli("verify", str(registered), "--file", str(thesis), "--rpc-url", rpc, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    chapters = [tmp_path / f"chapter{i}.txt" for i in range(2)]
    for i, f in enumerate(chapters):
        f.write_text(f"chapter {i}\n")
    bundle = tmp_path / "chapters"
    ok("evidence", "register", *map(str, chapters), "--safe", safe, "--keystore", str(keys[0]), "--keystore",
       str(keys[1]), "--wait", "--out", str(bundle))  # fmt: skip
    assert len(list(bundle.rglob("*.certificate.json"))) == 2
    p.interrupt()
