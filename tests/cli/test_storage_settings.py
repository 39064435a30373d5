"""A wrong journal or index setting stops `ipledger up`, `serve` and `worker` at start, with the error naming the
setting and exit status 1, before they serve a request or send anything. Until they opened the journal at start,
`serve` answered health 200 and then 500 to every registration (`data_dir_error` raised inside the request), and a
malformed IPLEDGER_INDEX_URL was a 500 with a traceback in the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ledger.chain.deployment import manifest_path
from ledger.chain.node import free_port, port_is_free
from ledger.storage.keys import write_keystore
from tests.helpers import IPLEDGER, Chain, account, cli_env

SECRET = "pw-4711"


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([IPLEDGER, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_wrong_journal_and_index_settings_stop_each_process_at_start(anvil: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    anvil.manifest.save(manifest_path(data, anvil.manifest.chain_id))
    keystore = write_keystore(tmp_path / "relayer.json", account("settings-relayer"), "pw", kdf="pbkdf2")
    base = cli_env(IPLEDGER_RPC_URL=anvil.node_url, IPLEDGER_DATA_DIR=str(data), IPLEDGER_KEYSTORE_PASSWORD="pw")
    nobody = f"postgresql+psycopg://ipledger:{SECRET}@127.0.0.1:{free_port()}/journal"  # nothing listens there
    cases = [  # (what, command, setting, value, words the error must say)
        ("serve", ["serve"], "IPLEDGER_JOURNAL_URL", "journal.sqlite3", "not a database URL"),
        ("serve", ["serve"], "IPLEDGER_JOURNAL_URL", "mysql://ipledger@db/journal", "must name a PostgreSQL"),
        ("serve", ["serve"], "IPLEDGER_JOURNAL_URL", "postgresql+asyncpg://ipledger@db/journal", "driver"),
        ("serve", ["serve"], "IPLEDGER_JOURNAL_URL", nobody, "does not answer"),
        ("serve", ["serve"], "IPLEDGER_INDEX_URL", "index.sqlite3", "not a database URL"),
        ("serve", ["serve"], "IPLEDGER_INDEX_URL", "mysql://ipledger@db/index", "PostgreSQL or SQLite"),
        ("serve --workers 2", ["serve", "--workers", "2"], "IPLEDGER_JOURNAL_URL", nobody, "does not answer"),
        ("worker", ["worker"], "IPLEDGER_JOURNAL_URL", "journal.sqlite3", "not a database URL"),
        ("worker", ["worker"], "IPLEDGER_INDEX_URL", "oracle://ipledger@db/index", "PostgreSQL or SQLite"),
        ("up", ["up"], "IPLEDGER_JOURNAL_URL", nobody, "does not answer"),
    ]
    running = []
    for what, args, setting, value, words in cases:
        port, node_port = free_port(), free_port()
        env = {**base, setting: value, "IPLEDGER_PORT": str(port)}
        if what == "worker":
            env["IPLEDGER_KEYSTORE"] = str(keystore)
        if what == "up":  # its own data directory and embedded node
            env.pop("IPLEDGER_RPC_URL")
            env.update(IPLEDGER_DATA_DIR=str(tmp_path / "up"), IPLEDGER_NODE_PORT=str(node_port))
        running.append((what, setting, value, words, port, node_port, _start(args, env)))
    try:
        for what, setting, value, words, port, node_port, proc in running:
            out, err = proc.communicate(timeout=90)
            case = f"{what} with {setting}={value}: exit {proc.returncode}, said {err!r}"
            assert proc.returncode == 1, case
            assert err.startswith("error: ") and setting in err and words in err, case
            assert "Traceback" not in out + err and SECRET not in out + err, case
            assert port_is_free("127.0.0.1", port), f"{case}: its port is still taken"
            if what == "up":
                assert port_is_free("127.0.0.1", node_port), f"{case}: the embedded node still runs"
    finally:  # a process that served instead of stopping is stopped here
        for *_, proc in running:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
