"""Hashing local files in the CLI: a 0-byte file is refused before anything is sent (a rule of the CLI: the API
receives bindings and hashes, never sizes), unless `evidence register --allow-empty`; a large file shows a progress
bar on stderr in a terminal only.

The API is a recording HTTP server here: what matters is whether a request reached it at all."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from rich.console import Console

import cli.common
from cli.common import PROGRESS_FROM, hash_or_file, hashing_progress
from ledger.domain.hashing import HashAlgorithm, hash_file
from ledger.errors import InvalidInput
from tests.helpers import account, cli_env, run_cli

PASSWORD = "hashing password"


class Recorder(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.requests: list[str] = []
        #: The status and JSON body of every answer.
        self.reply: tuple[int, dict[str, Any]] = (200, {"partyId": None, "active": False, "nonce": 0})
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                recorder.requests.append(f"GET {self.path}")
                status, reply = recorder.reply
                body = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def api() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "party.json"
    path.write_text(json.dumps(Account.encrypt(account("hashing").key, PASSWORD, kdf="pbkdf2", iterations=1000)))
    return path


def one_error_line(out: Any) -> str:
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def test_evidence_register_refuses_an_empty_file_and_sends_nothing(
    api: Recorder, keystore: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    env = cli_env(IPLEDGER_API_URL=api.url, IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    line = one_error_line(run_cli("evidence", "register", str(empty), "--keystore", str(keystore), env=env))
    assert str(empty) in line and "empty" in line and "--allow-empty" in line, line
    assert api.requests == []
    # with another, non-empty file: still refused, still nothing sent
    full = tmp_path / "full.pdf"
    full.write_bytes(b"content")
    out = run_cli("evidence", "register", str(full), str(empty), "--keystore", str(keystore), env=env)
    assert str(empty) in one_error_line(out) and api.requests == []
    # --allow-empty lets it through: the CLI asks the API who the account is (and stops: no party here)
    out = run_cli("evidence", "register", str(empty), "--allow-empty", "--keystore", str(keystore), env=env)
    assert "not an account of any admitted party" in one_error_line(out)
    assert api.requests and api.requests[0].startswith("GET /v1/accounts/"), api.requests
    assert not (tmp_path / "empty.pdf.ipledger.json").exists()


def test_documents_named_by_file_refuse_an_empty_file_and_send_nothing(
    api: Recorder, keystore: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "contract.pdf"
    empty.write_bytes(b"")
    env = cli_env(IPLEDGER_API_URL=api.url, IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    commands = [
        ("agreement", "propose", "assignment", "--asset", "1", "--document", str(empty), "--assignee", "2:10000"),
        ("asset", "confirm", "1", "--extract", str(empty), "--keystore", str(keystore)),
        ("asset", "reject", "1", "--reason", str(empty), "--keystore", str(keystore)),
        ("dispute", "open", "asset", "1", "--claimant", "1", "--respondent", "2", "--claim", str(empty),
         "--keystore", str(keystore)),
        ("dispute", "award", "1", "--outcome", "dismissed", "--award", str(empty), "--keystore", str(keystore)),
    ]  # fmt: skip
    for args in commands:
        line = one_error_line(run_cli(*args, env=env))
        assert str(empty) in line and "empty" in line and "e3b0c442" in line, (args, line)
    assert api.requests == []
    # the hash of nothing, given as a hash, is accepted (asked for explicitly)
    assert hash_or_file("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "--document")
    with pytest.raises(InvalidInput):
        hash_or_file(str(empty), "--document")


def test_hash_file_reports_progress_chunk_by_chunk(tmp_path: Path) -> None:
    f = tmp_path / "big.bin"
    f.write_bytes(b"x" * (3 * (1 << 20) + 5))
    seen: list[int] = []
    assert hash_file(f, HashAlgorithm.SHA256, seen.append) == hash_file(f, HashAlgorithm.SHA256)
    assert seen == [1 << 20, 1 << 20, 1 << 20, 5]


def test_progress_bar_only_for_large_files_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    def drawn(total: int, *, terminal: bool, quiet: bool = False) -> str:
        out = StringIO()
        monkeypatch.setattr(cli.common, "err_console", Console(file=out, force_terminal=terminal, width=100))
        with hashing_progress(total, quiet=quiet) as advance:
            advance(total // 2)
            advance(total - total // 2)
        return out.getvalue()

    assert "hashing" in drawn(PROGRESS_FROM, terminal=True)
    assert drawn(PROGRESS_FROM - 1, terminal=True) == ""
    assert drawn(PROGRESS_FROM, terminal=False) == ""
    assert drawn(PROGRESS_FROM, terminal=True, quiet=True) == ""
