"""Figure 5: the server's peak RSS while it refuses an import bomb, against its idle RSS.

The bomb is a bare array of tiny events, just under the upload's size limit and ten times the
event limit: the server must refuse it having parsed no more than the limit. The peak (VmHWM)
is reset to the idle RSS just before the upload, so it is the import's own.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from voice_lab.exchange.imports import MAX_EVENTS
from voice_lab.exchange.reader import MAX_FILE_BYTES
from voice_lab.testing import ServerProcess

from .common import Figure, rss_kib, scratch, serving
from .export import reset_peak

EVENT = b'{"type":"a"}'


def bomb(events: int) -> bytes:
    """A bare JSON array of `events` tiny events."""
    return b"[" + b",".join([EVENT] * events) + b"]"


def upload(server: ServerProcess, data: bytes) -> tuple[int, str]:
    """POST data to /import as the page's form does: the status and the page's error."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(server.url + "/", timeout=60) as page:
        found = re.search(rb'name="csrf-token" content="([^"]+)"', page.read())
    if found is None:
        raise RuntimeError("the sessions page has no CSRF token: the form cannot be posted")
    csrf = found.group(1)
    boundary = b"voicelabbench"
    body = b"".join(
        [
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
            csrf + b"\r\n--" + boundary,
            b'\r\nContent-Disposition: form-data; name="file"; filename="bomb.json"\r\n',
            b"Content-Type: application/json\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n",
        ]
    )
    request = urllib.request.Request(
        server.url + "/import",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary.decode()},
    )
    try:
        with opener.open(request, timeout=600) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        found = re.search(rb'data-testid="import-error">([^<]*)<', exc.read())
        return exc.code, found.group(1).decode() if found else ""


def run(quick: bool = False) -> list[Figure]:
    """Peak RSS of the server while it refuses a bomb, as a ratio to its idle RSS."""
    events = MAX_EVENTS * 2 if quick else (MAX_FILE_BYTES - 2) // (len(EVENT) + 1)
    data = bomb(events)
    with scratch() as tmp, serving(tmp / "imports.sqlite3") as server:
        upload(server, bomb(3))  # load and cache what an import uses
        idle = rss_kib(server)
        reset_peak(server)
        status, error = upload(server, data)
        peak = rss_kib(server, "VmHWM")
    if status != 400 or f"more than {MAX_EVENTS} events" not in error:
        raise RuntimeError(f"the bomb was not refused at the event limit ({status}: {error})")
    return [
        Figure(
            "import bomb peak RSS",
            peak / 1024,
            "MiB",
            idle / 1024,
            peak / idle,
            "refused at the limit while reading",
            f"{len(data) / 1e6:.0f} MB, {events:,} events; refused after {MAX_EVENTS:,}",
        )
    ]
