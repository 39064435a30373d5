"""EvidenceRegistry rules, on anvil and on eth-tester (py-evm)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.chain.codec import call
from ledger.domain import eip712
from ledger.errors import (
    ContractRevert,
    EvidenceAlreadyRegistered,
    PartyNotActive,
    SignatureRejected,
)
from tests.helpers import SHA256, SM3, ZERO32, Chain, account, deploy_wallet, h


@pytest.fixture
def firm(chain: Chain):  # type: ignore[no-untyped-def]
    acct = account("firm")
    chain.admit([acct.address])
    return acct


def test_a_party_account_registers_a_hash_and_the_record_is_packed_with_party_time_and_block(
    chain: Chain, firm
) -> None:  # type: ignore[no-untyped-def]
    sent = chain.register(firm, h("draft"), algorithm=SM3, meta=keccak(text="meta"))
    rec = call(chain.evidence.functions.record(h("draft"), 1))
    block = chain.w3.eth.get_block(sent.block_number)
    assert tuple(rec) == (firm.address, 1, SM3, block["timestamp"], sent.block_number)
    ev = chain.evidence.events.EvidenceRegistered().process_receipt(sent.receipt)[0]["args"]
    assert ev["binding"] == h("draft") and ev["partyId"] == 1 and ev["registrant"] == firm.address
    assert ev["metadataCommitment"] == keccak(text="meta") and ev["supersedes"] == ZERO32


def test_the_same_party_registering_a_binding_twice_is_refused_with_its_record(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    first = chain.register(firm, h("draft"))
    second_account = account("firm-second-account")
    chain.change_accounts(1, "add", signers=[firm], new=second_account)
    with pytest.raises(EvidenceAlreadyRegistered) as err:
        chain.register(second_account, h("draft"))
    ts = chain.w3.eth.get_block(first.block_number)["timestamp"]
    assert err.value.args_ == {"binding": "0x" + h("draft").hex(), "partyId": 1, "timestamp": ts}
    assert call(chain.evidence.functions.record(h("draft"), 1))[0] == firm.address


def test_another_partys_record_of_the_same_binding_lands_under_its_own_key(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    other = account("other-firm")
    pid = chain.admit([other.address])
    chain.register(other, h("draft"))
    chain.register(firm, h("draft"))  # not blocked by the other party's record
    assert tuple(call(chain.evidence.functions.record(h("draft"), 1)))[:2] == (firm.address, 1)
    assert tuple(call(chain.evidence.functions.record(h("draft"), pid)))[:2] == (other.address, pid)
    key = keccak(h("draft") + (1).to_bytes(32, "big"))
    assert call(chain.evidence.functions.recordKey(h("draft"), 1)) == key
    found = call(chain.evidence.functions.records([key, keccak(h("draft") + pid.to_bytes(32, "big")), h("none")]))
    assert [r[1] for r in found] == [1, pid, 0] and found[2][3] == 0


@pytest.mark.parametrize(
    ("content", "algorithm", "error"),
    [(ZERO32, SHA256, "EvidenceHashZero"), (b"\1" * 32, 0, "EvidenceAlgorithmInvalid")],
)
def test_malformed_requests_are_refused(chain: Chain, firm, content: bytes, algorithm: int, error: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as err:
        chain.register(firm, content, algorithm=algorithm)
    assert err.value.name == error


def test_an_algorithm_outside_the_enum_is_refused(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    # the ABI encoder refuses 3 for a uint8 enum only at the EVM: send raw calldata
    data = chain.evidence.functions.register((h("x"), SM3, ZERO32, ZERO32))._encode_transaction_data()
    data = data[: 2 + 8 + 64 * 1] + f"{3:064x}" + data[2 + 8 + 64 * 2 :]
    with pytest.raises(ContractRevert):
        chain.as_(firm).send({"to": chain.evidence.address, "data": data})


def test_accounts_of_no_party_cannot_register(chain: Chain) -> None:
    with pytest.raises(PartyNotActive) as err:
        chain.register(account("stranger"), h("x"))
    assert err.value.name == "AccountNotAParty"


def test_supersedes_must_name_an_earlier_record_of_the_same_party(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    chain.register(firm, h("v1"))
    sent = chain.register(firm, h("v2"), supersedes=h("v1"))
    assert chain.evidence.events.EvidenceRegistered().process_receipt(sent.receipt)[0]["args"]["supersedes"] == h("v1")
    with pytest.raises(ContractRevert) as err:
        chain.register(firm, h("v3"), supersedes=h("never"))
    assert err.value.name == "EvidenceSupersedesUnknown"
    other = account("other")
    chain.admit([other.address])
    with pytest.raises(ContractRevert) as err:  # the firm's binding is not a record of this party
        chain.register(other, h("theirs"), supersedes=h("v1"))
    assert err.value.name == "EvidenceSupersedesUnknown"


# --- delegated registration (EIP-712) ---


def test_a_relayer_submits_a_party_signed_registration(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("signed"))
    sent = chain.sender.send_call(chain.evidence.functions.registerBySignature(req))
    rec = call(chain.evidence.functions.record(h("signed"), 1))
    assert rec[0] == firm.address and rec[1] == 1
    assert sent.receipt["from"] == chain.operator.address


def test_a_replayed_signature_is_refused_as_a_duplicate_of_the_partys_record(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("signed"))
    chain.sender.send_call(chain.evidence.functions.registerBySignature(req))
    with pytest.raises(EvidenceAlreadyRegistered):
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))


def test_an_expired_signature_is_refused(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("late"), deadline=chain.now() - 1)
    with pytest.raises(SignatureRejected) as err:
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))
    assert err.value.name == "SignatureExpired"


def test_a_signature_by_another_key_is_refused(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("forged"), signer=account("mallory"))
    with pytest.raises(SignatureRejected) as err:
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))
    assert err.value.name == "SignatureInvalid" and err.value.args_["signer"] == firm.address


def test_a_signature_for_other_terms_is_refused(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    content, registrant, nonce, deadline, sig = chain.signed_request(firm, h("a"))
    tampered = ((content[0], SM3, content[2], content[3]), registrant, nonce, deadline, sig)
    with pytest.raises(SignatureRejected):
        chain.sender.send_call(chain.evidence.functions.registerBySignature(tampered))


@pytest.mark.parametrize("wrong", ["chain", "contract"])
def test_a_signature_for_another_chain_or_contract_is_refused(chain: Chain, firm, wrong: str) -> None:  # type: ignore[no-untyped-def]
    d = chain.domain()
    domain = (
        eip712.Domain(d.chain_id + 1, d.verifying_contract)
        if wrong == "chain"
        else eip712.Domain(d.chain_id, "0x" + "11" * 20)
    )
    deadline = chain.now() + 600
    msg = eip712.evidence_message(
        domain, binding=h("x"), algorithm=SHA256, registrant=firm.address, nonce=0, deadline=deadline
    )
    req = ((h("x"), SHA256, ZERO32, ZERO32), firm.address, 0, deadline, eip712.sign(msg, firm))
    with pytest.raises(SignatureRejected):
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))


def test_bumping_the_nonce_cancels_outstanding_signatures(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("cancelled"))
    chain.as_(firm).send_call(chain.evidence.functions.bumpNonce())
    assert call(chain.evidence.functions.nonces(firm.address)) == 1
    with pytest.raises(SignatureRejected) as err:
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))
    assert err.value.name == "NonceMismatch"


def test_a_suspended_partys_signature_is_refused(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    req = chain.signed_request(firm, h("x"))
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(1, ZERO32))
    with pytest.raises(PartyNotActive):
        chain.sender.send_call(chain.evidence.functions.registerBySignature(req))


def test_the_typehashes_and_domain_match_the_python_typed_data(chain: Chain) -> None:
    assert call(chain.evidence.functions.EVIDENCE_TYPEHASH()) == eip712.EVIDENCE_TYPEHASH
    assert call(chain.evidence.functions.BATCH_SUBMISSION_TYPEHASH()) == eip712.BATCH_SUBMISSION_TYPEHASH
    msg = eip712.evidence_message(
        chain.domain(), binding=h("x"), algorithm=1, registrant=account("a").address, nonce=0, deadline=1
    )
    from eth_account.messages import encode_typed_data

    assert call(chain.evidence.functions.domainSeparator()) == encode_typed_data(full_message=msg).header


def test_an_erc1271_contract_wallet_registers_by_signature(chain: Chain) -> None:
    owner = account("multisig-owner")
    wallet = deploy_wallet(chain, owner)
    chain.admit([wallet.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="12345678")
    deadline = chain.now() + 600
    msg = eip712.evidence_message(
        chain.domain(), binding=h("w"), algorithm=SHA256, registrant=wallet.address, nonce=0, deadline=deadline
    )
    sig = eip712.sign_digest(eip712.digest(msg), owner)
    chain.sender.send_call(
        chain.evidence.functions.registerBySignature(
            ((h("w"), SHA256, ZERO32, ZERO32), wallet.address, 0, deadline, sig)
        )
    )
    assert call(chain.evidence.functions.record(h("w"), 1))[0] == wallet.address
    # and a signature by some other key is refused by the wallet
    bad = eip712.sign_digest(eip712.digest(msg), account("not-owner"))
    with pytest.raises(SignatureRejected):
        chain.sender.send_call(
            chain.evidence.functions.registerBySignature(
                ((h("w2"), SHA256, ZERO32, ZERO32), wallet.address, 0, deadline, bad)
            )
        )


def test_a_registration_by_signature_consumes_no_nonce_and_a_bumped_nonce_is_the_one_to_sign(
    chain: Chain, firm
) -> None:  # type: ignore[no-untyped-def]
    chain.sender.send_call(chain.evidence.functions.registerBySignature(chain.signed_request(firm, h("first"))))
    assert call(chain.evidence.functions.nonces(firm.address)) == 0
    stale = chain.signed_request(firm, h("stale"))
    sent = chain.as_(firm).send_call(chain.evidence.functions.bumpNonce())
    assert chain.evidence.events.NonceBumped().process_receipt(sent.receipt)[0]["args"] == {
        "account": firm.address,
        "newNonce": 1,
    }
    with pytest.raises(SignatureRejected) as err:
        chain.sender.send_call(chain.evidence.functions.registerBySignature(stale))
    assert err.value.args_ == {"signer": firm.address, "expected": 1, "given": 0}
    chain.sender.send_call(
        chain.evidence.functions.registerBySignature(chain.signed_request(firm, h("fresh"), nonce=1))
    )
    assert call(chain.evidence.functions.record(h("fresh"), 1))[0] == firm.address
    # the party slot that now also holds the nonce still answers partyOf as before
    assert call(chain.evidence.functions.partyOf(firm.address)) == [1, True]


def test_a_nonce_belongs_to_the_account_and_survives_suspension_removal_rotation_and_readmission(chain: Chain) -> None:
    a, b, c = account("nonce-a"), account("nonce-b"), account("nonce-c")
    pid = chain.admit([a.address, b.address])
    cancelled = chain.signed_request(a, h("cancelled"))
    for _ in range(2):
        chain.as_(a).send_call(chain.evidence.functions.bumpNonce())
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, ZERO32))
    chain.registrar_sender.send_call(chain.evidence.functions.reinstateParty(pid))
    assert call(chain.evidence.functions.nonces(a.address)) == 2
    chain.change_accounts(pid, "rotate", signers=[b], account=a.address, new=c)
    assert call(chain.evidence.functions.partyOf(a.address)) == [0, False]
    assert (
        call(chain.evidence.functions.nonces(a.address)) == 2 and call(chain.evidence.functions.nonces(c.address)) == 0
    )
    chain.change_accounts(pid, "remove", signers=[b], account=c.address)
    chain.change_accounts(pid, "add", signers=[b], new=a)
    assert call(chain.evidence.functions.partyOf(a.address)) == [pid, True]
    assert call(chain.evidence.functions.nonces(a.address)) == 2
    # a signature cancelled before the account left its party stays cancelled when it comes back
    with pytest.raises(SignatureRejected) as err:
        chain.sender.send_call(chain.evidence.functions.registerBySignature(cancelled))
    assert err.value.name == "NonceMismatch"
    chain.sender.send_call(chain.evidence.functions.registerBySignature(chain.signed_request(a, h("back"), nonce=2)))
    assert tuple(call(chain.evidence.functions.record(h("back"), pid)))[:2] == (a.address, pid)


def test_an_account_of_no_party_bumps_its_nonce_and_keeps_it_when_admitted(chain: Chain) -> None:
    newcomer = account("newcomer")
    chain.as_(newcomer).send_call(chain.evidence.functions.bumpNonce())
    assert call(chain.evidence.functions.nonces(newcomer.address)) == 1
    chain.admit([newcomer.address])
    assert call(chain.evidence.functions.nonces(newcomer.address)) == 1
    with pytest.raises(SignatureRejected):
        chain.sender.send_call(
            chain.evidence.functions.registerBySignature(chain.signed_request(newcomer, h("n"), nonce=0))
        )
    chain.sender.send_call(chain.evidence.functions.registerBySignature(chain.signed_request(newcomer, h("n"))))


@pytest.mark.parametrize(("word", "value"), [(2, 3), (2, 0x101), (5, (1 << 200) | 0), (7, 1 << 64)])
def test_an_unclean_word_is_refused_even_when_the_wallet_signed_exactly_those_words(
    chain: Chain, word: int, value: int
) -> None:
    """The struct hash is taken over the calldata words as they stand; a word that is not the clean encoding of
    its field (algorithm, registrant, deadline) must still be refused, even by a wallet that approves anything
    its owner signed."""
    owner = account("dirty-owner")
    wallet = deploy_wallet(chain, owner)
    chain.admit([wallet.address])
    deadline = chain.now() + 600
    data = chain.evidence.functions.registerBySignature(
        ((h("dirty"), SHA256, ZERO32, ZERO32), wallet.address, 0, deadline, b"\0" * 65)
    )._encode_transaction_data()
    words = [data[10 + 64 * i : 10 + 64 * (i + 1)] for i in range((len(data) - 10) // 64)]
    if word == 5:
        value |= int(words[5], 16)
    elif word == 7:
        value |= deadline
    words[word] = f"{value:064x}"
    struct_hash = keccak(eip712.EVIDENCE_TYPEHASH + bytes.fromhex("".join(words[1:8])))
    digest = keccak(b"\x19\x01" + call(chain.evidence.functions.domainSeparator()) + struct_hash)
    sig = eip712.sign_digest(digest, owner)
    words[10:13] = [(sig + b"\0" * 31)[i : i + 32].hex() for i in range(0, 96, 32)]
    with pytest.raises(ContractRevert) as err:
        chain.sender.send({"to": chain.evidence.address, "data": data[:10] + "".join(words)})
    assert err.value.name == "Reverted"  # the ABI decoder's check, not a refused signature
    assert call(chain.evidence.functions.record(h("dirty"), 1))[3] == 0
    # the same request with clean words and the same kind of signature goes through
    words_clean = [data[10 + 64 * i : 10 + 64 * (i + 1)] for i in range((len(data) - 10) // 64)]
    digest = keccak(
        b"\x19\x01"
        + call(chain.evidence.functions.domainSeparator())
        + keccak(eip712.EVIDENCE_TYPEHASH + bytes.fromhex("".join(words_clean[1:8])))
    )
    sig = eip712.sign_digest(digest, owner)
    chain.sender.send_call(
        chain.evidence.functions.registerBySignature(
            ((h("dirty"), SHA256, ZERO32, ZERO32), wallet.address, 0, deadline, sig)
        )
    )


# --- batches ---


def test_the_aggregator_anchors_a_root_once(chain: Chain) -> None:
    root = keccak(text="root")
    sent = chain.sender.send_call(chain.evidence.functions.anchorBatch(root, 1000))
    b = call(chain.evidence.functions.batch(root))
    assert tuple(b) == (
        chain.operator.address,
        1000,
        chain.w3.eth.get_block(sent.block_number)["timestamp"],
        sent.block_number,
    )
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.anchorBatch(root, 1000))
    assert err.value.name == "BatchAlreadyAnchored"


def test_only_the_anchor_role_anchors_and_empty_batches_are_refused(chain: Chain) -> None:
    with pytest.raises(ContractRevert) as err:
        chain.as_(account("x")).send_call(chain.evidence.functions.anchorBatch(keccak(text="r"), 1))
    assert err.value.name == "AccessControlUnauthorizedAccount"
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.anchorBatch(ZERO32, 1))
    assert err.value.name == "BatchRootZero"
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.anchorBatch(keccak(text="r"), 0))
    assert err.value.name == "BatchSizeZero"


def test_verify_batch_submission_recovers_the_party(chain: Chain, firm) -> None:  # type: ignore[no-untyped-def]
    root, deadline = keccak(text="sub"), chain.now() + 600
    msg = eip712.batch_submission_message(
        chain.domain(), root=root, count=3, algorithm=SHA256, registrant=firm.address, deadline=deadline
    )
    assert call(
        chain.evidence.functions.batchSubmissionDigest(root, 3, SHA256, firm.address, deadline)
    ) == eip712.digest(msg)
    sig = eip712.sign(msg, firm)
    assert call(chain.evidence.functions.verifyBatchSubmission(root, 3, SHA256, firm.address, deadline, sig)) == [
        1,
        True,
    ]
    with pytest.raises(SignatureRejected):
        call(chain.evidence.functions.verifyBatchSubmission(root, 4, SHA256, firm.address, deadline, sig))
