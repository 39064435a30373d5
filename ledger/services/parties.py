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

from collections.abc import Callable
from typing import Any, Protocol

from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from ledger.certificates import evidence as certificate
from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.rpc import FunctionCodec
from ledger.chain.sender import SentTransaction
from ledger.domain import eip712
from ledger.domain.codes import AccountAction, Jurisdiction, PartyKind, SuspensionState
from ledger.domain.inputs import REASON_MAX, check_text
from ledger.domain.parties import (
    MAX_ACCOUNTS,
    SCHEMES,
    PartyProfile,
    Refusal,
    as_actor,
    ensure_active,
    parse_account,
)
from ledger.domain.results import AccountView, PartyHistoryExtra, PartyRecord, PartyView
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied

#: Kinds that carry power over other parties' rights: admitted by governance only.
POWERFUL_KINDS = tuple(
    k.word for k in (PartyKind.ARBITRATION_INSTITUTION, PartyKind.FINANCIAL_INSTITUTION, PartyKind.ASSET_VERIFIER)
)
#: Furthest ahead an account-change signature's deadline may be (the contract's MAX_SIGNATURE_WINDOW).
MAX_SIGNATURE_WINDOW = 365 * 24 * 3600


class PartyHistory(Protocol):
    """What the party service reads of the index: a party's suspension, recovery and account history."""

    def party(self, party_id: int) -> dict[str, Any] | None: ...


