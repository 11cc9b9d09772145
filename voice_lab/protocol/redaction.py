"""Redaction: keys and secret fields hinted wherever they appear, the secrets the server knows,
and the logging filter that keeps them out of logs."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from .codec import clip, storable

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
# X"`, `apikey=X`, `Ocp-Apim-Subscription-Key: X`, `client_secret=X`, the same URL-encoded
# (`Authorization%3A%20Bearer%20X`), and with its quotes escaped, as JSON text inside a JSON
# string has them (`{\"api-key\":\"X\"}`). After Authorization any scheme word (Basic, Token,
# Digest...) stays and the credential after it goes: a token, or Digest's `name="value", ...`.
_SPACE = r"(?:\s|%20|\+)*"
_QUOTE = r"""(?:\\*["']|%22)?"""
_CHAR = r"""(?:[^\s"',;}&\\]|\\(?![\\"']))"""  # a backslash ends a secret only before a quote
# A hint as redact_key writes it (a key's prefix, at most two characters each side of …), which
# a second pass keeps. Only that shape: a secret that merely holds a … is still hidden.
_HINT_RE = re.compile(r"(?:ek_|sk-(?:proj-)?)?.{0,2}….{0,2}", re.DOTALL)
_PARAM = rf"""[\w.-]+(?:=|%3d)(?:\\*"[^"\\]*\\*"|{_CHAR}+)"""
_FIELD_RE = re.compile(
    rf"""(?P<head>{_QUOTE}(?:(?P<auth>authorization)|(?:x-)?api[-_]?key"""
    rf"""|ocp-apim-subscription-key|client[-_]secret){_QUOTE}"""
    rf"""{_SPACE}(?:[:=]|%3a|%3d){_SPACE}{_QUOTE}"""
    rf"""(?:(?(auth)[a-z][a-z-]{{1,19}}|bearer)(?:\s|%20|\+)+)?)"""
    rf"""(?P<secret>(?(auth){_PARAM}(?:\s*,\s*{_PARAM})*|(?!))"""
    rf"""|(?:ek_|sk-(?:proj-)?)?{_CHAR}{{0,2}}…{_CHAR}{{0,2}}(?!{_CHAR})|{_CHAR}{{4,}})""",
    re.IGNORECASE,
)
# An Authorization value's scheme word (Bearer, Basic...), which stays when its credential goes.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z-]{1,19}\s+)(\S.*)", re.DOTALL)
# A word holding a percent escape (`%65%6B%5F...`, `e%6b_...`): decoded, it may spell a key or a
# secret field that no pattern sees encoded. Words, not runs of URL characters: a hint and what
# follows it (`dX…==`) stay in one piece, so a second pass finds the hint whole and keeps it.
# The look-behind starts the scan only where a word starts, which keeps it linear.
_ESCAPED_WORD = re.compile(r"(?<!\S)(?=\S*?%[0-9A-Fa-f]{2})\S+")
# What a decoded word must not hold as it is: a new escape, or a character that breaks a line.
_UNSAFE = re.compile(r"[%\s\x00-\x1f\x7f]")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


_KEY_PREFIX = re.compile(r"ek_|sk-(?:proj-)?")


def redact_key(key: str) -> str:
    """A hint that identifies a secret without revealing it: ek_ab…yz (short ones: ek_…)."""
    found = _KEY_PREFIX.match(key)
    prefix = found.group(0) if found else ""
    rest = key[len(prefix) :]
    if len(rest) < 8:
        return f"{prefix}…"
    return f"{prefix}{rest[:2]}…{rest[-2:]}"


def redact_text(text: str) -> str:
    """text with every secret the server knows, every key-looking string and every header-like
    secret field replaced by its hint, percent-encoded ones too."""
    text = KNOWN_SECRETS.redact(text)
    text = _FIELD_RE.sub(lambda m: m.group("head") + _hint(m.group("secret")), text)
    text = _KEY_RE.sub(lambda m: redact_key(m.group(0)), text)
    return _ESCAPED_WORD.sub(_redact_word, text) if "%" in text else text


def _redact_word(found: re.Match[str]) -> str:
    """A word with percent escapes as it was or, when decoded it holds a secret, decoded and
    redacted, with only what could start an escape or break a line encoded again."""
    word = found.group(0)
    decoded = unquote(word)
    clean = redact_text(decoded)
    if clean == decoded:
        return word
    return _UNSAFE.sub(lambda m: quote(m.group(0), safe=""), clean)


def redact(obj: Any) -> Any:
    """A copy of a JSON value with secret fields (every string inside them) and keys (object
    keys too) as hints."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = str(key).lower()
            if name in _SECRET_FIELDS:
                value = _hide(value, keep_scheme=name == "authorization")
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


def _hide(value: Any, keep_scheme: bool) -> Any:
    """A secret field's value with every string in it, in lists and objects at any depth, as
    its hint; an Authorization value keeps its scheme word. The keys of an object stay: they
    name the parts of the secret (client_secret's value and expires_at)."""
    if isinstance(value, dict):
        return {key: _hide(item, keep_scheme) for key, item in value.items()}
    if isinstance(value, list):
        return [_hide(item, keep_scheme) for item in value]
    if not isinstance(value, str):
        return value
    scheme = _SCHEME.fullmatch(value) if keep_scheme else None
    return scheme.group(1) + _hint(scheme.group(2)) if scheme else _hint(value)


def _hint(secret: str) -> str:
    """A secret's hint; a hint already made is left alone, so redacting twice changes nothing."""
    return secret if _HINT_RE.fullmatch(secret) else redact_key(secret)


def field_text(value: str, limit: int = 200) -> str:
    """A session field as stored: secrets redacted before it is clipped to limit characters (a
    cut key would no longer be known), and storable. Clipped as summaries are, so a page
    shows it on one line, with an ellipsis where it was cut."""
    return storable(clip(redact_text(value), limit))


# Known secrets are found on the hot path by sampling: the text, cut in consecutive pieces of
# _GRAM characters, is looked up in a set of every _GRAM-character piece of every known form, so
# the cost grows with the text, not with how many secrets are known. A form at least _GRAM * 2 - 1
# long always holds one whole piece; MIN_SECRET keeps every form (base64 ones are cut at both
# ends) that long. Configured secrets may be shorter (an access token of MIN_CONFIGURED): their
# few shorter forms are looked for whole, each a substring test.
_GRAM = 16  # longer pieces, fewer lookups
_SAMPLED = _GRAM * 2 - 1
MIN_SECRET = 32  # every key a service issues is as long (Azure's 32, sk- and ek_ ones longer)
MIN_CONFIGURED = 16  # as config requires of VOICE_LAB_TOKEN; shorter ones match ordinary text
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
        self._index: _Index = (frozenset(), (), None)

    def add(self, value: Any, expires_at: float | None = None, configured: bool = False) -> None:
        """Know value from now on: for good (an API key) or until expires_at plus the margin.
        Values shorter than MIN_SECRET (MIN_CONFIGURED for a secret of the configuration, which
        never expires) are not taken: they would match ordinary text."""
        floor = MIN_CONFIGURED if configured and expires_at is None else MIN_SECRET
        if not isinstance(value, str) or len(value.strip()) < floor:
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
        grams, whole, _ = self._index
        for form in whole:
            if form in text:
                return True
        if not grams or len(text) < MIN_SECRET:
            return False
        return not grams.isdisjoint(_PIECES.findall(text))

    def redact(self, text: str) -> str:
        """text with every known secret, in any of its forms, replaced by its hint."""
        pattern = self._index[2]
        if pattern is None or not self.holds_any(text):
            return text
        return pattern.sub(lambda m: redact_key(m.group(0)), text)


# The sampling set, the forms too short to sample (looked for whole), and the pattern.
_Index = tuple[frozenset[str], tuple[str, ...], re.Pattern[str] | None]


def _index_of(until: Mapping[str, float]) -> _Index:
    """The index of a set of secrets (its pattern has the longest forms first)."""
    forms = {form for value in until for form in _forms(value)}
    if not forms:
        return frozenset(), (), None
    sampled = [f for f in forms if len(f) >= _SAMPLED]
    grams = frozenset(f[i : i + _GRAM] for f in sampled for i in range(len(f) - _GRAM + 1))
    whole = tuple(sorted(f for f in forms if len(f) < _SAMPLED))
    ordered = sorted(forms, key=len, reverse=True)
    return grams, whole, re.compile("|".join(map(re.escape, ordered)))


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


def may_hold_secret(raw: str) -> bool:
    """Whether text has anything a secret could be (plain substring tests: this runs per event)."""
    if "\\u" in raw or KNOWN_SECRETS.holds_any(raw):
        return True
    if "%" in raw and _ESCAPE.search(raw):  # decoded, an escape can spell any of the marks
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
