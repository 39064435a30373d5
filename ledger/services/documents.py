"""The document vault as a service: parties publish their X25519 document keys, store documents they sealed
themselves (the service never sees plaintext at store time), grant and revoke readers; every change is
authorised by an EIP-712 `DocumentAction` signature of an account of an active party. Decryption happens on
the reader's machine, or here only when the reader sends its own key for that one request.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from ledger.chain.connection import Connection
from ledger.config import Settings
from ledger.domain import eip712
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.domain.parties import as_actor, parse_account
from ledger.domain.results import DocumentKeyView, EnvelopeView
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.services.evidence import EvidenceService
from ledger.services.parties import PartyService
from ledger.storage.journal import Store
from ledger.storage.vault.envelope import Envelope
from ledger.storage.vault.keys import ReaderKey
from ledger.storage.vault.service import Vault
from ledger.storage.vault.storage import LocalStorage


def payload_hash(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.digest()


class DocumentService:
    """The document vault's use cases. Receives the chain connection, the journal (what a document's owner
    registered), the evidence service (the chain's records and the signatures' domain), the party service (the
    signer's active party) and the settings (the data directory)."""

    def __init__(
        self, conn: Connection, store: Store, evidence: EvidenceService, parties: PartyService, settings: Settings
    ) -> None:
        self.conn = conn
        self.journal = store
        self.evidence = evidence
        self.parties = parties
        self.vault = Vault(LocalStorage.in_data_dir(Path(settings.data_dir)))

    def authorise(
        self, action: str, document_id: str, payload: bytes, account: str, deadline: int, signature: bytes
    ) -> int:
        """The active party whose account signed this action, or an error naming the problem."""
        acct = parse_account(account, "account")
        if deadline <= max(int(time.time()), self.conn.latest_time()):
            raise InvalidInput("the signature's deadline has passed", field="deadline")
        message = eip712.document_action_message(self.evidence.domain(), action, document_id, payload, deadline)
        if eip712.recover(message, signature) != acct:
            raise PermissionDenied(f"the signature does not verify for {acct} and this {action}", field="signature")
        return self.parties.active_party(acct, field="account", refuse=as_actor)

    # --- keys ---

    def publish_key(self, public_key: bytes, account: str, deadline: int, signature: bytes) -> DocumentKeyView:
        if len(public_key) != 32:
            raise InvalidInput("an X25519 public key is 32 bytes", field="publicKey")
        party = self.authorise("publish-key", "", payload_hash(public_key), account, deadline, signature)
        self.journal.put_document_key(party, public_key, parse_account(account))
        return self.key(party)

    def key(self, party_id: int) -> DocumentKeyView:
        row = self.journal.document_key(party_id)
        if row is None:
            raise NotFound(f"party {party_id} has published no document key", field="party_id")
        return {
            "partyId": party_id,
            "publicKey": "0x" + row.public_key.hex(),
            "account": row.account,
            "updatedAt": int(row.updated_at),
        }

    # --- documents ---

    def store(
        self, envelope_json: dict[str, Any], ciphertext: bytes, account: str, deadline: int, signature: bytes
    ) -> EnvelopeView:
        envelope = Envelope.from_json(envelope_json)
        party = self.authorise(
            "store", envelope.document_id, payload_hash(envelope.to_bytes(), ciphertext), account, deadline, signature
        )
        if party != envelope.owner:
            raise PermissionDenied(
                f"party {party} cannot store a document owned by party {envelope.owner}", field="envelope.owner"
            )
        return self.vault.put_sealed(envelope, ciphertext).to_json()

    def envelope(self, document_id: str) -> EnvelopeView:
        return self.vault.envelope(document_id).to_json()

    def ciphertext(self, document_id: str) -> bytes:
        return self.vault.ciphertext(document_id)

    def grant(
        self, document_id: str, new_json: dict[str, Any], account: str, deadline: int, signature: bytes
    ) -> EnvelopeView:
        """A reader adds a recipient it wrapped on its own machine (``ledger.storage.vault.crypto.add_reader``)."""
        new = Envelope.from_json(new_json)
        party = self.authorise("grant", document_id, payload_hash(new.to_bytes()), account, deadline, signature)
        old_raw = self.vault.storage.get_envelope(document_id)
        old = Envelope.from_bytes(old_raw)
        if party not in old.readers:
            raise PermissionDenied(f"party {party} is not a reader of document {document_id}", field="account")
        added = new.readers - old.readers
        unchanged = (new.document_id, new.owner, new.nonce, new.content_hash) == (
            old.document_id,
            old.owner,
            old.nonce,
            old.content_hash,
        )
        kept = all(new.recipient(r.party_id) == r for r in old.recipients)
        if not unchanged or not kept or len(added) != 1 or len(new.recipients) != len(old.recipients) + 1:
            raise InvalidInput("a grant adds exactly one recipient and changes nothing else", field="envelope")
        self.vault.storage.put_envelope(document_id, new.to_bytes(), expected=old_raw)
        return new.to_json()

    def revoke(self, document_id: str, reader: int, account: str, deadline: int, signature: bytes) -> EnvelopeView:
        party = self.authorise("revoke", document_id, payload_hash(str(reader).encode()), account, deadline, signature)
        return self.vault.revoke(document_id, party, reader).to_json()

    def decrypt(self, document_id: str, party: int, private_key: bytes) -> bytes:
        """Decrypts with a key the reader supplies for this request only; the plaintext must hash to a record
        the document's owner registered on chain (its public SHA-256 binding, or accepted into the journal) —
        the chain's hash is the integrity check."""
        envelope = self.vault.envelope(document_id)
        binding = public_binding(envelope.content_hash, envelope.owner, HashAlgorithm.SHA256)
        record = self.evidence.chain_record(binding, envelope.owner)
        if record is None and self.journal.item(binding) is None:
            raise Conflict(
                "the document's hash is not registered: register it before reading through the service",
                field="document_id",
            )
        if len(private_key) != 32:
            raise InvalidInput("an X25519 private key is 32 bytes", field="privateKey")
        return self.vault.read(document_id, party, ReaderKey.from_private_bytes(private_key), envelope.content_hash)
