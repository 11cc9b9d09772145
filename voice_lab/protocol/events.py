"""Realtime events: categories, beta/GA names, the ids they refer to, redaction, summaries.

Pure functions (no Flask, no database): the mirror, the importer and the timeline all use them.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
from collections.abc import Mapping
from functools import lru_cache, partial
from json.encoder import c_make_encoder, encode_basestring
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

CATEGORIES: tuple[str, ...] = (
    "session",
    "vad",
    "transcription",
    "conversation",
    "response",
    "delta",
    "audio-out",
    "rate-limits",
    "tools",
    "error",
    "webrtc",
    "unknown",
)

CATEGORY_LABELS: dict[str, str] = {
    "session": "Session",
    "vad": "VAD",
    "transcription": "Transcription",
    "conversation": "Conversation",
    "response": "Response",
    "delta": "Deltas",
    "audio-out": "Audio out",
    "rate-limits": "Rate limits",
    "tools": "Tools",
    "error": "Errors",
    "webrtc": "WebRTC",
    "unknown": "Unknown",
}

DIRECTIONS: tuple[str, ...] = ("server", "client", "local")

SUMMARY_MAX = 160

# How deeply JSON may nest anywhere Voice Lab parses it. Real events nest a handful of levels;
# past this a value is a bomb, and Python's parser and our walkers would run out of stack.
MAX_DEPTH = 64

# Beta prefix -> GA prefix. "response.audio." cannot swallow "response.audio_transcript." (dot).
_RENAMED_PREFIXES = (
    ("response.text.", "response.output_text."),
    ("response.audio.", "response.output_audio."),
    ("response.audio_transcript.", "response.output_audio_transcript."),
)
_RENAMED = {
    "conversation.item.created": "conversation.item.added",
    "transcription_session.update": "session.update",
    "transcription_session.updated": "session.updated",
}

# Names that only Azure's sample code uses; no SDK has them, so they are not the dashboard's errors.
_AZURE_SAMPLE_ONLY = frozenset({"session.error", "session.end"})

# Function-call and MCP streams. Their `.delta` events still go to "delta" (checked first): the
# Deltas chip exists to hide every token stream at once, and a tools filter that showed hundreds of
# argument fragments would be as noisy as the timeline it is meant to narrow.
_TOOL_PREFIXES = (
    "response.function_call_arguments.",
    "response.mcp_call_arguments.",
    "response.mcp_call.",
    "mcp_list_tools.",
)

# Checked in order after error/delta rules; the transcription prefix must come before the items.
_PREFIX_CATEGORIES = (
    ("voicelab.", "webrtc"),
    ("session.", "session"),
    ("input_audio_buffer.", "vad"),
    ("conversation.item.input_audio_transcription.", "transcription"),
    ("conversation.item.", "conversation"),
    ("output_audio_buffer.", "audio-out"),
    ("rate_limits.", "rate-limits"),
    *((prefix, "tools") for prefix in _TOOL_PREFIXES),
    ("response.", "response"),
)


def normalize_type(type_: str | None) -> str | None:
    """The GA name of an event type (beta names renamed, GA and unknown names unchanged)."""
    if not isinstance(type_, str):
        return None
    return _ga_name(type_)


@lru_cache(maxsize=4096)  # a session has a few dozen types, and this runs for each event
def _ga_name(type_: str) -> str:
    if type_ in _RENAMED:
        return _RENAMED[type_]
    for beta, ga in _RENAMED_PREFIXES:
        if type_.startswith(beta):
            return ga + type_[len(beta) :]
    return type_


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None as soon as a level is missing or not a dict."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """base with update's fields laid over it, nested objects merged (lists replaced)."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        merged[key] = deep_merge(old, value) if both else value
    return merged


def category_of(type_: str | None, data: dict | None = None) -> str:
    """The filter category of an event type; data decides for response.done (failed -> error)."""
    name = normalize_type(type_)
    if name == "response.done" and dig(data, "response", "status") in ("failed", "incomplete"):
        return "error"
    return _category(name)


