"""The vault's cryptography: a document encrypted once with AES-256-GCM under a random document key, that key
wrapped for each reader with X25519 + HKDF-SHA256 + AES-256-GCM (a fresh ephemeral key per reader), and the
reverse — unwrap, decrypt, authenticate, and check the plaintext's SHA-256 against the envelope and the hash
the caller expects (the one registered on chain).

Pure: nothing is stored, no chain is asked. :func:`seal` and :func:`open_sealed` are what a client runs on its
own machine; ``docs/vault.md`` gives every byte that goes into HKDF and AES-GCM.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.errors import Conflict, InvalidInput, PayloadTooLarge, PermissionDenied
from ledger.storage.vault.envelope import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    KEY_LENGTH,
    MAX_DOCUMENT_BYTES_CEILING,
    MAX_RECIPIENTS,
    NONCE_LENGTH,
    PARTY_ID_LENGTH,
    TAG_LENGTH,
    Envelope,
    Recipient,
    VaultIntegrityError,
    bytes_arg,
    document_id_arg,
    expected_hash_arg,
    new_document_id,
    party_arg,
    to_hex,
)
from ledger.storage.vault.keys import (
    ReaderKey,
    private_key_arg,
    public_key_arg,
    raw_public_key,
)

WRAP_INFO_PREFIX = b"qianhai-ip-ledger/vault/wrap/v1"

Random = Callable[[int], bytes]


def _plaintext(value: object, limit: int) -> bytes:
    data = bytes_arg(value, "plaintext")
    if len(data) > limit:
        raise PayloadTooLarge(
            f"the document has {len(data)} bytes; the vault accepts at most {limit}",
            field="plaintext",
            details={"limit": limit, "size": len(data)},
        )
    return data


# --- wrapping, sealing, opening ------------------------------------------------------------------


def _party_bytes(party: int) -> bytes:
    return party.to_bytes(PARTY_ID_LENGTH, "big")


def _wrap_aad(document_id: str, party: int) -> bytes:
    return document_id.encode("ascii") + _party_bytes(party)


def _kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes, document_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_LENGTH,
        salt=ephemeral_public + recipient_public,
        info=WRAP_INFO_PREFIX + document_id.encode("ascii"),
    ).derive(shared)


def _wrap(
    document_key: bytes, document_id: str, party: int, recipient_public: bytes, rng: Random, field: str
) -> Recipient:
    ephemeral = X25519PrivateKey.from_private_bytes(rng(32))
    ephemeral_public = raw_public_key(ephemeral.public_key())
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    except ValueError:
        raise InvalidInput(
            f"the public key of party {party} is not a usable X25519 key (a low-order point)",
            field=field,
        ) from None
    kek = _kek(shared, ephemeral_public, recipient_public, document_id)
    wrap_nonce = rng(NONCE_LENGTH)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, document_key, _wrap_aad(document_id, party))
    return Recipient(party, recipient_public, ephemeral_public, wrap_nonce, wrapped)


def unwrap_document_key(
    envelope: Envelope,
    party: int,
    private_key: X25519PrivateKey | ReaderKey,
    *,
    party_field: str = "party",
    key_field: str = "private_key",
) -> bytes:
    """Recover the document key with ``party``'s reader key.

    :class:`~ledger.errors.PermissionDenied` if ``party`` is not a reader or the key is not the one
    the document was wrapped for; :class:`VaultIntegrityError` if the wrapped key fails authentication.
    """
    party = party_arg(party, party_field)
    key = private_key_arg(private_key, key_field)
    recipient = envelope.recipient(party)
    if recipient is None:
        raise PermissionDenied(
            f"party {party} is not a reader of document {envelope.document_id} (no grant)",
            field=party_field,
            details={"documentId": envelope.document_id, "partyId": party},
        )
    if not hmac.compare_digest(raw_public_key(key.public_key()), recipient.public_key):
        raise PermissionDenied(
            f"the key supplied is not the one document {envelope.document_id} was shared with party {party} "
            f"(its public key is {to_hex(recipient.public_key)}); if the party's key changed, the owner must "
            "re-wrap the document for the new key (rotate)",
            field=key_field,
            details={"documentId": envelope.document_id, "partyId": party},
        )
    where = f"envelope.recipients[{envelope.index_of(party)}]"
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(recipient.ephemeral_public_key))
    except ValueError:
        raise VaultIntegrityError(
            f"the ephemeral key for party {party} is a low-order point: the envelope was altered",
            field=f"{where}.ephemeralPublicKey",
        ) from None
    kek = _kek(shared, recipient.ephemeral_public_key, recipient.public_key, envelope.document_id)
    try:
        return AESGCM(kek).decrypt(recipient.wrap_nonce, recipient.wrapped_key, _wrap_aad(envelope.document_id, party))
    except InvalidTag:
        raise VaultIntegrityError(
            f"the wrapped key of party {party} for document {envelope.document_id} failed authentication: "
            "the envelope was altered",
            field=f"{where}.wrappedKey",
        ) from None


def decrypt_document(envelope: Envelope, ciphertext: bytes, document_key: bytes, expected_hash: bytes) -> bytes:
    """The plaintext of a blob under its unwrapped document key, authenticated (AES-GCM with the envelope's aad) and
    checked against the envelope's content hash and ``expected_hash``; :class:`VaultIntegrityError` otherwise."""
    doc = envelope.document_id
    if len(ciphertext) < TAG_LENGTH:
        raise VaultIntegrityError(
            f"the ciphertext of document {doc} is shorter than a GCM tag: it was truncated", field="ciphertext"
        )
    try:
        plaintext = AESGCM(document_key).decrypt(envelope.nonce, ciphertext, envelope.aad)
    except InvalidTag:
        raise VaultIntegrityError(
            f"document {doc} failed authentication (AES-GCM tag mismatch): its ciphertext or tag, or the "
            "documentId or contentHash in its envelope, was altered",
            field="ciphertext",
        ) from None
    actual = hash_bytes(plaintext, HashAlgorithm.SHA256)
    if not hmac.compare_digest(actual, envelope.content_hash):
        raise VaultIntegrityError(
            f"document {doc} decrypts to content with SHA-256 {to_hex(actual)}, not the envelope's "
            f"contentHash {to_hex(envelope.content_hash)}",
            field="envelope.contentHash",
        )
    if not hmac.compare_digest(actual, expected_hash):
        raise VaultIntegrityError(
            f"document {doc} has SHA-256 {to_hex(actual)}, not the expected on-chain hash {to_hex(expected_hash)}",
            field="expected_hash",
            details={"documentId": doc, "contentHash": to_hex(actual), "expectedHash": to_hex(expected_hash)},
        )
    return plaintext


def _checked_readers(readers: object) -> dict[int, bytes]:
    if not isinstance(readers, Mapping):
        raise InvalidInput("readers must map party ids to X25519 public keys", field="readers")
    if not 1 <= len(readers) <= MAX_RECIPIENTS:
        raise InvalidInput(
            f"a document has 1 to {MAX_RECIPIENTS} readers, not {len(readers)}",
            field="readers",
            details={"limit": MAX_RECIPIENTS},
        )
    out: dict[int, bytes] = {}
    for party, public in readers.items():
        p = party_arg(party, "readers")
        out[p] = public_key_arg(public, f"readers[{p}]")
    return out


def seal(
    plaintext: bytes,
    owner: int,
    readers: Mapping[int, bytes],
    document_id: str | None = None,
    *,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    _random: Random = os.urandom,
) -> tuple[Envelope, bytes]:
    """Encrypt ``plaintext`` for ``readers`` (party id → X25519 public key); return envelope and blob.

    Pure: nothing is stored. ``owner`` must be one of ``readers``. The blob is the AES-256-GCM
    ciphertext followed by its 16-byte tag. A client can seal locally and upload with
    :meth:`Vault.put_sealed`, so that the service never sees the plaintext.
    """
    data = _plaintext(plaintext, min(max_document_bytes, MAX_DOCUMENT_BYTES_CEILING))
    owner = party_arg(owner, "owner")
    keys = _checked_readers(readers)
    if owner not in keys:
        raise InvalidInput(
            f"the owner (party {owner}) must be one of the readers: include its public key", field="readers"
        )
    document_id = new_document_id() if document_id is None else document_id_arg(document_id)
    content_hash = hash_bytes(data, HashAlgorithm.SHA256)
    document_key = _random(KEY_LENGTH)
    nonce = _random(NONCE_LENGTH)
    blob = AESGCM(document_key).encrypt(nonce, data, document_id.encode("ascii") + content_hash)
    recipients = tuple(_wrap(document_key, document_id, p, keys[p], _random, f"readers[{p}]") for p in sorted(keys))
    return Envelope(document_id, content_hash, nonce, owner, recipients), blob


def open_sealed(
    envelope: Envelope,
    ciphertext: bytes,
    party: int,
    private_key: X25519PrivateKey | ReaderKey,
    expected_hash: bytes | str,
) -> bytes:
    """Decrypt a document as ``party`` and check it against ``expected_hash`` (the on-chain hash)."""
    expected = expected_hash_arg(expected_hash)
    document_key = unwrap_document_key(envelope, party, private_key)
    return decrypt_document(envelope, bytes_arg(ciphertext, "ciphertext"), document_key, expected)


def add_reader(
    envelope: Envelope,
    granter_party: int,
    granter_key: X25519PrivateKey | ReaderKey,
    reader: int,
    reader_public: bytes,
    *,
    _random: Random = os.urandom,
) -> Envelope:
    """The envelope with the document key also wrapped for ``reader``, by an existing reader.

    The granter proves it is a reader by unwrapping the document key with its own private key.
    Granting to a current reader with the same public key returns the envelope unchanged; with a
    different key it is a :class:`~ledger.errors.Conflict` (the owner re-wraps with :meth:`Vault.rotate`).
    """
    granter_party = party_arg(granter_party, "granter_party")
    reader = party_arg(reader, "reader")
    public = public_key_arg(reader_public, "reader_public")
    if envelope.recipient(granter_party) is None:
        raise PermissionDenied(
            f"party {granter_party} is not a reader of document {envelope.document_id} and cannot grant access",
            field="granter_party",
        )
    document_key = unwrap_document_key(
        envelope, granter_party, granter_key, party_field="granter_party", key_field="granter_key"
    )
    existing = envelope.recipient(reader)
    if existing is not None:
        if hmac.compare_digest(existing.public_key, public):
            return envelope
        raise Conflict(
            f"party {reader} already reads document {envelope.document_id} with another key; "
            "the owner re-wraps the document for a new key with rotate",
            field="reader_public",
        )
    if len(envelope.recipients) >= MAX_RECIPIENTS:
        raise Conflict(
            f"document {envelope.document_id} already has {MAX_RECIPIENTS} readers, the most allowed",
            field="reader",
            details={"limit": MAX_RECIPIENTS},
        )
    added = _wrap(document_key, envelope.document_id, reader, public, _random, "reader_public")
    recipients = tuple(sorted((*envelope.recipients, added), key=lambda r: r.party_id))
    return Envelope(envelope.document_id, envelope.content_hash, envelope.nonce, envelope.owner, recipients)
