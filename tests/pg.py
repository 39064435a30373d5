"""A throwaway PostgreSQL server on loopback, from Debian's binaries, for the index tests and benchmarks.

``temporary_postgres()`` runs ``initdb`` in a temporary directory (as ``nobody`` when running as root, since
initdb refuses root), starts the server on a free 127.0.0.1 port with fsync off, yields a SQLAlchemy URL, and
stops the server and removes the directory on exit. ``PostgresUnavailable`` says why it cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ledger.chain.node import free_port

PG_BIN = Path(os.environ.get("IPLEDGER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started on this machine (binaries or driver missing)."""


def _tool(name: str) -> str | None:
    path = PG_BIN / name
    return str(path) if path.exists() else shutil.which(name)


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable("the psycopg driver is not installed") from exc
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="ipledger-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as nobody
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(
                "running as root without runuser: cannot start PostgreSQL as an unprivileged user"
            )
        os.chown(root, 65534, 65534)
        prefix = [runuser, "-u", "nobody", "--"]
    data, port = root / "data", free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, env=env, cwd=root, timeout=60)

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        run(
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}\n{log}") from None
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            env=env,
            cwd=root,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server at ``server_url`` (one per test: tests share the server, not data)."""
    import secrets

    from sqlalchemy import create_engine

    name = f"t_{secrets.token_hex(6)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name
