"""Disputes before an arbitration institution: typed data its arbitrators sign, relaying their signatures,
and reading disputes back. Opening (which freezes the asset) and the award are acts of the institution: the
contract requires distinct accounts of one active arbitration institution, at least max(its threshold, 2)
of them, or one ERC-1271 wallet account of it (a Safe's own m-of-n stands for the institution's); it freezes
the asset and applies the award. This module checks the same inputs first, naming the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_utils import keccak
from web3.logs import DISCARD

from ledger.domain import eip712
from ledger.domain.agreements import MAX_SIGNING_WINDOW
from ledger.domain.eip712 import EIP712_DOMAIN_TYPE, Domain
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.domain.hashing import parse_hash
from ledger.services.parties import parse_account
from ledger.chain.codec import call
from ledger.chain.sender import SentTransaction

if TYPE_CHECKING:
    from ledger.facade import Ledger

DISPUTES_DOMAIN_NAME = "QianhaiIPLedger.Disputes"
SUBJECTS = {"asset": 1, "agreement": 2, "evidence": 3}
OUTCOMES = {"dismissed": 1, "agreement_voided": 2, "title_restored": 3}
STATUS = {1: "open", 2: "closed"}
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
        return {"types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "OpenDispute": OPEN_TYPE}, "primaryType": "OpenDispute",
                "domain": domain.to_json(), "message": {
                    "kind": self.kind, "subjectId": "0x" + self.subject_id.hex(), "claimant": self.claimant,
                    "respondent": self.respondent, "claimHash": "0x" + self.claim_hash.hex(), "institution": self.institution,
                    "deadline": self.deadline}}  # fmt: skip

    def as_args(self, signatures: Signatures) -> tuple[Any, ...]:
        return ((self.kind, self.subject_id, self.claimant, self.respondent, self.claim_hash), self.institution, self.deadline,
                signatures)  # fmt: skip


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
        return {"types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "CloseDispute": CLOSE_TYPE}, "primaryType": "CloseDispute",
                "domain": domain.to_json(), "message": {
                    "disputeId": "0x" + self.dispute_id.hex(), "outcome": self.outcome, "awardHash": "0x" + self.award_hash.hex(),
                    "owners": list(self.owners), "shares": list(self.shares), "institution": self.institution,
                    "deadline": self.deadline}}  # fmt: skip

    def as_args(self, signatures: Signatures) -> tuple[Any, ...]:
        return ((self.dispute_id, self.outcome, self.award_hash, list(self.owners), list(self.shares)), self.institution,
                self.deadline, signatures)  # fmt: skip


class DisputeService:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def contract(self) -> Any:
        return self.ledger.disputes

    def domain(self) -> Domain:
        return disputes_domain(self.ledger.manifest.chain_id, self.ledger.manifest.address("DisputeRegistry"))

    def _deadline(self, value: Any) -> int:
        now = int(self.ledger.w3.eth.get_block("latest")["timestamp"])
        deadline = int(value or now + 3600)
        if deadline <= now:
            raise InvalidInput("the deadline has passed", field="deadline")
        if deadline > now + MAX_SIGNING_WINDOW:  # the contract refuses it too (SignatureDeadlineTooFar)
            raise InvalidInput(f"a signing deadline lies at most {MAX_SIGNING_WINDOW // 86400} days ahead", field="deadline")
        return deadline

    def _institution(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= int(call(self.ledger.evidence.functions.partyCount())):
            raise InvalidInput("institution must be the party id of an admitted arbitration institution", field="institution")
        profile = self.ledger.evidence_service.party_profile(value)
        if profile["kind"] != 3:
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
            party_id, active = call(self.ledger.evidence.functions.partyOf(acct))
            if int(party_id) != institution:
                raise InvalidInput(f"{acct} is not an account of arbitration institution {institution}", field="signatures")
            if not active:
                raise InvalidInput(f"{acct} is not active", field="signatures")
            wallet = wallet or bool(self.ledger.w3.eth.get_code(acct))
        required = max(int(self.ledger.evidence_service.party_profile(institution)["threshold"]), MIN_ARBITRATORS)
        if not wallet and len(signatures) < required:
            raise InvalidInput(f"institution {institution} acts by {required} distinct arbitrator accounts' signatures "
                               f"(or one wallet account's); {len(signatures)} given", field="signatures")  # fmt: skip
        return [(parse_account(signer, "signatures"), sig) for signer, sig in signatures]

    def open_request(self, body: dict[str, Any]) -> OpenRequest:
        kind = SUBJECTS.get(str(body.get("subject", "")))
        if kind is None:
            raise InvalidInput(f"subject must be one of {', '.join(SUBJECTS)}", field="subject")
        raw = body.get("subjectId")
        if kind == 1:
            if not isinstance(raw, int) or raw < 1:
                raise InvalidInput("an asset subject is an asset id", field="subjectId")
            if self.ledger.asset_service.show(raw)["status"] == "struck":
                raise Conflict(f"asset {raw} is a claim struck by an asset verifier: its number is free, there is nothing "
                               "left to dispute on it", field="subjectId")  # fmt: skip
            subject = raw.to_bytes(32, "big")
        else:
            subject = parse_hash(str(raw or ""), "subjectId")
            if kind == 2 and call(self.ledger.assets.functions.agreement(subject))[1] == 0:
                raise NotFound("no agreement in effect with that id", field="subjectId")
        count = int(call(self.ledger.evidence.functions.partyCount()))
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
        return OpenRequest(kind, subject, parties[0], parties[1], parse_hash(str(body.get("claimHash", "")), "claimHash"),
                           institution, self._deadline(body.get("deadline")))  # fmt: skip

    def open(self, body: dict[str, Any], signatures: Signatures) -> dict[str, Any]:
        req = self.open_request(body)
        sigs = self.check_signatures(req.institution, signatures)
        sent = self._send(self.contract.functions.openDisputeBySignature(*req.as_args(sigs)))
        event = self.contract.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]
        return {**self.show("0x" + bytes(event["args"]["disputeId"]).hex()), "transactionHash": sent.tx_hash}

    def close_request(self, dispute_id: str, body: dict[str, Any]) -> CloseRequest:
        did = parse_hash(dispute_id, "dispute_id")
        d = self.show("0x" + did.hex())
        if d["status"] != "open":
            raise InvalidInput("the dispute is already closed", field="dispute_id")
        outcome = OUTCOMES.get(str(body.get("outcome", "")))
        if outcome is None:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        owners = body.get("owners") or []
        ids = tuple(int(o["partyId"]) for o in owners)
        shares = tuple(int(o["share"]) for o in owners)
        if outcome == 3 and sum(shares) != 10_000:
            raise InvalidInput(f"restored owners' shares sum to {sum(shares)}, not 10000 (100%)", field="owners")
        if outcome == 2 and d["subject"] != "agreement":
            raise InvalidInput("only a dispute over an agreement can void it", field="outcome")
        institution = self._institution(body.get("institution") or d["institution"])
        if institution != d["institution"]:
            raise InvalidInput(f"the dispute is before institution {d['institution']}", field="institution")
        return CloseRequest(did, outcome, parse_hash(str(body.get("awardHash", "")), "awardHash"), ids, shares,
                            institution, self._deadline(body.get("deadline")))  # fmt: skip

    def close(self, dispute_id: str, body: dict[str, Any], signatures: Signatures) -> dict[str, Any]:
        req = self.close_request(dispute_id, body)
        sigs = self.check_signatures(req.institution, signatures)
        sent = self._send(self.contract.functions.closeDisputeBySignature(*req.as_args(sigs)))
        return {**self.show(dispute_id), "transactionHash": sent.tx_hash}

    def show(self, dispute_id: str) -> dict[str, Any]:
        did = parse_hash(dispute_id, "dispute_id")
        d = call(self.contract.functions.dispute(did))
        if d[1] == 0:
            raise NotFound(f"no dispute 0x{did.hex()}", field="dispute_id")
        subject = {v: k for k, v in SUBJECTS.items()}[int(d[0])]
        return {
            "disputeId": "0x" + did.hex(),
            "subject": subject,
            "subjectId": int.from_bytes(d[9], "big") if subject == "asset" else "0x" + bytes(d[9]).hex(),
            "status": STATUS[int(d[1])],
            "outcome": {v: k for k, v in OUTCOMES.items()}.get(int(d[2])),
            "openedAt": int(d[3]),
            "closedAt": int(d[4]) or None,
            "institution": int(d[5]),
            "claimant": int(d[6]),
            "respondent": int(d[7]),
            "assetId": int(d[8]) or None,
            "claimHash": "0x" + bytes(d[10]).hex(),
            "awardHash": "0x" + bytes(d[11]).hex() if int(d[1]) == 2 else None,
        }

    def _send(self, fn: Any) -> SentTransaction:
        sent = self.ledger.require_relayer().send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent
