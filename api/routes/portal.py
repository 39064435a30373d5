"""The verification portal: a static page at ``/`` and its files under ``/static/``, read from the package.

No build step: the files in ``api/static`` are served as they are (they ship as package data). The routes
are left out of the OpenAPI schema; an unknown static file answers the usual JSON error envelope (404).
"""

from __future__ import annotations

import re
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


# A static file's name: a few plain path segments (the files shipped are named so). Anything else (traversal,
# hidden files, NUL and control characters, names longer than a file system accepts) is a 404 before the
# file system is asked.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
MAX_NAME = 200


def _read(name: str) -> bytes:
    shown = name[:80] + ("…" if len(name) > 80 else "")
    parts = name.split("/")
    if len(name) > MAX_NAME or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise NotFound(f"no static file {shown!r}", field="path")
    node = _static_root()
    for p in parts:
        node = node.joinpath(p)
    try:
        if not node.is_file():
            raise NotFound(f"no static file {shown!r}", field="path")
        return node.read_bytes()
    except (OSError, ValueError):  # the file system's own refusals (a name too long, ...) are a 404 too
        raise NotFound(f"no static file {shown!r}", field="path") from None


@router.get(
    "/",
    response_class=HTMLResponse,
    response_model=None,
    responses={200: {"description": "The verification portal's page.", "content": {"text/html": {}}}},
)
def index() -> Response:
    return Response(
        _read("index.html"), media_type=MEDIA_TYPES[".html"], headers={"Cache-Control": PAGE_CACHE, **SECURITY_HEADERS}
    )


@router.get(
    "/static/{name:path}",
    response_class=Response,
    response_model=None,
    responses={
        200: {
            "description": "A file of the portal (HTML, JS, CSS, JSON, SVG, PNG or ICO, by its suffix).",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        }
    },
)
def static(name: str) -> Response:
    body = _read(name)
    media = MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    return Response(body, media_type=media, headers={"Cache-Control": ASSET_CACHE, **SECURITY_HEADERS})
