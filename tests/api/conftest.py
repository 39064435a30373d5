"""API fixtures: the app over the session anvil (snapshot/revert per test), the pipeline driven by hand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from api.app import create_app
from ledger.config import Settings
from ledger.domain import eip712
from ledger.domain.evidence import sign_batch, sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.facade import Ledger
from tests.helpers import Chain, account

OPERATOR_TOKEN = "test-operator-token"


@dataclass
class Api:
    client: TestClient
    ledger: Ledger
    chain: Chain

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    def domain(self) -> eip712.Domain:
        return eip712.Domain(self.ledger.manifest.chain_id, self.ledger.manifest.address("EvidenceRegistry"))

    def admit(self, acct: LocalAccount, identifier: str, **over: Any) -> int:
        body = {
            "kind": "firm",
            "jurisdiction": "mainland",
            "identifierScheme": "uscc",
            "identifier": identifier,
            "nameZh": "前海测试公司",
            "nameEn": "Qianhai Test Ltd",
            "accounts": [acct.address],
            **over,
        }
        resp = self.client.post("/v1/parties", json=body, headers=self.auth)
        assert resp.status_code == 201, resp.text
        return int(resp.json()["partyId"])

    def party_of(self, acct: LocalAccount | str) -> int:
        address = acct if isinstance(acct, str) else acct.address
        return int(self.chain.evidence.functions.partyOf(address).call()[0])

    def binding(self, acct: LocalAccount, content: bytes, algorithm: int = 1) -> bytes:
        """The public binding of ``content`` to the account's party, as ``single_body`` and ``batch_body`` send it."""
        return public_binding(content, self.party_of(acct) or 1, HashAlgorithm(algorithm))

    def single_body(
        self,
        acct: LocalAccount,
        content: bytes,
        *,
        algorithm: str = "sha256",
        deadline: int | None = None,
        nonce: int = 0,
        binding: bytes | None = None,
        party_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The body of a relayed registration of ``content`` (a content hash): its public binding to the account's
        party, signed (or ``binding`` as given, for a private registration or a deliberate mismatch)."""
        deadline = deadline or self.chain.now() + 3600
        alg = 1 if algorithm == "sha256" else 2
        own = self.party_of(acct) or 1  # an account of no party: bound to party 1, refused as no party's account
        party = party_id if party_id is not None else own
        if binding is None:
            binding = public_binding(content, own, HashAlgorithm(alg))
        if "supersedes" in extra:  # an earlier content hash of the party: its binding
            extra["supersedes"] = public_binding(extra["supersedes"], own, HashAlgorithm(alg))
        req = sign_single(acct, self.domain(), binding=binding, algorithm=alg, nonce=nonce, deadline=deadline, **extra)
        body = {
            "binding": "0x" + binding.hex(),
            "partyId": party,
            "algorithm": algorithm,
            "registrant": acct.address,
            "nonce": nonce,
            "deadline": deadline,
            "signature": "0x" + req.signature.hex(),
        }
        if "metadata_commitment" in extra:
            body["metadataCommitment"] = "0x" + extra["metadata_commitment"].hex()
        if "supersedes" in extra:
            body["supersedes"] = "0x" + extra["supersedes"].hex()
        return body

    def batch_body(
        self,
        acct: LocalAccount,
        hashes: list[bytes],
        *,
        algorithm: int = 1,
        deadline: int | None = None,
        bindings: list[bytes] | None = None,
    ) -> dict[str, Any]:
        """A batch of content hashes, as their public bindings to the account's party (or ``bindings`` as given)."""
        deadline = deadline or self.chain.now() + 3600
        party = self.party_of(acct) or 1
        if bindings is None:
            bindings = [public_binding(hh, party, HashAlgorithm(algorithm)) for hh in hashes]
        req = sign_batch(acct, self.domain(), bindings=bindings, algorithm=algorithm, deadline=deadline)
        return {
            "algorithm": "sha256" if algorithm == 1 else "sm3",
            "bindings": ["0x" + hh.hex() for hh in bindings],
            "partyId": party,
            "registrant": acct.address,
            "deadline": deadline,
            "signature": "0x" + req.signature.hex(),
        }


class CountingProvider:
    """Counts the JSON-RPC methods a Web3 sends to its provider (below web3's middleware)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CountingProvider:
        provider = self.w3.provider
        self._original = provider.make_request

        def counted(method: Any, params: Any) -> Any:
            with self._lock:
                self.calls.append(str(method))
            return self._original(method, params)

        provider.make_request = counted  # type: ignore[method-assign]
        provider._request_func_cache = (None, None)  # noqa: SLF001 - rebuild web3's middleware over the wrapper
        return self

    def __exit__(self, *exc: object) -> None:
        self.w3.provider.make_request = self._original  # type: ignore[method-assign]
        self.w3.provider._request_func_cache = (None, None)  # noqa: SLF001

    def count(self, method: str) -> int:
        return self.calls.count(method)


@pytest.fixture
def api(anvil: Chain, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Api]:
    # a module marked usefixtures("journal_url") runs on each journal backend (tests/conftest.py)
    journal_url = request.getfixturevalue("journal_url") if "journal_url" in request.fixturenames else None
    settings = Settings(
        data_dir=tmp_path / "data",
        journal_url=journal_url,
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
    )
    ledger = Ledger(
        w3=anvil.w3,
        manifest=anvil.manifest,
        settings=settings,
        relayer=anvil.sender,
        registrar=anvil.registrar_sender,
        governance=anvil.governance_sender,
    )
    app = create_app(ledger, settings, run_pipeline=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, ledger, anvil)
    ledger.close()


@pytest.fixture
def firm(api: Api) -> LocalAccount:
    acct = account("api-firm")
    api.admit(acct, "91110108551385082Q")
    return acct
