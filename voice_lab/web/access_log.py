"""What the server's request log may show: no access token, right or wrong, in any request
line it writes."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from flask import request

# A query parameter: a separator (browsers and some servers take `;` as `&`), its name and value.
_PARAM = re.compile(r"([?&;])([^?&;=#\s\"']*)=([^?&;#\s\"']*)")
# Encodings looked through: login's `next` is the page's URL encoded once, a redirect to login
# from a login page encodes it again; a bound keeps a long log line's cost linear.
_LAYERS = 3


def _decoded(text: str) -> str:
    for _ in range(_LAYERS):
        plain = unquote(text)  # not unquote_plus: a `+` stays inside the value it is in
        if plain == text:
            break
        text = plain
    return text


def _named_token(name: str) -> bool:
    """Whether a query parameter is the token, in any case or encoding (`To%6Ben` too)."""
    return _decoded(name).lower() == "token"


def without_tokens(text: str) -> str:
    """`text` (a request line, a URL) with the value of every `token` parameter hidden, whatever
    its case and encoding, after `&` or `;`, and inside an encoded parameter such as login's
    `next=/%3Ftoken%3D...`. A line with a token in it is shown decoded, so that every layer of
    encoding is looked through in one pass."""
    plain = _decoded(text)
    hidden = _PARAM.sub(_hide, plain)
    return hidden if hidden != plain else text


def _hide(match: re.Match) -> str:
    separator, name, _ = match.groups()
    return f"{separator}{name}=[hidden]" if name.lower() == "token" else match[0]


def without_token_parameters() -> str:
    """The request's path and query less every `token` parameter (as without_tokens finds
    them): login's `next`, so that the token goes on into neither the log nor the address bar."""
    query = request.query_string.decode("utf-8", "replace")
    kept = [
        part for part in re.split("[&;]", query) if part and not _named_token(part.split("=")[0])
    ]
    return request.path + ("?" + "&".join(kept) if kept else "")


def hide_tokens(record: logging.LogRecord) -> bool:
    """A log filter: the record with no token in it (a right or wrong `?token=` of the
    websocket would otherwise be in every request log line)."""
    message = record.getMessage()
    hidden = without_tokens(message)
    if hidden != message:
        record.msg, record.args = hidden, ()
    return True
