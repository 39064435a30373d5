from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import LedgerDep

router = APIRouter(tags=["health"])


@router.get(
    "/v1/health",
    summary="Service and chain status",
    description="Chain id, latest block, contract addresses and software/artifact versions. "
    "Answers 503 with the error envelope when the chain node does not answer.",
)
def health(ledger: LedgerDep) -> dict[str, Any]:
    return ledger.health()