class PartyService:
    """Admissions, suspensions, account changes and recoveries of parties; and the one check that an account is of
    an active party (:meth:`active_party`), which every other service asks.

    Receives the chain :class:`~ledger.chain.connection.Connection` and, for :meth:`show` with ``history``, a
    callable that opens the index (called on first use only: the index is a database of its own).
    """

    def __init__(self, conn: Connection, *, index: Callable[[], PartyHistory] | None = None) -> None:
        self.conn = conn
        self._index = index
        self._codecs: dict[str, FunctionCodec] = {}

    @property
    def contract(self) -> Any:
        return self.conn.evidence

    def _codec(self, name: str) -> FunctionCodec:
        codec = self._codecs.get(name)
        if codec is None:
            codec = self._codecs[name] = FunctionCodec(self.contract, name)
        return codec

    def _send(self, fn: Any, sender: Any = None) -> SentTransaction:
        sent = (sender or self.conn.require_relayer()).send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent

    # --- reads every service shares -----------------------------------------------------------------

    def party_of(self, account: str) -> tuple[int, bool]:
        """The chain's ``partyOf(account)``: the party id (0 for none) and whether the party is active now (one
        ``eth_call``)."""
        party_id, active = self._codec("partyOf").call(self.conn.w3, to_checksum_address(account))
        return int(party_id), bool(active)

    def active_party(
        self,
        account: str,
        *,
        field: str = "account",
        refuse: Refusal = as_actor,
        among: Callable[[int], None] | None = None,
    ) -> int:
        """The id of the active party ``account`` belongs to: the one check of "an account of an active party".

        Reads ``partyOf(account)`` once; ``among(party_id)``, when given, runs first and raises the caller's own
        error for a party it does not expect (not a party to the agreement, not the institution, not a verifier);
        then an account of no party or of a suspended party is refused with ``refuse`` (the caller's words,
        :mod:`ledger.domain.parties`) naming ``field``.
        """
        party_id, active = self.party_of(account)
        if among is not None:
            among(party_id)
        return ensure_active(account, party_id, active, field=field, refuse=refuse)

    def count(self) -> int:
        """How many parties were admitted (ids run from 1 to this)."""
        (count,) = self._codec("partyCount").call(self.conn.w3)
        return int(count)

    def profile(self, party_id: int) -> PartyRecord:
        """The party's record as the contract reads it now (codes as numbers; see :meth:`show` for names)."""
        p = call(self.contract.functions.party(party_id))
        return {
            "partyId": party_id,
            "kind": int(p[0]),
            "jurisdiction": int(p[1]),
            "identifierScheme": certificate.SCHEMES.get(int(p[2]), "OTHER"),
            "suspended": bool(p[3]),  # in force now (a lapsed provisional suspension reads false)
            "accountCount": int(p[4]),
            "threshold": int(p[5]),
            "admittedAt": int(p[6]),
            "accountNonce": int(p[7]),
            "suspension": SuspensionState(int(p[8])).word,
            "suspendedAt": int(p[9]) or None,
            "identifier": p[10],
            "nameZh": p[11],
            "nameEn": p[12],
        }

    # --- admission ------------------------------------------------------------------------------------

    def admit(self, profile: PartyProfile, accounts: list[str], *, individual: bool = False) -> PartyView:
        """Admits an organisation; an individual only when called by :class:`ledger.services.persons.PersonService`
        (``individual``), which keeps the person's identity off chain and gives the commitment."""
        given = profile.identifier
        if profile.kind == PartyKind.INDIVIDUAL.word and not individual:
            raise InvalidInput(
                "a natural person is admitted with its identity document (POST /v1/parties/individuals, "
                "`ipledger party admit --kind individual`): the service keeps it off chain",
                field="kind",
            )
        profile = profile.validated()
        if not accounts:
            raise InvalidInput("a party needs at least one account", field="accounts")
        if len(accounts) > MAX_ACCOUNTS:
            raise InvalidInput(f"a party holds at most {MAX_ACCOUNTS} accounts", field="accounts")
        parsed = [parse_account(a, f"accounts[{i}]") for i, a in enumerate(accounts)]
        if len(set(parsed)) != len(parsed):
            raise InvalidInput("the same account is listed twice", field="accounts")
        holder = call(
            self.contract.functions.partyByIdentifier(int(SCHEMES[profile.identifier_scheme]), profile.identifier)
        )
        if holder:
            spelled = "" if given == profile.identifier else f" (the canonical form of {given!r})"
            raise Conflict(
                f"identifier {profile.identifier}{spelled} already belongs to party {holder}",
                field="identifier",
                details={"partyId": int(holder), "canonical": profile.identifier},
            )
        held = self.conn.role_accounts()
        for i, acct in enumerate(parsed):
            pid, _ = self.party_of(acct)
            if pid:
                raise Conflict(
                    f"account {acct} already belongs to party {pid}",
                    field=f"accounts[{i}]",
                    details={"partyId": int(pid)},
                )
            if acct in held:
                raise InvalidInput(
                    f"account {acct} is a service key ({held[acct]}); it cannot be a party's account",
                    field=f"accounts[{i}]",
                )
        fn = self.contract.functions.admitParty(profile.as_tuple(), parsed)
        if profile.kind in POWERFUL_KINDS:
            sender = self.conn.require_governance(f"admitting a party of kind {profile.kind}", fn)
        else:
            sender = self.conn.require_registrar()
        sent = self._send(fn, sender)
        event = self.contract.events.PartyAdmitted().process_receipt(sent.receipt, errors=DISCARD)[0]
        return {**self.show(int(event["args"]["partyId"])), "transactionHash": sent.tx_hash}

    def show(self, party_id: int, *, history: bool = False) -> PartyView:
        """The party as the contract reads it now (its suspension judged by the contract: a provisional one that
        lapsed reads ``suspended: false``, ``suspensionState: "lapsed"``); with ``history``, its suspension,
        recovery and account events as the index has read them (newest first, at most
        :data:`ledger.index.queries.PARTY_HISTORY_LIMIT`; None when the index cannot be read)."""
        count = int(call(self.contract.functions.partyCount()))
        if party_id < 1 or party_id > count:
            raise NotFound(f"no party {party_id}", field="party_id")
        profile = self.profile(party_id)
        kind = PartyKind(profile.pop("kind")).word
        jurisdiction = Jurisdiction(profile.pop("jurisdiction")).word
        new_account, executable_at = call(self.contract.functions.pendingRecovery(party_id))
        lapses_at = None
        state = profile["suspension"]  # none | provisional | confirmed, as stored
        if state == SuspensionState.PROVISIONAL.word:
            lapses_at = int(profile["suspendedAt"] or 0) + int(
                call(self.contract.functions.suspensionConfirmationPeriod())
            )
            state = (
                SuspensionState.PROVISIONAL.word if profile["suspended"] else "lapsed"
            )  # the contract's judgement, at its latest block
        # mypy wants each optional key of the literal in a ** item; they come with ``history`` and the callers
        shown: PartyView = {
            **profile,  # type: ignore[typeddict-item]
            "kind": kind,
            "jurisdiction": jurisdiction,
            "identifierScheme": profile["identifierScheme"].lower(),
            "status": "suspended" if profile["suspended"] else "active",
            "suspensionState": state,
            "suspensionLapsesAt": lapses_at,
            "pendingRecovery": {"newAccount": new_account, "executableAt": int(executable_at)}
            if executable_at
            else None,
            "accounts": list(call(self.contract.functions.partyAccounts(party_id))),
        }
        if kind == PartyKind.INDIVIDUAL.word:
            shown["naturalPerson"] = certificate.natural_person(party_id)  # never a name (docs/privacy.md)
        if history:
            # ``PartyHistoryExtra`` declares exactly the keys of ``PartyView`` it sets; mypy's update wants them all
            shown.update(self._history(party_id, state, lapses_at))  # type: ignore[typeddict-item]
        return shown

    def _history(self, party_id: int, state: str, lapses_at: int | None) -> PartyHistoryExtra:
        """The index's history of the party, its lapse entry (which has no event) set by the contract's
        judgement rather than the index's, and "reinstated" for a party whose last suspension was lifted."""
        from ledger.errors import LedgerError
        from ledger.index.queries import PARTY_HISTORY_LIMIT

        if self._index is None:
            return {"history": None, "historyNote": "this service reads no index"}
        try:
            record = self._index().party(party_id)
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
        extra: PartyHistoryExtra = {"history": items, "historyTotal": total}
        if state == "none" and record["suspensionState"] == "reinstated":
            extra["suspensionState"] = "reinstated"
        return extra

    # --- suspension: registrar provisionally, governance confirms ---------------------------------

    def suspend(self, party_id: int, reason: str) -> PartyView:
        self.show(party_id)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a suspension needs a reason (its hash goes on chain)", field="reason")
        check_text(reason, "reason", max_length=REASON_MAX)
        sent = self._send(
            self.contract.functions.suspendParty(party_id, keccak(text=reason)), self.conn.require_registrar()
        )
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def confirm_suspension(self, party_id: int) -> PartyView:
        self.show(party_id)
        fn = self.contract.functions.confirmSuspension(party_id)
        sent = self._send(fn, self.conn.require_governance("confirming a suspension", fn))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def reinstate(self, party_id: int) -> PartyView:
        shown = self.show(party_id)
        # the registrar lifts its own provisional suspension while in force; anything else is governance's
        fn = self.contract.functions.reinstateParty(party_id)
        if shown["suspension"] == SuspensionState.PROVISIONAL.word and shown["suspended"]:
            sender = self.conn.registrar or self.conn.require_governance("lifting a suspension", fn)
        else:
            sender = self.conn.require_governance("lifting a confirmed or lapsed suspension", fn)
        sent = self._send(fn, sender)
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    # --- the party's own account changes ----------------------------------------------------------

    def change_accounts(
        self,
        party_id: int,
        *,
        action: str,
        account: str | None,
        new_account: str | None,
        threshold: int,
        nonce: int,
        deadline: int,
        signatures: list[tuple[str, bytes]],
        new_account_signature: bytes,
    ) -> PartyView:
        """Relays a party's own account change, signed by ``threshold`` of its accounts (and, for add and rotate,
        by the incoming account). Anyone may submit it; the relayer only pays the gas."""
        shown = self.show(party_id)
        if action not in eip712.ACCOUNT_ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(eip712.ACCOUNT_ACTIONS)}", field="action")
        acct = parse_account(account, "account") if account else None
        new = parse_account(new_account, "newAccount") if new_account else None
        if action in (AccountAction.ADD.word, AccountAction.REMOVE.word, AccountAction.ROTATE.word) and acct is None:
            raise InvalidInput(f"{action} needs the account", field="account")
        if (action == AccountAction.ROTATE.word) != (new is not None):
            raise InvalidInput("newAccount is given for rotate only", field="newAccount")
        if action == AccountAction.SET_THRESHOLD.word and acct is not None:
            raise InvalidInput("set_threshold names no account", field="account")
        if nonce != shown["accountNonce"]:
            raise Conflict(
                f"the party's account nonce is {shown['accountNonce']}, the change carries {nonce} (already "
                "used, or not yet)",
                field="nonce",
                details={"expected": shown["accountNonce"]},
            )
        now = int(self.conn.head.latest(max_age=0).timestamp)
        if deadline < now:
            raise InvalidInput("the signatures' deadline has passed", field="deadline")
        if deadline > now + MAX_SIGNATURE_WINDOW:
            raise InvalidInput("the deadline is more than a year ahead", field="deadline")
        if not 1 <= len(signatures) <= MAX_ACCOUNTS:
            raise InvalidInput(f"1 to {MAX_ACCOUNTS} signatures of the party's accounts are needed", field="signatures")
        if len(signatures) < shown["threshold"]:
            raise PermissionDenied(
                f"party {party_id} needs {shown['threshold']} of its accounts to sign, {len(signatures)} did",
                field="signatures",
            )
        message = eip712.account_change_message(
            self.conn.evidence_domain,
            party_id=party_id,
            action=action,
            account=acct,
            new_account=new,
            threshold=threshold,
            nonce=nonce,
            deadline=deadline,
        )
        ordered: list[tuple[str, bytes]] = []
        for i, (signer, sig) in enumerate(signatures):
            who = parse_account(signer, f"signatures[{i}].signer")
            if who not in shown["accounts"]:
                raise PermissionDenied(
                    f"{who} is not an account of party {party_id}: only the party changes its accounts",
                    field=f"signatures[{i}].signer",
                )
            self._check_signature(message, who, sig, f"signatures[{i}].signature")
            ordered.append((who, sig))
        ordered.sort(key=lambda item: int(item[0], 16))
        if len({w for w, _ in ordered}) != len(ordered):
            raise InvalidInput("an account signed twice", field="signatures")
        joiner = acct if action == AccountAction.ADD.word else new
        if joiner is not None:
            self._check_signature(message, joiner, new_account_signature, "newAccountSignature")
        change = (
            party_id,
            eip712.ACCOUNT_ACTIONS[action],
            acct or eip712.ZERO_ADDRESS,
            new or eip712.ZERO_ADDRESS,
            threshold,
            nonce,
            deadline,
        )
        sent = self._send(self.contract.functions.changeAccounts(change, ordered, new_account_signature or b""))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def _check_signature(self, message: dict[str, Any], signer: str, signature: bytes, field: str) -> None:
        if not signature:
            raise InvalidInput(f"{field} is missing", field=field)
        if not self.conn.w3.eth.get_code(to_checksum_address(signer)) and eip712.recover(message, signature) != signer:
            raise InvalidInput(f"{field} does not verify for {signer}", field=field)

    # --- recovery of a lost key: governance proposes, the party may veto, anyone executes -----------

    def propose_recovery(self, party_id: int, new_account: str) -> PartyView:
        self.show(party_id)
        new = parse_account(new_account, "newAccount")
        pid, _ = self.party_of(new)
        if pid and pid != party_id:
            raise Conflict(
                f"account {new} already belongs to party {pid}", field="newAccount", details={"partyId": int(pid)}
            )
        fn = self.contract.functions.proposeRecovery(party_id, new)
        sent = self._send(fn, self.conn.require_governance("proposing a key recovery", fn))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def veto_recovery(self, party_id: int, account: str, signature: bytes) -> PartyView:
        shown = self.show(party_id)
        acct = parse_account(account, "account")
        pending = shown["pendingRecovery"]
        if pending is None:
            raise Conflict(f"party {party_id} has no pending recovery", field="party_id")
        if acct not in shown["accounts"]:
            raise PermissionDenied(f"{acct} is not an account of party {party_id}", field="account")
        message = eip712.recovery_veto_message(
            self.conn.evidence_domain,
            party_id=party_id,
            new_account=pending["newAccount"],
            executable_at=pending["executableAt"],
        )
        self._check_signature(message, acct, signature, "signature")
        sent = self._send(self.contract.functions.vetoRecovery(party_id, acct, signature))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def execute_recovery(self, party_id: int) -> PartyView:
        pending = self.show(party_id)["pendingRecovery"]
        if pending is None:
            raise Conflict(f"party {party_id} has no pending recovery", field="party_id")
        if int(self.conn.head.latest(max_age=0).timestamp) < pending["executableAt"]:
            raise Conflict(
                f"the recovery of party {party_id} can be executed from {pending['executableAt']} (unix time)",
                field="party_id",
                details={"executableAt": pending["executableAt"]},
            )
        sent = self._send(self.contract.functions.executeRecovery(party_id))
        return {**self.show(party_id), "transactionHash": sent.tx_hash}

    def account(self, account: str) -> AccountView:
        acct = parse_account(account)
        pid, active = self.party_of(acct)
        return {
            "account": acct,
            "partyId": pid or None,
            "active": bool(active),
            "nonce": int(call(self.contract.functions.nonces(acct))),
        }
