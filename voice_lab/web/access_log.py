"""What the server's request log may show: no access token, right or wrong, in any request
line it writes."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# A query parameter: its name and value, up to the next separator, space or quote.
_PARAM = re.compile(r"(?<=[?&])([^=&\s\"']*)=([^&#\s\"']*)")


def without_tokens(text: str) -> str:
    """`text` (a request line, a URL) with the value of every `token` parameter hidden, whatever
    its encoding (`to%6Ben` is read as `token` too)."""

    def hide(match: re.Match) -> str:
        name = match[1]
        return f"{name}=[hidden]" if unquote_plus(name) == "token" else match[0]

    return _PARAM.sub(hide, text)


def hide_tokens(record: logging.LogRecord) -> bool:
    """A log filter: the record with no token in it (a right or wrong `?token=` of the
    websocket would otherwise be in every request log line)."""
    message = record.getMessage()
    hidden = without_tokens(message)
    if hidden != message:
        record.msg, record.args = hidden, ()
    return True
