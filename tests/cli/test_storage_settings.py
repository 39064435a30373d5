"""A wrong journal or index setting, or a damaged journal file, stops `ipledger up`, `serve` and `worker` at start,
with an error naming it and exit status 1, before they serve a request, send anything or (`up`) start the node.
Until they opened the journal at start, `serve` answered health 200 and then 500 to every registration
(`data_dir_error` raised inside the request), a malformed IPLEDGER_INDEX_URL was a 500 with a traceback in the log,
and `up` deployed on a new chain before a damaged journal stopped it with "unexpected DatabaseError"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ledger.chain.deployment import manifest_path
from ledger.chain.node import free_port, port_is_free
from ledger.storage.keys import write_keystore
from tests.helpers import IPLEDGER, Chain, account, cli_env

SECRET = "pw-4711"


def test_wrong_journal_and_index_settings_stop_each_process_at_start(anvil: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    anvil.manifest.save(manifest_path(data, anvil.manifest.chain_id))
    keystore = write_keystore(tmp_path / "relayer.json", account("settings-relayer"), "pw", kdf="pbkdf2")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "journal.sqlite3").write_bytes(b"notes.txt saved over the journal\n" * 64)
    nobody = f"postgresql+psycopg://ipledger:{SECRET}@127.0.0.1:{free_port()}/journal"  # nothing listens there
    journal, index = "IPLEDGER_JOURNAL_URL", "IPLEDGER_INDEX_URL"
    cases: list[tuple[str, dict[str, str], str, str]] = [  # command, settings, what the error names, and says
        ("serve", {journal: "journal.sqlite3"}, journal, "not a database URL"),
        ("serve", {journal: "mysql://ipledger@db/journal"}, journal, "must name a PostgreSQL"),
        ("serve", {journal: "postgresql+asyncpg://ipledger@db/journal"}, journal, "driver"),
        ("serve", {journal: nobody}, journal, "does not answer"),
        ("serve", {index: "index.sqlite3"}, index, "not a database URL"),
        ("serve", {index: "mysql://ipledger@db/index"}, index, "PostgreSQL or SQLite"),
        ("serve --workers 2", {journal: nobody}, journal, "does not answer"),
        ("worker", {journal: "journal.sqlite3", "IPLEDGER_KEYSTORE": str(keystore)}, journal, "not a database URL"),
        ("worker", {index: "oracle://ipledger@db/index", "IPLEDGER_KEYSTORE": str(keystore)}, index, "SQLite"),
        ("up", {journal: nobody, "IPLEDGER_DATA_DIR": str(tmp_path / "up")}, journal, "does not answer"),
        ("up", {"IPLEDGER_DATA_DIR": str(damaged)}, str(damaged), "is not a journal this service can open"),
    ]
    base = cli_env(IPLEDGER_RPC_URL=anvil.node_url, IPLEDGER_DATA_DIR=str(data), IPLEDGER_KEYSTORE_PASSWORD="pw")
    running = []
    for command, settings, named, says in cases:
        port, node_port = free_port(), free_port()
        env = {**base, **settings, "IPLEDGER_PORT": str(port)}
        if command == "up":  # its own data directory and embedded node
            del env["IPLEDGER_RPC_URL"]
            env["IPLEDGER_NODE_PORT"] = str(node_port)
        proc = subprocess.Popen(
            [IPLEDGER, *command.split()], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        running.append((command, settings, named, says, port, node_port, Path(env["IPLEDGER_DATA_DIR"]), proc))
    try:
        for command, settings, named, says, port, node_port, data_dir, proc in running:
            out, err = proc.communicate(timeout=90)
            case = f"{command} with {settings}: exit {proc.returncode}, said {err!r}"
            assert proc.returncode == 1, case
            assert err.startswith("error: ") and named in err and says in err, case
            assert "Traceback" not in out + err and SECRET not in out + err, case
            assert port_is_free("127.0.0.1", port), f"{case}: its port is still taken"
            if command == "up":  # refused before the node started: no chain, no deployment
                assert port_is_free("127.0.0.1", node_port), f"{case}: the embedded node still runs"
                made = sorted(p.name for p in data_dir.iterdir())
                assert set(made) <= {"ipledger.lock", "journal.sqlite3"}, f"{case}: made {made}"
        assert (damaged / "journal.sqlite3").read_bytes() == b"notes.txt saved over the journal\n" * 64
    finally:  # a process that served instead of stopping is stopped here
        for *_, proc in running:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_a_data_directory_file_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    """The operator's token and the TSA key's password are text files in the data directory; one overwritten with
    binary was an "unexpected UnicodeDecodeError"."""
    from ledger.errors import DataDirError
    from ledger.storage.tsa import TsaFiles, local_password
    from tests.helpers import run_cli

    data = tmp_path / "data"
    data.mkdir()
    (data / "operator.token").write_bytes(b"\xff\xfe not a token")
    out = run_cli("party", "reinstate", "7", env=cli_env(IPLEDGER_DATA_DIR=str(data)))
    assert out.returncode == 1 and "operator.token cannot be read as the operator's token" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr

    files = TsaFiles(data / "tsa")
    files.directory.mkdir()
    files.password.write_bytes(b"\xff\xfe")
    with pytest.raises(DataDirError, match="key.password cannot be read as the TSA key's password"):
        local_password(files, None)
    assert local_password(files, "configured") == "configured"  # a configured password does not read the file


@pytest.mark.parametrize(
    "url",
    ["ws://127.0.0.1:8545", "127.0.0.1:8545", "http://", "http://127.0.0.1:port", "https://u:pw-4711@node:99999"],
)
def test_a_json_rpc_endpoint_that_is_not_an_http_url_is_refused_by_the_settings(url: str) -> None:
    """It was "unexpected ValueError" from the provider, after the rest had started."""
    from pydantic import ValidationError

    from ledger.config import Settings

    for field in ("rpc_url", "anchor_rpc_url"):
        with pytest.raises(ValidationError, match="must be an http:// or https:// URL") as refused:
            Settings(**{field: url if field == "rpc_url" else f"http://127.0.0.1:8545,{url}"})
        assert SECRET not in refused.value.errors()[0]["msg"]  # what the CLI prints (settings_with)
    assert Settings(rpc_url="https://node.example:8545/rpc?key=1").rpc_url == "https://node.example:8545/rpc?key=1"


def test_the_cli_names_the_endpoint_setting_it_refuses(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    out = run_cli("serve", "--rpc-url", "ws://127.0.0.1:8545", "--data-dir", str(tmp_path))
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith("error: invalid setting IPLEDGER_RPC_URL:") and "Traceback" not in out.stderr
