"""Scripts: what the emulated model does, turn by turn, read from a small JSON or TOML file.

A script is a list of turns. Each turn is chosen by its number (`turn`, from 1) or by a regular
expression (`match`) searched in what the user said or typed; a turn with neither matches any
input. A turn may call functions (`call`, one or a list made in sequence, each after the
client's output), say words (`say`, after the calls; `{name}` takes a field of the last output,
`{output}` the whole output), wait before its first audio (`delay_ms`), talk for a set time
(`talk_ms`), fail with a fault scenario (`fault`), and end the call once said (`end`).

Pure: parsing, validation and matching; the only I/O is reading a script file.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import scenarios
from .tools import output_words

SUFFIXES = (".json", ".toml")
FOLDER = Path(__file__).parent / "scripts"  # the example scripts shipped with the package
TURN_FAULTS = ("response_error", "slow_response", "drop_call")
TURN_FIELDS = ("turn", "match", "say", "call", "delay_ms", "talk_ms", "fault", "end")
SCRIPT_FIELDS = ("description", "turns")


class ScriptError(ValueError):
    """A script that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True)
class Call:
    """A function the model calls, and the arguments it means (the schema fills the rest)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """What the model does for one user input."""

    number: int | None = None
    pattern: re.Pattern[str] | None = None
    say: str | None = None
    calls: tuple[Call, ...] = ()
    delay_ms: int = 0
    talk_ms: int | None = None
    fault: scenarios.Scenario | None = None
    end: bool = False

    def matches(self, number: int, said: str) -> bool:
        """Whether this turn answers the `number`th user input, which said `said`."""
        if self.number is not None and self.number != number:
            return False
        return self.pattern is None or self.pattern.search(said) is not None


@dataclass(frozen=True)
class ModelScript:
    """A parsed script."""

    name: str
    description: str
    turns: tuple[Turn, ...]

    def turn_for(self, number: int, said: str) -> Turn | None:
        """The first turn that answers this input (None: the emulator's own reply)."""
        return next((t for t in self.turns if t.matches(number, said)), None)


def parse(data: Any, name: str = "inline") -> ModelScript:
    """A script from its parsed JSON or TOML; ScriptError naming the field and the fix."""
    if not isinstance(data, dict):
        raise ScriptError(f"a script must be an object with a turns list, got {kind_of(data)}")
    _known(data, SCRIPT_FIELDS, "the script")
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ScriptError(f"turns must be a non-empty list of turns, got {kind_of(turns)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScriptError(f"description must be a string, got {kind_of(description)}")
    return ModelScript(
        name, description, tuple(_turn(t, f"turns[{i}]") for i, t in enumerate(turns))
    )


def load(path: Path) -> ModelScript:
    """Read and parse a .json or .toml script file."""
    if path.suffix not in SUFFIXES:
        raise ScriptError(f"{path.name}: a script file ends in .json or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"{path}: cannot be read ({exc.strerror}); check the path") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except ValueError as exc:
        raise ScriptError(f"{path.name} is not valid {path.suffix[1:].upper()}: {exc}") from None
    try:
        return parse(data, path.stem)
    except ScriptError as exc:
        raise ScriptError(f"{path.name}: {exc}") from None


def names(folder: Path) -> list[str]:
    """The scripts in `folder`, by name (file name without its suffix)."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())


def find(chosen: Any, folder: Path, *, paths: bool = False) -> ModelScript:
    """A script by name from `folder`, inline (an object), or by path to a file when `paths`
    (the app's own setting may name any file; a mint request only the folder's scripts)."""
    if isinstance(chosen, dict):
        return parse(chosen)
    if not isinstance(chosen, str) or not chosen:
        raise ScriptError(f"script must be a name or an object, got {kind_of(chosen)}")
    path = Path(chosen)
    if paths and path.suffix in SUFFIXES:
        return load(path)
    for suffix in SUFFIXES:
        if (folder / f"{chosen}{suffix}").is_file():
            return load(folder / f"{chosen}{suffix}")
    known = ", ".join(names(folder)) or "none"
    raise ScriptError(f"no script named {chosen!r} in the scripts folder (it has: {known})")


def spoken(template: str, output: str | None) -> str:
    """`say` with `{field}` taken from the function output (a JSON object) and `{output}` the
    whole output in words; a field the output lacks stays as written."""
    try:
        value = json.loads(output) if output is not None else None
    except ValueError:
        value = None
    fields = (
        {k: output_words(json.dumps(v)) for k, v in (value or {}).items()}
        if isinstance(value, dict)
        else {}
    )
    fields["output"] = output_words(output) if output is not None else ""
    return "".join(
        text + (fields.get(name, f"{{{name}}}") if name is not None else "")
        for text, name, _, _ in string.Formatter().parse(template)
    )


def _turn(data: Any, where: str) -> Turn:
    if not isinstance(data, dict):
        raise ScriptError(f'{where} must be an object like {{"say": "Hello"}}, got {kind_of(data)}')
    _known(data, TURN_FIELDS, where)
    number = data.get("turn")
    if number is not None and (not _is_int(number) or number < 1):
        raise ScriptError(f"{where}.turn must be a whole number from 1, got {number!r}")
    pattern = data.get("match")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise ScriptError(
                f"{where}.match must be a regular expression string, got {kind_of(pattern)}"
            )
        try:
            compiled: re.Pattern[str] | None = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ScriptError(f"{where}.match is not a valid regular expression: {exc}") from None
    else:
        compiled = None
    say = data.get("say")
    if say is not None and not isinstance(say, str):
        raise ScriptError(f"{where}.say must be a string of words, got {kind_of(say)}")
    calls = data.get("call", [])
    listed = calls if isinstance(calls, list) else [calls]
    call_where = [
        f"{where}.call[{i}]" if isinstance(calls, list) else f"{where}.call"
        for i in range(len(listed))
    ]
    return Turn(
        number=number,
        pattern=compiled,
        say=say,
        calls=tuple(_call(c, w) for c, w in zip(listed, call_where, strict=True)),
        delay_ms=_ms(data, "delay_ms", where, 0) or 0,
        talk_ms=_ms(data, "talk_ms", where, 1),
        fault=_fault(data.get("fault"), where),
        end=_flag(data.get("end", False), f"{where}.end"),
    )


def _call(data: Any, where: str) -> Call:
    if not isinstance(data, dict):
        raise ScriptError(
            f'{where} must be an object like {{"name": "get_weather"}}, got {kind_of(data)}'
        )
    _known(data, ("name", "arguments"), where)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ScriptError(f"{where}.name must be the function's name, got {kind_of(name)}")
    arguments = data.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ScriptError(f"{where}.arguments must be an object, got {kind_of(arguments)}")
    return Call(name, arguments)


def _ms(data: dict[str, Any], key: str, where: str, low: int) -> int | None:
    value = data.get(key)
    if value is not None and (not _is_int(value) or not low <= value <= 600_000):
        raise ScriptError(f"{where}.{key} must be whole milliseconds {low}-600000, got {value!r}")
    return value


def _fault(value: Any, where: str) -> scenarios.Scenario | None:
    if value is None:
        return None
    choices = ", ".join(TURN_FAULTS)
    try:
        fault = scenarios.parse(value) if isinstance(value, str) else None
    except ValueError as exc:
        raise ScriptError(f"{where}.fault: {exc}; a turn takes {choices}") from None
    if fault is None or fault.name not in TURN_FAULTS:
        raise ScriptError(f"{where}.fault must be one of {choices} (got {value!r})")
    return fault


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ScriptError(f"{where} must be true or false, got {kind_of(value)}")
    return value


def _known(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ScriptError(f"{where} has no field {key!r}; use {', '.join(allowed)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def kind_of(value: Any) -> str:
    """How a wrong value reads in an error: its JSON type and, when short, the value."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    kind = names.get(type(value), "nothing" if value is None else "a number")
    shown = json.dumps(value) if value is not None else ""
    return f"{kind} {shown}" if shown and len(shown) <= 40 else kind
