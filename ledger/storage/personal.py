"""The personal data of natural persons admitted as parties: the only place the service keeps a person's names,
identity document number and salt (``personal.sqlite3`` in the data directory, with the service key
``person.key`` beside it). Nothing personal goes on chain, into the journal, the index or a log (docs/privacy.md).

File policy. SQLite with ``PRAGMA secure_delete=ON`` (deleted content is overwritten with zeros in the database
file), ``journal_mode=DELETE`` (the rollback journal is a short-lived file removed at each commit; no WAL that would
keep old pages beside the database) and ``synchronous=FULL``. An erasure deletes the row's personal columns, then
runs ``VACUUM`` so that no free page keeps them.

Rows (table ``persons``, one per admission of a natural person):

- ``commitment`` (primary key): the salted commitment the chain holds as the party's identifier;
- ``keyed_hash``: HMAC-SHA256(service key, scheme|identifier), unique: the same document cannot be admitted twice;
- ``state``: ``pending`` (written before the admission is sent), ``admitted`` (the party exists, ``party_id`` set),
  ``erased`` (the person asked for erasure: every personal column is NULL, only party id and commitment remain);
- ``id_scheme``, ``identifier``, ``name_zh``, ``name_en``, ``salt``: the personal data;
- ``consent_text``, ``consent_version``, ``consent_at``: the consent the person gave and when (unix seconds);
- ``erased_at``: when the erasure was done.

Crash safety of an admission (``ledger.services.parties``): the pending row is committed before the admission is
sent, and marked admitted after it is mined. A crash between the two leaves a pending row; :meth:`PersonalStore.
pending` lists them and the service settles each on restart against the chain: admitted if the commitment is
held by a party, deleted otherwise. A pending row never outlives the next start of the service without a party.

Table ``consents``: the consents a person signed for a named recipient to obtain a copy of their certificates
naming them (docs/privacy.md "Consent to a named recipient"): the EIP-712 digest (primary key), party, signing
account, recipient's name and optional party id, the bindings covered (JSON list of hex), the purpose, the expiry,
the signature, when it was recorded and revoked, and how many copies were issued under it (and the last time).
Every consent of a party is deleted with the party's personal data on erasure.

Table ``request_nonces``: per party, the nonce the person's next signed request (access, erasure) must carry; it
holds no personal data and outlives an erasure, so that an old signed request cannot be replayed.

The service key (``person.key``, 32 random bytes, mode 0600) is generated once and never logged; losing it only
loses duplicate detection for the persons admitted before.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import Conflict, DataDirError
from ledger.storage.journal import storage_errors

#: File names in the data directory.
PERSONAL_FILE = "personal.sqlite3"
KEY_FILE = "person.key"

SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    commitment TEXT PRIMARY KEY,
    keyed_hash TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'admitted', 'erased')),
    party_id INTEGER UNIQUE,
    id_scheme TEXT,
    identifier TEXT,
    name_zh TEXT,
    name_en TEXT,
    salt BLOB,
    consent_text TEXT,
    consent_version TEXT,
    consent_at INTEGER,
    created_at INTEGER NOT NULL,
    erased_at INTEGER
);
CREATE TABLE IF NOT EXISTS consents (
    digest TEXT PRIMARY KEY,
    party_id INTEGER NOT NULL,
    account TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_party INTEGER NOT NULL,
    bindings TEXT NOT NULL,
    purpose TEXT NOT NULL,
    expires INTEGER NOT NULL,
    signature BLOB NOT NULL,
    recorded_at INTEGER NOT NULL,
    revoked_at INTEGER,
    issued INTEGER NOT NULL DEFAULT 0,
    last_issued_at INTEGER
);
CREATE INDEX IF NOT EXISTS consents_party ON consents (party_id);
CREATE TABLE IF NOT EXISTS request_nonces (
    party_id INTEGER PRIMARY KEY,
    nonce INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class PersonRecord:
    """One row of ``persons`` (personal fields None once erased)."""

    commitment: str
    state: str
    party_id: int | None
    id_scheme: str | None
    identifier: str | None
    name_zh: str | None
    name_en: str | None
    salt: bytes | None
    consent_text: str | None
    consent_version: str | None
    consent_at: int | None
    created_at: int
    erased_at: int | None


@dataclass(frozen=True)
class ConsentRecord:
    """One row of ``consents``."""

    digest: str
    party_id: int
    account: str
    recipient: str
    recipient_party: int
    bindings: tuple[str, ...]
    purpose: str
    expires: int
    signature: bytes
    recorded_at: int
    revoked_at: int | None
    issued: int
    last_issued_at: int | None


_CONSENT_COLUMNS = (
    "digest, party_id, account, recipient, recipient_party, bindings, purpose, expires, signature, recorded_at, "
    "revoked_at, issued, last_issued_at"
)


def _consent(row: Any) -> ConsentRecord:
    values = list(row)
    values[5] = tuple(json.loads(values[5]))
    return ConsentRecord(*values)


_COLUMNS = (
    "commitment, state, party_id, id_scheme, identifier, name_zh, name_en, salt, consent_text, consent_version, "
    "consent_at, created_at, erased_at"
)


def load_or_create_key(path: Path) -> bytes:
    """The service key at ``path``: 32 bytes, created once with mode 0600 (never overwritten). It appears whole:
    written and synced under a name of its own, then linked to ``path`` only if nothing is there yet, so another
    process sharing the data directory never reads it half-written, and of two creating it at once one wins."""
    if not path.exists():
        staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(staged, path)
            except FileExistsError:
                pass  # another process made it first: its key is the key
        finally:
            staged.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != 32:
        raise DataDirError(f"{path.name} in the data directory is not a 32-byte key")
    return key


class PersonalStore:
    """The personal-data store of a data directory. Thread-safe: one short connection per operation, under a lock."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / PERSONAL_FILE
        self._lock = threading.Lock()
        self._key: bytes | None = None
        with self._db() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @property
    def service_key(self) -> bytes:
        if self._key is None:
            self._key = load_or_create_key(self.data_dir / KEY_FILE)
        return self._key

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock, storage_errors():
            new = not self.path.exists()
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                if new:
                    os.chmod(self.path, 0o600)
                db.execute("PRAGMA secure_delete=ON")
                db.execute("PRAGMA journal_mode=DELETE")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    # --- admission ---------------------------------------------------------------------------------

    def add_pending(
        self,
        *,
        commitment: str,
        keyed_hash: str,
        id_scheme: str,
        identifier: str,
        name_zh: str,
        name_en: str,
        salt: bytes,
        consent_text: str,
        consent_version: str,
        now: int | None = None,
    ) -> None:
        """Records a person before the admission is sent; :class:`Conflict` (naming no personal data) if the same
        document is already held (admitted, or an admission in progress)."""
        at = int(now if now is not None else time.time())
        with self._db() as db:
            row = db.execute("SELECT state, party_id FROM persons WHERE keyed_hash = ?", (keyed_hash,)).fetchone()
            if row is not None:
                state, party_id = row
                if state == "pending":
                    raise Conflict("an admission of this person is already in progress", field="identifier")
                raise Conflict(
                    f"this identity document already belongs to party {party_id}",
                    field="identifier",
                    details={"partyId": int(party_id)},
                )
            db.execute(
                "INSERT INTO persons (commitment, keyed_hash, state, id_scheme, identifier, name_zh, name_en, salt, "
                "consent_text, consent_version, consent_at, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, "
                "?, ?)",
                (
                    commitment,
                    keyed_hash,
                    id_scheme,
                    identifier,
                    name_zh,
                    name_en,
                    salt,
                    consent_text,
                    consent_version,
                    at,
                    at,
                ),
            )

    def mark_admitted(self, commitment: str, party_id: int) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE persons SET state = 'admitted', party_id = ? WHERE commitment = ? AND state = 'pending'",
                (int(party_id), commitment),
            )

    def drop_pending(self, commitment: str) -> None:
        """Deletes a pending row whose admission did not happen, then vacuums."""
        with self._db() as db:
            db.execute("DELETE FROM persons WHERE commitment = ? AND state = 'pending'", (commitment,))
        self.vacuum()

    def pending(self, older_than: int | None = None) -> list[str]:
        """The commitments of admissions recorded but not settled (a crash between sending and marking), those
        recorded before ``older_than`` (unix seconds) when given."""
        limit = older_than if older_than is not None else 2**62
        with self._db() as db:
            rows = db.execute(
                "SELECT commitment FROM persons WHERE state = 'pending' AND created_at <= ?", (int(limit),)
            )
            return [r[0] for r in rows]

    # --- reads -------------------------------------------------------------------------------------

    def by_party(self, party_id: int) -> PersonRecord | None:
        with self._db() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM persons WHERE party_id = ?", (int(party_id),)).fetchone()
        return PersonRecord(*row) if row is not None else None

    def holder(self, keyed_hash: str) -> tuple[str, int | None] | None:
        with self._db() as db:
            row = db.execute("SELECT state, party_id FROM persons WHERE keyed_hash = ?", (keyed_hash,)).fetchone()
        return (str(row[0]), row[1]) if row is not None else None

    # --- signed requests ---------------------------------------------------------------------------

    def request_nonce(self, party_id: int) -> int:
        with self._db() as db:
            row = db.execute("SELECT nonce FROM request_nonces WHERE party_id = ?", (int(party_id),)).fetchone()
        return int(row[0]) if row is not None else 0

    def use_nonce(self, party_id: int, nonce: int) -> bool:
        """Consumes ``nonce`` if it is the party's next one (compare-and-set); False otherwise."""
        with self._db() as db:
            row = db.execute("SELECT nonce FROM request_nonces WHERE party_id = ?", (int(party_id),)).fetchone()
            current = int(row[0]) if row is not None else 0
            if nonce != current:
                return False
            db.execute(
                "INSERT INTO request_nonces (party_id, nonce) VALUES (?, ?) "
                "ON CONFLICT(party_id) DO UPDATE SET nonce = excluded.nonce",
                (int(party_id), current + 1),
            )
            return True

    # --- consents to named recipients --------------------------------------------------------------

    def add_consent(self, consent: ConsentRecord, max_per_party: int) -> None:
        """Records a consent (its digest unique); :class:`Conflict` if it is recorded already or the party holds
        ``max_per_party`` consents."""
        with self._db() as db:
            if db.execute("SELECT 1 FROM consents WHERE digest = ?", (consent.digest,)).fetchone() is not None:
                raise Conflict("this consent is already recorded", field="signature")
            (count,) = db.execute("SELECT COUNT(*) FROM consents WHERE party_id = ?", (consent.party_id,)).fetchone()
            if int(count) >= max_per_party:
                raise Conflict(
                    f"party {consent.party_id} holds {max_per_party} consents, the most kept", field="party_id"
                )
            db.execute(
                f"INSERT INTO consents ({_CONSENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    consent.digest,
                    consent.party_id,
                    consent.account,
                    consent.recipient,
                    consent.recipient_party,
                    json.dumps(list(consent.bindings)),
                    consent.purpose,
                    consent.expires,
                    consent.signature,
                    consent.recorded_at,
                    consent.revoked_at,
                    consent.issued,
                    consent.last_issued_at,
                ),
            )

    def consent(self, digest: str) -> ConsentRecord | None:
        with self._db() as db:
            row = db.execute(f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE digest = ?", (digest,)).fetchone()
        return _consent(row) if row is not None else None

    def consents(self, party_id: int) -> list[ConsentRecord]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE party_id = ? ORDER BY recorded_at, digest",
                (int(party_id),),
            ).fetchall()
        return [_consent(r) for r in rows]

    def revoke_consent(self, digest: str, now: int | None = None) -> None:
        at = int(now if now is not None else time.time())
        with self._db() as db:
            db.execute("UPDATE consents SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL", (at, digest))

    def consent_issued(self, digest: str, now: int | None = None) -> None:
        at = int(now if now is not None else time.time())
        with self._db() as db:
            db.execute("UPDATE consents SET issued = issued + 1, last_issued_at = ? WHERE digest = ?", (at, digest))

    # --- erasure -----------------------------------------------------------------------------------

    def erase(self, party_id: int, now: int | None = None) -> bool:
        """Deletes every personal column of the party's row (names, identifier, salt, keyed hash, consent text) and
        every consent the person gave to a named recipient, keeps the party id, commitment and dates, and vacuums.
        False if there was nothing to erase."""
        at = int(now if now is not None else time.time())
        with self._db() as db:
            cur = db.execute(
                "UPDATE persons SET state = 'erased', keyed_hash = NULL, id_scheme = NULL, identifier = NULL, "
                "name_zh = NULL, name_en = NULL, salt = NULL, consent_text = NULL, erased_at = ? "
                "WHERE party_id = ? AND state = 'admitted'",
                (at, int(party_id)),
            )
            changed = cur.rowcount > 0
            if changed:
                db.execute("DELETE FROM consents WHERE party_id = ?", (int(party_id),))
        self.vacuum()
        return changed

    def vacuum(self) -> None:
        with self._lock, storage_errors():
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                db.execute("PRAGMA secure_delete=ON")
                db.execute("VACUUM")
            finally:
                db.close()

    def rows(self) -> list[dict[str, Any]]:
        """Every row, for the data-directory audit in tests and operations (no salt bytes)."""
        with self._db() as db:
            cur = db.execute(f"SELECT {_COLUMNS} FROM persons ORDER BY created_at")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
