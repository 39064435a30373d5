"""Natural persons as parties: admission with the personal data kept off chain, the person's access to what the
service holds about them, and erasure (docs/privacy.md).

Guarantees:
- On chain an individual is only ``PartyKind.Individual`` with scheme ``PersonCommitment`` and identifier the
  salted commitment (:func:`ledger.domain.parties.person_commitment`); names are empty (the contract refuses
  anything else, ``PartyPersonalDataOnChain``).
- The identity document is validated (:func:`ledger.domain.identifiers.canonical_person_identifier`) and a duplicate
  person refused by the keyed hash (HMAC-SHA256 under the service key) before anything is sent.
- Crash safety: the personal record is committed as ``pending`` before the admission is sent and marked
  ``admitted`` once it is mined; if the admission fails the pending record is deleted. A pending record left by a
  crash is settled by :meth:`PersonService.settle` when the service next opens: kept (admitted) if the chain holds a
  party with its commitment, deleted otherwise. So no personal data outlives a restart without its party. (An
  admission still unmined at that moment and mined later leaves a party the service holds nothing about; the
  person is then re-admitted under a new commitment.)
- A person's access and erasure requests are EIP-712 ``PersonalDataRequest`` messages signed by an account of their
  party (active or suspended: the rights do not depend on standing), with the party's request nonce (consumed by
  each accepted request) and a deadline.
- Errors and logs never carry a name or an identifier.
"""

from __future__ import annotations

import time
from typing import Any

from eth_utils import to_checksum_address

from ledger.certificates.evidence import natural_person
from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.sender import NotSent
from ledger.domain import eip712
from ledger.domain.codes import IdentifierScheme, PartyKind
from ledger.domain.consent import MAX_CONSENT_WINDOW, MAX_CONSENTS_PER_PARTY, SignedConsent
from ledger.domain.parties import (
    JURISDICTIONS,
    PartyProfile,
    PersonIdentity,
    new_salt,
    parse_account,
    person_commitment,
    person_keyed_hash,
)
from ledger.domain.results import CertificateDocument
from ledger.errors import (
    ChainUnavailable,
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    PermissionDenied,
    TransactionFailed,
)
from ledger.services.evidence import CertificateBuilder
from ledger.services.parties import PartyService
from ledger.storage.personal import ConsentRecord, PersonalStore, PersonRecord

#: Seconds a pending record may be in flight before :meth:`PersonService.settle` judges it by default (an admission
#: being sent by this process); the facade settles every pending record when it opens the service (0).
SETTLE_AFTER = 600
#: Furthest ahead a request's deadline may be.
MAX_REQUEST_WINDOW = 24 * 3600
REQUEST_ACTIONS = ("show", "erase", "certificate", "revoke-consent")


