"""``GET /v1/health``: the service, the chain and (embedded) the node's supervisor, answered within about two
seconds whatever the node does (one bounded probe, no retries; see ``Ledger.health``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LedgerDep
from ledger.domain.results import HealthView

router = APIRouter(tags=["health"])


@router.get(
    "/v1/health",
    response_model=HealthView,
    summary="Service and chain status",
    description="Chain id, latest block, contract addresses and software/artifact versions; with the embedded "
    "node, a `node` section: `state` (running, restarting), `restarts`, `attempts` and `lastError` of the current "
    "restart, `nextRetryIn` seconds, `pid`, `lastAnswerAgo` seconds, and `stateFile` (the block of the last whole "
    "state dump on disk, how long ago it was written, its size); with checkpoints on public chains "
    "(IPLEDGER_ANCHOR_RPC_URL), a `checkpoints` list: each chain's contract, last checkpoint and last error. Answers within about 2 s whatever the node "
    "does: 503 with the error envelope when the node does not answer, its message saying what the service waits "
    "for and `details.node` the same `node` section.",
)
def health(ledger: LedgerDep) -> HealthView:
    return ledger.health()
