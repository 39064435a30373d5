"""The API's documentation pages (/docs: Swagger UI, /redoc: ReDoc) render in Chromium with every request to any
host but the service refused: their scripts and styles are packaged with the service, not fetched from a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import _Server
from tests.helpers import Chain


@pytest.fixture(scope="module")
def api_url(anvil_chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from api.app import create_app
    from ledger.config import Settings
    from ledger.facade import Ledger

    settings = Settings(data_dir=tmp_path_factory.mktemp("docs-data"), operator_token="docs-token")
    ledger = Ledger(w3=anvil_chain.w3, manifest=anvil_chain.manifest, settings=settings)
    try:
        with _Server(create_app(ledger, settings, run_pipeline=False)) as url:
            yield url
    finally:
        ledger.close()


def _offline(page: Any, base: str) -> list[str]:
    """Refuses every request that does not go to the service; returns the list of refused URLs."""
    own = urlsplit(base).netloc
    refused: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", handle)
    return refused


def test_swagger_ui_renders_every_operation_with_the_network_off(page: Any, api_url: str) -> None:
    refused = _offline(page, api_url)
    page.goto(api_url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Qianhai IP Ledger" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/v1/health", "/v1/evidence", "/v1/verify"} <= {p.replace("\u200b", "").strip() for p in paths}
    assert refused == []


def test_redoc_renders_with_the_network_off(page: Any, api_url: str) -> None:
    refused = _offline(page, api_url)
    page.goto(api_url + "/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "Qianhai IP Ledger" in page.inner_text("h1")
    page.get_by_text("/v1/health").first.wait_for(timeout=30_000)
    assert refused == []


def test_the_doc_pages_forbid_every_source_outside_the_service(api_url: str) -> None:
    import httpx

    for path in ("/docs", "/redoc"):
        resp = httpx.get(api_url + path, timeout=10)
        assert resp.status_code == 200
        policy = resp.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
        assert "https://" not in resp.text, f"{path} links to an outside host"
    assert "content-security-policy" not in httpx.get(api_url + "/v1/health", timeout=10).headers
