"""FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health
from ledger import __version__
from ledger.config import Settings
from ledger.service import Ledger

DESCRIPTION = """\
Qianhai IP Ledger — 前海知识产权存证与交易账本.

Timestamped evidence of IP creation (content hashes, single or Merkle-batched) and IP agreements between
Qianhai firms and Hong Kong universities, recorded on an EVM chain. Every error answers with one JSON
envelope: `{"error": {"code", "message", "field"?}}`.
"""


def create_app(ledger: Ledger, settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="Qianhai IP Ledger",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.ledger = ledger
    app.state.settings = settings or ledger.settings
    install_error_handlers(app)
    app.include_router(health.router)
    return app