@lru_cache(maxsize=4096)  # the same few dozen names, once per event
def _category(name: str | None) -> str:
    if name is None or name in _AZURE_SAMPLE_ONLY:
        return "unknown"
    if name.startswith("voicelab."):
        # The page's own events, failures included (voicelab.error): they are WebRTC-side.
        return "webrtc"
    if name == "error" or name.endswith(".failed"):
        return "error"
    if name.endswith(".delta"):
        return "delta"
    if name == "conversation.created":
        return "session"
    for prefix, category in _PREFIX_CATEGORIES:
        if name.startswith(prefix):
            return category
    return "unknown"


def _nonempty_str(value: Any) -> str | None:
    """value if it is a non-empty string (made storable)."""
    return storable(value) if isinstance(value, str) and value else None


def ids_of(data: dict | None) -> tuple[str | None, str | None]:
    """(response_id, item_id) an event refers to, wherever the protocol puts them."""
    if not isinstance(data, dict):
        return None, None
    response_id = _nonempty_str(data.get("response_id")) or _nonempty_str(
        dig(data, "response", "id")
    )
    item_id = _nonempty_str(data.get("item_id")) or _nonempty_str(dig(data, "item", "id"))
    return response_id, item_id


# Ephemeral keys (ek_...) and, should one ever leak into an upstream message, API keys (sk-...).
# On its own a key needs 8 characters after its prefix; right after a letter, digit or `_`
# (`token_ek_...`, a URL-encoded `Bearer%20ek_...`) it needs 16 and a digit, so that words such as
# `week_` or `risk-management` stay text while a random key, which always has a digit, does not.
_KEY_RE = re.compile(
    r"(?<![A-Za-z0-9_-])(?:ek_|sk-(?:proj-)?)[A-Za-z0-9_-]{8,}"
    r"|(?:ek_|sk-(?:proj-)?)(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}"
)
_SECRET_FIELDS = frozenset(
    {
        "api-key",
        "api_key",
        "apikey",
        "x-api-key",
        "authorization",
        "ocp-apim-subscription-key",
        "client_secret",
        "client-secret",
    }
)
# A header, JSON field or query parameter in free text: `api-key: X`, `"Authorization": "Bearer
# X"`, `apikey=X`, `Ocp-Apim-Subscription-Key: X`, `client_secret=X`, and the same URL-encoded
# (`Authorization%3A%20Bearer%20X`).
_SPACE = r"(?:\s|%20|\+)*"
_FIELD_RE = re.compile(
    r"""(?P<head>["']?(?:(?:x-)?api[-_]?key|ocp-apim-subscription-key|client[-_]secret"""
    r"""|authorization)["']?"""
    rf"""{_SPACE}(?:[:=]|%3a|%3d){_SPACE}["']?(?:bearer(?:\s|%20|\+)+)?)"""
    r"""(?P<secret>[^\s"',;}&]{4,})""",
    re.IGNORECASE,
)


def redact_key(key: str) -> str:
    """A hint that identifies a secret without revealing it: ek_ab…yz (short ones: ek_…)."""
    match = re.match(r"(ek_|sk-(?:proj-)?)?(.*)", key, re.DOTALL)
    prefix, rest = match.group(1) or "", match.group(2)
    if len(rest) < 8:
        return f"{prefix}…"
    return f"{prefix}{rest[:2]}…{rest[-2:]}"


def _redact_header_value(value: str) -> str:
    """An Authorization/api-key value with its secret hinted, keeping a `Bearer ` scheme."""
    scheme, _, token = value.rpartition(" ")
    return f"{scheme} {redact_key(token)}" if scheme else redact_key(value)


def redact_text(text: str) -> str:
    """text with every secret the server knows, every key-looking string and every header-like
    secret field replaced by its hint."""
    text = KNOWN_SECRETS.redact(text)
    text = _FIELD_RE.sub(lambda m: m.group("head") + _redact_secret(m.group("secret")), text)
    return _KEY_RE.sub(lambda m: redact_key(m.group(0)), text)


