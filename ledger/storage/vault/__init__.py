"""Encrypted document vault: documents encrypted for named parties, with only their hash on chain.

A document (a signed contract, an evidence file) is encrypted once with AES-256-GCM under a random
256-bit *document key*. The document key is wrapped separately for each reader with X25519 + HKDF-SHA256
+ AES-256-GCM (a fresh ephemeral X25519 key per reader). The ciphertext (the *blob*) and a versioned JSON
*envelope* (content hash, nonce, one wrapped key per reader) are kept by a ``Storage``; the content
hash (SHA-256 of the plaintext) is what the caller registers on chain. Reading unwraps, decrypts,
authenticates and checks the plaintext's SHA-256 against both the envelope and the on-chain hash the
caller passes in.

The package is pure cryptography plus a small storage interface: it never talks to a chain, and it
holds no keys. ``docs/vault.md`` specifies the envelope, every byte that goes into HKDF and AES-GCM, the
reader keystore and the threat model (what revocation does and does not do), precisely enough to
re-implement decryption with any X25519 / HKDF / AES-GCM library. Its modules, each depending only on those
above it (import from them; this package re-exports nothing):

- ``envelope``: the format — constants, ``Envelope`` and ``Recipient``, the checks of ids, party ids and
  hashes, ``VaultIntegrityError``;
- ``storage``: the ``Storage`` port and its contract, ``MemoryStorage``, ``LocalStorage`` (``DATA_DIR/vault``),
  atomic file writes, ``VaultStorageError``;
- ``keys``: reader keys — ``ReaderKey``, ``derive_reader_key``, the reader keystore (write, load, path);
- ``crypto``: wrapping and sealing — ``seal``, ``open_sealed``, ``add_reader``, ``unwrap_document_key``;
- ``service``: ``Vault``, the operations on stored documents (store, grant, revoke, rotate, read, delete).

Errors: :class:`~ledger.errors.NotFound` (no such document), :class:`~ledger.errors.PermissionDenied`
(not a reader, not the owner, a key that is not the reader's), ``VaultIntegrityError`` (a
subclass of :class:`~ledger.errors.InvalidInput`: authentication failure, hash mismatch, malformed
envelope), :class:`~ledger.errors.Conflict` (document id taken, concurrent update, reader limit),
:class:`~ledger.errors.PayloadTooLarge`, :class:`~ledger.errors.KeystoreError` (reader keystores) and
``VaultStorageError`` (the storage backend failed).
"""
