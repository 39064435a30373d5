"""The one place that maps errors to HTTP responses, all in one JSON envelope:

    {"error": {"code": "...", "message": "...", "field": "..."}}

``field`` is present when one input is at fault. Unexpected errors answer 500 with a generic message; the
traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import errors as e

log = logging.getLogger("ipledger.api")

# Most specific first: the first matching class decides the status.
STATUS_BY_ERROR: list[tuple[type[e.LedgerError], int]] = [
    (e.PayloadTooLarge, 413),
    (e.EvidenceAlreadyRegistered, 409),
    (e.SignatureRejected, 400),
    (e.PartyNotActive, 403),
    (e.InvalidInput, 400),
    (e.NotFound, 404),
    (e.PermissionDenied, 403),
    (e.Conflict, 409),
    (e.ContractRevert, 400),
    (e.ChainUnavailable, 503),
    (e.ChainMismatch, 503),
    (e.IndexUnavailable, 503),
    (e.DeploymentMissing, 503),
    (e.StorageFull, 507),
    (e.StorageUnavailable, 503),
    (e.TransactionFailed, 503),  # the node refused a call or relayed transaction, or it failed without a reason
]


def error_body(
    code: str, message: str, field: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    return {"error": body}


# --- 422: the envelope for every validation error (body, path, query, header; JSON that does not decode) ---
_LOCATIONS = ("body", "query", "path", "header", "cookie")
_TYPE_TAGS = {"int", "str", "bool", "float", "list", "dict", "none", "bytes"}


def _field_of(loc: Any) -> str | None:
    """The dotted field of a validation error's location, without the location kind and without the
    union-member tags pydantic inserts (``constrained-int``, ``function-after[...]``); ``body`` for the body
    as a whole."""
    parts = list(loc) if isinstance(loc, (list, tuple)) else []
    kind = parts.pop(0) if parts and parts[0] in _LOCATIONS else None
    names = [str(p) for p in parts if not (isinstance(p, str) and ("-" in p or "[" in p or p in _TYPE_TAGS))]
    return ".".join(names) or ("body" if kind == "body" else None)


def validation_body(errs: Any) -> dict[str, Any]:
    """The envelope of a ``RequestValidationError``: the first problem in ``message``/``field``, up to 20 in
    ``details.problems``. Never echoes the input (pydantic's ``input`` and ``ctx`` are left out)."""
    items = [x for x in (errs if isinstance(errs, (list, tuple)) else []) if isinstance(x, dict)]
    first = items[0] if items else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":  # the location is a character offset, not a field
        return error_body("invalid_input", f"the body is not valid JSON: {first.get('msg')}", "body")
    field = _field_of(first.get("loc", ()))
    message = str(first.get("msg", "invalid request"))
    if field:
        message = f"{field}: {message}"
    problems = [{"field": _field_of(x.get("loc", ())) or "", "message": str(x.get("msg", ""))} for x in items[:20]]
    return error_body("invalid_input", message, field, {"problems": problems})


# Every 503 (node, index, deployment or storage unavailable; the service misconfigured) and 507 (the journal's disk
# is full) tells clients when to try again (RFC 9110 §10.2.3): the request changed nothing, and all but a
# misconfiguration clear by themselves.
RETRY_AFTER_SECONDS = 3


def retry_after(status: int) -> dict[str, str] | None:
    """The ``Retry-After`` header of a 503 or 507 answer; none for other statuses."""
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (503, 507) else None


def status_for(exc: e.LedgerError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.LedgerError)
    async def _ledger_error(request: Request, exc: e.LedgerError) -> JSONResponse:
        if isinstance(exc, e.ConfigurationError):
            # the service's own settings or data directory, found wrong while serving (the processes check them
            # at start, so this is rare): the operator reads why in the log; the caller only that nothing changed
            log.error("configuration error on %s %s: %s", request.method, request.url.path, exc.message)
            return JSONResponse(
                error_body(
                    "service_misconfigured",
                    "the service cannot complete this request as it is configured; nothing was changed, and its "
                    "operator has the reason in the service's log",
                ),
                503,
                headers=retry_after(503),  # as every 503: a client may try again, once the operator has seen to it
            )
        status = status_for(exc)
        if status == 500:
            log.error("unhandled ledger error on %s %s: %s", request.method, request.url.path, exc.code)
            return JSONResponse(error_body("internal_error", "the server could not complete the request"), 500)
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field, exc.details or None), status, headers=retry_after(status)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc.errors()), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "permission_denied"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _is_connection_error(exc):
            log.warning("chain node unreachable on %s %s", request.method, request.url.path)
            return JSONResponse(
                error_body("chain_unavailable", "the chain node does not answer; try again shortly"),
                503,
                headers=retry_after(503),
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "the server could not complete the request"), 500)


def _is_connection_error(exc: BaseException) -> bool:
    """A lost or refused connection to the chain node, however web3's transport wraps it."""
    import requests
    from web3.exceptions import ProviderConnectionError, TimeExhausted

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (requests.ConnectionError, requests.Timeout, ProviderConnectionError, TimeExhausted, ConnectionError),
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