def redact(obj: Any) -> Any:
    """A copy of a JSON value with client_secret values, secret fields and keys (object keys
    too) as hints."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            name = str(key).lower()
            if name == "client_secret" and isinstance(value, dict) and "value" in value:
                value = {**value, "value": _redact_secret(value.get("value"))}
            elif name in _SECRET_FIELDS:
                value = _redact_secret(value)
            out[_free_key(out, redact_text(key))] = redact(value)
        return out
    if isinstance(obj, list):
        return [redact(value) for value in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def _free_key(out: dict, key: str) -> str:
    """key, or key with a counter when two secrets used as keys share a hint: nothing is lost."""
    n, free = 1, key
    while free in out:
        n += 1
        free = f"{key} ({n})"
    return free


def _redact_secret(value: Any) -> Any:
    """A secret's hint; non-strings (None, numbers) and hints already made are left alone, so
    redacting twice changes nothing."""
    if not isinstance(value, str) or "…" in value:
        return value
    return _redact_header_value(value)


def field_text(value: str, limit: int = 200) -> str:
    """A session field as stored: secrets redacted before it is cut to limit characters (a cut
    key would no longer be known), and storable."""
    return storable(redact_text(value)[:limit])


# Known secrets are found on the hot path by sampling: the text, cut in consecutive pieces of
# _GRAM characters, is looked up in a set of every _GRAM-character piece of every known form, so
# the cost grows with the text, not with how many secrets are known. A form at least _GRAM * 2 - 1
# long always holds one whole piece; MIN_SECRET keeps every form (base64 ones are cut at both
# ends) that long.
_GRAM = 16  # longer pieces, fewer lookups
MIN_SECRET = 32  # every key a service issues is as long (Azure's 32, sk- and ek_ ones longer)
_PIECES = re.compile(rf"(?s).{{{_GRAM}}}")  # cuts in C what a slicing loop would in Python
SECRET_MARGIN = 3600.0  # seconds a minted key stays known after it expires: calls outlive keys
MAX_SECRETS = 512  # minted keys known at most; held API keys always stay


def _forms(value: str) -> set[str]:
    """value, URL-encoded, and base64-encoded at each of the three offsets a longer blob can
    put it at (only the characters that depend on value alone), in both base64 alphabets."""
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    raw = value.encode()
    for pad in range(3):
        encoded = base64.b64encode(bytes(pad) + raw).decode()
        start = -(-8 * pad // 6)  # the first character with no bit of the padding
        end = (8 * (pad + len(raw))) // 6  # past the last with every bit from value
        piece = encoded[start:end]
        forms.update((piece, piece.translate(_URLSAFE)))
    return forms


_URLSAFE = str.maketrans("+/", "-_")


class KnownSecrets:
    """Secrets the server holds (API keys, kept) or minted (kept until expiry plus
    SECRET_MARGIN), redacted wherever they appear in their plain, URL-encoded and base64 forms.

    Thread-safe: adding rebuilds an immutable index that readers take in one read.
    """

    def __init__(self, margin: float = SECRET_MARGIN, most: int = MAX_SECRETS) -> None:
        self.margin, self.most = margin, most
        self._until: dict[str, float] = {}  # value -> when it is forgotten (inf: never)
        self._lock = threading.Lock()
        self._index: tuple[frozenset[str], re.Pattern[str] | None] = (frozenset(), None)

    def add(self, value: Any, expires_at: float | None = None) -> None:
        """Know value from now on: for good (an API key) or until expires_at plus the margin.
        Values shorter than MIN_SECRET are not taken: they would match ordinary text."""
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET:
            return
        until = float("inf") if expires_at is None else expires_at + self.margin
        with self._lock:
            now = time.time()
            kept = {v: u for v, u in self._until.items() if u > now}
            kept[value] = max(until, kept.get(value, until))
            minted = sorted((u, v) for v, u in kept.items() if u != float("inf"))
            for _, stale in minted[: max(0, len(minted) - self.most)]:
                del kept[stale]  # the soonest to expire go first
            if kept.keys() != self._until.keys():
                self._index = _index_of(kept)
            self._until = kept

    def holds_any(self, text: str) -> bool:
        """Whether text may hold a known secret (never False when it does; a cheap check)."""
        grams = self._index[0]
        if not grams or len(text) < MIN_SECRET:
            return False
        return not grams.isdisjoint(_PIECES.findall(text))

    def redact(self, text: str) -> str:
        """text with every known secret, in any of its forms, replaced by its hint."""
        pattern = self._index[1]
        if pattern is None or not self.holds_any(text):
            return text
        return pattern.sub(lambda m: redact_key(m.group(0)), text)


def _index_of(until: Mapping[str, float]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """The sampling set and the pattern (longest forms first) of a set of secrets."""
    forms = {form for value in until for form in _forms(value)}
    if not forms:
        return frozenset(), None
    grams = frozenset(f[i : i + _GRAM] for f in forms for i in range(len(f) - _GRAM + 1))
    ordered = sorted(forms, key=len, reverse=True)
    return grams, re.compile("|".join(map(re.escape, ordered)))


# One per process: logs (werkzeug's among them) are the process's, and so is what it minted.
KNOWN_SECRETS = KnownSecrets()


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message (and traceback) with every secret redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when a handler formats it
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


_LOG_FILTER = RedactingFilter()


def guard_logs(name: str) -> None:
    """Redact what the logger `name`, every logger below it and their handlers write. A logger's
    filter sees only its own records, and the app logger has no handler of its own once logging
    is configured, so each logger of the tree gets one."""
    below = logging.Logger.manager.loggerDict.items()
    tree = [logger for key, logger in list(below) if key.startswith(f"{name}.")]
    for logger in (logging.getLogger(name), *tree):
        if not isinstance(logger, logging.Logger):  # a placeholder for loggers not made yet
            continue
        for target in (logger, *logger.handlers):
            if _LOG_FILTER not in target.filters:
                target.addFilter(_LOG_FILTER)


class Event(NamedTuple):
    """One mirrored data-channel or local event, parsed, categorised and redacted (a tuple:
    the mirror makes one per event it receives). Its first nine fields are the store's row of
    it, in the order of storage.rows.EventRow."""

    seq: int
    direction: str
    t: float
    type: str | None
    category: str
    response_id: str | None
    item_id: str | None
    raw: str  # the text stored: as received unless redacted
    compact: bool  # raw is data's compact JSON (dumps), so exports can embed it as is
    data: dict | None


# Event(...) runs a Python __new__; the mirror makes one per event, so parse_event skips it.
_new_event = partial(tuple.__new__, Event)


class TooDeep(ValueError):
    """JSON nested deeper than the limit: refused instead of exhausting the stack."""


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent as a float, refused when it overflows one
    (1e400 would become inf, which no JSON text can carry back out)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large for a 64-bit float")
    return value


# Made once: json.loads and json.dumps with options build a new decoder or encoder per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# _ENCODER.encode still makes a C encoder per call, which costs as much as encoding an event:
# this one is made once, with no check for cycles (values parsed from JSON cannot hold one),
# and refuses NaN and infinities as _ENCODER does (ValueError), so what it writes is JSON.
_C_ENCODE = c_make_encoder and c_make_encoder(
    None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False
)


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Strict json.loads: NaN, Infinity and numbers too large for a float (1e400) are refused
    (no export could carry them), and so are values nested past max_depth (TooDeep, a
    ValueError)."""
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        raise ValueError("JSON text must not start with a byte order mark")
    try:
        value = _decode(text)
    except RecursionError:
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
    # A value cannot nest deeper than it has brackets: most events skip the walk.
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and nested_deeper(value, max_depth):
        raise TooDeep(f"nested deeper than {max_depth} levels")
    return value


