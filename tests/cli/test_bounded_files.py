"""Every file a CLI command reads whole (a certificate, a token, a case file, a keystore, a key, a metadata file,
a proof) is read up to a bound: an endless device (``/dev/zero``) or an oversized file is refused with an error
naming it, having read one byte past the bound. Until then `ipledger tsa certificate /dev/zero` never returned,
and a 50 GB file given as a case file or a certificate was read whole into memory before any check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ledger.errors import InvalidInput
from ledger.storage.files import read_bounded, read_bounded_text
from ledger.storage.keys import write_keystore
from tests.helpers import IPLEDGER, account, cli_env

NOBODY = "http://127.0.0.1:9"  # no node: every refusal below comes before one is asked


def test_an_endless_or_oversized_file_is_refused_by_every_command_that_reads_one_whole(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.zip"
    with sparse.open("wb") as fh:  # 300 MiB that take no disk: past the case file's 256 MiB
        fh.truncate(300 * 1024 * 1024)
    work = tmp_path / "work.txt"
    work.write_text("a work\n")
    keystore = write_keystore(tmp_path / "firm.json", account("bounded-files"), "pw", kdf="pbkdf2")
    cases = [  # (arguments, what the error says)
        (["tsa", "certificate", "/dev/zero"], "larger than an RFC 3161 token can be (1 MiB)"),
        (["verify", "/dev/zero", "--rpc-url", NOBODY], "larger than a certificate, token or case file can be"),
        (["verify-case", str(sparse), "--rpc-url", NOBODY], "larger than a case file can be (256 MiB)"),
        (["keys", "import", str(tmp_path / "new.json"), "--key-file", "/dev/zero"], "larger than a private key"),
        (["evidence", "register", str(work), "--keystore", "/dev/zero"], "larger than a keystore can be (1 MiB)"),
        (
            ["evidence", "register", str(work), "--keystore", str(keystore), "--metadata", "/dev/zero"],
            "larger than a metadata file can be (256 KiB)",
        ),
        (
            ["party", "verify-person", "/dev/zero", "--certificate", "/dev/zero", "--rpc-url", NOBODY],
            "larger than a certificate can be (16 MiB)",
        ),
    ]
    env = cli_env(IPLEDGER_KEYSTORE_PASSWORD="pw", IPLEDGER_DATA_DIR=str(tmp_path / "data"), IPLEDGER_API_URL=NOBODY)
    running = [
        (
            args,
            says,
            subprocess.Popen([IPLEDGER, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        )
        for args, says in cases
    ]
    try:
        for args, says, proc in running:
            _, err = proc.communicate(timeout=90)
            case = f"ipledger {' '.join(args)}: exit {proc.returncode}, said {err!r}"
            assert proc.returncode == 1 and err.startswith("error: ") and says in err, case
            assert "Traceback" not in err, case
    finally:
        for *_, proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert not (tmp_path / "new.json").exists()  # nothing was written for a refused key


def test_read_bounded_reads_one_byte_past_the_bound_and_no_more(tmp_path: Path) -> None:
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 1024)
    assert read_bounded(exact, 1024, field="f", what="a thing") == b"x" * 1024
    with pytest.raises(InvalidInput, match=r"larger than a thing can be \(1,023 bytes\)") as refused:
        read_bounded(exact, 1023, field="f", what="a thing")
    assert refused.value.field == "f"
    with pytest.raises(InvalidInput, match="larger than"):
        read_bounded("/dev/zero", 4096, field="f", what="a thing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidInput, match="is not UTF-8 text"):
        read_bounded_text(binary, 16, field="f", what="a thing")
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "missing", 16, field="f", what="a thing")


def test_the_library_reads_a_proposal_a_reader_keystore_and_tsa_files_up_to_a_bound(tmp_path: Path) -> None:
    from ledger.chain.governance import GovernanceError, Proposal
    from ledger.errors import KeystoreError
    from ledger.storage.tsa import load_tsa
    from ledger.storage.vault.keys import load_reader_keystore

    with pytest.raises(GovernanceError, match="larger than 1 MB"):
        Proposal.load(Path("/dev/zero"))
    with pytest.raises(KeystoreError, match="larger than a reader keystore can be"):
        load_reader_keystore(Path("/dev/zero"), "pw")
    with pytest.raises(KeystoreError, match="larger than a PEM file can be") as refused:
        load_tsa(cert=Path("/dev/zero"), key=Path("/dev/zero"), ca=None, password=None)
    assert refused.value.field == "tsa_cert"
    out = subprocess.run(
        [IPLEDGER, "tsa", "init", "--cert", "/dev/zero", "--key", "/dev/zero"],
        env=cli_env(IPLEDGER_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "larger than a PEM file can be (1 MiB)" in out.stderr, out.stderr
    assert not (tmp_path / "data" / "tsa").exists()
