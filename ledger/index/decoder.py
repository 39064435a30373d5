"""Raw JSON-RPC logs to event arguments, as web3's decoder has them, at a fraction of its cost.

:class:`EventDecoder` is generated from an event's ABI once: one dict display whose values read the topics and
the data's hex words directly, eth-abi only for the dynamic part of the data. Its answers equal web3's
(bytes as 0x-hex, addresses checksummed, structs as objects named by their components): the index stores
them as the events' arguments, so a replay needs no chain.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils.abi import collapse_if_tuple
from web3 import Web3

from ledger.chain.rpc import as_hex


@functools.lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)


def _signed(value: int) -> int:
    return value - (1 << 256) if value >> 255 else value


def _word_expr(abi_type: str, word: str, prefixed: bool) -> str | None:
    """A Python expression reading one 32-byte ABI word of a static type as its JSON value, or None if the type
    is not a single static word. ``word`` is an expression for the 64 hex digits, with a ``0x`` in front when
    ``prefixed`` (a topic) and without (a slice of the data)."""
    digits = f"{word}[2:]" if prefixed else word
    if "[" in abi_type or "(" in abi_type:
        return None
    if abi_type == "address":
        return f"_checksum('0x' + {word}[{26 if prefixed else 24}:])"
    if abi_type == "bool":
        return f"(int({digits}, 16) != 0)"
    if abi_type.startswith("uint"):
        return f"int({digits}, 16)"
    if abi_type.startswith("int"):
        return f"_signed(int({digits}, 16))"
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        size = int(abi_type[5:])
        if prefixed:
            return word if size == 32 else f"{word}[:{2 + 2 * size}]"
        return f"('0x' + {word}[:{2 * size}])"
    return None


def _from_abi(value: Any, item: Mapping[str, Any]) -> Any:
    """An eth-abi decoded value as web3 shows it, in JSON: bytes as 0x-hex, addresses checksummed, arrays as
    lists, structs as objects named by their components."""
    abi_type = str(item["type"])
    if abi_type.endswith("]"):
        inner = {**item, "type": abi_type[: abi_type.rindex("[")]}
        return [_from_abi(v, inner) for v in value]
    if abi_type == "tuple":
        return {c["name"]: _from_abi(v, c) for v, c in zip(value, item["components"], strict=True)}
    if abi_type == "address":
        return checksum(value)
    if isinstance(value, (bytes, bytearray)):
        return as_hex(value)
    return value


class EventDecoder:
    """Decodes the raw JSON-RPC logs of one event (one contract, one topic0) into ``{name: value}``, as web3's
    decoder has them (bytes as 0x-hex, addresses checksummed, structs as objects).

    ``decode`` is generated from the ABI once: one dict display whose values read the topics and the data's
    hex words directly (most events, EvidenceRegistered among them, are all static words), with the dynamic
    part of the data, if any, decoded by eth-abi. A catch-up decodes every log, so this is its inner loop.
    Indexed values of dynamic types are their topic hash."""

    def __init__(self, contract: str, abi: dict[str, Any]) -> None:
        self.contract = contract
        self.name = str(abi["name"])
        inputs = abi["inputs"]
        data = [i for i in inputs if not i["indexed"]]
        self.data_types = [collapse_if_tuple(i) for i in data]
        static = all(_word_expr(t, "w", False) is not None for t in self.data_types)
        exprs: list[str] = []
        topic, word = 1, 0
        for item in inputs:
            abi_type = collapse_if_tuple(item)
            if item["indexed"]:
                exprs.append(_word_expr(abi_type, f"topics[{topic}]", True) or f"topics[{topic}]")
                topic += 1
            elif static:
                exprs.append(str(_word_expr(abi_type, f"data[{2 + 64 * word}:{66 + 64 * word}]", False)))
                word += 1
            else:
                exprs.append(f"_from_abi(body[{word}], items[{word}])")
                word += 1
        fields = ", ".join(f"{item['name']!r}: {expr}" for item, expr in zip(inputs, exprs, strict=True))
        head = "" if static else "    body = _abi_decode(types, bytes.fromhex(data[2:]))\n"
        source = f"def decode(topics, data):\n{head}    return {{{fields}}}\n"
        namespace: dict[str, Any] = {
            "_checksum": checksum,
            "_signed": _signed,
            "_from_abi": _from_abi,
            "_abi_decode": abi_decode,
            "types": self.data_types,
            "items": data,
        }
        exec(compile(source, f"<decoder {contract}.{self.name}>", "exec"), namespace)  # noqa: S102 - source built above from the ABI
        self.decode: Callable[[list[str], str], dict[str, Any]] = namespace["decode"]
