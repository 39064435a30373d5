"""The verification portal: a static page at ``/`` and its files under ``/static/``, read from the package.

No build step: the files in ``api/static`` are served as they are (they ship as package data). The routes
are left out of the OpenAPI schema; an unknown static file answers the usual JSON error envelope (404).
"""

from __future__ import annotations

from importlib import resources
from pathlib import PurePosixPath

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from ledger.errors import NotFound

router = APIRouter(include_in_schema=False)

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The page itself is revalidated on every load; its assets may be cached briefly (they are not fingerprinted).
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300, must-revalidate"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Everything comes from this origin: no CDN, no external request.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


def _static_root() -> resources.abc.Traversable:
    return resources.files("api").joinpath("static")


def _read(name: str) -> bytes:
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("..", ".", "") or p.startswith(".") for p in parts) or name.startswith("/"):
        raise NotFound(f"no static file {name!r}", field="path")
    node = _static_root()
    for p in parts:
        node = node.joinpath(p)
    if not node.is_file():
        raise NotFound(f"no static file {name!r}", field="path")
    return node.read_bytes()


@router.get("/", response_class=HTMLResponse)
def index() -> Response:
    return Response(_read("index.html"), media_type=MEDIA_TYPES[".html"],
                    headers={"Cache-Control": PAGE_CACHE, **SECURITY_HEADERS})  # fmt: skip


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    body = _read(name)
    media = MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    return Response(body, media_type=media, headers={"Cache-Control": ASSET_CACHE, **SECURITY_HEADERS})