def decode_at(text: str, pos: int) -> tuple[Any, int]:
    """The JSON value that starts at text[pos] and where it ends, as strictly as loads (a
    ValueError, or RecursionError past the interpreter's depth): for reading a file a value at
    a time."""
    return _DECODER.raw_decode(text, pos)


def _decode(text: str) -> Any:
    """_DECODER.decode(text), its common case (a value and nothing around it) without the
    regular expressions that look for whitespace; any other text takes the full path."""
    try:
        value, end = _DECODER.scan_once(text, 0)
    except StopIteration:  # no value at 0: leading whitespace, or none at all
        end = -1
    return value if end == len(text) else _DECODER.decode(text)


def nested_deeper(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a JSON value nests more than `limit` levels, found without recursion."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def storable(text: str) -> str:
    """text as SQLite can store it: lone surrogates (only JSON escapes make them) written back
    as their escapes, so JSON stays JSON and nothing is dropped."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


# A JSON escape of a UTF-16 surrogate: the only way a lone one gets into parsed text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _storable_strings(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) made storable (nesting is bounded)."""
    if isinstance(value, dict):
        return {storable(k): _storable_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable_strings(v) for v in value]
    return storable(value) if isinstance(value, str) else value


def dumps(obj: Any) -> str:
    """Compact JSON as the services send it (non-ASCII kept); NaN and infinities are refused
    (ValueError), as RFC 8259 has no words for them."""
    return "".join(_C_ENCODE(obj, 0)) if _C_ENCODE else _ENCODER.encode(obj)


# Text without any of these cannot hold a secret redact() would change (a \\u escape could
# spell one, so it sends the event through the full walk too).
_SECRET_MARKS = (
    "ek_",
    "sk-",
    "apikey",
    "api-key",
    "api_key",
    "authorization",
    "client_secret",
    "client-secret",
    "subscription-key",
    "\\/",  # JSON may escape a slash, which breaks a base64 form apart in the raw text
)
# Letters that _FIELD_RE's IGNORECASE matches to ASCII ones but lower() does not make ASCII
# (dotless i, dotted capital I, long s; the Kelvin sign lowers to k).
_FOLDED_LETTERS = ("\u0131", "\u0130", "\u017f")


def _may_hold_secret(raw: str) -> bool:
    """Whether text has anything a secret could be (plain substring tests: this runs per event)."""
    if "\\u" in raw or KNOWN_SECRETS.holds_any(raw):
        return True
    if not raw.isascii():
        for letter in _FOLDED_LETTERS:
            if letter in raw:
                return True
    low = raw.lower()
    for mark in _SECRET_MARKS:  # a loop, not any() over a generator: a third faster
        if mark in low:
            return True
    return False


# The last moment a date can show (9999-12-31), in ms: times past it are refused on the way in.
MAX_MS = 253_402_300_799_999


def row_problem(seq: Any, direction: Any, t: Any) -> str | None:
    """What is wrong with an event row's seq, dir and browser time t, or None."""
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**53:
        return f"seq must be a whole number from 1 (got {seq!r})"
    if direction not in DIRECTIONS:
        return f"dir must be one of {', '.join(DIRECTIONS)} (got {direction!r})"
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= MAX_MS
    ):
        return f"t must be milliseconds since the epoch, or null (got {t!r})"
    return None


