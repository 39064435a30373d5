"""The encrypted document vault: who can read, what tampering is caught, keys, storage, the format."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import (
    Conflict,
    InvalidInput,
    KeystoreError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from ledger.storage.vault.crypto import open_sealed, seal, unwrap_document_key
from ledger.storage.vault.envelope import MAX_RECIPIENTS, Envelope, VaultIntegrityError
from ledger.storage.vault.keys import (
    ReaderKey,
    derive_reader_key,
    load_reader_keystore,
    public_key_bytes,
    reader_key_from_eth_keystore,
    reader_keystore_path,
    write_reader_keystore,
)
from ledger.storage.vault.service import Vault
from ledger.storage.vault.storage import LocalStorage, MemoryStorage, VaultStorageError

ROOT = Path(__file__).resolve().parents[2]

UNIVERSITY, FIRM, ARBITRATOR, OUTSIDER = 11, 22, 33, 44
CONTRACT = b"%PDF-1.7 licence agreement between HKU and a Qianhai firm, signed\x00\xff" * 50
CONTRACT_HASH = hashlib.sha256(CONTRACT).digest()
FAST_SCRYPT = 2**14


@pytest.fixture
def keys() -> dict[int, ReaderKey]:
    return {p: ReaderKey.generate() for p in (UNIVERSITY, FIRM, ARBITRATOR, OUTSIDER)}


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage.in_data_dir(tmp_path / "data")


@pytest.fixture
def vault(storage: LocalStorage) -> Vault:
    return Vault(storage)


def _store_for_two(vault: Vault, keys: dict[int, ReaderKey]) -> Envelope:
    return vault.store(
        CONTRACT,
        owner=UNIVERSITY,
        readers={UNIVERSITY: keys[UNIVERSITY].public_bytes(), FIRM: keys[FIRM].public_bytes()},
        document_id="licence-2024-001",
    )


def _shared_with_arbitrator(vault: Vault, keys: dict[int, ReaderKey]) -> Envelope:
    env = _store_for_two(vault, keys)
    vault.grant(env.document_id, FIRM, keys[FIRM], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    return env


def _blob_path(storage: LocalStorage, env: Envelope) -> Path:
    return storage.root / env.document_id / f"{env.blob_id}.blob"


def _envelope_path(storage: LocalStorage, document_id: str) -> Path:
    return storage.root / document_id / "envelope.json"


def _flip(path: Path, index: int) -> None:
    data = bytearray(path.read_bytes())
    data[index] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_envelope(storage: LocalStorage, document_id: str, edit) -> None:  # type: ignore[no-untyped-def]
    path = _envelope_path(storage, document_id)
    data = json.loads(path.read_bytes())
    edit(data)
    path.write_text(json.dumps(data))


# --- the done-when scenario ---------------------------------------------------------------------


def test_encrypted_for_two_and_granted_to_the_arbitrator_is_readable_by_exactly_those_three(
    vault: Vault, keys: dict[int, ReaderKey]
) -> None:
    env = _shared_with_arbitrator(vault, keys)
    assert env.content_hash == CONTRACT_HASH
    assert vault.envelope(env.document_id).readers == {UNIVERSITY, FIRM, ARBITRATOR}
    for party in (UNIVERSITY, FIRM, ARBITRATOR):
        assert vault.read(env.document_id, party, keys[party], CONTRACT_HASH) == CONTRACT

    with pytest.raises(PermissionDenied) as not_a_reader:
        vault.read(env.document_id, OUTSIDER, keys[OUTSIDER], CONTRACT_HASH)
    assert not_a_reader.value.field == "party"
    # Claiming to be a reader does not help without that reader's key.
    with pytest.raises(PermissionDenied) as wrong_key:
        vault.read(env.document_id, ARBITRATOR, keys[OUTSIDER], CONTRACT_HASH)
    assert wrong_key.value.field == "private_key"


def test_the_storage_holds_no_plaintext(vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    for path in (storage.root / env.document_id).iterdir():
        assert b"licence agreement" not in path.read_bytes(), path.name


def test_revoked_reader_can_no_longer_read_and_only_the_owner_revokes(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _shared_with_arbitrator(vault, keys)
    with pytest.raises(PermissionDenied) as not_owner:
        vault.revoke(env.document_id, FIRM, ARBITRATOR)
    assert not_owner.value.field == "by_party"
    assert vault.read(env.document_id, ARBITRATOR, keys[ARBITRATOR], CONTRACT_HASH) == CONTRACT

    after = vault.revoke(env.document_id, UNIVERSITY, ARBITRATOR)
    assert after.readers == {UNIVERSITY, FIRM}
    with pytest.raises(PermissionDenied) as revoked:
        vault.read(env.document_id, ARBITRATOR, keys[ARBITRATOR], CONTRACT_HASH)
    assert revoked.value.field == "party"
    assert vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH) == CONTRACT

    with pytest.raises(NotFound) as gone:
        vault.revoke(env.document_id, UNIVERSITY, ARBITRATOR)
    assert gone.value.field == "reader"
    with pytest.raises(InvalidInput) as self_revoke:
        vault.revoke(env.document_id, UNIVERSITY, UNIVERSITY)
    assert self_revoke.value.field == "reader"


def test_rotate_re_encrypts_so_a_key_taken_before_revocation_no_longer_opens_the_document(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _shared_with_arbitrator(vault, keys)
    stolen_key = unwrap_document_key(vault.envelope(env.document_id), ARBITRATOR, keys[ARBITRATOR])
    old = vault.revoke(env.document_id, UNIVERSITY, ARBITRATOR)
    # Revocation alone does not take the key back: it still opens the current ciphertext.
    assert AESGCM(stolen_key).decrypt(old.nonce, vault.ciphertext(env.document_id), old.aad) == CONTRACT

    with pytest.raises(PermissionDenied) as not_owner_key:
        vault.rotate(env.document_id, keys[FIRM])
    assert not_owner_key.value.field == "owner_key"

    rotated = vault.rotate(env.document_id, keys[UNIVERSITY])
    assert rotated.nonce != old.nonce and rotated.content_hash == old.content_hash
    assert rotated.readers == {UNIVERSITY, FIRM}
    assert not _blob_path(storage, old).exists(), "the old ciphertext must be deleted"
    with pytest.raises(InvalidTag):
        AESGCM(stolen_key).decrypt(rotated.nonce, vault.ciphertext(env.document_id), rotated.aad)
    for party in (UNIVERSITY, FIRM):
        assert vault.read(env.document_id, party, keys[party], CONTRACT_HASH) == CONTRACT


def test_rotate_re_wraps_for_a_partys_new_key_after_key_loss(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    new_firm_key = ReaderKey.generate()
    vault.rotate(env.document_id, keys[UNIVERSITY], new_keys={FIRM: new_firm_key.public_bytes()})
    assert vault.read(env.document_id, FIRM, new_firm_key, CONTRACT_HASH) == CONTRACT
    with pytest.raises(PermissionDenied) as old_key:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH)
    assert old_key.value.field == "private_key"
    with pytest.raises(InvalidInput) as not_reader:
        vault.rotate(env.document_id, keys[UNIVERSITY], new_keys={OUTSIDER: keys[OUTSIDER].public_bytes()})
    assert not_reader.value.field == f"new_keys[{OUTSIDER}]"


def test_only_a_reader_holding_its_key_can_grant(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    with pytest.raises(PermissionDenied) as outsider:
        vault.grant(env.document_id, OUTSIDER, keys[OUTSIDER], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    assert outsider.value.field == "granter_party"
    with pytest.raises(PermissionDenied) as wrong_key:
        vault.grant(env.document_id, FIRM, keys[OUTSIDER], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    assert wrong_key.value.field == "granter_key"
    assert vault.envelope(env.document_id).readers == {UNIVERSITY, FIRM}


def test_granting_again_is_idempotent_and_a_different_key_conflicts(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _shared_with_arbitrator(vault, keys)
    before = storage.get_envelope(env.document_id)
    vault.grant(env.document_id, UNIVERSITY, keys[UNIVERSITY], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    assert storage.get_envelope(env.document_id) == before
    with pytest.raises(Conflict) as other_key:
        vault.grant(env.document_id, UNIVERSITY, keys[UNIVERSITY], ARBITRATOR, keys[OUTSIDER].public_bytes())
    assert other_key.value.field == "reader_public"


# --- tampering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["first byte", "middle byte", "tag first byte", "tag last byte"])
def test_altered_ciphertext_or_tag_is_refused(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey], where: str
) -> None:
    env = _store_for_two(vault, keys)
    index = {"first byte": 0, "middle byte": len(CONTRACT) // 2, "tag first byte": -16, "tag last byte": -1}[where]
    _flip(_blob_path(storage, env), index)
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH)
    assert exc.value.field == "ciphertext"
    assert "altered" in exc.value.message


def test_truncated_or_missing_ciphertext_is_refused(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _store_for_two(vault, keys)
    _blob_path(storage, env).write_bytes(b"short")
    with pytest.raises(VaultIntegrityError) as truncated:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH)
    assert truncated.value.field == "ciphertext"
    _blob_path(storage, env).unlink()
    with pytest.raises(VaultIntegrityError) as missing:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH)
    assert "missing" in missing.value.message


def test_altered_wrapped_key_is_refused_for_that_reader_only(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _store_for_two(vault, keys)
    index = [r.party_id for r in env.recipients].index(FIRM)

    def edit(data: dict) -> None:  # type: ignore[type-arg]
        wrapped = bytearray.fromhex(data["recipients"][index]["wrappedKey"][2:])
        wrapped[5] ^= 0x80
        data["recipients"][index]["wrappedKey"] = "0x" + wrapped.hex()

    _edit_envelope(storage, env.document_id, edit)
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH)
    assert exc.value.field == f"envelope.recipients[{index}].wrappedKey"
    assert vault.read(env.document_id, UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH) == CONTRACT


def test_swapped_ephemeral_key_is_refused(vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)

    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["recipients"][0]["ephemeralPublicKey"] = data["recipients"][1]["ephemeralPublicKey"]

    _edit_envelope(storage, env.document_id, edit)
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(env.document_id, env.recipients[0].party_id, keys[env.recipients[0].party_id], CONTRACT_HASH)
    assert exc.value.field == "envelope.recipients[0].wrappedKey"


def test_altered_content_hash_in_the_envelope_is_refused(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _store_for_two(vault, keys)
    forged = hashlib.sha256(b"a different contract").digest()

    def naive(data: dict) -> None:  # type: ignore[type-arg]
        data["contentHash"] = "0x" + forged.hex()

    _edit_envelope(storage, env.document_id, naive)
    with pytest.raises(VaultIntegrityError) as aad_mismatch:
        vault.read(env.document_id, FIRM, keys[FIRM], forged)
    assert aad_mismatch.value.field == "envelope.aad"

    def careful(data: dict) -> None:  # type: ignore[type-arg]
        data["aad"] = "0x" + (env.document_id.encode() + forged).hex()

    _edit_envelope(storage, env.document_id, careful)
    with pytest.raises(VaultIntegrityError) as tag_mismatch:
        vault.read(env.document_id, FIRM, keys[FIRM], forged)
    assert tag_mismatch.value.field == "ciphertext"


def test_content_not_matching_the_envelope_hash_is_refused_even_when_authentic() -> None:
    # A writer holding the document key can produce authentic ciphertext of other content under the
    # envelope's AAD; the SHA-256 check against contentHash still refuses it.
    owner = ReaderKey.generate()
    values = [bytes([7]) * 32, bytes([9]) * 12, bytes([1]) * 32, bytes([2]) * 12]
    env, _ = seal(b"the real contract", 1, {1: owner.public_bytes()}, "doc-1", _random=lambda n: values.pop(0))
    lying_blob = AESGCM(bytes([7]) * 32).encrypt(env.nonce, b"something else", env.aad)
    with pytest.raises(VaultIntegrityError) as exc:
        open_sealed(env, lying_blob, 1, owner, env.content_hash)
    assert exc.value.field == "envelope.contentHash"


def test_a_hash_other_than_the_on_chain_one_is_refused(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    on_chain = hashlib.sha256(b"what was actually registered").digest()
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(env.document_id, FIRM, keys[FIRM], on_chain)
    assert exc.value.field == "expected_hash"
    assert on_chain.hex() in exc.value.message


def test_the_expected_hash_may_be_hex_and_must_be_32_bytes(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    assert vault.read(env.document_id, FIRM, keys[FIRM], "0x" + CONTRACT_HASH.hex()) == CONTRACT
    with pytest.raises(InvalidInput) as short:
        vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH[:31])
    assert short.value.field == "expected_hash"


def test_an_envelope_moved_to_another_document_id_is_refused(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]
) -> None:
    env = _store_for_two(vault, keys)
    other = vault.store(b"other", UNIVERSITY, {UNIVERSITY: keys[UNIVERSITY].public_bytes()}, document_id="other-doc")
    _envelope_path(storage, other.document_id).write_bytes(_envelope_path(storage, env.document_id).read_bytes())
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(other.document_id, UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH)
    assert exc.value.field == "envelope.documentId"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(version=2), "envelope.version"),
        (lambda d: d.update(format="something-else"), "envelope.format"),
        (lambda d: d.update(owner=99), "envelope.owner"),
        (lambda d: d.update(extra=1), "envelope.extra"),
        (lambda d: d.pop("nonce"), "envelope.nonce"),
        (lambda d: d.update(nonce="0x00"), "envelope.nonce"),
        (lambda d: d["recipients"].append(dict(d["recipients"][0])), "envelope.recipients[2].partyId"),
    ],
)
def test_malformed_envelopes_are_refused_with_the_field(
    vault: Vault,
    storage: LocalStorage,
    keys: dict[int, ReaderKey],
    edit,
    field: str,  # type: ignore[no-untyped-def]
) -> None:
    env = _store_for_two(vault, keys)
    _edit_envelope(storage, env.document_id, edit)
    with pytest.raises(VaultIntegrityError) as exc:
        vault.read(env.document_id, UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH)
    assert exc.value.field == field


# --- inputs and limits --------------------------------------------------------------------------


def test_unknown_document_and_bad_document_ids(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    with pytest.raises(NotFound) as unknown:
        vault.read("no-such-document", FIRM, keys[FIRM], CONTRACT_HASH)
    assert unknown.value.field == "document_id"
    for bad in ("../etc", "", ".hidden", "a/b", "x" * 129):
        with pytest.raises(InvalidInput) as exc:
            vault.read(bad, FIRM, keys[FIRM], CONTRACT_HASH)
        assert exc.value.field == "document_id"


def test_the_owner_must_be_a_reader_and_party_ids_and_keys_are_checked(
    vault: Vault, keys: dict[int, ReaderKey]
) -> None:
    with pytest.raises(InvalidInput) as owner:
        vault.store(b"x", UNIVERSITY, {FIRM: keys[FIRM].public_bytes()})
    assert owner.value.field == "readers"
    with pytest.raises(InvalidInput) as zero:
        vault.store(b"x", 0, {0: keys[FIRM].public_bytes()})
    assert zero.value.field == "owner"
    with pytest.raises(InvalidInput) as short_key:
        vault.store(b"x", FIRM, {FIRM: b"\x01" * 31})
    assert short_key.value.field == f"readers[{FIRM}]"
    with pytest.raises(InvalidInput) as low_order:
        vault.store(b"x", FIRM, {FIRM: bytes(32)})
    assert low_order.value.field == f"readers[{FIRM}]"


def test_document_size_and_reader_count_limits(keys: dict[int, ReaderKey]) -> None:
    vault = Vault(MemoryStorage(), max_document_bytes=1000)
    public = keys[FIRM].public_bytes()
    vault.store(b"x" * 1000, FIRM, {FIRM: public})
    with pytest.raises(PayloadTooLarge) as big:
        vault.store(b"x" * 1001, FIRM, {FIRM: public})
    assert big.value.field == "plaintext"
    with pytest.raises(InvalidInput) as many:
        vault.store(b"x", 1, {p: public for p in range(1, MAX_RECIPIENTS + 2)})
    assert many.value.field == "readers"

    env = vault.store(b"x", 1, {p: public for p in range(1, MAX_RECIPIENTS + 1)})
    with pytest.raises(Conflict) as full:
        vault.grant(env.document_id, 1, keys[FIRM], 1000, keys[OUTSIDER].public_bytes())
    assert full.value.field == "reader"


def test_a_taken_document_id_conflicts(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    _store_for_two(vault, keys)
    with pytest.raises(Conflict) as exc:
        _store_for_two(vault, keys)
    assert exc.value.field == "document_id"


def test_a_stale_update_conflicts(vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    stale = storage.get_envelope(env.document_id)
    vault.grant(env.document_id, FIRM, keys[FIRM], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    with pytest.raises(Conflict):
        storage.put_envelope(env.document_id, stale, expected=stale)
    assert vault.envelope(env.document_id).readers == {UNIVERSITY, FIRM, ARBITRATOR}


def test_owner_deletes_a_document(vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]) -> None:
    env = _store_for_two(vault, keys)
    with pytest.raises(PermissionDenied):
        vault.delete(env.document_id, FIRM)
    vault.delete(env.document_id, UNIVERSITY)
    assert not vault.exists(env.document_id)
    assert not (storage.root / env.document_id).exists()
    with pytest.raises(NotFound):
        vault.read(env.document_id, UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH)


def test_a_client_sealed_document_is_stored_without_the_service_seeing_plaintext(
    vault: Vault, keys: dict[int, ReaderKey]
) -> None:
    env, blob = seal(CONTRACT, FIRM, {FIRM: keys[FIRM].public_bytes(), UNIVERSITY: keys[UNIVERSITY].public_bytes()})
    uploaded = Envelope.from_bytes(env.to_bytes())
    vault.put_sealed(uploaded, blob)
    assert vault.read(env.document_id, UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH) == CONTRACT
    with pytest.raises(Conflict):
        vault.put_sealed(uploaded, blob)


# --- reader keys --------------------------------------------------------------------------------

ETH_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ETH_KEY_READER_PRIVATE = "d6e5350b62bfd567b046484667e0caae916db4c6bb1940dedef345ba54c50db7"
ETH_KEY_READER_PUBLIC = "46a9b1147da968cb063f195aeee958626e092af0d18c18d9bf83eec8b85cd95d"


def test_derive_reader_key_is_deterministic_and_distinct_per_account() -> None:
    first = ReaderKey(derive_reader_key(ETH_KEY))
    again = ReaderKey(derive_reader_key(bytearray(ETH_KEY)))
    other = ReaderKey(derive_reader_key(bytes.fromhex("01" * 32)))
    assert first.public_bytes() == again.public_bytes()
    assert first.public_bytes() != other.public_bytes()
    assert first.private_bytes() != ETH_KEY
    # The documented vector, recomputed from the spec with HKDF alone.
    spec = HKDF(hashes.SHA256(), 32, salt=bytes(32), info=b"qianhai-ip-ledger/vault/x25519/v1").derive(ETH_KEY)
    assert first.private_bytes().hex() == spec.hex() == ETH_KEY_READER_PRIVATE
    assert first.public_bytes().hex() == ETH_KEY_READER_PUBLIC
    with pytest.raises(InvalidInput):
        derive_reader_key(ETH_KEY[:31])


def test_the_reader_key_is_recoverable_from_the_eth_keystore(tmp_path: Path) -> None:
    path = tmp_path / "firm.json"
    path.write_text(json.dumps(Account.encrypt(ETH_KEY, "pw", kdf="scrypt", iterations=2**10)))
    key = reader_key_from_eth_keystore(path, "pw")
    assert public_key_bytes(key).hex() == ETH_KEY_READER_PUBLIC
    with pytest.raises(KeystoreError):
        reader_key_from_eth_keystore(path, "wrong")


def test_reader_keystore_round_trips_beside_the_eth_keystore_and_refuses_a_wrong_password(tmp_path: Path) -> None:
    key = ReaderKey.generate()
    path = reader_keystore_path(tmp_path / "keys" / "firm.json")
    assert path == tmp_path / "keys" / "firm.json.x25519.json"
    write_reader_keystore(path, key, "correct horse", scrypt_n=FAST_SCRYPT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.private_bytes().hex() not in path.read_text()
    assert public_key_bytes(load_reader_keystore(path, "correct horse")) == key.public_bytes()
    assert ReaderKey.load(path, "correct horse").private_bytes() == key.private_bytes()

    with pytest.raises(KeystoreError) as wrong:
        load_reader_keystore(path, "correct horse!")
    assert wrong.value.field == "keystore_password"
    with pytest.raises(KeystoreError) as empty:
        load_reader_keystore(path, "")
    assert empty.value.field == "keystore_password"
    with pytest.raises(KeystoreError):
        write_reader_keystore(path, ReaderKey.generate(), "x", scrypt_n=FAST_SCRYPT)
    assert ReaderKey.load(path, "correct horse").public_bytes() == key.public_bytes(), "must not be overwritten"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left behind"


def test_an_altered_reader_keystore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_reader_keystore(path, ReaderKey.generate(), "pw", scrypt_n=FAST_SCRYPT)
    data = json.loads(path.read_text())
    data["publicKey"] = "0x" + ReaderKey.generate().public_bytes().hex()
    path.write_text(json.dumps(data))
    with pytest.raises(KeystoreError):
        load_reader_keystore(path, "pw")
    data["kdfparams"]["n"] = 2**30
    path.write_text(json.dumps(data))
    with pytest.raises(KeystoreError) as too_costly:
        load_reader_keystore(path, "pw")
    assert too_costly.value.field == "keystore"
    with pytest.raises(KeystoreError) as missing:
        load_reader_keystore(tmp_path / "absent.json", "pw")
    assert missing.value.field == "keystore"


def test_a_reader_keystore_whose_key_does_not_match_its_public_key_is_refused(tmp_path: Path) -> None:
    # Correctly encrypted under the password, but holding a key other than the one publicKey names.
    path = tmp_path / "r.json"
    write_reader_keystore(path, ReaderKey.generate(), "pw", scrypt_n=FAST_SCRYPT)
    data = json.loads(path.read_text())
    claimed = bytes.fromhex(data["publicKey"][2:])
    params = data["kdfparams"]
    password_key = Scrypt(salt=bytes.fromhex(params["salt"][2:]), length=32, n=params["n"], r=8, p=1).derive(b"pw")
    other = ReaderKey.generate().private_bytes()
    aad = b"qianhai-ip-ledger/vault/reader-keystore/v1" + claimed
    data["ciphertext"] = "0x" + AESGCM(password_key).encrypt(bytes.fromhex(data["nonce"][2:]), other, aad).hex()
    path.write_text(json.dumps(data))
    with pytest.raises(KeystoreError) as exc:
        load_reader_keystore(path, "pw")
    assert "does not match publicKey" in exc.value.message


# --- storage ------------------------------------------------------------------------------------


def test_files_are_0600_and_directories_0700(vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey]) -> None:
    old = os.umask(0o022)
    try:
        env = _store_for_two(vault, keys)
    finally:
        os.umask(old)
    directory = storage.root / env.document_id
    assert stat.S_IMODE(storage.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert {p.name for p in files} >= {"envelope.json", f"{env.blob_id}.blob"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def _fail_renames_onto(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(dst).name == name:
            raise OSError(errno.EIO, "simulated crash during rename")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_crashed_store_leaves_no_partial_document(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_renames_onto(monkeypatch, "envelope.json")
    with pytest.raises(VaultStorageError):
        _store_for_two(vault, keys)
    monkeypatch.undo()
    assert not vault.exists("licence-2024-001")
    leftovers = [p.name for p in storage.root.rglob("*") if p.is_file() and p.name != ".lock"]
    assert leftovers == [], leftovers
    with pytest.raises(NotFound):
        vault.read("licence-2024-001", UNIVERSITY, keys[UNIVERSITY], CONTRACT_HASH)
    # and the id is free to use afterwards
    assert _store_for_two(vault, keys).document_id == "licence-2024-001"


def test_a_crashed_update_leaves_the_previous_envelope_intact(
    vault: Vault, storage: LocalStorage, keys: dict[int, ReaderKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _store_for_two(vault, keys)
    before = storage.get_envelope(env.document_id)
    _fail_renames_onto(monkeypatch, "envelope.json")
    with pytest.raises(VaultStorageError):
        vault.grant(env.document_id, FIRM, keys[FIRM], ARBITRATOR, keys[ARBITRATOR].public_bytes())
    with pytest.raises(VaultStorageError):
        vault.rotate(env.document_id, keys[UNIVERSITY])
    monkeypatch.undo()
    assert storage.get_envelope(env.document_id) == before
    names = sorted(p.name for p in (storage.root / env.document_id).iterdir())
    assert names == sorted([".lock", "envelope.json", f"{env.blob_id}.blob"]), names
    assert vault.read(env.document_id, FIRM, keys[FIRM], CONTRACT_HASH) == CONTRACT


# --- round trip and the documented format ----------------------------------------------------------

_private_keys = st.binary(min_size=32, max_size=32).map(X25519PrivateKey.from_private_bytes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plaintext=st.binary(max_size=4096),
    readers=st.dictionaries(st.integers(1, 2**53 - 1), _private_keys, min_size=1, max_size=6),
    outsider=_private_keys,
    data=st.data(),
)
def test_round_trip_for_random_documents_and_reader_sets(plaintext, readers, outsider, data) -> None:  # type: ignore[no-untyped-def]
    vault = Vault(MemoryStorage())
    owner = data.draw(st.sampled_from(sorted(readers)), label="owner")
    env = vault.store(plaintext, owner, {p: public_key_bytes(k) for p, k in readers.items()})
    digest = hashlib.sha256(plaintext).digest()
    assert env.readers == set(readers) and env.content_hash == digest
    for party, key in readers.items():
        assert vault.read(env.document_id, party, key, digest) == plaintext
    outsider_id = max(readers) + 1 if max(readers) < 2**53 - 1 else min(readers) - 1
    if outsider_id not in readers and outsider_id >= 1:
        with pytest.raises(PermissionDenied):
            vault.read(env.document_id, outsider_id, outsider, digest)
    assert Envelope.from_bytes(env.to_bytes()) == env


def _reference_decrypt(envelope_json: dict, blob: bytes, party: int, private: bytes) -> bytes:  # type: ignore[type-arg]
    """Decryption written from docs/vault.md with bare primitives, not the vault's helpers."""
    doc_id = envelope_json["documentId"].encode()
    content_hash = bytes.fromhex(envelope_json["contentHash"][2:])
    rec = next(r for r in envelope_json["recipients"] if r["partyId"] == party)
    eph = bytes.fromhex(rec["ephemeralPublicKey"][2:])
    pub = bytes.fromhex(rec["publicKey"][2:])
    shared = X25519PrivateKey.from_private_bytes(private).exchange(X25519PublicKey.from_public_bytes(eph))
    kek = HKDF(hashes.SHA256(), 32, salt=eph + pub, info=b"qianhai-ip-ledger/vault/wrap/v1" + doc_id).derive(shared)
    document_key = AESGCM(kek).decrypt(
        bytes.fromhex(rec["wrapNonce"][2:]), bytes.fromhex(rec["wrappedKey"][2:]), doc_id + party.to_bytes(32, "big")
    )
    plaintext = AESGCM(document_key).decrypt(bytes.fromhex(envelope_json["nonce"][2:]), blob, doc_id + content_hash)
    assert hashlib.sha256(plaintext).digest() == content_hash
    return plaintext


