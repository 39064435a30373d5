"""Creators' own signatures on registrations made by their employer or university (issue 15).

A creator who is an admitted party (a natural person, or an organisation) endorses a record of another party in the
``CreatorRegistry`` contract: ``(binding, registrant party)`` and the creator's role. The endorsement is the
creator's act: an account of the creator's party signs it (EIP-712, the creator registry's domain) and the service
relays it, or the creator sends ``endorse`` from their own account; the service's keys can neither make one nor
withdraw one. Relaying is synchronous: the answer comes once the transaction is mined, so an acknowledged
endorsement is on chain.

Receives the chain connection and the party service (creator descriptions in certificates).
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3

from ledger.certificates.evidence import registrant_section
from ledger.chain.connection import Connection
from ledger.chain.rpc import as_hex, as_int, rpc
from ledger.chain.sender import SentTransaction
from ledger.domain import eip712
from ledger.domain.codes import CreatorRole
from ledger.errors import Conflict, ContractRevert, InvalidInput, NotFound, SignatureRejected
from ledger.services.parties import PartyService

__all__ = ["LOG_SPAN", "CreatorService"]

#: Blocks per ``eth_getLogs`` request when listing a record's endorsements, and most requests (nodes bound ranges).
LOG_SPAN = 50_000
LOG_REQUESTS = 200
#: Most endorsements listed in one certificate.
MAX_ENDORSEMENTS = 100
#: The contract's refusals, by the request field they are about.
REVERT_FIELDS = {
    "CreatorRoleInvalid": "role",
    "EndorsedRecordUnknown": "binding",
    "CreatorIsRegistrant": "creator",
    "AlreadyEndorsed": "creator",
    "AccountNotAParty": "creator",
    "PartyNotActive": "creator",
    "SignatureExpired": "deadline",
    "SignatureDeadlineTooFar": "deadline",
    "NonceMismatch": "nonce",
    "SignatureInvalid": "signature",
}


class CreatorService:
    """Endorsements of records by their creators: relay a signed one, list a record's (see the module's header)."""

    def __init__(self, conn: Connection, parties: PartyService) -> None:
        self.conn = conn
        self.parties = parties

    @property
    def contract(self) -> Any:
        return self.conn.contract("CreatorRegistry")

    def domain(self) -> eip712.Domain:
        """The EIP-712 domain creators sign endorsements in."""
        return eip712.Domain(
            self.conn.manifest.chain_id,
            self.conn.manifest.address("CreatorRegistry"),
            name=eip712.CREATORS_DOMAIN_NAME,
        )

    def endorse(
        self,
        *,
        binding: bytes,
        registrant_party_id: int,
        role: CreatorRole,
        creator: str,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> dict[str, Any]:
        """Relays a creator's signed endorsement and returns it once mined (:meth:`view` of it).

        Checked first, to answer with the field at fault before anything is sent: the record exists, the creator
        account belongs to an active party other than the registrant, it has not endorsed the record yet, the
        nonce is the account's, the deadline is ahead, and (for an account without code) the signature recovers
        to it. The contract checks all of it again."""
        creator = to_checksum_address(creator)
        registry = self.conn.evidence
        record = registry.functions.record(binding, registrant_party_id).call()
        if int(record[3]) == 0:
            raise NotFound(
                f"party {registrant_party_id} has no record of binding 0x{binding.hex()} on chain (a batched item "
                "cannot be endorsed; the registration must be on chain first)",
                field="binding",
            )
        creator_party, active = registry.functions.partyOf(creator).call()
        if int(creator_party) == 0:
            raise InvalidInput(f"{creator} is not an account of any admitted party", field="creator")
        if not active:
            raise Conflict(f"party {creator_party} is suspended: it endorses nothing", field="creator")
        if int(creator_party) == registrant_party_id:
            raise InvalidInput(
                f"party {creator_party} registered this record: its registration already is its act", field="creator"
            )
        existing = self.contract.functions.endorsement(binding, registrant_party_id, int(creator_party)).call()
        if int(existing[2]) != 0:
            raise Conflict(
                f"party {creator_party} already endorsed this record (block {int(existing[3])})", field="creator"
            )
        current = int(registry.functions.nonces(creator).call())
        if nonce != current:
            raise InvalidInput(f"the nonce of {creator} is {current}, not {nonce}", field="nonce")
        now = self.conn.latest_time()
        if deadline < now:
            raise InvalidInput("the signature's deadline has passed", field="deadline")
        if deadline > now + 365 * 86_400:
            raise InvalidInput("the deadline is more than 365 days ahead", field="deadline")
        if not self.conn.w3.eth.get_code(creator):
            message = eip712.creator_endorsement_message(
                self.domain(),
                binding=binding,
                registrant_party_id=registrant_party_id,
                role=int(role),
                creator=creator,
                nonce=nonce,
                deadline=deadline,
            )
            if eip712.recover(message, signature) != creator:
                raise SignatureRejected(
                    "SignatureInvalid",
                    {"signer": creator},
                    f"the signature does not verify for {creator} over this endorsement",
                    field="signature",
                )
        fn = self.contract.functions.endorseBySignature(
            binding, registrant_party_id, int(role), creator, nonce, deadline, signature
        )
        try:
            sent = self.conn.require_relayer().send_call(fn)
        except ContractRevert as exc:
            exc.field = exc.field or REVERT_FIELDS.get(exc.name)
            raise
        assert isinstance(sent, SentTransaction)
        found = [
            e
            for e in self.endorsements(binding, registrant_party_id, from_block=sent.block_number)
            if e["partyId"] == int(creator_party)
        ]
        if not found:  # mined, yet the node does not list the event: say so rather than guess
            raise NotFound("the endorsement was mined but its event is not listed yet", field="binding")
        return found[0]

    def endorsements(self, binding: bytes, registrant_party_id: int, *, from_block: int = 0) -> list[dict[str, Any]]:
        """The endorsements of the record of ``binding`` by ``registrant_party_id``, oldest first: each the creator's
        party (as certificates describe a party; a natural person by number, never by name), role, account and
        the transaction, block and time that recorded it. Reads ``CreatorEndorsed`` with bounded ``eth_getLogs``;
        empty when the deployment has no creator registry."""
        if "CreatorRegistry" not in self.conn.manifest.contracts:
            return []
        deployed = self.conn.manifest.contracts["CreatorRegistry"].deploy_block
        # an endorsement comes after its record: read from the record's block (bounded by the node's range limits)
        record = self.conn.evidence.functions.record(binding, registrant_party_id).call()
        if int(record[3]) == 0:
            return []
        start = max(from_block, deployed, int(record[4]))
        latest = int(self.conn.w3.eth.block_number)
        topic0, names, types = self._event
        topics = [topic0, "0x" + binding.hex(), "0x" + registrant_party_id.to_bytes(32, "big").hex()]
        found: list[dict[str, Any]] = []
        requests = 0
        while start <= latest and requests < LOG_REQUESTS and len(found) < MAX_ENDORSEMENTS:
            end = min(latest, start + LOG_SPAN - 1)
            query = {"address": self.contract.address, "fromBlock": hex(start), "toBlock": hex(end), "topics": topics}
            for log in rpc(self.conn.w3, "eth_getLogs", [query]):
                found.append(self._entry(log, names, types))
            start, requests = end + 1, requests + 1
        return found[:MAX_ENDORSEMENTS]

    def _entry(self, log: dict[str, Any], names: list[str], types: list[str]) -> dict[str, Any]:
        data = log["data"]
        raw = bytes(data) if isinstance(data, (bytes, bytearray)) else bytes.fromhex(str(data).removeprefix("0x"))
        args = dict(zip(names, abi_decode(types, raw), strict=True))
        topic = log["topics"][3]
        creator_party = int.from_bytes(bytes(topic) if not isinstance(topic, str) else bytes.fromhex(topic[2:]), "big")
        block_number = as_int(log["blockNumber"])
        block = self.conn.w3.eth.get_block(block_number)
        account = to_checksum_address(args["account"])
        return {
            **registrant_section(account, creator_party, dict(self.parties.profile(creator_party))),
            "role": CreatorRole(int(args["role"])).word,
            "contract": to_checksum_address(log["address"]),
            "transactionHash": as_hex(log["transactionHash"]),
            "blockNumber": block_number,
            "blockHash": Web3.to_hex(block["hash"]),
            "blockTimestamp": int(block["timestamp"]),
        }

    @property
    def _event(self) -> tuple[str, list[str], list[str]]:
        event = next(e for e in self.contract.abi if e.get("type") == "event" and e.get("name") == "CreatorEndorsed")
        data = [i for i in event["inputs"] if not i.get("indexed")]
        return "0x" + event_abi_to_log_topic(event).hex(), [i["name"] for i in data], [i["type"] for i in data]
