"""Front-running attacks on evidence registration, on anvil and on eth-tester (py-evm).

Measured on the old main (issue 10): whoever watches the pending pool (and the relayer, which sees every
registration first) could copy a registration's hash, register it first under its own party, and so block the
victim's transaction (``EvidenceAlreadyRegistered``) and hold an earlier record for a file it never had.

Now a registration carries the content hash *bound to the party* (``ledger.domain.hashing.public_binding``) and the
contract keeps it under ``(binding, partyId)``. Each test fails if its protection is removed: the copier's record
would block the victim if the key did not name the party, and would verify for the copier if the binding did not
name the party.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.certificates import evidence as certificate
from ledger.certificates.verify import FAILED, PASSED, Rpc, verify
from ledger.chain.codec import call
from ledger.domain import eip712
from ledger.domain.hashing import (
    HashAlgorithm,
    hash_bytes,
    private_binding,
    public_binding,
)
from ledger.errors import ContractRevert, EvidenceAlreadyRegistered
from tests.helpers import SHA256, ZERO32, Chain, account

DRAWING = b"facade drawing, revision C\n" * 64
CONTENT = hash_bytes(DRAWING, HashAlgorithm.SHA256)


def _parties(chain: Chain) -> tuple[LocalAccount, int, LocalAccount, int]:
    victim, copier = account("fr-victim"), account("fr-copier")
    return victim, chain.admit([victim.address]), copier, chain.admit([copier.address])


def _raw_tx(chain: Chain, sender: LocalAccount, data: str, tip: int) -> str:
    """Signs and broadcasts a type-2 transaction to the registry with the given priority fee (no waiting)."""
    w3 = chain.w3
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    tx = {
        "to": chain.evidence.address,
        "data": data,
        "value": 0,
        "gas": 300_000,
        "chainId": int(w3.eth.chain_id),
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "maxFeePerGas": 2 * base + tip,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    return str(w3.eth.send_raw_transaction(Account.sign_transaction(tx, sender.key).raw_transaction).to_0x_hex())


@contextmanager
def no_automine(chain: Chain) -> Iterator[None]:
    """anvil with automine off: sent transactions wait in the pool until `evm_mine`."""
    chain.w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])


def _rpc(chain: Chain) -> Rpc:
    """The verifier's few JSON-RPC calls through web3's typed methods (eth-tester takes no hex block numbers)."""
    w3 = chain.w3

    def block_id(tag: str) -> int | str:
        return int(tag, 16) if tag.startswith("0x") else tag

    def request(method: str, params: list[Any]) -> Any:
        if method == "eth_chainId":
            return w3.eth.chain_id
        if method == "eth_getBlockByNumber":
            return w3.eth.get_block(block_id(params[0]))
        if method == "eth_getTransactionReceipt":
            return w3.eth.get_transaction_receipt(params[0])
        if method == "eth_getCode":
            return w3.eth.get_code(params[0])
        if method == "eth_call":
            return w3.eth.call(params[0], block_id(params[1]))
        raise AssertionError(method)

    return Rpc(request)


def _copier_certificate(
    chain: Chain,
    copier: LocalAccount,
    copier_party: int,
    binding: bytes,
    tx_hash: str,
    content: bytes | None,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """The certificate the copier would show for its record: its account, party, transaction and block, the
    binding it copied, and the content hash (the file's, should the copier later obtain the file)."""
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    p = call(chain.evidence.functions.party(copier_party))
    return certificate.build(
        content_hash=content,
        algorithm=SHA256,
        binding=binding,
        salt=salt,
        metadata_commitment=None,
        supersedes=None,
        metadata=None,
        account=copier.address,
        party_id=copier_party,
        party={
            "identifierScheme": certificate.SCHEMES[int(p[2])],
            "identifier": p[10],
            "nameZh": p[11],
            "nameEn": p[12],
        },
        chain_id=int(chain.w3.eth.chain_id),
        contract=chain.evidence.address,
        tx_hash=tx_hash,
        block_number=int(receipt["blockNumber"]),
        block_hash=block["hash"].to_0x_hex(),
        block_timestamp=int(block["timestamp"]),
    )


def _assert_copy_proves_nothing(
    chain: Chain, copier: LocalAccount, copier_party: int, victim_party: int, binding: bytes, copy_tx: str
) -> None:
    """The copier's record exists, names the copier, and opens for no content the copier can name."""
    rec = call(chain.evidence.functions.record(binding, copier_party))
    assert rec[0] == copier.address and rec[1] == copier_party and rec[3] != 0
    # what the copier knows is the binding; taken as a content hash it does not open its own record, and even the
    # true content (should the copier obtain the file later) opens it only for the victim's party
    for content in (binding, CONTENT):
        assert public_binding(content, copier_party, HashAlgorithm.SHA256) != binding
        report = verify(_copier_certificate(chain, copier, copier_party, binding, copy_tx, content), _rpc(chain))
        statuses = {c.name: c.status for c in report.checks}
        assert statuses["binding"] == FAILED and statuses["transaction"] == PASSED and statuses["record"] == PASSED
        assert not report.passed
    assert public_binding(CONTENT, victim_party, HashAlgorithm.SHA256) == binding
    # the copier's own binding of the content was never recorded, so it holds no earlier record of the content
    assert (
        call(
            chain.evidence.functions.record(public_binding(CONTENT, copier_party, HashAlgorithm.SHA256), copier_party)
        )[3]
        == 0
    )


def test_a_copy_mined_before_the_relayed_registration_neither_blocks_it_nor_proves_anything(anvil: Chain) -> None:
    chain = anvil
    victim, victim_party, copier, copier_party = _parties(chain)
    chain.fund(copier.address)
    binding = public_binding(CONTENT, victim_party, HashAlgorithm.SHA256)
    request = chain.signed_request(victim, binding)
    with no_automine(chain):
        relayed = _raw_tx(
            chain,
            chain.operator,
            chain.evidence.functions.registerBySignature(request)._encode_transaction_data(),
            tip=10**9,
        )
        # the copier reads the pending transaction, decodes the binding and sends it as its own, paying more
        pending = chain.w3.eth.get_transaction(relayed)
        _fn, args = chain.evidence.decode_function_input(pending["input"])
        r = args["delegated"]["request"]
        copied = (r["binding"], r["algorithm"], r["metadataCommitment"], r["supersedes"])
        assert copied[0] == binding
        copy = _raw_tx(
            chain, copier, chain.evidence.functions.register(copied)._encode_transaction_data(), tip=50 * 10**9
        )
        chain.w3.provider.make_request("evm_mine", [])
    first, second = (chain.w3.eth.get_transaction_receipt(t) for t in (copy, relayed))
    assert first["blockNumber"] == second["blockNumber"] and first["transactionIndex"] < second["transactionIndex"]
    assert first["status"] == 1 and second["status"] == 1  # the victim's registration is not blocked
    rec = call(chain.evidence.functions.record(binding, victim_party))
    assert rec[0] == victim.address and rec[1] == victim_party and rec[4] == second["blockNumber"]
    _assert_copy_proves_nothing(chain, copier, copier_party, victim_party, binding, copy)


def test_a_copy_sent_first_neither_blocks_the_original_nor_proves_anything(chain: Chain) -> None:
    victim, victim_party, copier, copier_party = _parties(chain)
    binding = public_binding(CONTENT, victim_party, HashAlgorithm.SHA256)
    request = chain.signed_request(victim, binding)
    copy = chain.as_(copier).send_call(chain.evidence.functions.register(tuple(request[0])))
    sent = chain.sender.send_call(chain.evidence.functions.registerBySignature(request))
    assert sent.block_number >= copy.block_number
    assert tuple(call(chain.evidence.functions.record(binding, victim_party)))[:2] == (victim.address, victim_party)
    _assert_copy_proves_nothing(chain, copier, copier_party, victim_party, binding, copy.tx_hash)


def test_a_copied_private_binding_opens_only_with_the_victims_party_and_salt(chain: Chain) -> None:
    victim, victim_party, copier, copier_party = _parties(chain)
    salt = bytes(range(32))
    binding = private_binding(CONTENT, victim_party, salt, HashAlgorithm.SHA256)
    copy = chain.as_(copier).send_call(chain.evidence.functions.register((binding, SHA256, ZERO32, ZERO32)))
    chain.register(victim, binding)
    # even with the file and the salt (both revealed by the victim's certificate), the copy opens for no one else
    doc = _copier_certificate(chain, copier, copier_party, binding, copy.tx_hash, CONTENT, salt)
    report = verify(doc, _rpc(chain))
    assert {c.name: c.status for c in report.checks}["binding"] == FAILED and not report.passed
    assert private_binding(CONTENT, copier_party, salt, HashAlgorithm.SHA256) != binding


def test_the_relayer_copying_a_registration_it_relays_cannot_block_it(chain: Chain) -> None:
    """The relayer sees every binding first; it may be admitted as a party of its own only through another
    account (a role holder is never a party account), which then fares as any copier."""
    victim, victim_party, _, _ = _parties(chain)
    binding = public_binding(CONTENT, victim_party, HashAlgorithm.SHA256)
    request = chain.signed_request(victim, binding)
    with pytest.raises(ContractRevert) as err:  # the relayer's own key is no party account
        chain.sender.send_call(chain.evidence.functions.register(tuple(request[0])))
    assert err.value.name == "AccountNotAParty"
    chain.sender.send_call(chain.evidence.functions.registerBySignature(request))
    assert call(chain.evidence.functions.record(binding, victim_party))[0] == victim.address


def test_two_parties_record_the_same_content_and_each_record_opens_for_its_own_party(chain: Chain) -> None:
    first, first_party, second, second_party = _parties(chain)
    a = chain.register(first, public_binding(CONTENT, first_party, HashAlgorithm.SHA256))
    b = chain.register(second, public_binding(CONTENT, second_party, HashAlgorithm.SHA256))
    recs = call(
        chain.evidence.functions.records(
            [
                chain.evidence.functions.recordKey(public_binding(CONTENT, p, HashAlgorithm.SHA256), p).call()
                for p in (first_party, second_party)
            ]
        )
    )
    assert [(r[0], r[1], r[4]) for r in recs] == [
        (first.address, first_party, a.block_number),
        (second.address, second_party, b.block_number),
    ]
    assert a.block_number <= b.block_number


def test_the_same_party_cannot_record_a_binding_twice_and_supersedes_stays_within_the_party(chain: Chain) -> None:
    victim, victim_party, copier, _ = _parties(chain)
    binding = public_binding(CONTENT, victim_party, HashAlgorithm.SHA256)
    chain.register(victim, binding)
    with pytest.raises(EvidenceAlreadyRegistered):
        chain.register(victim, binding)
    with pytest.raises(EvidenceAlreadyRegistered):  # a replayed signature is the same party's second record
        request = chain.signed_request(victim, binding)
        chain.sender.send_call(chain.evidence.functions.registerBySignature(request))
    # another party cannot link its record as a new version of the victim's
    with pytest.raises(ContractRevert) as err:
        chain.as_(copier).send_call(
            chain.evidence.functions.register((hash_bytes(b"v2", HashAlgorithm.SHA256), SHA256, ZERO32, binding))
        )
    assert err.value.name == "EvidenceSupersedesUnknown"


def test_the_typed_data_names_the_binding(chain: Chain) -> None:
    assert eip712.EVIDENCE_TYPE[0] == {"name": "binding", "type": "bytes32"}
    assert call(chain.evidence.functions.EVIDENCE_TYPEHASH()) == eip712.EVIDENCE_TYPEHASH