def test_a_reader_can_decrypt_with_bare_primitives_following_the_docs(vault: Vault, keys: dict[int, ReaderKey]) -> None:
    env = _shared_with_arbitrator(vault, keys)
    envelope_json = json.loads(vault.envelope(env.document_id).to_bytes())
    blob = vault.ciphertext(env.document_id)
    assert _reference_decrypt(envelope_json, blob, ARBITRATOR, keys[ARBITRATOR].private_bytes()) == CONTRACT


def _vector() -> tuple[Envelope, bytes, bytes]:
    values = [bytes(range(0x00, 0x20)), bytes(range(0x20, 0x2C)), bytes(range(0x40, 0x60)), bytes(range(0x60, 0x6C))]
    reader = bytes(range(0x80, 0xA0))
    env, blob = seal(
        b"abc",
        7,
        {7: public_key_bytes(ReaderKey.from_private_bytes(reader))},
        "example-1",
        _random=lambda n: values.pop(0),
    )
    return env, blob, reader


def test_the_documented_test_vector_matches_the_code() -> None:
    env, blob, reader = _vector()
    docs = (ROOT / "docs" / "vault.md").read_text(encoding="utf-8")
    documented = re.search(r"```json\n(\{\n  \"format\": \"qianhai-ip-ledger/vault-envelope\".*?)```", docs, re.S)
    assert documented is not None, "docs/vault.md must show the test vector envelope"
    assert json.loads(documented.group(1)) == env.to_json()
    assert f"`{blob.hex()}`" in docs
    assert _reference_decrypt(env.to_json(), blob, 7, reader) == b"abc"
    recipient = env.recipients[0]
    shared = X25519PrivateKey.from_private_bytes(bytes(range(0x40, 0x60))).exchange(
        X25519PublicKey.from_public_bytes(recipient.public_key)
    )
    kek = HKDF(
        hashes.SHA256(),
        32,
        salt=recipient.ephemeral_public_key + recipient.public_key,
        info=b"qianhai-ip-ledger/vault/wrap/v1example-1",
    ).derive(shared)
    for value in (recipient.public_key.hex(), shared.hex(), kek.hex()):
        assert value in docs
    for value in (ETH_KEY.hex(), ETH_KEY_READER_PRIVATE, ETH_KEY_READER_PUBLIC):
        assert value in docs


def test_the_python_decryption_shown_in_the_docs_works() -> None:
    docs = (ROOT / "docs" / "vault.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", docs, re.S)
    assert snippet is not None
    namespace: dict = {}  # type: ignore[type-arg]
    exec(compile(snippet.group(1), "docs/vault.md", "exec"), namespace)  # noqa: S102
    env, blob, reader = _vector()
    assert namespace["decrypt"](env.to_json(), blob, 7, reader, env.content_hash) == b"abc"
    flipped = bytes([blob[0] ^ 1]) + blob[1:]
    with pytest.raises(InvalidTag):
        namespace["decrypt"](env.to_json(), flipped, 7, reader, env.content_hash)
