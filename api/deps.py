"""Dependencies shared by the routes: ``LedgerDep``, ``SettingsDep``, ``OperatorDep``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from ledger.config import Settings
from ledger.errors import PermissionDenied
from ledger.service import Ledger


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_operator(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(description="`Bearer <operator token>`")] = None,
) -> None:
    token = settings.operator_token.get_secret_value() if settings.operator_token else None
    if not token:
        raise PermissionDenied("operator calls are disabled: no operator token is configured (IPLEDGER_OPERATOR_TOKEN)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise PermissionDenied("this call needs the operator's bearer token", field="authorization")


OperatorDep = Depends(require_operator)
