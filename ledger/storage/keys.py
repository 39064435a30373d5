"""Encrypted keystores (eth-account keystore v3, scrypt). Private keys never appear in plaintext on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import InvalidInput, KeystoreError
from ledger.storage.files import MIB, read_bounded_text
from ledger.storage.vault.storage import fsync_dir, write_temp_file

PASSWORD_ENV = "IPLEDGER_KEYSTORE_PASSWORD"
#: A v3 keystore is under 1 KiB; a file over this is not one (and is never read whole).
MAX_KEYSTORE_BYTES = 1 * MIB


def load_keystore(path: Path, password: str | None) -> LocalAccount:
    """Decrypts a keystore; raises :class:`KeystoreError` with a one-line reason on any failure."""
    if password is None or password == "":
        raise KeystoreError(f"no password for keystore {path} (set {PASSWORD_ENV} or answer the prompt)")
    try:
        data = json.loads(read_bounded_text(path, MAX_KEYSTORE_BYTES, field="keystore", what="a keystore"))
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} not found", field="keystore") from None
    except InvalidInput as exc:
        raise KeystoreError(exc.message, field="keystore") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"keystore {path} is unreadable ({type(exc).__name__})", field="keystore") from None
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise KeystoreError(f"wrong password for keystore {path}", field="keystore_password") from None
    except Exception as exc:  # noqa: BLE001 - eth-account raises many classes for a malformed keystore
        raise KeystoreError(f"keystore {path} is not a valid v3 keystore ({type(exc).__name__})") from None
    return Account.from_key(key)


def write_keystore(
    path: Path, account: LocalAccount, password: str, *, kdf: Literal["scrypt", "pbkdf2"] = "scrypt"
) -> Path:
    """Writes ``account`` encrypted under ``password`` (mode 0600, never overwriting), whole or not at all: the
    keystore is written and synced under a temporary name, then linked to ``path`` (which fails if ``path`` exists),
    so a full disk or a crash never leaves a partial keystore that would then refuse the next attempt."""
    if not password:
        raise KeystoreError("a keystore password must not be empty", field="password")
    path = Path(path)
    if path.exists():
        raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore")
    data = json.dumps(Account.encrypt(account.key, password, kdf=kdf)).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp_file(path, data)  # 0600, synced; removed again if it cannot be written whole
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
    except FileExistsError:
        raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore") from None
    except OSError as exc:
        raise KeystoreError(f"cannot write the keystore {path}: {exc.strerror or exc}", field="keystore") from None
    return path
