"""Disputes before an arbitration institution: typed data its arbitrators sign, relaying their signatures,
and reading disputes back. Opening (which freezes the asset) and the award are acts of the institution: the
contract requires distinct accounts of one active arbitration institution, at least max(its threshold, 2)
of them, or one ERC-1271 wallet account of it (a Safe's own m-of-n stands for the institution's); it freezes
the asset and applies the award. This module checks the same inputs first, naming the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from web3.logs import DISCARD

from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.sender import SentTransaction
from ledger.domain import eip712
from ledger.domain.agreements import MAX_SIGNING_WINDOW
from ledger.domain.codes import (
    AgreementStatus,
    AssetStatus,
    DisputeStatus,
    Outcome,
    PartyKind,
    SubjectKind,
)
from ledger.domain.eip712 import EIP712_DOMAIN_TYPE, Domain
from ledger.domain.hashing import parse_hash
from ledger.domain.parties import as_arbitrator, parse_account
from ledger.domain.results import DisputeView
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.services.assets import AssetService
from ledger.services.parties import PartyService

DISPUTES_DOMAIN_NAME = "QianhaiIPLedger.Disputes"
SUBJECTS = {s.word: s for s in SubjectKind.choices()}
OUTCOMES = {o.word: o for o in Outcome.choices()}
MIN_ARBITRATORS = 2  # DisputeRegistry.MIN_ARBITRATORS
MAX_SIGNATURES = 16  # DisputeRegistry.MAX_SIGNATURES
Signatures = list[tuple[str, bytes]]
OPEN_TYPE = [
    {"name": "kind", "type": "uint8"},
    {"name": "subjectId", "type": "bytes32"},
    {"name": "claimant", "type": "uint256"},
    {"name": "respondent", "type": "uint256"},
    {"name": "claimHash", "type": "bytes32"},
    {"name": "institution", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
CLOSE_TYPE = [
    {"name": "disputeId", "type": "bytes32"},
    {"name": "outcome", "type": "uint8"},
    {"name": "awardHash", "type": "bytes32"},
    {"name": "owners", "type": "uint256[]"},
    {"name": "shares", "type": "uint16[]"},
    {"name": "institution", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
OPEN_TYPEHASH = keccak(text=eip712.type_string("OpenDispute", OPEN_TYPE))
CLOSE_TYPEHASH = keccak(text=eip712.type_string("CloseDispute", CLOSE_TYPE))


def disputes_domain(chain_id: int, contract: str) -> Domain:
    return Domain(chain_id, contract, name=DISPUTES_DOMAIN_NAME)


@dataclass(frozen=True)
class OpenRequest:
    kind: int
    subject_id: bytes
    claimant: int
    respondent: int
    claim_hash: bytes
    institution: int
    deadline: int

    def message(self, domain: Domain) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "OpenDispute": OPEN_TYPE},
            "primaryType": "OpenDispute",
            "domain": domain.to_json(),
            "message": {
                "kind": self.kind,
                "subjectId": "0x" + self.subject_id.hex(),
                "claimant": self.claimant,
                "respondent": self.respondent,
                "claimHash": "0x" + self.claim_hash.hex(),
                "institution": self.institution,
                "deadline": self.deadline,
            },
        }

    def as_args(self, signatures: Signatures) -> tuple[Any, ...]:
        return (
            (self.kind, self.subject_id, self.claimant, self.respondent, self.claim_hash),
            self.institution,
            self.deadline,
            signatures,
        )


@dataclass(frozen=True)
class CloseRequest:
    dispute_id: bytes
    outcome: int
    award_hash: bytes
    owners: tuple[int, ...]
    shares: tuple[int, ...]
    institution: int
    deadline: int

    def message(self, domain: Domain) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "CloseDispute": CLOSE_TYPE},
            "primaryType": "CloseDispute",
            "domain": domain.to_json(),
            "message": {
                "disputeId": "0x" + self.dispute_id.hex(),
                "outcome": self.outcome,
                "awardHash": "0x" + self.award_hash.hex(),
                "owners": list(self.owners),
                "shares": list(self.shares),
                "institution": self.institution,
                "deadline": self.deadline,
            },
        }

    def as_args(self, signatures: Signatures) -> tuple[Any, ...]:
        return (
            (self.dispute_id, self.outcome, self.award_hash, list(self.owners), list(self.shares)),
            self.institution,
            self.deadline,
            signatures,
        )


class DisputeService:
    """Disputes' use cases. Receives the chain connection, the asset service (a disputed asset's status) and the
    party service (institutions, their arbitrators' accounts)."""

    def __init__(self, conn: Connection, assets: AssetService, parties: PartyService) -> None:
        self.conn = conn
        self.assets = assets
        self.parties = parties

    @property
    def contract(self) -> Any:
        return self.conn.disputes

    def domain(self) -> Domain:
        return disputes_domain(self.conn.manifest.chain_id, self.conn.manifest.address("DisputeRegistry"))

    def _deadline(self, value: Any) -> int:
        now = self.conn.latest_time()
        deadline = int(value or now + 3600)
        if deadline <= now:
            raise InvalidInput("the deadline has passed", field="deadline")
        if deadline > now + MAX_SIGNING_WINDOW:  # the contract refuses it too (SignatureDeadlineTooFar)
            raise InvalidInput(
                f"a signing deadline lies at most {MAX_SIGNING_WINDOW // 86400} days ahead", field="deadline"
            )
        return deadline

    def _institution(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= self.parties.count():
            raise InvalidInput(
                "institution must be the party id of an admitted arbitration institution", field="institution"
            )
        profile = self.parties.profile(value)
        if profile["kind"] != PartyKind.ARBITRATION_INSTITUTION:
            raise InvalidInput(f"party {value} is not an arbitration institution", field="institution")
        if profile["suspended"]:
            raise InvalidInput(f"arbitration institution {value} is suspended", field="institution")
        return value

    def check_signatures(self, institution: int, signatures: Signatures) -> Signatures:
        """The contract's rule, checked early: distinct accounts of `institution`, each active, at least
        max(its threshold, 2) of them unless one is a contract wallet (ERC-1271). Signatures themselves are
        verified by the contract (a wallet's only there)."""
        if len(signatures) > MAX_SIGNATURES:
            raise InvalidInput(f"at most {MAX_SIGNATURES} signatures", field="signatures")
        seen: set[str] = set()
        wallet = False
        for signer, _ in signatures:
            acct = parse_account(signer, "signatures")
            if acct in seen:
                raise InvalidInput(f"{acct} signs twice: each arbitrator counts once", field="signatures")
            seen.add(acct)

            def of_institution(party_id: int, acct: str = acct) -> None:
                if party_id != institution:
                    raise InvalidInput(
                        f"{acct} is not an account of arbitration institution {institution}", field="signatures"
                    )

            self.parties.active_party(acct, field="signatures", refuse=as_arbitrator, among=of_institution)
            wallet = wallet or bool(self.conn.w3.eth.get_code(acct))
        required = max(int(self.parties.profile(institution)["threshold"]), MIN_ARBITRATORS)
        if not wallet and len(signatures) < required:
            raise InvalidInput(
                f"institution {institution} acts by {required} distinct arbitrator accounts' signatures "
                f"(or one wallet account's); {len(signatures)} given",
                field="signatures",
            )
        return [(parse_account(signer, "signatures"), sig) for signer, sig in signatures]

    def open_request(self, body: dict[str, Any]) -> OpenRequest:
        kind = SUBJECTS.get(str(body.get("subject", "")))
        if kind is None:
            raise InvalidInput(f"subject must be one of {', '.join(SUBJECTS)}", field="subject")
        raw = body.get("subjectId")
        if kind == SubjectKind.ASSET:
            if not isinstance(raw, int) or raw < 1:
                raise InvalidInput("an asset subject is an asset id", field="subjectId")
            if self.assets.show(raw)["status"] == AssetStatus.STRUCK.word:
                raise Conflict(
                    f"asset {raw} is a claim struck by an asset verifier: its number is free, there is nothing "
                    "left to dispute on it",
                    field="subjectId",
                )
            subject = raw.to_bytes(32, "big")
        else:
            subject = parse_hash(str(raw or ""), "subjectId")
            if (
                kind == SubjectKind.AGREEMENT
                and call(self.conn.assets.functions.agreement(subject))[1] == AgreementStatus.NONE
            ):
                raise NotFound("no agreement in effect with that id", field="subjectId")
        count = self.parties.count()
        parties = []
        for name in ("claimant", "respondent"):
            value = body.get(name)
            if not isinstance(value, int) or not 1 <= value <= count:
                raise InvalidInput(f"{name} must be an admitted party", field=name)
            parties.append(value)
        if parties[0] == parties[1]:
            raise InvalidInput("claimant and respondent must differ", field="respondent")
        institution = self._institution(body.get("institution"))
        if institution in parties:
            raise InvalidInput("an institution cannot arbitrate a dispute it is a party to", field="institution")
        return OpenRequest(
            int(kind),
            subject,
            parties[0],
            parties[1],
            parse_hash(str(body.get("claimHash", "")), "claimHash"),
            institution,
            self._deadline(body.get("deadline")),
        )

    def open(self, body: dict[str, Any], signatures: Signatures) -> DisputeView:
        req = self.open_request(body)
        sigs = self.check_signatures(req.institution, signatures)
        sent = self._send(self.contract.functions.openDisputeBySignature(*req.as_args(sigs)))
        event = self.contract.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]
        return {**self.show("0x" + bytes(event["args"]["disputeId"]).hex()), "transactionHash": sent.tx_hash}

    def close_request(self, dispute_id: str, body: dict[str, Any]) -> CloseRequest:
        did = parse_hash(dispute_id, "dispute_id")
        d = self.show("0x" + did.hex())
        if d["status"] != DisputeStatus.OPEN.word:
            raise InvalidInput("the dispute is already closed", field="dispute_id")
        outcome = OUTCOMES.get(str(body.get("outcome", "")))
        if outcome is None:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        owners = body.get("owners") or []
        ids = tuple(int(o["partyId"]) for o in owners)
        shares = tuple(int(o["share"]) for o in owners)
        if outcome == Outcome.TITLE_RESTORED and sum(shares) != 10_000:
            raise InvalidInput(f"restored owners' shares sum to {sum(shares)}, not 10000 (100%)", field="owners")
        if outcome == Outcome.AGREEMENT_VOIDED and d["subject"] != SubjectKind.AGREEMENT.word:
            raise InvalidInput("only a dispute over an agreement can void it", field="outcome")
        institution = self._institution(body.get("institution") or d["institution"])
        if institution != d["institution"]:
            raise InvalidInput(f"the dispute is before institution {d['institution']}", field="institution")
        return CloseRequest(
            did,
            int(outcome),
            parse_hash(str(body.get("awardHash", "")), "awardHash"),
            ids,
            shares,
            institution,
            self._deadline(body.get("deadline")),
        )

    def close(self, dispute_id: str, body: dict[str, Any], signatures: Signatures) -> DisputeView:
        req = self.close_request(dispute_id, body)
        sigs = self.check_signatures(req.institution, signatures)
        sent = self._send(self.contract.functions.closeDisputeBySignature(*req.as_args(sigs)))
        return {**self.show(dispute_id), "transactionHash": sent.tx_hash}

    def show(self, dispute_id: str) -> DisputeView:
        did = parse_hash(dispute_id, "dispute_id")
        d = call(self.contract.functions.dispute(did))
        if d[1] == DisputeStatus.NONE:
            raise NotFound(f"no dispute 0x{did.hex()}", field="dispute_id")
        subject = SubjectKind(int(d[0])).word
        return {
            "disputeId": "0x" + did.hex(),
            "subject": subject,
            "subjectId": int.from_bytes(d[9], "big") if subject == SubjectKind.ASSET.word else "0x" + bytes(d[9]).hex(),
            "status": DisputeStatus(int(d[1])).word,
            "outcome": Outcome(int(d[2])).word if int(d[2]) else None,
            "openedAt": int(d[3]),
            "closedAt": int(d[4]) or None,
            "institution": int(d[5]),
            "claimant": int(d[6]),
            "respondent": int(d[7]),
            "assetId": int(d[8]) or None,
            "claimHash": "0x" + bytes(d[10]).hex(),
            "awardHash": "0x" + bytes(d[11]).hex() if int(d[1]) == DisputeStatus.CLOSED else None,
        }

    def _send(self, fn: Any) -> SentTransaction:
        sent = self.conn.require_relayer().send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent
