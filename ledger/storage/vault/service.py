"""The vault itself: store, share, revoke, rotate, read and delete encrypted documents kept by a
:class:`~ledger.storage.vault.storage.Storage`, with the envelope as the commit point (blob first, envelope last:
a crash in between leaves an orphan blob, never a half document).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.errors import (
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from ledger.storage.vault.crypto import (
    Random,
    add_reader,
    decrypt_document,
    seal,
    unwrap_document_key,
)
from ledger.storage.vault.envelope import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_BYTES_CEILING,
    TAG_LENGTH,
    Envelope,
    VaultIntegrityError,
    bytes_arg,
    document_id_arg,
    expected_hash_arg,
    party_arg,
)
from ledger.storage.vault.keys import ReaderKey, public_key_arg
from ledger.storage.vault.storage import Storage


class Vault:
    """Store, share, revoke, rotate and read encrypted documents kept by a :class:`Storage`.

    The vault trusts its caller for *who is asking* (``by_party`` in :meth:`revoke` and
    :meth:`delete`, and whether the party is active on chain); everything else is enforced with
    keys: only a holder of a reader key can unwrap, grant or read.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        random: Random = os.urandom,
    ):
        if isinstance(max_document_bytes, bool) or not isinstance(max_document_bytes, int):
            raise InvalidInput("max_document_bytes must be an integer", field="max_document_bytes")
        if not 1 <= max_document_bytes <= MAX_DOCUMENT_BYTES_CEILING:
            raise InvalidInput(
                f"max_document_bytes must be from 1 to {MAX_DOCUMENT_BYTES_CEILING}", field="max_document_bytes"
            )
        self.storage = storage
        self.max_document_bytes = max_document_bytes
        self._random = random

    # -- reading state

    def _load(self, document_id: str) -> tuple[bytes, Envelope]:
        document_id = document_id_arg(document_id)
        raw = self.storage.get_envelope(document_id)
        envelope = Envelope.from_bytes(raw)
        if envelope.document_id != document_id:
            raise VaultIntegrityError(
                f"the envelope stored as {document_id} is for document {envelope.document_id}: it was moved",
                field="envelope.documentId",
            )
        return raw, envelope

    def exists(self, document_id: str) -> bool:
        return self.storage.exists(document_id_arg(document_id))

    def envelope(self, document_id: str) -> Envelope:
        """The document's envelope (public data: hashes, public keys, wrapped keys)."""
        return self._load(document_id)[1]

    def ciphertext(self, document_id: str) -> bytes:
        """The document's blob, for a reader who decrypts on its own machine (:func:`open_sealed`)."""
        return self._blob(self.envelope(document_id))

    def _blob(self, envelope: Envelope) -> bytes:
        try:
            blob = self.storage.get_blob(envelope.document_id, envelope.blob_id)
        except NotFound:
            raise VaultIntegrityError(
                f"the ciphertext of document {envelope.document_id} is missing from storage", field="ciphertext"
            ) from None
        if len(blob) > MAX_DOCUMENT_BYTES_CEILING + TAG_LENGTH:
            raise VaultIntegrityError(
                f"the ciphertext of document {envelope.document_id} is larger than any document", field="ciphertext"
            )
        return blob

    # -- operations

    def store(
        self,
        plaintext: bytes,
        owner: int,
        readers: Mapping[int, bytes],
        document_id: str | None = None,
    ) -> Envelope:
        """Encrypt and store a document for ``readers`` (which must include ``owner``).

        Register ``envelope.content_hash`` on chain. :class:`~ledger.errors.Conflict` if
        ``document_id`` is taken.
        """
        if document_id is not None and self.storage.exists(document_id_arg(document_id)):
            raise Conflict(f"document {document_id} already exists", field="document_id")
        envelope, blob = seal(
            plaintext,
            owner,
            readers,
            document_id,
            max_document_bytes=self.max_document_bytes,
            _random=self._random,
        )
        self._commit_new(envelope, blob)
        return envelope

    def put_sealed(self, envelope: Envelope, ciphertext: bytes) -> Envelope:
        """Store a document a client sealed itself (:func:`seal`): the service never sees its plaintext.

        Only the shapes can be checked here; each reader's :meth:`read` authenticates the content.
        """
        if not isinstance(envelope, Envelope):
            raise InvalidInput("envelope must be an Envelope (parse JSON with Envelope.from_json)", field="envelope")
        envelope = Envelope.from_json(envelope.to_json())  # re-check the invariants
        blob = bytes_arg(ciphertext, "ciphertext")
        if len(blob) < TAG_LENGTH:
            raise InvalidInput("the ciphertext is shorter than a GCM tag", field="ciphertext")
        if len(blob) - TAG_LENGTH > self.max_document_bytes:
            raise PayloadTooLarge(
                f"the document has {len(blob) - TAG_LENGTH} bytes; the vault accepts at most {self.max_document_bytes}",
                field="ciphertext",
                details={"limit": self.max_document_bytes},
            )
        if self.storage.exists(envelope.document_id):
            raise Conflict(f"document {envelope.document_id} already exists", field="document_id")
        self._commit_new(envelope, blob)
        return envelope

    def _commit_new(self, envelope: Envelope, blob: bytes) -> None:
        # Blob first, envelope last: a crash in between leaves an orphan blob, never a half document.
        self.storage.put_blob(envelope.document_id, envelope.blob_id, blob)
        try:
            self.storage.put_envelope(envelope.document_id, envelope.to_bytes(), expected=None)
        except BaseException:
            with suppress(Exception):
                self.storage.delete_blob(envelope.document_id, envelope.blob_id)
            raise

    def read(
        self,
        document_id: str,
        party: int,
        private_key: X25519PrivateKey | ReaderKey,
        expected_hash: bytes | str,
    ) -> bytes:
        """Decrypt a document as ``party`` and check SHA-256(plaintext) against the envelope and
        ``expected_hash`` (the hash registered on chain)."""
        expected = expected_hash_arg(expected_hash)
        party = party_arg(party, "party")
        _, envelope = self._load(document_id)
        document_key = unwrap_document_key(envelope, party, private_key)
        return decrypt_document(envelope, self._blob(envelope), document_key, expected)

    def grant(
        self,
        document_id: str,
        granter_party: int,
        granter_key: X25519PrivateKey | ReaderKey,
        reader: int,
        reader_public: bytes,
    ) -> Envelope:
        """Give ``reader`` access: an existing reader unwraps with its key and wraps for the new one."""
        raw, envelope = self._load(document_id)
        updated = add_reader(envelope, granter_party, granter_key, reader, reader_public, _random=self._random)
        if updated is not envelope:
            self.storage.put_envelope(envelope.document_id, updated.to_bytes(), expected=raw)
        return updated

    def revoke(self, document_id: str, by_party: int, reader: int) -> Envelope:
        """Remove ``reader``'s wrapped key (owner only).

        This cannot take back a document key the reader already unwrapped, nor a copy of the
        plaintext; call :meth:`rotate` to re-encrypt under a new key for the remaining readers.
        """
        by_party = party_arg(by_party, "by_party")
        reader = party_arg(reader, "reader")
        raw, envelope = self._load(document_id)
        if by_party != envelope.owner:
            raise PermissionDenied(
                f"only the owner (party {envelope.owner}) can revoke access to document {envelope.document_id}",
                field="by_party",
            )
        if reader == envelope.owner:
            raise InvalidInput("the owner cannot revoke its own access", field="reader")
        if envelope.recipient(reader) is None:
            raise NotFound(f"party {reader} is not a reader of document {envelope.document_id}", field="reader")
        recipients = tuple(r for r in envelope.recipients if r.party_id != reader)
        updated = Envelope(envelope.document_id, envelope.content_hash, envelope.nonce, envelope.owner, recipients)
        self.storage.put_envelope(envelope.document_id, updated.to_bytes(), expected=raw)
        return updated

    def rotate(
        self,
        document_id: str,
        owner_key: X25519PrivateKey | ReaderKey,
        *,
        new_keys: Mapping[int, bytes] | None = None,
        expected_hash: bytes | str | None = None,
    ) -> Envelope:
        """Re-encrypt under a new document key and nonce for the current readers (owner only).

        ``new_keys`` replaces the public keys of current readers (after a party's key was lost or
        stolen); ``owner_key`` is the owner's *current* key. The content hash, and so the on-chain
        record, is unchanged; the old blob is deleted once the new envelope is in place.
        """
        raw, envelope = self._load(document_id)
        document_key = unwrap_document_key(
            envelope, envelope.owner, owner_key, party_field="owner", key_field="owner_key"
        )
        expected = envelope.content_hash if expected_hash is None else expected_hash_arg(expected_hash)
        plaintext = decrypt_document(envelope, self._blob(envelope), document_key, expected)
        keys = {r.party_id: r.public_key for r in envelope.recipients}
        if new_keys is not None:
            if not isinstance(new_keys, Mapping):
                raise InvalidInput("new_keys must map party ids to X25519 public keys", field="new_keys")
            for party, public in new_keys.items():
                p = party_arg(party, "new_keys")
                if p not in keys:
                    raise InvalidInput(
                        f"party {p} is not a reader of document {envelope.document_id}; grant it access instead",
                        field=f"new_keys[{p}]",
                    )
                keys[p] = public_key_arg(public, f"new_keys[{p}]")
        rotated, blob = seal(
            plaintext,
            envelope.owner,
            keys,
            envelope.document_id,
            max_document_bytes=MAX_DOCUMENT_BYTES_CEILING,
            _random=self._random,
        )
        self.storage.put_blob(rotated.document_id, rotated.blob_id, blob)
        try:
            self.storage.put_envelope(rotated.document_id, rotated.to_bytes(), expected=raw)
        except BaseException:
            with suppress(Exception):
                self.storage.delete_blob(rotated.document_id, rotated.blob_id)
            raise
        with suppress(LedgerError):  # an orphan old blob is harmless: its key is no longer wrapped
            self.storage.delete_blob(envelope.document_id, envelope.blob_id)
        return rotated

    def delete(self, document_id: str, by_party: int) -> None:
        """Remove the document and its ciphertext (owner only). The on-chain hash stays, by design."""
        by_party = party_arg(by_party, "by_party")
        _, envelope = self._load(document_id)
        if by_party != envelope.owner:
            raise PermissionDenied(
                f"only the owner (party {envelope.owner}) can delete document {envelope.document_id}",
                field="by_party",
            )
        self.storage.delete(envelope.document_id)
