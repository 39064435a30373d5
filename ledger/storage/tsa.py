"""The time-stamp authority's state in the data directory: its client tokens and its keys.

``DATA_DIR/tsa.sqlite3`` (:class:`ClientTokens`) holds one row per client the operator issued a bearer token to:
its name, the SHA-256 of its token (never the token, which is printed once), when it was issued and revoked.
Every change is one SQLite transaction with ``synchronous=FULL`` in rollback-journal mode: a crash leaves the file
as it was before or after the change, never between. Lookups open their own connection, so a token the CLI
revokes is refused by the running service at its next request.

``DATA_DIR/tsa/`` (:class:`TsaFiles`) holds the embedded default's keys, made by :func:`init_local_tsa`: a local
CA certificate (``ca.pem``, self-signed, basicConstraints CA; its private key is discarded once it has issued the
TSA certificate), the TSA certificate (``tsa.pem``, critical extendedKeyUsage timeStamping only, RFC 3161 §2.3)
and the TSA's private key (``tsa.key.pem``, PKCS#8 encrypted under a password: IPLEDGER_TSA_KEY_PASSWORD, or a
random one written to ``key.password`` with mode 0600 when none is set). Each file is written to a temporary
name and renamed into place, so a crash never leaves half a key. Nothing here logs a key or a password.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger.errors import Conflict, DataDirError, InvalidInput, KeystoreError, NotFound, StorageUnavailable
from ledger.storage.files import MIB, read_bounded

#: The file name of the client-token store in the data directory.
DB_NAME = "tsa.sqlite3"
SCHEMA_VERSION = 1
#: Most clients (issued and revoked) the store keeps.
MAX_CLIENTS = 10_000
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Prefix of a client token: tells it apart from the operator token in logs and support requests (never logged).
TOKEN_PREFIX = "tsa_"
#: Longest bearer token looked up (a longer one is no token of ours).
MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True)
class Client:
    name: str
    created_at: int
    revoked_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "createdAt": self.created_at, "revokedAt": self.revoked_at}


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class ClientTokens:
    """The TSA's client tokens in ``DATA_DIR/tsa.sqlite3`` (hashes only)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / DB_NAME

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS clients (name TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL UNIQUE, "
                    "created_at INTEGER NOT NULL, revoked_at INTEGER)"
                )
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            elif version != SCHEMA_VERSION:
                db.close()
                raise StorageUnavailable(f"{self.path} has schema version {version}, not {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"the TSA's client store {self.path} is unusable ({exc})") from None
        return db

    def issue(self, name: str) -> str:
        """A new client token for ``name`` (returned once; only its hash is kept). Conflict if the name exists."""
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise InvalidInput(
                "a client name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", field="name"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM clients WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                raise Conflict(f"a TSA client named {name!r} exists already (revoked ones keep their name)")
            if db.execute("SELECT COUNT(*) FROM clients").fetchone()[0] >= MAX_CLIENTS:
                db.execute("ROLLBACK")
                raise Conflict(f"the TSA has {MAX_CLIENTS} clients already")
            db.execute(
                "INSERT INTO clients (name, token_sha256, created_at) VALUES (?, ?, ?)",
                (name, token_hash(token), int(time.time())),
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"the TSA's client store could not be written ({exc})") from None
        finally:
            db.close()
        return token

    def revoke(self, name: str) -> Client:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT created_at, revoked_at FROM clients WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise NotFound(f"no TSA client named {name!r}", field="name")
            revoked = row[1] if row[1] is not None else int(time.time())
            db.execute("UPDATE clients SET revoked_at = ? WHERE name = ?", (revoked, name))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"the TSA's client store could not be written ({exc})") from None
        finally:
            db.close()
        return Client(name, int(row[0]), revoked)

    def clients(self) -> list[Client]:
        if not self.path.exists():
            return []  # nothing issued yet: a listing creates no file
        db = self._connect()
        try:
            rows = db.execute("SELECT name, created_at, revoked_at FROM clients ORDER BY name").fetchall()
        finally:
            db.close()
        return [Client(str(n), int(c), None if r is None else int(r)) for n, c, r in rows]

    def authenticate(self, token: str) -> str | None:
        """The name of the active client whose token this is, else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH or not self.path.exists():
            return None
        db = self._connect()
        try:
            row = db.execute(
                "SELECT name FROM clients WHERE token_sha256 = ? AND revoked_at IS NULL", (token_hash(token),)
            ).fetchone()
        finally:
            db.close()
        return None if row is None else str(row[0])


# --- keys -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TsaFiles:
    """Where the embedded default keeps the TSA's chain and key."""

    directory: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> TsaFiles:
        return cls(Path(data_dir) / "tsa")

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "tsa.pem"

    @property
    def key(self) -> Path:
        return self.directory / "tsa.key.pem"

    @property
    def password(self) -> Path:
        return self.directory / "key.password"

    def exists(self) -> bool:
        return self.cert.exists() and self.key.exists()


@dataclass(frozen=True)
class TsaMaterial:
    """The TSA's private key (a cryptography key object), its certificate (DER) and the PEM chain it publishes."""

    key: Any
    certificate: bytes
    tsa_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:  # never the key
        return "TsaMaterial(<key hidden>)"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def init_local_tsa(
    data_dir: Path, password: str | None, *, name: str = "Qianhai IP Ledger", force: bool = False
) -> TsaFiles:
    """Creates the embedded default's local CA and TSA certificate and the encrypted TSA key (P-256).

    Conflict when they exist, unless ``force``. Without ``password`` a random one is written to ``key.password``.
    """
    files = TsaFiles.in_data_dir(data_dir)
    if files.exists() and not force:
        raise Conflict(f"the TSA's keys exist already in {files.directory} (--force makes new ones)")
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} local CA"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{name} time-stamp authority"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature, nonRepudiation
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    del ca_key  # the local CA issues this one certificate; its key is never written
    if not password:
        password = secrets.token_urlsafe(32)
        _write_atomically(files.password, (password + "\n").encode(), 0o600)
    elif files.password.exists():
        files.password.unlink()
    key_pem = tsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )
    _write_atomically(files.key, key_pem, 0o600)
    _write_atomically(files.ca, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_atomically(files.cert, tsa.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def ensure_local_tsa(data_dir: Path, password: str | None) -> bool:
    """Makes the embedded default's keys (:func:`init_local_tsa`) unless they exist; True when this call made them.
    Processes sharing the data directory (`ipledger serve` replicas) may ask at once: they take turns under a file
    lock and look again, so the keys are made once, never a key of one with the certificate of another."""
    files = TsaFiles.in_data_dir(data_dir)
    if files.exists():  # the certificate is written last: once it and the key are there, all of it is
        return False
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(data_dir) / ".tsa-init.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if files.exists():
            return False
        init_local_tsa(data_dir, password)
        return True
    finally:
        os.close(fd)  # releases the lock


def load_tsa(
    *,
    cert: Path,
    key: Path,
    ca: Path | None,
    password: str | None,
) -> TsaMaterial:
    """Reads a TSA's certificate (PEM; further certificates after it are its chain), its key (PEM, PKCS#8 or
    traditional, encrypted or not) and the CA certificate it publishes (``ca``; else the last of the chain)."""
    try:
        certs = x509.load_pem_x509_certificates(_pem(cert, "tsa_cert"))
    except FileNotFoundError:
        raise KeystoreError(f"TSA certificate {cert} not found", field="tsa_cert") from None
    except ValueError:
        raise KeystoreError(f"TSA certificate {cert} is not PEM", field="tsa_cert") from None
    try:
        raw_key = _pem(key, "tsa_key")
    except FileNotFoundError:
        raise KeystoreError(f"TSA key {key} not found", field="tsa_key") from None
    try:
        private = serialization.load_pem_private_key(raw_key, password.encode() if password else None)
    except TypeError:
        raise KeystoreError(
            f"TSA key {key} is encrypted: set IPLEDGER_TSA_KEY_PASSWORD", field="tsa_key_password"
        ) from None
    except ValueError:
        raise KeystoreError(
            f"TSA key {key} could not be read (wrong password, or not a PEM private key)", field="tsa_key_password"
        ) from None
    if ca is not None:
        try:
            ca_certs = x509.load_pem_x509_certificates(_pem(ca, "tsa_ca"))
        except (FileNotFoundError, ValueError):
            raise KeystoreError(f"TSA CA certificate {ca} is missing or not PEM", field="tsa_ca") from None
    else:
        ca_certs = certs[1:][-1:]
    pem = serialization.Encoding.PEM
    return TsaMaterial(
        key=private,
        certificate=certs[0].public_bytes(serialization.Encoding.DER),
        tsa_pem=b"".join(c.public_bytes(pem) for c in certs),
        ca_pem=b"".join(c.public_bytes(pem) for c in ca_certs),
    )


def _pem(path: Path | str, field: str) -> bytes:
    """A PEM file of the TSA (certificates or key), read up to 1 MiB (:func:`read_bounded`); more is a
    :class:`KeystoreError` naming ``field``."""
    try:
        return read_bounded(path, 1 * MIB, field=field, what="a PEM file")
    except InvalidInput as exc:
        raise KeystoreError(exc.message, field=field) from None


def local_password(files: TsaFiles, configured: str | None) -> str | None:
    """The TSA key's password: the configured one, else the one ``init_local_tsa`` wrote beside the key."""
    if configured:
        return configured
    try:
        return files.password.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, OSError) as exc:
        raise DataDirError(
            f"{files.password} cannot be read as the TSA key's password ({type(exc).__name__}): restore it, or set"
            " IPLEDGER_TSA_KEY_PASSWORD",
            field="tsa_key_password",
        ) from None


def install_tsa(data_dir: Path, *, cert: Path, key: Path, ca: Path | None, force: bool = False) -> TsaFiles:
    """Copies a TSA certificate chain and key brought by the deployment into DATA_DIR/tsa (the key as given: keep it
    encrypted, its password in IPLEDGER_TSA_KEY_PASSWORD). The caller checks them first (:func:`load_tsa`)."""
    files = TsaFiles.in_data_dir(data_dir)
    if files.exists() and not force:
        raise Conflict(f"the TSA's keys exist already in {files.directory} (--force replaces them)")
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        chain, key_pem = _pem(cert, "tsa_cert"), _pem(key, "tsa_key")
        ca_pem = _pem(ca, "tsa_ca") if ca is not None else b""
    except OSError as exc:
        raise KeystoreError(f"could not read the TSA's files ({exc.strerror})") from None
    _write_atomically(files.key, key_pem, 0o600)
    _write_atomically(files.cert, chain, 0o644)
    if ca_pem:
        _write_atomically(files.ca, ca_pem, 0o644)
    elif files.ca.exists():
        files.ca.unlink()
    if files.password.exists():
        files.password.unlink()  # a key brought along has its own password (IPLEDGER_TSA_KEY_PASSWORD)
    return files