def parse_event(seq: int, direction: str, t: float, raw_or_obj: str | dict) -> Event:
    """An Event from data-channel text (kept byte-for-byte unless redacted) or a local object.

    Text that does not parse, or nests deeper than MAX_DEPTH, is kept as text: never dropped.
    """
    if isinstance(raw_or_obj, dict):
        data, raw = raw_or_obj, dumps(raw_or_obj)
        if _may_hold_secret(raw):
            data = redact(data)
            raw = dumps(data)
        compact = True
        if not raw.isascii() and storable(raw) != raw:  # a lone surrogate in some text
            data = _storable_strings(data)
            raw = storable(raw)  # as from_row will read it
            compact = raw == dumps(data)
    else:
        raw = raw_or_obj
        try:
            data = loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raw = storable(redact_text(raw))
            return _new_event((seq, direction, t, None, "unknown", None, None, raw, False, None))
        if ("\\u" in raw and _SURROGATE_ESCAPE.search(raw)) or storable(raw) != raw:
            data = _storable_strings(data)  # pages and exports must be able to encode it
            raw = storable(raw)
        if _may_hold_secret(raw):  # else skip the walk (most events, every delta)
            redacted = redact(data)
            if redacted != data:
                data, raw = redacted, storable(dumps(redacted))
        compact = raw == dumps(data)
    type_ = data.get("type")
    type_ = storable(type_) if type_ and isinstance(type_, str) else None
    response_id, item_id = ids_of(data)
    category = category_of(type_, data)
    return _new_event(
        (seq, direction, t, type_, category, response_id, item_id, raw, compact, data)
    )


def from_row(row: Mapping[str, Any]) -> Event:
    """An Event from a stored row: its columns were derived and its payload redacted on the way
    in, so reading only parses the JSON again."""
    try:
        parsed = loads(row["payload"])
    except ValueError:
        parsed = None
    if parsed is not None and "\\u" in row["payload"] and _SURROGATE_ESCAPE.search(row["payload"]):
        parsed = _storable_strings(parsed)
    # No browser time (a bare log, a client that sent none): when it reached us stands in.
    t = row["t"] if row["t"] is not None else row["received_at"] * 1000
    return Event(
        row["seq"],
        row["direction"],
        t,
        row["type"],
        row["category"],
        row["response_id"],
        row["item_id"],
        row["payload"],
        bool(row["compact"]),
        parsed if isinstance(parsed, dict) else None,
    )


