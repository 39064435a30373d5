"""Where the vault keeps envelopes and ciphertext blobs: the :class:`Storage` port (every method's contract:
atomicity, compare-and-swap, which error), :class:`MemoryStorage` and :class:`LocalStorage` (the data
directory's ``vault/``), and the atomic file writes they and the reader keystores use.
"""

from __future__ import annotations

import fcntl
import hmac
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from ledger.errors import Conflict, LedgerError, NotFound
from ledger.storage.vault.envelope import document_id_arg

# --- errors -------------------------------------------------------------------------------------


class VaultStorageError(LedgerError):
    """The storage backend could not read or write (disk full, permissions, ...)."""

    code = "vault_storage_error"


# --- the port -----------------------------------------------------------------------------------


class Storage(Protocol):
    """Where envelopes and ciphertext blobs live, by document id (and, for blobs, blob id).

    The envelope is the commit point: a document exists when its envelope does. Implementations must
    make every put atomic (a reader sees the old bytes or the new bytes, never a mixture or a prefix),
    durable when it returns, and :meth:`put_envelope` a compare-and-swap. Ids are checked by the vault
    (``[A-Za-z0-9][A-Za-z0-9_-]{0,127}``) and safe as file names. Failures of the medium raise
    :class:`VaultStorageError`.
    """

    def exists(self, document_id: str) -> bool:
        """Whether the document's envelope exists."""
        ...

    def get_envelope(self, document_id: str) -> bytes:
        """The envelope's bytes; :class:`~ledger.errors.NotFound` if there is none."""
        ...

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        """Write the envelope atomically, only if the current one is ``expected``.

        ``expected=None`` creates (:class:`~ledger.errors.Conflict` if an envelope exists); otherwise
        the current bytes must equal ``expected`` (:class:`~ledger.errors.Conflict` if they differ,
        :class:`~ledger.errors.NotFound` if there is none).
        """
        ...

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        """The blob's bytes; :class:`~ledger.errors.NotFound` if there is none."""
        ...

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        """Write a blob atomically (blob ids are unique; a blob is never rewritten)."""
        ...

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        """Remove a blob; no error if it is already gone."""
        ...

    def delete(self, document_id: str) -> None:
        """Remove the envelope and every blob of the document; :class:`~ledger.errors.NotFound` if none."""
        ...


def _unknown_document(document_id: str) -> NotFound:
    return NotFound(f"no document {document_id} in the vault", field="document_id")


class MemoryStorage:
    """A :class:`Storage` in a dictionary (tests, and a reference for writing other backends)."""

    def __init__(self) -> None:
        self.envelopes: dict[str, bytes] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def exists(self, document_id: str) -> bool:
        return document_id in self.envelopes

    def get_envelope(self, document_id: str) -> bytes:
        try:
            return self.envelopes[document_id]
        except KeyError:
            raise _unknown_document(document_id) from None

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        with self._lock:
            current = self.envelopes.get(document_id)
            _check_expected(document_id, current, expected)
            self.envelopes[document_id] = bytes(data)

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        try:
            return self.blobs[(document_id, blob_id)]
        except KeyError:
            raise NotFound(f"no blob {blob_id} of document {document_id}", field="blob_id") from None

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        with self._lock:
            self.blobs[(document_id, blob_id)] = bytes(data)

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        with self._lock:
            self.blobs.pop((document_id, blob_id), None)

    def delete(self, document_id: str) -> None:
        with self._lock:
            if self.envelopes.pop(document_id, None) is None:
                raise _unknown_document(document_id)
            for key in [k for k in self.blobs if k[0] == document_id]:
                del self.blobs[key]


def _check_expected(document_id: str, current: bytes | None, expected: bytes | None) -> None:
    if expected is None:
        if current is not None:
            raise Conflict(f"document {document_id} already exists", field="document_id")
    elif current is None:
        raise _unknown_document(document_id)
    elif not hmac.compare_digest(current, expected):
        raise Conflict(f"document {document_id} changed while it was being updated; try again", field="document_id")


def write_temp_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh 0600 file beside ``path`` and fsync it; return its path."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` so that it holds the old bytes or all the new bytes: temp file, fsync, rename."""
    tmp = write_temp_file(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Flushes a directory's entries (a rename or unlink in it) to disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mkdir_private(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


class LocalStorage:
    """A :class:`Storage` on the local disk, by default ``<data_dir>/vault``.

    Layout: ``<root>/<documentId>/envelope.json``, ``<root>/<documentId>/<blobId>.blob`` and a lock
    file ``<root>/<documentId>/.lock``. Directories are created 0700 and files 0600; every write goes
    to a temporary file that is fsynced and then renamed over the target, and the directory is
    fsynced after. Envelope updates hold an exclusive ``flock`` on the document's lock file.
    """

    ENVELOPE = "envelope.json"
    LOCK = ".lock"

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> LocalStorage:
        return cls(Path(data_dir) / "vault")

    def _dir(self, document_id: str) -> Path:
        return self.root / document_id_arg(document_id)

    def _blob_path(self, document_id: str, blob_id: str) -> Path:
        return self._dir(document_id) / f"{document_id_arg(blob_id, 'blob_id')}.blob"

    def _ensure_dir(self, document_id: str) -> Path:
        directory = self._dir(document_id)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        _mkdir_private(self.root)
        _mkdir_private(directory)
        return directory

    @contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        fd = os.open(directory / self.LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def _io(self, action: str, document_id: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise VaultStorageError(
                f"vault storage could not {action} for document {document_id} ({exc.strerror or exc})",
                details={"documentId": document_id},
            ) from exc

    def exists(self, document_id: str) -> bool:
        with self._io("check the envelope", document_id):
            return (self._dir(document_id) / self.ENVELOPE).is_file()

    def get_envelope(self, document_id: str) -> bytes:
        path = self._dir(document_id) / self.ENVELOPE
        with self._io("read the envelope", document_id):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise _unknown_document(document_id) from None

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        with self._io("write the envelope", document_id):
            directory = self._ensure_dir(document_id)
            path = directory / self.ENVELOPE
            with self._locked(directory):
                try:
                    current: bytes | None = path.read_bytes()
                except FileNotFoundError:
                    current = None
                _check_expected(document_id, current, expected)
                _atomic_write(path, bytes(data))

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        path = self._blob_path(document_id, blob_id)
        with self._io("read the ciphertext", document_id):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise NotFound(f"no blob {blob_id} of document {document_id}", field="blob_id") from None

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        path = self._blob_path(document_id, blob_id)
        with self._io("write the ciphertext", document_id):
            self._ensure_dir(document_id)
            _atomic_write(path, bytes(data))

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        path = self._blob_path(document_id, blob_id)
        with self._io("delete the ciphertext", document_id):
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)

    def delete(self, document_id: str) -> None:
        directory = self._dir(document_id)
        with self._io("delete the document", document_id):
            if not (directory / self.ENVELOPE).is_file():
                raise _unknown_document(document_id)
            with self._locked(directory):
                (directory / self.ENVELOPE).unlink(missing_ok=True)  # the commit point goes first
                fsync_dir(directory)
                for blob in directory.glob("*.blob"):
                    blob.unlink(missing_ok=True)
            with suppress(OSError):
                (directory / self.LOCK).unlink()
                directory.rmdir()
