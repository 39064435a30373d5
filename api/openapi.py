"""The OpenAPI document states the error envelope and every status each operation can answer.

Every error answer is ``ErrorEnvelope`` (``{"error": {"code", "message", "field"?, "details"?}}``). Each
operation declares:

* on every operation: 400 (a malformed ``Content-Length`` or a body nested deeper than
  ``IPLEDGER_MAX_JSON_DEPTH``, and the route's own checks), 408 (the body did not arrive in time), 413 (the
  body is over the route's size limit), 431 (request head too large: ``api/limits.py``) and 503 with
  ``Retry-After`` (the chain node, the index or the storage is unavailable, or too many connections);
* 422 on every operation that takes a parameter or a body (FastAPI's default ``HTTPValidationError`` is
  replaced: the validation handler of ``api.errors`` answers in the envelope);
* 403 on operator-only routes (the bearer token is checked before the body is read: ``api.deps``);
* what the route itself declares with ``responses=errors(403, 404, 409)``: refusals for an inactive party
  or a service without a relayer (403), unknown ids (404), duplicates and state conflicts (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.schemas import ErrorEnvelope
from ledger.domain import inputs

ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
DESCRIPTIONS = {
    400: "Bad input: the error names the field (a rule of the ledger, a malformed `Content-Length`, or JSON nested too deep).",
    403: "Not permitted: a missing or wrong operator token, an inactive party, a signature that does not verify for "
    "the account, or a service without a relayer.",
    404: "Not found: the id names nothing.",
    408: "The request body did not arrive within `IPLEDGER_BODY_TIMEOUT` seconds.",
    409: "Conflict: already registered, already proposed, or not possible in the current state.",
    413: "The body is larger than this route's limit.",
    431: "The request line and headers are larger than the server accepts.",
    422: "Invalid request: a parameter or body field breaks its schema (bounds, ASCII digits, text rules, decimals); "
    "`error.field` names it and `error.details.problems` lists up to 20 problems.",
    503: "The chain node, the index or the storage is unavailable; or the node refused the relayed transaction or "
    "it failed without a reason (`transaction_failed`); or the service's own settings stop it "
    "(`service_misconfigured`, its log says why). Retry after `Retry-After` seconds; a message naming a transaction "
    "sent but not yet mined means it may still take effect: look it up first.",
    507: "The journal's disk is full (`storage_full`): the request changed nothing; retry after `Retry-After` "
    "seconds, once space is freed.",
}
COMMON = (400, 408, 413, 431, 503, 507)
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}
}


#: The 200 of a route that answers a certificate as JSON (its schema comes from the route's ``response_model``),
#: PDF or HTML (``?format=``).
CERTIFICATE_RESPONSE: dict[str, Any] = {
    "description": "The certificate: JSON (`format=json`, the default), a PDF (`format=pdf`, an attachment) or an "
    "HTML page (`format=html`); the renderings are bilingual (Chinese and English).",
    "content": {
        "application/json": {},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/html": {"schema": {"type": "string"}},
    },
}


def binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` 200 entry of a route that answers raw bytes of ``media_type`` (no JSON body)."""
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    }


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can also answer ``statuses`` (beyond those every operation declares)."""
    return {status: {"model": ErrorEnvelope, "description": DESCRIPTIONS[status]} for status in statuses}


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ENVELOPE_REF}}},
    }
    if status in (503, 507):
        response["headers"] = RETRY_AFTER_HEADER
    return response


# FastAPI passes the document through a model whose numeric bounds are floats: 2**63 − 1 would come out as
# 9.223372036854776e18 (= 2**63). The bounds of ledger.inputs are put back exactly.
_EXACT_BOUNDS = {float(n): n for n in (inputs.UINT256_MAX, inputs.UINT64_MAX, inputs.INT64_MAX, inputs.UINT32_MAX)}


def _exact_bounds(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("maximum", "minimum") and isinstance(value, float) and value in _EXACT_BOUNDS:
                node[key] = _EXACT_BOUNDS[value]
            elif isinstance(value, float) and key in ("maximum", "minimum") and value.is_integer():
                node[key] = int(value)
            else:
                _exact_bounds(value)
    elif isinstance(node, list):
        for item in node:
            _exact_bounds(item)


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the envelope declared on every error status of every operation."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        openapi_version=app.openapi_version,
    )
    _exact_bounds(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(envelope.pop("$defs", {}))
    components["ErrorEnvelope"] = envelope
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for item in schema.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            statuses = set(COMMON)
            if op.get("parameters") or op.get("requestBody"):
                statuses.add(422)
            if any(
                p.get("in") == "header" and str(p.get("name", "")).lower() == "authorization"
                for p in op.get("parameters", [])
            ):
                statuses.add(403)  # an operator route (api.deps.require_operator declares the header)
            statuses |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(statuses):
                responses[str(status)] = _error_response(status)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve ``document(app)`` at the app's ``openapi_url`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: The pages that render this document (Swagger UI at /docs, ReDoc at /redoc, and Swagger UI's OAuth2 redirect).
DOC_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")

#: Their Content-Security-Policy: scripts, styles, images and fetches from the service itself only (their assets
#: are packaged with it: fastapi-offline), plus the inline bootstrap script and styles the pages are made of and
#: the blob: workers ReDoc starts. ReDoc's footer would otherwise fetch a logo from cdn.redoc.ly: the policy stops
#: the browser before any request leaves, so the pages work offline and tell no third party who reads them.
DOC_PAGES_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class DocPagesPolicy:
    """ASGI middleware that puts :data:`DOC_PAGES_POLICY` on the answers of :data:`DOC_PAGES`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOC_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", DOC_PAGES_POLICY.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_policy)