class PersonService:
    """Admission of natural persons, access and erasure of their personal data. Receives the chain connection, the
    party service (accounts, sending an admission) and the personal-data store."""

    def __init__(
        self, conn: Connection, parties: PartyService, store: PersonalStore, certificates: CertificateBuilder
    ) -> None:
        self.conn = conn
        self.parties = parties
        self.store = store
        self.certificates = certificates

    # --- admission ----------------------------------------------------------------------------------

    def admit(self, identity: PersonIdentity, jurisdiction: str, accounts: list[str]) -> dict[str, Any]:
        person = identity.validated()
        if jurisdiction not in JURISDICTIONS:
            raise InvalidInput(f"jurisdiction must be one of {', '.join(JURISDICTIONS)}", field="jurisdiction")
        keyed = person_keyed_hash(self.store.service_key, person.id_scheme, person.identifier)
        self.settle()  # earlier admissions whose outcome was not known, once they are old enough to be decided
        held = self.store.holder(keyed)
        if held is not None:
            state, party_id = held
            if state == "pending":
                raise Conflict("an admission of this person is already in progress", field="identifier")
            raise Conflict(
                f"this identity document already belongs to party {party_id}",
                field="identifier",
                details={"partyId": int(party_id or 0)},
            )
        salt = new_salt()
        commitment = person_commitment(person.id_scheme, person.identifier, salt)
        profile = PartyProfile(
            PartyKind.INDIVIDUAL.word, jurisdiction, IdentifierScheme.PERSON_COMMITMENT.word, commitment, "", ""
        )
        self.store.add_pending(
            commitment=commitment,
            keyed_hash=keyed,
            id_scheme=person.id_scheme,
            identifier=person.identifier,
            name_zh=person.name_zh,
            name_en=person.name_en,
            salt=salt,
            consent_text=person.consent_text,
            consent_version=person.consent_version,
        )
        try:
            shown = self.parties.admit(profile, accounts, individual=True)
        except BaseException as exc:
            # Refused before anything reached the node (its checks, the node's refusal, an estimate that reverts):
            # nothing can be mined, and the row goes. Otherwise the admission may be in the node's pool: the row
            # stays pending until the chain decides (:meth:`settle`), so that a late admission finds its record.
            self._settle_one(commitment, may_drop=isinstance(exc, (LedgerError, NotSent)) and not _uncertain(exc))
            raise
        self.store.mark_admitted(commitment, int(shown["partyId"]))
        return {**shown, "naturalPerson": natural_person(int(shown["partyId"]))}

    def _holder_on_chain(self, commitment: str) -> int:
        scheme = int(IdentifierScheme.PERSON_COMMITMENT)
        return int(call(self.parties.contract.functions.partyByIdentifier(scheme, commitment)))

    def _settle_one(self, commitment: str, *, may_drop: bool = True) -> bool:
        """Admitted when the chain holds the commitment; else deleted when ``may_drop`` and no admission can still
        be mined; else left pending. Returns whether it was settled."""
        holder = self._holder_on_chain(commitment)
        if holder:
            self.store.mark_admitted(commitment, holder)
            return True
        if may_drop and not self._registrar_busy():
            self.store.drop_pending(commitment)
            return True
        return False

    def _registrar_busy(self) -> bool:
        """Whether the registrar has transactions the node has not mined yet (one of them may be an admission). A
        service without the registrar's key cannot tell, and says no: its pending rows are older than its start."""
        sender = self.conn.registrar
        if sender is None:
            return False
        count = self.conn.w3.eth.get_transaction_count
        address = to_checksum_address(sender.address)
        return int(count(address, "pending")) > int(count(address, "latest"))

    def settle(self, min_age: int = SETTLE_AFTER) -> int:
        """Settles the pending records older than ``min_age`` seconds (left by a crash between sending an admission
        and recording its party, or by an admission whose outcome was not known): admitted if the chain holds their
        commitment; deleted otherwise, unless the registrar still has unmined transactions (an admission sent before
        a crash may be in the node's pool: its row waits for the next settlement). Returns how many it settled."""
        pending = self.store.pending(older_than=int(time.time()) - min_age)
        return sum(1 for commitment in pending if self._settle_one(commitment))

    # --- the person's signed requests ---------------------------------------------------------------

    def request_message(
        self, action: str, party_id: int, nonce: int, deadline: int, subject: bytes | str = b"\0" * 32
    ) -> dict[str, Any]:
        return eip712.personal_data_request_message(
            self.conn.evidence_domain, action=action, party_id=party_id, subject=subject, nonce=nonce, deadline=deadline
        )

    def nonce(self, party_id: int) -> int:
        return self.store.request_nonce(party_id)

    def _now(self) -> int:
        return max(int(time.time()), self.conn.latest_time())

    def _signed_by_party(
        self, message: dict[str, Any], party_id: int, account: str, deadline: int, signature: bytes, field: str = ""
    ) -> str:
        """The checksummed signer if ``account`` signed ``message``, is an account of ``party_id`` and the deadline
        is neither passed nor more than a day ahead."""
        acct = parse_account(account, field + "account")
        now = self._now()
        if deadline <= now:
            raise InvalidInput("the request's deadline has passed", field=field + "deadline")
        if deadline > now + MAX_REQUEST_WINDOW:
            raise InvalidInput("the request's deadline is more than a day ahead", field=field + "deadline")
        if eip712.recover(message, signature) != acct:
            raise PermissionDenied(
                "the signature does not verify for this account and request", field=field + "signature"
            )
        holder, _ = self.parties.party_of(acct)
        if holder != party_id:
            raise PermissionDenied(f"the signer is not an account of party {party_id}", field=field + "account")
        return acct

    def _use_nonce(self, party_id: int, nonce: int, field: str = "") -> None:
        if not self.store.use_nonce(party_id, nonce):
            raise Conflict(
                f"the request nonce of party {party_id} is {self.store.request_nonce(party_id)}",
                field=field + "nonce",
                details={"expected": self.store.request_nonce(party_id)},
            )

    def authorise(
        self,
        action: str,
        party_id: int,
        account: str,
        nonce: int,
        deadline: int,
        signature: bytes,
        subject: bytes | str = b"\0" * 32,
    ) -> PersonRecord:
        """The record of ``party_id`` if ``account`` (an account of that party) signed this request with the party's
        current request nonce and a deadline not passed; consumes the nonce."""
        if action not in REQUEST_ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(REQUEST_ACTIONS)}", field="action")
        message = self.request_message(action, party_id, nonce, deadline, subject)
        self._signed_by_party(message, party_id, account, deadline, signature)
        record = self.store.by_party(party_id)
        if record is None:
            raise NotFound(f"the service holds no personal data of party {party_id}", field="party_id")
        self._use_nonce(party_id, nonce)
        return record

    def show(self, party_id: int, account: str, nonce: int, deadline: int, signature: bytes) -> dict[str, Any]:
        """What the service holds about the person (their own signed request)."""
        record = self.authorise("show", party_id, account, nonce, deadline, signature)
        return {**person_view(record), "consents": [consent_view(c) for c in self.store.consents(party_id)]}

    def erase(self, party_id: int, account: str, nonce: int, deadline: int, signature: bytes) -> dict[str, Any]:
        """Erases the person's names, identifier, salt and keyed hash (their own signed request). The chain keeps
        the commitment, which without the salt says nothing about them; their records stay "registered by party N"."""
        record = self.authorise("erase", party_id, account, nonce, deadline, signature)
        if record.state == "erased":
            raise Conflict(f"the personal data of party {party_id} was already erased", field="party_id")
        self.store.erase(party_id)
        erased = self.store.by_party(party_id)
        if erased is None:  # the store keeps the erased row (state, party, dates): its absence is a broken store
            raise NotFound(f"party {party_id} has no personal record", field="party_id")
        return person_view(erased)

    def own_certificate(
        self, content_hash: bytes, party_id: int, account: str, nonce: int, deadline: int, signature: bytes
    ) -> CertificateDocument:
        """The person's own copy of the certificate of their registration of ``content_hash``: the public certificate
        plus a ``holder`` section naming them (their signed ``certificate`` request, ``subject`` the content hash).
        Verification reads only the public sections: the holder section is the issuer's statement to the person."""
        record = self.authorise("certificate", party_id, account, nonce, deadline, signature, subject=content_hash)
        if record.state != "admitted":
            raise Conflict(
                f"the personal data of party {party_id} was erased: only the public copy remains", field="party_id"
            )
        doc = self.certificates.build(content_hash, party_id)
        doc["holder"] = {
            "partyId": party_id,
            "nameZh": record.name_zh or "",
            "nameEn": record.name_en or "",
            "idScheme": record.id_scheme,
            "issuedTo": f"the natural person of party {party_id}, at their signed request",
            "note": "names are held by the service off chain; the chain knows this party only by its commitment",
        }
        return doc

    # --- consent to a named recipient ------------------------------------------------------------------

    def record_consent(self, consent: SignedConsent) -> dict[str, Any]:
        """Records the person's signed consent for a named recipient to obtain the named copy of the certificates of
        the registrations it lists (each must be the party's), until its expiry. The consent carries the party's
        request nonce (consumed here) and a deadline at most a day ahead; the expiry is at most two years ahead. Only
        an account of the party can sign one: the service's keys sign nothing for the person."""
        c = consent.validated()
        now = self._now()
        if c.expires <= now:
            raise InvalidInput("the consent's expiry has passed", field="expires")
        if c.expires > now + MAX_CONSENT_WINDOW:
            raise InvalidInput("the consent's expiry is more than two years ahead", field="expires")
        message = c.message(self.conn.evidence_domain)
        signer = self._signed_by_party(message, c.party_id, c.account, c.deadline, c.signature)
        record = self.store.by_party(c.party_id)
        if record is None:
            raise NotFound(f"the service holds no personal data of party {c.party_id}", field="partyId")
        if record.state != "admitted":
            raise Conflict(
                f"the personal data of party {c.party_id} was erased: nothing to consent to", field="partyId"
            )
        if c.recipient_party and c.recipient_party > self.parties.count():
            raise NotFound(f"party {c.recipient_party} does not exist", field="recipientParty")
        for i, b in enumerate(c.bindings):
            try:
                self.certificates.service.lookup(b, c.party_id)
            except NotFound:
                raise NotFound(f"0x{b.hex()} is not registered by party {c.party_id}", field=f"bindings[{i}]") from None
        self._use_nonce(c.party_id, c.nonce)
        digest = "0x" + eip712.digest(message).hex()
        self.store.add_consent(
            ConsentRecord(
                digest=digest,
                party_id=c.party_id,
                account=signer,
                recipient=c.recipient,
                recipient_party=c.recipient_party,
                bindings=tuple("0x" + b.hex() for b in c.bindings),
                purpose=c.purpose,
                expires=c.expires,
                signature=c.signature,
                recorded_at=int(time.time()),
                revoked_at=None,
                issued=0,
                last_issued_at=None,
            ),
            MAX_CONSENTS_PER_PARTY,
        )
        stored = self.store.consent(digest)
        assert stored is not None
        return consent_view(stored)

    def revoke_consent(
        self, party_id: int, digest: bytes, account: str, nonce: int, deadline: int, signature: bytes
    ) -> dict[str, Any]:
        """Revokes a consent before its expiry (the person's signed ``revoke-consent`` request, ``subject`` the
        consent's digest): no copy is issued under it any more."""
        key = "0x" + digest.hex()
        stored = self.store.consent(key)
        if stored is None or stored.party_id != party_id:
            raise NotFound(f"no consent of party {party_id} with this digest is on record", field="digest")
        self.authorise("revoke-consent", party_id, account, nonce, deadline, signature, subject=digest)
        if stored.revoked_at is not None:
            raise Conflict("this consent was already revoked", field="digest")
        self.store.revoke_consent(key)
        revoked = self.store.consent(key)
        assert revoked is not None
        return consent_view(revoked)

    def consented_certificate(self, party_id: int, consent: SignedConsent, registration: bytes) -> CertificateDocument:
        """The named copy of the certificate of the person's registration ``registration`` (its content hash or
        binding), issued to the recipient a consent names, on presentation of that consent: it must verify for the
        account that signed it, be the person's (an account of ``party_id``), be recorded, unrevoked and unexpired,
        and cover the registration; the person's data must not be erased. The copy's ``holder`` section names the
        person, the recipient and the consent (digest, signer, date)."""
        c = consent.validated()
        if c.party_id != party_id:
            raise PermissionDenied(
                f"the consent is party {c.party_id}'s, not party {party_id}'s", field="consent.partyId"
            )
        acct = parse_account(c.account, "consent.account")
        message = c.message(self.conn.evidence_domain)
        if eip712.recover(message, c.signature) != acct:
            raise PermissionDenied(
                "the consent's signature does not verify: it was altered or signed by another key",
                field="consent.signature",
            )
        holder, _ = self.parties.party_of(acct)
        if holder != party_id:
            raise PermissionDenied(
                f"the consent's signer is not an account of party {party_id}", field="consent.account"
            )
        record = self.store.by_party(party_id)
        if record is None:
            raise NotFound(f"the service holds no personal data of party {party_id}", field="party_id")
        if record.state != "admitted":
            raise Conflict(
                f"the personal data of party {party_id} was erased, and its consents with it: only the public copy "
                "remains",
                field="party_id",
            )
        digest = "0x" + eip712.digest(message).hex()
        stored = self.store.consent(digest)
        if stored is None or stored.party_id != party_id:
            raise NotFound("this consent is not on record: the person records it when signing it", field="consent")
        if stored.revoked_at is not None:
            raise Conflict(f"the person revoked this consent at {stored.revoked_at} (unix)", field="consent")
        if stored.expires <= self._now():
            raise PermissionDenied(f"the consent expired at {stored.expires} (unix)", field="consent.expires")
        doc = self.certificates.build(registration, party_id)
        binding = str(doc["evidence"]["binding"])
        if binding not in stored.bindings:
            raise PermissionDenied(
                f"the consent does not cover the registration {binding} of party {party_id}", field="registration"
            )
        self.store.consent_issued(digest)
        recipient = stored.recipient + (f" (party {stored.recipient_party})" if stored.recipient_party else "")
        doc["holder"] = {
            "partyId": party_id,
            "nameZh": record.name_zh or "",
            "nameEn": record.name_en or "",
            "idScheme": record.id_scheme,
            "issuedTo": f"{recipient}, with the signed consent of the natural person of party {party_id}",
            "recipient": {"name": stored.recipient, "partyId": stored.recipient_party or None},
            "consent": {
                "digest": digest,
                "signer": stored.account,
                "recordedAt": stored.recorded_at,
                "expires": stored.expires,
                "purpose": stored.purpose,
            },
            "note": "the person's name appears only in this copy, issued to the recipient above under the person's "
            "consent; the public certificate names natural person, party "
            f"{party_id}, and verification needs no personal data",
        }
        return doc


