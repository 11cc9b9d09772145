"""The JSON codec: strict parsing (no NaN, no infinities, bounded nesting), compact encoding as
the services write it, and text made storable and short."""

from __future__ import annotations

import json
import math
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

# How deeply JSON may nest anywhere Voice Lab parses it. Real events nest a handful of levels;
# past this a value is a bomb, and Python's parser and our walkers would run out of stack.
MAX_DEPTH = 64


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
# (The stubs declare neither c_make_encoder nor a decoder's scan_once; CPython has both.)
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
        value, end = _DECODER.scan_once(text, 0)  # type: ignore[attr-defined]
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
    """text as every backend can store it, nothing dropped and JSON still JSON: lone surrogates
    (only JSON escapes make them), which SQLite cannot encode, and NUL characters, which
    PostgreSQL's text refuses, are written back as their escapes (\\ud800, \\u0000): the mark
    of where the text had to change, the same on both backends."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


def clip(text: str, limit: int) -> str:
    """text on one line, cut to limit characters with an ellipsis: how summaries, a delta
    run's text and session fields are kept short."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dumps(obj: Any) -> str:
    """Compact JSON as the services send it (non-ASCII kept); NaN and infinities are refused
    (ValueError), as RFC 8259 has no words for them."""
    return "".join(_C_ENCODE(obj, 0)) if _C_ENCODE else _ENCODER.encode(obj)
