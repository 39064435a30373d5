"""Several processes on one data directory (`ipledger serve` replicas and a worker): what each opens on first use
there is safe when they all do it at once. Threads stand in for the processes: they race on the same files."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.chain.node import ensure_writable_dir
from ledger.storage.personal import load_or_create_key
from ledger.storage.tsa import TsaFiles, ensure_local_tsa, load_tsa, local_password


def race(n: int, fn: Callable[[], Any]) -> list[Any]:
    """Runs ``fn`` in ``n`` threads released together; returns what each returned or raised."""
    start = threading.Barrier(n)
    out: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            got: Any = fn()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertions
            got = exc
        with lock:
            out.append(got)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def test_proving_a_data_directory_writable_at_once_from_many_places_never_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def prove_often() -> None:
        for _ in range(200):
            ensure_writable_dir(data)

    assert race(8, prove_often) == [None] * 8
    assert list(data.iterdir()) == []  # no probe left behind


def test_a_service_key_made_at_once_by_many_is_one_whole_key_for_all(tmp_path: Path) -> None:
    for attempt in range(20):
        path = tmp_path / f"service-{attempt}.key"
        keys = race(8, lambda p=path: load_or_create_key(p))  # type: ignore[misc]
        assert all(isinstance(k, bytes) and len(k) == 32 for k in keys), keys
        assert len(set(keys)) == 1
        assert path.read_bytes() == keys[0] and oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(os.listdir(tmp_path)) == sorted(f"service-{i}.key" for i in range(20))  # nothing staged is left


def test_replicas_making_the_time_stamp_keys_at_once_make_them_once_and_as_one_pair(tmp_path: Path) -> None:
    """The embedded TSA's keys are made on first use (`POST /v1/tsa`): replicas of `ipledger serve` sharing the
    data directory may all find them missing at once. One makes them; the others load that same pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    made = race(6, lambda: ensure_local_tsa(tmp_path, None))
    assert sorted(made) == [False] * 5 + [True]
    files = TsaFiles.in_data_dir(tmp_path)
    material = load_tsa(cert=files.cert, key=files.key, ca=files.ca, password=local_password(files, None))
    cert = x509.load_der_x509_certificate(material.certificate)
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert cert.public_key().public_bytes(der, raw) == material.key.public_key().public_bytes(der, raw)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
