"""The verification portal's routes: the page at `/`, its files under `/static/`, out of the OpenAPI schema,
and nothing else of the API changed (docs, /v1, the JSON error envelope for unknown paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Api

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def test_the_page_and_its_files_are_served_with_cache_headers(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "sm3.js", "sha256.js", "i18n.js", "style.css"):
        assert f"/static/{name}" in page.text
        resp = api.client.get(f"/static/{name}")
        assert resp.status_code == 200 and resp.content == (STATIC / name).read_bytes()
        assert "max-age" in resp.headers["cache-control"]
    assert api.client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_the_page_loads_nothing_from_elsewhere() -> None:
    for f in STATIC.iterdir():
        text = f.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, f.name


@pytest.mark.parametrize(
    "path", ["/static/nope.js", "/static/../app.py", "/static/%2e%2e/app.py", "/static/.hidden", "/nope", "/static/"]
)
def test_unknown_paths_answer_the_json_error_envelope(api: Api, path: str) -> None:
    resp = api.client.get(path)
    assert resp.status_code == 404, (path, resp.text)
    assert resp.json()["error"]["code"] == "not_found"


def test_the_portal_is_not_in_the_openapi_schema_and_the_api_still_answers(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert "/" not in schema["paths"] and not any(p.startswith("/static") for p in schema["paths"])
    assert "/v1/verify" in schema["paths"]
    assert api.client.get("/docs").status_code == 200
    assert api.client.get("/v1/parties/99").json()["error"]["code"] == "not_found"
