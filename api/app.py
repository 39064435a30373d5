"""FastAPI app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.limits import RequestLimits, server_options
from api.openapi import DocPagesPolicy, install_openapi
from api.routes import (
    assets,
    creators,
    disputes,
    documents,
    evidence,
    health,
    parties,
    portal,
    query,
    tsa,
    verify,
)
from ledger import __version__, limit_recursion
from ledger.config import Settings
from ledger.facade import Ledger

DESCRIPTION = """\
Qianhai IP Ledger — 前海知识产权存证与交易账本.

Timestamped evidence of IP creation (content hashes, single or Merkle-batched) and IP agreements between
Qianhai firms and Hong Kong universities, recorded on an EVM chain. Every error answers with one JSON
envelope: `{"error": {"code", "message", "field"?}}`.
"""


def create_app(
    ledger: Ledger, settings: Settings | None = None, *, run_pipeline: bool = True, run_indexer: bool = False
) -> FastAPI:
    """The API over ``ledger``. With ``run_pipeline`` (and a relayer) the aggregator/relay pipeline runs in
    the background for the app's lifetime; with ``run_indexer`` the event index follows the chain every
    ``IPLEDGER_INDEX_POLL`` seconds (``ipledger up`` turns both on)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started = run_pipeline and ledger.relayer is not None
        if started:
            ledger.pipeline.start()
        if run_indexer:
            ledger.index.start()
        anchoring = run_indexer and ledger.anchor_account is not None and bool(ledger.settings.anchor_rpc_url)
        if anchoring:  # checkpoints on public chains (ledger.services.checkpoints)
            ledger.checkpoints.start()
        try:
            yield
        finally:
            if anchoring:
                ledger.checkpoints.stop()
            if run_indexer:
                ledger.index.stop()
            if started:
                ledger.pipeline.stop()

    # FastAPIOffline: FastAPI with /docs (Swagger UI) and /redoc (ReDoc) served from assets packaged with
    # fastapi-offline under /static-offline-docs, so the API's documentation opens with no request to a CDN
    # (none is reachable offline, and public CDNs are unreliable from the mainland).
    app = FastAPIOffline(
        lifespan=lifespan,
        title="Qianhai IP Ledger",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    app.state.ledger = ledger
    app.state.settings = settings or ledger.settings
    install_error_handlers(app)
    # body size, JSON depth and read timeouts, before any route reads a byte (api/limits.py); and the
    # interpreter's recursion limit back at its default if an import since ledger's own raised it
    app.add_middleware(RequestLimits, settings=app.state.settings)
    app.add_middleware(DocPagesPolicy)  # /docs and /redoc load nothing from outside the service
    app.state.server_options = server_options(app.state.settings)  # uvicorn.run's limits, for `ipledger up`
    limit_recursion()
    app.include_router(health.router)
    app.include_router(parties.router)
    app.include_router(evidence.router)
    app.include_router(creators.router)
    app.include_router(verify.router)
    app.include_router(assets.router)
    app.include_router(disputes.router)
    app.include_router(documents.router)
    app.include_router(query.router)
    app.include_router(tsa.router)
    app.include_router(portal.router)
    install_openapi(app)  # the error envelope and every status of every operation (api/openapi.py)
    return app
