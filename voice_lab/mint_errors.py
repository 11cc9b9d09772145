"""How a mint fails: the errors keep the service's own status, code and message, and say what
Voice Lab answers the browser (`http_status`) and with which body (`body()`)."""

from __future__ import annotations

from typing import Any


class MintError(Exception):
    """Minting failed; `http_status` is what Voice Lab answers, `body()` what it says."""

    http_status = 502

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        code=None,
        retry_after: str | None = None,
    ):
        super().__init__(message)
        self.source, self.message, self.status = source, message, status
        self.code, self.retry_after = code, retry_after

    def body(self) -> dict[str, Any]:
        """The JSON error body for the browser."""
        error = {
            "source": self.source,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return {"error": error}


class UpstreamUnreachable(MintError):
    """The service did not answer in time or refused the connection."""

    http_status = 504


class BadRequest(MintError):
    """The caller asked for something that cannot be: the message says what to change."""

    http_status = 400


class NotConfigured(MintError):
    """Voice Lab's own settings are incomplete for the chosen provider."""

    http_status = 500