def _clip(text: str, limit: int = SUMMARY_MAX) -> str:
    """text on one line, cut to limit characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(text: Any) -> str:
    """A transcript or delta in quotes (deltas keep their meaningful spaces)."""
    return f"“{text}”" if isinstance(text, str) else ""


def _error_text(error: Any) -> str:
    """`message (code)` of an error object."""
    message = dig(error, "message") or dig(error, "type") or "error"
    code = dig(error, "code")
    return f"{message} ({code})" if code else str(message)


def _usage_text(usage: Any) -> str:
    """`N tokens (in X / out Y)` of a response usage object."""
    if not isinstance(usage, dict):
        return ""
    return (
        f"{usage.get('total_tokens', 0)} tokens "
        f"(in {usage.get('input_tokens', 0)} / out {usage.get('output_tokens', 0)})"
    )


def _response_text(response: Any) -> str:
    """`status (reason)` of a response, with its error and usage when there are any."""
    status = dig(response, "status") or "?"
    reason = dig(response, "status_details", "reason")
    parts = [f"{status} ({reason})" if reason else str(status)]
    error = dig(response, "status_details", "error")
    if error:
        parts.append(_error_text(error))
    usage = _usage_text(dig(response, "usage"))
    if usage:
        parts.append(usage)
    return " · ".join(parts)


def _session_text(session: Any) -> str:
    """`model · voice` of a session object (beta flat, GA audio.output.voice), else its fields."""
    voice = dig(session, "audio", "output", "voice") or dig(session, "voice")
    parts = [str(value) for value in (dig(session, "model"), voice) if value]
    if parts:
        return " · ".join(parts)
    # A partial session.update: name what it sets.
    if not isinstance(session, dict) or not session:
        return ""
    return "sets " + ", ".join(str(key) for key in session if key != "type")


def _rate_limits_text(limits: Any) -> str:
    """`requests 4999/5000 · tokens 39000/40000`."""
    if not isinstance(limits, list):
        return ""
    return " · ".join(
        f"{dig(limit, 'name')} {dig(limit, 'remaining')}/{dig(limit, 'limit')}" for limit in limits
    )


def _item_text(item: Any) -> str:
    """`role type name status` of a conversation item, whichever it has."""
    fields = ("role", "type", "name", "status")
    return " ".join(str(item[f]) for f in fields if isinstance(item, dict) and item.get(f))


def _local_text(data: dict) -> str:
    """`key=value` of a local event's scalar fields (state, rtt_ms, ms...)."""
    pairs = (
        f"{key}={value}"
        for key, value in data.items()
        if key != "type" and isinstance(value, str | int | float | bool)
    )
    return " ".join(pairs)


def _vad_text(data: dict) -> str:
    """The audio offsets a VAD event carries."""
    keys = ("audio_start_ms", "audio_end_ms")
    return " ".join(f"{key}={data[key]}" for key in keys if key in data)


def summary(event: Event) -> str:
    """The one-line summary the timeline shows for an event."""
    data = event.data
    if data is None:
        return _clip(event.raw)
    return _clip(_summary_of(normalize_type(event.type) or "", data))


def _summary_of(name: str, data: dict) -> str:
    """summary() for a parsed event of GA type name."""
    if name.startswith("voicelab."):
        return _local_text(data)
    if name.endswith(".delta"):
        return _quoted(data.get("delta"))
    if name in ("response.created", "response.done"):
        return _response_text(data.get("response"))
    if "error" in data and isinstance(data["error"], dict):
        return _error_text(data["error"])
    if name.startswith("input_audio_buffer."):
        return _vad_text(data)
    if name.startswith("session."):
        return _session_text(data.get("session"))
    if name == "rate_limits.updated":
        return _rate_limits_text(data.get("rate_limits"))
    if name == "response.function_call_arguments.done":
        return f"{data.get('name') or 'function'}({data.get('arguments', '')})"
    for key in ("transcript", "text"):
        if isinstance(data.get(key), str):
            return _quoted(data[key])
    if "item" in data:
        return _item_text(data["item"])
    if "audio_end_ms" in data:
        return f"audio_end_ms={data['audio_end_ms']}"
    if isinstance(dig(data, "part"), dict):
        return str(data["part"].get("type", ""))
    return ""
