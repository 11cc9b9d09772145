"""HTTP error bodies in each service's own format, as `Reply` values."""

from __future__ import annotations

import json
from typing import Any

from ..protocol.reply import Reply

JSON = {"Content-Type": "application/json"}


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Reply(status, {**JSON, **(headers or {})}, json.dumps(body))


def azure_error(
    status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """The Azure gateway's shape: {"error": {"code", "message"}}."""
    body = {"error": {"code": code or str(status), "message": message}}
    return Reply(status, {**JSON, **(headers or {})}, json.dumps(body))


def error(flavour: str, status: int, message: str, **fields: Any) -> Reply:
    """An error in the format of `flavour` ("azure" or "openai")."""
    if flavour == "azure":
        return azure_error(status, message, code=fields.get("code"), headers=fields.get("headers"))
    return openai_error(status, message, **fields)


def ok(body: dict[str, Any]) -> Reply:
    """A 200 JSON reply."""
    return Reply(200, dict(JSON), json.dumps(body))


def rate_limited(flavour: str, seconds: float, fault: bool = True) -> Reply:
    """429 with Retry-After, as each service says it (marked when a scenario asked for it)."""
    retry = {"Retry-After": str(max(1, round(seconds)))}
    mark = " (emulated fault)" if fault else ""
    if flavour == "azure":
        return azure_error(
            429,
            "Requests to the Realtime API have exceeded the call rate limit "
            f"of your current pricing tier. Please retry after {retry['Retry-After']}"
            f" seconds.{mark}",
            code="429",
            headers=retry,
        )
    return openai_error(
        429,
        f"Rate limit reached for requests{mark}.",
        type_="requests",
        code="rate_limit_exceeded",
        headers=retry,
    )


def bad_api_key(flavour: str) -> Reply:
    """401 for a missing or wrong API key, as each service says it."""
    if flavour == "azure":
        return azure_error(
            401,
            "Access denied due to invalid subscription key or wrong API "
            "endpoint. Make sure to provide a valid key for an active "
            "subscription and use a correct regional API endpoint for your "
            "resource.",
            code="401",
        )
    return openai_error(
        401,
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )
