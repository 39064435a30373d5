"""Parties: admission and suspension by the registrar, powerful kinds and confirmations by governance, account
changes by the party itself (docs/security.md).

Guarantees:
- Identifiers are canonicalised before anything is sent (:func:`ledger.domain.identifiers.canonical_identifier`: NFKC,
  trimmed, upper case, USCC check character); a lookalike of an admitted identifier answers 409 naming the
  party that holds its canonical form. The contract refuses any non-canonical spelling again.
- Each power is sent with its own key: admissions of firms, universities and service agencies and provisional
  suspensions with the registrar's; arbitration institutions, financial institutions, asset verifiers,
  confirmations and recoveries with governance's (only when this service was given it: the embedded default);
  a party's signed account change, a veto and an executable recovery with the relayer's, which holds no power.
- A party's account change is checked here first (nonce, deadline within a year, signers of the party,
  ECDSA signatures) so that a bad one answers 4xx before any gas is spent; the contract checks everything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, keccak, to_checksum_address

from web3.logs import DISCARD

from ledger.domain import eip712
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.domain.identifiers import canonical_identifier
from ledger.domain.inputs import REASON_MAX, check_text
from ledger.chain.codec import call
from ledger.chain.sender import SentTransaction

if TYPE_CHECKING:
    from ledger.facade import Ledger

KINDS = {"firm": 1, "university": 2, "arbitration_institution": 3, "financial_institution": 4, "service_agency": 5,
         "asset_verifier": 6}  # fmt: skip
#: Kinds that carry power over other parties' rights: admitted by governance only.
POWERFUL_KINDS = ("arbitration_institution", "financial_institution", "asset_verifier")
#: Furthest ahead an account-change signature's deadline may be (the contract's MAX_SIGNATURE_WINDOW).
MAX_SIGNATURE_WINDOW = 365 * 24 * 3600
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
            identifier = canonical_identifier(self.identifier_scheme, self.identifier)
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

    def _send(self, fn: Any, sender: Any = None) -> SentTransaction:
        sent = (sender or self.ledger.require_relayer()).send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent

    def admit(self, profile: PartyProfile, accounts: list[str]) -> dict[str, Any]:
        given = profile.identifier
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
            spelled = "" if given == profile.identifier else f" (the canonical form of {given!r})"
            raise Conflict(f"identifier {profile.identifier}{spelled} already belongs to party {holder}", field="identifier",
                           details={"partyId": int(holder), "canonical": profile.identifier})  # fmt: skip
        held = self.ledger.role_accounts()
        for i, acct in enumerate(parsed):
            pid, _ = call(self.contract.functions.partyOf(acct))
            if pid:
                raise Conflict(f"account {acct} already belongs to party {pid}", field=f"accounts[{i}]", details={"partyId": int(pid)})
            if acct in held:
                raise InvalidInput(f"account {acct} is a service key ({held[acct]}); it cannot be a party's account",
                                   field=f"accounts[{i}]")  # fmt: skip
        fn = self.contract.functions.admitParty(profile.as_tuple(), parsed)
        if profile.kind in POWERFUL_KINDS:
            sender = self.ledger.require_governance(f"admitting a party of kind {profile.kind}", fn)
        else:
            sender = self.ledger.require_registrar()
        sent = self._send(fn, sender)
        event = self.contract.events.PartyAdmitted().process_receipt(sent.receipt, errors=DISCARD)[0]
        return {**self.show(int(event["args"]["partyId"])), "transactionHash": sent.tx_hash}

    def show(self, party_id: int, *, history: bool = False) -> dict[str, Any]:
        """The party as the contract reads it now (its suspension judged by the contract: a provisional one that
        lapsed reads ``suspended: false``, ``suspensionState: "lapsed"``); with ``history``, its suspension,
        recovery and account events as the index has read them (newest first, at most
        :data:`ledger.index.queries.PARTY_HISTORY_LIMIT`; None when the index cannot be read)."""
        count = int(call(self.contract.functions.partyCount()))
        if party_id < 1 or party_id > count:
            raise NotFound(f"no party {party_id}", field="party_id")
        profile = self.ledger.evidence_service.party_profile(party_id)
        kind = {v: k for k, v in KINDS.items()}[profile.pop("kind")]
        jurisdiction = {v: k for k, v in JURISDICTIONS.items()}[profile.pop("jurisdiction")]
        new_account, executable_at = call(self.contract.functions.pendingRecovery(party_id))
        lapses_at = None
        state = profile["suspension"]  # none | provisional | confirmed, as stored
        if state == "provisional":
            lapses_at = int(profile["suspendedAt"] or 0) + int(call(self.contract.functions.suspensionConfirmationPeriod()))
            state = "provisional" if profile["suspended"] else "lapsed"  # the contract's judgement, at its latest block
        shown: dict[str, Any] = {
            **profile,
            "kind": kind,
            "jurisdiction": jurisdiction,
            "identifierScheme": profile["identifierScheme"].lower(),
            "status": "suspended" if profile["suspended"] else "active",
            "suspensionState": state,
            "suspensionLapsesAt": lapses_at,
            "pendingRecovery": {"newAccount": new_account, "executableAt": int(executable_at)} if executable_at else None,
            "accounts": list(call(self.contract.functions.partyAccounts(party_id))),
        }
        if history:
            shown.update(self._history(party_id, state, lapses_at))
        return shown

    def _history(self, party_id: int, state: str, lapses_at: int | None) -> dict[str, Any]:
        """The index's history of the party, its lapse entry (which has no event) set by the contract's
        judgement rather than the index's, and "reinstated" for a party whose last suspension was lifted."""
        from ledger.errors import LedgerError
        from ledger.index.queries import PARTY_HISTORY_LIMIT

        try:
            record = self.ledger.index.party(party_id)
        except LedgerError as exc:  # the index database is down: the party still shows, without its history
            return {"history": None, "historyNote": exc.message}
        if record is None:
            return {"history": [], "historyTotal": 0, "historyNote": "the index has not read this party yet"}
        items = [e for e in record["history"] if e["event"] != "suspension_lapsed"]
        total = int(record["historyTotal"]) - (len(record["history"]) - len(items))
        if state == "lapsed" and lapses_at is not None:
            items.append({"event": "suspension_lapsed", "time": lapses_at, "block": None, "transactionHash": None})
            items.sort(key=lambda e: (e["time"], e["block"] if e["block"] is not None else -1), reverse=True)
            items = items[:PARTY_HISTORY_LIMIT]
            total += 1
        extra: dict[str, Any] = {"history": items, "historyTotal": total}
        if state == "none" and record["suspensionState"] == "reinstated":
            extra["suspensionState"] = "reinstated"
        return extra

    # --- suspension: registrar provisionally, governance confirms ---------------------------------

    def suspend(self, party_id: int, reason: str) -> dict[str, Any]:
        self.show(party_id)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a suspension needs a reason (its hash goes on chain)", field="reason")
        check_text(reason, "reason", max_length=REASON_MAX)
        sent = self._send(self.contract.functions.suspendParty(party_id, keccak(text=reason)), self.ledger.require_registrar())
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def confirm_suspension(self, party_id: int) -> dict[str, Any]:
        self.show(party_id)
        fn = self.contract.functions.confirmSuspension(party_id)
        sent = self._send(fn, self.ledger.require_governance("confirming a suspension", fn))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def reinstate(self, party_id: int) -> dict[str, Any]:
        shown = self.show(party_id)
        # the registrar lifts its own provisional suspension while in force; anything else is governance's
        fn = self.contract.functions.reinstateParty(party_id)
        if shown["suspension"] == "provisional" and shown["suspended"]:
            sender = self.ledger.registrar or self.ledger.require_governance("lifting a suspension", fn)
        else:
            sender = self.ledger.require_governance("lifting a confirmed or lapsed suspension", fn)
        sent = self._send(fn, sender)
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    # --- the party's own account changes ----------------------------------------------------------

    def change_accounts(self, party_id: int, *, action: str, account: str | None, new_account: str | None, threshold: int,
                        nonce: int, deadline: int, signatures: list[tuple[str, bytes]],
                        new_account_signature: bytes) -> dict[str, Any]:  # fmt: skip
        """Relays a party's own account change, signed by ``threshold`` of its accounts (and, for add and rotate,
        by the incoming account). Anyone may submit it; the relayer only pays the gas."""
        shown = self.show(party_id)
        if action not in eip712.ACCOUNT_ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(eip712.ACCOUNT_ACTIONS)}", field="action")
        acct = parse_account(account, "account") if account else None
        new = parse_account(new_account, "newAccount") if new_account else None
        if action in ("add", "remove", "rotate") and acct is None:
            raise InvalidInput(f"{action} needs the account", field="account")
        if (action == "rotate") != (new is not None):
            raise InvalidInput("newAccount is given for rotate only", field="newAccount")
        if action == "set_threshold" and acct is not None:
            raise InvalidInput("set_threshold names no account", field="account")
        if nonce != shown["accountNonce"]:
            raise Conflict(f"the party's account nonce is {shown['accountNonce']}, the change carries {nonce} (already "
                           "used, or not yet)", field="nonce", details={"expected": shown["accountNonce"]})  # fmt: skip
        now = int(self.ledger.head.latest(max_age=0).timestamp)
        if deadline < now:
            raise InvalidInput("the signatures' deadline has passed", field="deadline")
        if deadline > now + MAX_SIGNATURE_WINDOW:
            raise InvalidInput("the deadline is more than a year ahead", field="deadline")
        if not 1 <= len(signatures) <= MAX_ACCOUNTS:
            raise InvalidInput(f"1 to {MAX_ACCOUNTS} signatures of the party's accounts are needed", field="signatures")
        if len(signatures) < shown["threshold"]:
            raise PermissionDenied(f"party {party_id} needs {shown['threshold']} of its accounts to sign, {len(signatures)} did",
                                   field="signatures")  # fmt: skip
        message = eip712.account_change_message(self.ledger.evidence_service.domain(), party_id=party_id, action=action,
                                                account=acct, new_account=new, threshold=threshold, nonce=nonce,
                                                deadline=deadline)  # fmt: skip
        ordered: list[tuple[str, bytes]] = []
        for i, (signer, sig) in enumerate(signatures):
            who = parse_account(signer, f"signatures[{i}].signer")
            if who not in shown["accounts"]:
                raise PermissionDenied(f"{who} is not an account of party {party_id}: only the party changes its accounts",
                                       field=f"signatures[{i}].signer")  # fmt: skip
            self._check_signature(message, who, sig, f"signatures[{i}].signature")
            ordered.append((who, sig))
        ordered.sort(key=lambda item: int(item[0], 16))
        if len({w for w, _ in ordered}) != len(ordered):
            raise InvalidInput("an account signed twice", field="signatures")
        joiner = acct if action == "add" else new
        if joiner is not None:
            self._check_signature(message, joiner, new_account_signature, "newAccountSignature")
        change = (party_id, eip712.ACCOUNT_ACTIONS[action], acct or eip712.ZERO_ADDRESS, new or eip712.ZERO_ADDRESS,
                  threshold, nonce, deadline)  # fmt: skip
        sent = self._send(self.contract.functions.changeAccounts(change, ordered, new_account_signature or b""))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def _check_signature(self, message: dict[str, Any], signer: str, signature: bytes, field: str) -> None:
        if not signature:
            raise InvalidInput(f"{field} is missing", field=field)
        if not self.ledger.w3.eth.get_code(to_checksum_address(signer)) and eip712.recover(message, signature) != signer:
            raise InvalidInput(f"{field} does not verify for {signer}", field=field)

    # --- recovery of a lost key: governance proposes, the party may veto, anyone executes -----------

    def propose_recovery(self, party_id: int, new_account: str) -> dict[str, Any]:
        self.show(party_id)
        new = parse_account(new_account, "newAccount")
        pid, _ = call(self.contract.functions.partyOf(new))
        if pid and pid != party_id:
            raise Conflict(f"account {new} already belongs to party {pid}", field="newAccount", details={"partyId": int(pid)})
        fn = self.contract.functions.proposeRecovery(party_id, new)
        sent = self._send(fn, self.ledger.require_governance("proposing a key recovery", fn))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def veto_recovery(self, party_id: int, account: str, signature: bytes) -> dict[str, Any]:
        shown = self.show(party_id)
        acct = parse_account(account, "account")
        pending = shown["pendingRecovery"]
        if pending is None:
            raise Conflict(f"party {party_id} has no pending recovery", field="party_id")
        if acct not in shown["accounts"]:
            raise PermissionDenied(f"{acct} is not an account of party {party_id}", field="account")
        message = eip712.recovery_veto_message(self.ledger.evidence_service.domain(), party_id=party_id,
                                               new_account=pending["newAccount"], executable_at=pending["executableAt"])  # fmt: skip
        self._check_signature(message, acct, signature, "signature")
        sent = self._send(self.contract.functions.vetoRecovery(party_id, acct, signature))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def execute_recovery(self, party_id: int) -> dict[str, Any]:
        pending = self.show(party_id)["pendingRecovery"]
        if pending is None:
            raise Conflict(f"party {party_id} has no pending recovery", field="party_id")
        if int(self.ledger.head.latest(max_age=0).timestamp) < pending["executableAt"]:
            raise Conflict(f"the recovery of party {party_id} can be executed from {pending['executableAt']} (unix time)",
                           field="party_id", details={"executableAt": pending["executableAt"]})  # fmt: skip
        sent = self._send(self.contract.functions.executeRecovery(party_id))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def account(self, account: str) -> dict[str, Any]:
        acct = parse_account(account)
        pid, active = call(self.contract.functions.partyOf(acct))
        return {
            "account": acct,
            "partyId": int(pid) or None,
            "active": bool(active),
            "nonce": int(call(self.contract.functions.nonces(acct))),
        }
