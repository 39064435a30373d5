"""Dependencies shared by the routes: ``LedgerDep``, ``SettingsDep``, ``OperatorDep``, and ``OperatorFirstRoute``.

Operator-only routes check the bearer token before anything else: ``OperatorFirstRoute`` (the route class of
every router that has operator routes) runs the check before FastAPI reads the body, parses its JSON or
validates any parameter, so an unauthenticated request answers 403 whatever its body, never 422 or 413 about
content the caller had no right to send. The scheme name ``Bearer`` is matched case-insensitively (RFC 9110
§11.1); the token is compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute

from ledger.config import Settings
from ledger.errors import PermissionDenied
from ledger.facade import Ledger


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header (scheme in any case), else None."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def check_operator(settings: Settings, authorization: str | None) -> None:
    """PermissionDenied unless ``authorization`` carries the configured operator token."""
    token = settings.operator_token.get_secret_value() if settings.operator_token else None
    if not token:
        raise PermissionDenied("operator calls are disabled: no operator token is configured (IPLEDGER_OPERATOR_TOKEN)")
    given = bearer_token(authorization)
    if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):
        raise PermissionDenied("this call needs the operator's bearer token", field="authorization")


def require_operator(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(description="`Bearer <operator token>` (scheme in any case).")] = None,
) -> None:
    check_operator(settings, authorization)


OperatorDep = Depends(require_operator)


class OperatorFirstRoute(APIRoute):
    """A route that, when it depends on ``OperatorDep``, checks the token before the body or any parameter."""

    @property
    def operator_only(self) -> bool:
        return any(d.dependency is require_operator for d in self.dependencies)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.operator_only:
            return handler

        async def operator_first(request: Request) -> Response:
            check_operator(get_settings(request), request.headers.get("authorization"))
            return await handler(request)

        return operator_first
