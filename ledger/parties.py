"""Party administration by the operator: admit, suspend, reinstate, and manage accounts.

Identifiers are checked here before anything is sent (the USCC check character with python-stdnum, the
HK BRN's eight digits); the contract enforces uniqueness, account ownership and the account limit again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, keccak, to_checksum_address

from web3.logs import DISCARD

from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.identifiers import validate_identifier
from ledger.inputs import REASON_MAX, check_text
from ledger.tx import SentTransaction, call

if TYPE_CHECKING:
    from ledger.service import Ledger

KINDS = {"firm": 1, "university": 2, "arbitration_institution": 3, "financial_institution": 4, "service_agency": 5}
JURISDICTIONS = {"mainland": 1, "hksar": 2, "other": 3}
SCHEMES = {"uscc": 1, "hkbrn": 2, "other": 3}
MAX_ACCOUNTS = 16
MAX_NAME = 200


@dataclass(frozen=True)
class PartyProfile:
    kind: str
    jurisdiction: str
    identifier_scheme: str
    identifier: str
    name_zh: str
    name_en: str

    def validated(self) -> PartyProfile:
        if self.kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        if self.jurisdiction not in JURISDICTIONS:
            raise InvalidInput(f"jurisdiction must be one of {', '.join(JURISDICTIONS)}", field="jurisdiction")
        if self.identifier_scheme not in SCHEMES:
            raise InvalidInput(f"identifierScheme must be one of {', '.join(SCHEMES)}", field="identifierScheme")
        check_text(self.identifier, "identifier", max_length=64)
        try:
            identifier = validate_identifier(self.identifier_scheme, self.identifier)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="identifier") from None
        if self.identifier_scheme == "uscc" and self.jurisdiction != "mainland":
            raise InvalidInput("a USCC identifies a mainland entity: jurisdiction must be mainland", field="jurisdiction")
        for field, value in (("nameZh", self.name_zh), ("nameEn", self.name_en)):
            check_text(value, field, max_length=MAX_NAME)  # NFC, no control, bidi or zero-width characters
        name_zh, name_en = self.name_zh.strip(), self.name_en.strip()
        if not name_zh and not name_en:
            raise InvalidInput("a party needs a name in Chinese or English", field="nameZh")
        for field, value in (("nameZh", name_zh), ("nameEn", name_en)):
            if len(value) > MAX_NAME:
                raise InvalidInput(f"{field} is longer than {MAX_NAME} characters", field=field)
        return PartyProfile(self.kind, self.jurisdiction, self.identifier_scheme, identifier, name_zh, name_en)

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            KINDS[self.kind],
            JURISDICTIONS[self.jurisdiction],
            SCHEMES[self.identifier_scheme],
            self.identifier,
            self.name_zh,
            self.name_en,
        )


def parse_account(value: str, field: str = "account") -> ChecksumAddress:
    if not isinstance(value, str) or not is_address(value):
        raise InvalidInput(f"{value!r} is not an account address (0x and 40 hex characters)", field=field)
    body = value[2:]
    if body != body.lower() and body != body.upper() and to_checksum_address(value) != value:
        raise InvalidInput(f"{value} has a wrong EIP-55 checksum", field=field)
    return to_checksum_address(value)


class PartyService:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def contract(self) -> Any:
        return self.ledger.evidence

    def _send(self, fn: Any) -> SentTransaction:
        sent = self.ledger.require_relayer().send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent

    def admit(self, profile: PartyProfile, accounts: list[str]) -> dict[str, Any]:
        profile = profile.validated()
        if not accounts:
            raise InvalidInput("a party needs at least one account", field="accounts")
        if len(accounts) > MAX_ACCOUNTS:
            raise InvalidInput(f"a party holds at most {MAX_ACCOUNTS} accounts", field="accounts")
        parsed = [parse_account(a, f"accounts[{i}]") for i, a in enumerate(accounts)]
        if len(set(parsed)) != len(parsed):
            raise InvalidInput("the same account is listed twice", field="accounts")
        holder = call(self.contract.functions.partyByIdentifier(SCHEMES[profile.identifier_scheme], profile.identifier))
        if holder:
            raise Conflict(f"identifier {profile.identifier} already belongs to party {holder}", field="identifier",
                           details={"partyId": int(holder)})  # fmt: skip
        for i, acct in enumerate(parsed):
            pid, _ = call(self.contract.functions.partyOf(acct))
            if pid:
                raise Conflict(f"account {acct} already belongs to party {pid}", field=f"accounts[{i}]", details={"partyId": int(pid)})
        sent = self._send(self.contract.functions.admitParty(profile.as_tuple(), parsed))
        event = self.contract.events.PartyAdmitted().process_receipt(sent.receipt, errors=DISCARD)[0]
        return {**self.show(int(event["args"]["partyId"])), "transactionHash": sent.tx_hash}

    def show(self, party_id: int) -> dict[str, Any]:
        count = int(call(self.contract.functions.partyCount()))
        if party_id < 1 or party_id > count:
            raise NotFound(f"no party {party_id}", field="party_id")
        profile = self.ledger.evidence_service.party_profile(party_id)
        kind = {v: k for k, v in KINDS.items()}[profile.pop("kind")]
        jurisdiction = {v: k for k, v in JURISDICTIONS.items()}[profile.pop("jurisdiction")]
        return {
            **profile,
            "kind": kind,
            "jurisdiction": jurisdiction,
            "identifierScheme": profile["identifierScheme"].lower(),
            "status": "suspended" if profile["suspended"] else "active",
            "accounts": list(call(self.contract.functions.partyAccounts(party_id))),
        }

    def suspend(self, party_id: int, reason: str) -> dict[str, Any]:
        self.show(party_id)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a suspension needs a reason (its hash goes on chain)", field="reason")
        check_text(reason, "reason", max_length=REASON_MAX)
        sent = self._send(self.contract.functions.suspendParty(party_id, keccak(text=reason)))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def reinstate(self, party_id: int) -> dict[str, Any]:
        self.show(party_id)
        sent = self._send(self.contract.functions.reinstateParty(party_id))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def add_account(self, party_id: int, account: str) -> dict[str, Any]:
        self.show(party_id)
        sent = self._send(self.contract.functions.addAccount(party_id, parse_account(account)))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def remove_account(self, party_id: int, account: str) -> dict[str, Any]:
        acct = parse_account(account)
        self._owned(party_id, acct)
        sent = self._send(self.contract.functions.removeAccount(acct))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def rotate_account(self, party_id: int, old: str, new: str) -> dict[str, Any]:
        old_acct, new_acct = parse_account(old, "old"), parse_account(new, "new")
        self._owned(party_id, old_acct)
        sent = self._send(self.contract.functions.rotateAccount(old_acct, new_acct))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def _owned(self, party_id: int, account: str) -> None:
        self.show(party_id)
        pid, _ = call(self.contract.functions.partyOf(account))
        if pid != party_id:
            raise InvalidInput(f"account {account} is not an account of party {party_id}", field="account")

    def rotate_by_signature(self, old: str, new: str, deadline: int, old_signature: bytes, new_signature: bytes) -> dict[str, Any]:
        """A party's own rotation: both accounts signed `Rotation`; the contract checks the party is active."""
        from ledger import eip712

        old_acct, new_acct = parse_account(old, "oldAccount"), parse_account(new, "newAccount")
        pid, active = call(self.contract.functions.partyOf(old_acct))
        if not pid:
            raise InvalidInput(f"{old_acct} is not an account of any party", field="oldAccount")
        if not active:
            raise InvalidInput(f"party {pid} is suspended: its accounts are rotated by the operator", field="oldAccount")
        domain = self.ledger.evidence_service.domain()
        message = eip712.rotation_message(domain, old_acct, new_acct, deadline)
        for field, acct, sig in (("oldSignature", old_acct, old_signature), ("newSignature", new_acct, new_signature)):
            if not self.ledger.w3.eth.get_code(acct) and eip712.recover(message, sig) != acct:
                raise InvalidInput(f"{field} does not verify for {acct}", field=field)
        sent = self._send(self.contract.functions.rotateAccountBySignature(old_acct, new_acct, deadline, old_signature, new_signature))
        return {**self.show(int(pid)), "transactionHash": sent.tx_hash}

    def account(self, account: str) -> dict[str, Any]:
        acct = parse_account(account)
        pid, active = call(self.contract.functions.partyOf(acct))
        return {
            "account": acct,
            "partyId": int(pid) or None,
            "active": bool(active),
            "nonce": int(call(self.contract.functions.nonces(acct))),
        }
