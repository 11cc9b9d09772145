"""Microsoft Entra ID tokens for Azure OpenAI, for tenants that turn key authentication off.

With VOICE_LAB_AZURE_AUTH=entra (the default when no AZURE_OPENAI_API_KEY is set), mints send
`Authorization: Bearer TOKEN` instead of the `api-key` header. The token comes from
azure-identity's DefaultAzureCredential (environment, workload identity, managed identity, the
Azure CLI, ...), is kept, and is replaced shortly before it expires: a mint never waits for a
token it does not need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

SCOPE = "https://cognitiveservices.azure.com/.default"
# Seconds before its expiry that a kept token is replaced. azure-identity itself renews within
# five minutes of expiry, so a token asked for inside this margin is always a fresh one.
REFRESH_MARGIN = 120
HOW_TO_SIGN_IN = (
    "sign in with `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, "
    "or run where a managed identity is assigned; the identity needs the Cognitive Services "
    "OpenAI User role on the resource (or set AZURE_OPENAI_API_KEY to use a key)"
)


class EntraError(Exception):
    """No credential gave a token; the message says what to set up."""


class EntraToken:
    """One Entra ID token for the Cognitive Services scope, kept until it nears its expiry."""

    def __init__(self, credential: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._credential = credential  # a TokenCredential; DefaultAzureCredential when None
        self._clock = clock
        self._token: Any = None  # the AccessToken kept
        self._lock = threading.Lock()  # one fetch at a time: mints come from many threads

    def credential(self) -> Any:
        """The credential, DefaultAzureCredential made on first use (it reads the environment
        then, and importing azure-identity is not free)."""
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def bearer(self) -> str:
        """The token to send, fetched only when none is kept or the kept one nears expiry."""
        from azure.core.exceptions import ClientAuthenticationError

        with self._lock:
            if self._token is None or self._token.expires_on - self._clock() < REFRESH_MARGIN:
                try:
                    self._token = self.credential().get_token(SCOPE)
                except ClientAuthenticationError as exc:
                    first_line = str(exc.message or exc).strip().splitlines()[0]
                    raise EntraError(
                        f"no Microsoft Entra ID token ({first_line}): {HOW_TO_SIGN_IN}"
                    ) from None
            return str(self._token.token)

    def used(self) -> str:
        """The credential class that gave the token: DefaultAzureCredential names the one of
        its chain that succeeded (and EnvironmentCredential the one it wraps)."""
        credential = self.credential()
        # Private attributes of azure-identity: the only place it keeps which link answered.
        chosen = getattr(credential, "_successful_credential", None) or credential
        inner = getattr(chosen, "_credential", None)
        name = type(chosen).__name__
        return f"{name} ({type(inner).__name__})" if inner is not None else name


def init_app(app: Flask) -> None:
    """Keep the app's token source: the credential a test gives (VOICE_LAB_AZURE_CREDENTIAL,
    a TokenCredential), else DefaultAzureCredential."""
    app.extensions["voice_lab_entra"] = EntraToken(app.config.get("VOICE_LAB_AZURE_CREDENTIAL"))
