"""Measures 4-5: Merkle tree build and file hashing, each against its peers in interleaved rounds."""

from __future__ import annotations

import gc
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentimestamps.core.timestamp import Timestamp, make_merkle_tree

from benchmarks.report import Result, ratio_result
from ledger.domain import merkle
from ledger.domain.hashing import HashAlgorithm, hash_file


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bare_merkle_root(leaves: list[bytes]) -> bytes:
    """The plainest RFC 9162 pairing loop: sha256(0x01 || l || r) level by level, odd node promoted."""
    sha256 = hashlib.sha256
    level = leaves
    while len(level) > 1:
        nxt = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_build(n: int, n_ots: int, rounds: int) -> list[Result]:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    ots_msgs = leaves[:n_ots]
    vs_ots: list[tuple[float, float]] = []
    vs_bare: list[tuple[float, float]] = []
    for r in range(rounds):
        ots_input = [Timestamp(m) for m in ots_msgs]  # built outside the timed region
        runs = {
            "ours": lambda: merkle.MerkleTree(leaves).root,
            "bare": lambda: bare_merkle_root(leaves),
            "ots": lambda: make_merkle_tree(ots_input),
        }
        order = list(runs)
        order = order[r % 3 :] + order[: r % 3]  # rotate who goes first
        secs: dict[str, float] = {}
        roots: dict[str, Any] = {}
        for name in order:
            secs[name], roots[name] = _timed(runs[name])
        if roots["ours"] != roots["bare"]:
            raise AssertionError("MerkleTree root differs from the bare pairing loop")
        del roots
        rate = {"ours": n / secs["ours"], "bare": n / secs["bare"], "ots": n_ots / secs["ots"]}
        vs_ots.append((rate["ours"], rate["ots"]))
        vs_bare.append((rate["ours"], rate["bare"]))
    return [
        ratio_result(
            "4",
            f"Merkle tree build, {n:,} leaves (`ledger.domain.merkle.MerkleTree`)",
            "leaves/s",
            f"OTS `make_merkle_tree` over {n_ots:,} `Timestamp`s",
            ">=",
            25.0,
            vs_ots,
            note="per-leaf rates; OTS input objects built outside the timed region",
            stat="best",
        ),
        ratio_result(
            "4",
            f"Merkle tree build, {n:,} leaves (`ledger.domain.merkle.MerkleTree`)",
            "leaves/s",
            "bare hashlib pairing loop, same leaves",
            ">=",
            0.5,
            vs_bare,
            note="root checked equal to the bare loop's",
            stat="best",
        ),
    ]


def _bare_hash(path: Path, name: str) -> bytes:
    h = hashlib.new(name)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def file_hashing(size_mb: int, rounds: int) -> list[Result]:
    out: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-hash-") as tmp:
        path = Path(tmp) / "blob.bin"
        block = os.urandom(1 << 20)
        with open(path, "wb") as f:
            for i in range(size_mb):
                f.write(i.to_bytes(8, "big") + block[8:])
        _bare_hash(path, "sha256")  # warm the page cache: both sides read from memory
        mb = path.stat().st_size / 1e6
        for alg, name in ((HashAlgorithm.SHA256, "sha256"), (HashAlgorithm.SM3, "sm3")):
            pairs: list[tuple[float, float]] = []
            for r in range(rounds):
                runs = {"ours": lambda: hash_file(path, alg), "bare": lambda: _bare_hash(path, name)}
                order = list(runs) if r % 2 == 0 else list(reversed(runs))
                secs: dict[str, float] = {}
                digests: dict[str, bytes] = {}
                for k in order:
                    secs[k], digests[k] = _timed(runs[k])
                if digests["ours"] != digests["bare"]:
                    raise AssertionError(f"{name} digests differ")
                pairs.append((mb / secs["ours"], mb / secs["bare"]))
            out.append(
                ratio_result(
                    "5",
                    f"file hashing {name.upper()}, {size_mb} MiB file (`ledger.domain.hashing.hash_file`)",
                    "MB/s",
                    f"bare `hashlib.new('{name}')`, 1 MiB `read()` chunks",
                    ">=",
                    0.9,
                    pairs,
                    note="file in the page cache (warmed first)",
                    stat="best",
                )
            )
    return out
