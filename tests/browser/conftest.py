"""Browser fixtures: the real API server (uvicorn in a thread, over the session anvil) and Debian's Chromium
driven by Playwright. A failing test leaves a screenshot in ``test-artifacts/``.

The module is skipped only when ``/usr/bin/chromium`` is missing; CI (``.ci/run``) installs it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("IPLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OPERATOR_TOKEN = "browser-operator-token"
DOC = "前海设计图纸 v1 — design drawing for the portal test\n".encode()

if not os.path.exists(CHROMIUM):
    if os.environ.get("IPLEDGER_TEST_STRICT", "") not in ("", "0"):  # CI: a missing browser is a failure
        raise pytest.UsageError(f"{CHROMIUM} is not installed and IPLEDGER_TEST_STRICT is set")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it", allow_module_level=True)
playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)

from api.app import create_app  # noqa: E402
from ledger.chain.node import free_port  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.domain import eip712  # noqa: E402
from ledger.domain.evidence import sign_single  # noqa: E402
from ledger.domain.hashing import HashAlgorithm, hash_bytes, public_binding  # noqa: E402
from ledger.facade import Ledger  # noqa: E402
from tests.helpers import FIRM_USCC, Chain, account  # noqa: E402


@dataclass
class Portal:
    url: str
    ledger: Ledger
    chain: Chain
    party_id: int
    doc: bytes
    content_hash: bytes

    @cached_property
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def admit(self, acct: Any, identifier: str, **over: Any) -> int:
        body = {
            "kind": "firm",
            "jurisdiction": "mainland",
            "identifierScheme": "uscc",
            "identifier": identifier,
            "nameZh": "前海门户测试有限公司",
            "nameEn": "Qianhai Portal Test Ltd",
            "accounts": [acct.address],
            **over,
        }
        resp = httpx.post(
            self.url + "/v1/parties", json=body, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30
        )
        assert resp.status_code == 201, resp.text
        return int(resp.json()["partyId"])

    def get(self, path: str) -> Any:
        resp = httpx.get(self.url + path, timeout=30)
        resp.raise_for_status()
        return resp.json()


class _Server:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="portal-uvicorn", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def portal(anvil_chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The API and portal on a real port, with one party admitted and one document registered and anchored."""
    snap = anvil_chain.snapshot()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("portal-data"),
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
        tsa_max_wait=0.2,
        tsa_accuracy=300,  # a loaded machine may take a while to anchor the time stamp of test_portal.py
    )
    ledger = Ledger(
        w3=anvil_chain.w3,
        manifest=anvil_chain.manifest,
        settings=settings,
        relayer=anvil_chain.sender,
        registrar=anvil_chain.registrar_sender,
        governance=anvil_chain.governance_sender,
    )
    app = create_app(ledger, settings, run_pipeline=False)
    try:
        with _Server(app) as url:
            firm = account("portal-firm")
            resp = httpx.post(
                url + "/v1/parties",
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                timeout=30,
                json={
                    "kind": "firm",
                    "jurisdiction": "mainland",
                    "identifierScheme": "uscc",
                    "identifier": FIRM_USCC,
                    "nameZh": "前海门户测试有限公司",
                    "nameEn": "Qianhai Portal Test Ltd",
                    "accounts": [firm.address],
                },
            )
            assert resp.status_code == 201, resp.text
            party_id = int(resp.json()["partyId"])
            content = hash_bytes(DOC, HashAlgorithm.SHA256)
            domain = eip712.Domain(ledger.manifest.chain_id, ledger.manifest.address("EvidenceRegistry"))
            deadline = anvil_chain.now() + 3600
            binding = public_binding(content, party_id, HashAlgorithm.SHA256)  # computed by the party's client
            req = sign_single(firm, domain, binding=binding, algorithm=1, nonce=0, deadline=deadline)
            resp = httpx.post(
                url + "/v1/evidence",
                timeout=30,
                json={
                    "binding": "0x" + binding.hex(),
                    "partyId": party_id,
                    "algorithm": "sha256",
                    "registrant": firm.address,
                    "nonce": 0,
                    "deadline": deadline,
                    "signature": "0x" + req.signature.hex(),
                },
            )
            assert resp.status_code == 202, resp.text
            assert ledger.pipeline.drain()
            p = Portal(url, ledger, anvil_chain, party_id, DOC, content)
            yield p
            if "client" in p.__dict__:
                p.client.close()
    finally:
        ledger.close()
        anvil_chain.revert(snap)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _new_page(browser: Any, locale: str) -> Any:
    context = browser.new_context(locale=locale, accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def make_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``make_page(locale)`` opens a fresh page in a new context with that browser locale. If the test fails, a
    screenshot of every page it opened is written to ``test-artifacts/``."""
    pages: list[Any] = []

    def make(locale: str = "en-GB") -> Any:
        pages.append(_new_page(browser, locale))
        return pages[-1]

    try:
        yield make
    finally:
        rep = getattr(request.node, "rep_call", None)
        failed = rep is None or rep.failed
        for i, p in enumerate(pages):
            if failed:
                ARTIFACTS.mkdir(exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
                try:
                    p.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
                except Exception:  # noqa: BLE001 - the screenshot must not hide the failure
                    pass
            p.context.close()


@pytest.fixture
def page(make_page: Any) -> Any:
    """A fresh page with an English browser locale."""
    return make_page("en-GB")
