"""A small HTTP client of the API, used by the CLI. Errors in the API's envelope become ledger errors."""

from __future__ import annotations

from typing import Any

import httpx

from ledger.errors import ChainUnavailable, LedgerError


class ApiError(LedgerError):
    code = "api_error"
    #: The API's HTTP status (404: not found).
    status: int = 0


class ApiClient:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ChainUnavailable(
                f"the API at {self.base_url} does not answer ({type(exc).__name__}); is `ipledger up` running?"
            ) from None
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
            except (ValueError, KeyError, TypeError):  # not JSON, or not our error envelope
                raise ApiError(f"the API answered {resp.status_code}") from None
            field = f" [{err['field']}]" if err.get("field") else ""
            error = ApiError(
                f"{err.get('message', 'error')}{field}", field=err.get("field"), details=err.get("details")
            )
            error.status = resp.status_code
            raise error
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)