def _uncertain(exc: BaseException) -> bool:
    """An admission that may have reached the node's pool: a lost answer, a lost node, or no receipt in time."""
    from ledger.chain.sender import SendUncertain

    return isinstance(exc, (SendUncertain, TransactionFailed)) or (
        isinstance(exc, ChainUnavailable) and not isinstance(exc, NotSent)
    )


def consent_view(c: ConsentRecord) -> dict[str, Any]:
    """A recorded consent as shown to the person and returned when recording or revoking it."""
    return {
        "digest": c.digest,
        "partyId": c.party_id,
        "account": c.account,
        "recipient": c.recipient,
        "recipientParty": c.recipient_party or None,
        "bindings": list(c.bindings),
        "purpose": c.purpose,
        "expires": c.expires,
        "recordedAt": c.recorded_at,
        "revokedAt": c.revoked_at,
        "issued": c.issued,
        "lastIssuedAt": c.last_issued_at,
    }


def person_view(record: PersonRecord) -> dict[str, Any]:
    """The person's record as shown to the person: everything held, the salt in hex (the person needs it to prove
    to an arbitrator that the commitment is theirs)."""
    return {
        "partyId": record.party_id,
        "state": record.state,
        "commitment": record.commitment,
        "idScheme": record.id_scheme,
        "identifier": record.identifier,
        "nameZh": record.name_zh,
        "nameEn": record.name_en,
        "salt": "0x" + record.salt.hex() if record.salt is not None else None,
        "consent": {"text": record.consent_text, "version": record.consent_version, "givenAt": record.consent_at},
        "createdAt": record.created_at,
        "erasedAt": record.erased_at,
        "naturalPerson": natural_person(int(record.party_id or 0)),
    }
