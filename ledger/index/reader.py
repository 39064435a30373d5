"""Reading ranges of the chain for the index (:class:`RangeReader`): logs fetched with plain ``eth_getLogs``
(no web3 result formatting) and decoded by ``ledger.index.decoder``, with the checks that the chain did not
move while a range was read. ``ledger.index.sync`` writes what it reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3 import Web3

from ledger.chain.artifacts import SUITE, load_artifact
from ledger.chain.deployment import Manifest, contract
from ledger.chain.rpc import FunctionCodec, NodeRefused, as_hex, as_int, rpc
from ledger.errors import LedgerError
from ledger.index.decoder import EventDecoder, checksum
from ledger.index.schema import TERMED_KINDS


@dataclass
class Fetched:
    """The decoded logs of blocks ``frm..to``, with the hash of ``to`` and the blocks the logs are in."""

    frm: int
    to: int
    last_hash: str
    block_rows: dict[int, dict[str, Any]]
    rows: list[dict[str, Any]]


class Moved(LedgerError):
    """A block changed while a range was read; the next sync detects the reorganisation."""

    code = "chain_moved"

    def __init__(self) -> None:
        super().__init__("the chain reorganised while the index read it; try again")


class RangeReader:
    """Reads and decodes the suite's logs on ``w3`` (the contracts of ``manifest``), a range of blocks at a time."""

    def __init__(self, w3: Web3, manifest: Manifest) -> None:
        self.w3 = w3
        self.manifest = manifest
        self._agreement_view: FunctionCodec | None = None
        self.decoders: dict[tuple[str, str], EventDecoder] = {}
        self.addresses: dict[str, str] = {}
        for name in SUITE:
            addr = Web3.to_checksum_address(manifest.address(name))
            self.addresses[addr.lower()] = name
            for item in load_artifact(name)["abi"]:
                if item["type"] == "event":
                    topic = "0x" + event_abi_to_log_topic(item).hex()
                    self.decoders[(addr.lower(), topic)] = EventDecoder(name, item)

    def header(self, number: int) -> tuple[str, int]:
        """The hash and time of block ``number``; :class:`Moved` when the chain has no such block (any more)."""
        block = rpc(self.w3, "eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise Moved()
        return as_hex(block["hash"]), as_int(block["timestamp"])

    def read(self, frm: int, to: int) -> Fetched:
        """Reads and decodes the logs of blocks ``frm..to``.

        The last block's header is read before and after the logs: if its hash changed, the chain moved in
        between and the sync starts over. Block hashes come with the logs; block times too where the node
        sends ``blockTimestamp`` in logs (anvil, geth), else from the headers."""
        last_hash, last_time = self.header(to)
        logs = rpc(
            self.w3,
            "eth_getLogs",
            [{"address": [checksum(a) for a in self.addresses], "fromBlock": hex(frm), "toBlock": hex(to)}],
            large=True,  # every value read below is a hex string (int(…, 16) refuses anything else)
        )
        if self.header(to)[0] != last_hash:
            raise Moved()
        block_rows: dict[int, dict[str, Any]] = {to: {"number": to, "hash": last_hash, "timestamp": last_time}}
        rows: list[dict[str, Any]] = []
        for entry in logs:
            if entry.get("removed"):
                continue
            topics = entry["topics"]
            decoder = self.decoders.get((str(entry["address"]).lower(), topics[0] if topics else ""))
            if decoder is None:
                continue
            number = int(entry["blockNumber"], 16)
            known = block_rows.get(number)
            if known is None:
                stamp = entry.get("blockTimestamp")
                known = block_rows[number] = {
                    "number": number,
                    "hash": entry["blockHash"],
                    "timestamp": int(stamp, 16) if stamp else None,
                }
            elif known["hash"] != entry["blockHash"]:  # logs of two branches in one answer
                raise Moved()
            args = decoder.decode(topics, entry["data"])
            if decoder.name == "AgreementExecuted" and int(args["kind"]) in TERMED_KINDS:
                args.update(self.term(args["agreementId"], entry["blockHash"]))
            rows.append(
                {
                    "block": number,
                    "log_index": int(entry["logIndex"], 16),
                    "tx": entry["transactionHash"],
                    "contract": decoder.contract,
                    "name": decoder.name,
                    "args": args,
                }
            )
        for number, row in block_rows.items():
            if row["timestamp"] is None:
                block_hash, row["timestamp"] = self.header(number)
                if block_hash != row["hash"]:
                    raise Moved()
        rows.sort(key=lambda r: (r["block"], r["log_index"]))
        return Fetched(frm, to, last_hash, block_rows, rows)

    def term(self, agreement_id: str, block_hash: str) -> dict[str, Any]:
        """A licence's or pledge's start and end (and a sublicence's parent licence), which its event does not
        carry: read from the contract at the block of the event (EIP-1898), so that a reorganisation cannot mix
        branches. Kept in the event's arguments, so a replay needs no chain."""
        if self._agreement_view is None:
            self._agreement_view = FunctionCodec(contract(self.w3, self.manifest, "IPAssetRegistry"), "agreement")
        codec = self._agreement_view
        call = {"to": codec.address, "data": codec.encode(bytes.fromhex(agreement_id[2:]))}
        try:
            (view,) = codec.decode(rpc(self.w3, "eth_call", [call, {"blockHash": block_hash}]))
        except NodeRefused:
            # The node keeps no state at that block (the embedded node keeps the last blocks' states in memory
            # only, none from before a restart; docs/operations.md). Start and end are written once, when the
            # agreement is executed, so the latest state has them; one missing there was on another branch.
            (view,) = codec.decode(rpc(self.w3, "eth_call", [call, "latest"]))
            if int(view[6]) == 0:  # effectiveAt
                raise Moved() from None
        parent = bytes(view[11])
        return {"start": int(view[4]), "end": int(view[5]), "parent": "0x" + parent.hex() if any(parent) else None}
