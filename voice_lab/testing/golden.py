"""Golden sets: recorded calls replayed with new settings by a pytest run, each replay a test.

A golden file is JSON named `*.golden.json`; the plugin collects every one pytest walks over:

    {
      "format": "voice-lab.golden",
      "version": 1,
      "replays": [
        {
          "name": "weather-cedar",
          "bundle": "weather.zip",
          "settings": {"voice": "cedar", "instructions": "Answer in one sentence."},
          "client_events": true,
          "expect": {
            "no_errors": true,
            "not_slower": {"to_first_audio_ms": 300},
            "same_tools": true,
            "latency_under": {"to_first_audio_ms": 1500}
          }
        }
      ]
    }

Each replay has:
- `name`: the test's name (letters, digits, `-`, `_`, `.`), once per file;
- `bundle`: the recorded call, a bundle a session page exports (`/sessions/ID/export.zip`), as a
  path relative to the golden file's folder;
- `settings` (optional): the call page's settings for the replay, by field name (`voice`,
  `instructions`, `script`, `scenario`, `vad_type`, ...); what is not named stays the original's;
- `client_events` (optional, false): whether the client events the original page sent by hand
  are sent again at their offsets;
- `expect`: what the replay must show against the original, at least one of
  - `no_errors`: true: no error pinned, every protocol check holds, in the replay;
  - `not_slower`: `{figure: ms}`: the replay's p95 of each figure is at most the original's
    plus `ms` (the latency figures of analysis/metrics.py, and `heard_to_first_audio_ms` from
    the two recordings);
  - `same_tools`: true: the replay called the same functions in the same order;
  - `latency_under`: `{figure: ms}`: the replay's p95 of each figure is under `ms`.

Each replay imports its bundle into the test's Voice Lab (`voice_lab_server`), replays it in a
Chromium whose own microphone is silent, loads both sessions and checks every expectation; a
failure lists each one that failed with its figures. Parsing is strict: every mistake is
named by file, replay and field, with what to write instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.compare import FIGURES
from ..analysis.metrics import LATENCY_FIGURES
from ..emulator.scripting import kind_of

FORMAT = "voice-lab.golden"
VERSION = 1
SUFFIX = ".golden.json"
FILE_FIELDS = ("format", "version", "replays")
REPLAY_FIELDS = ("name", "bundle", "settings", "client_events", "expect")
EXPECTATIONS = ("no_errors", "not_slower", "same_tools", "latency_under")
# The call page's settings form (templates/_call_settings.html), by field name.
CALL_FIELDS = (
    "provider",
    "protocol",
    "model",
    "voice",
    "instructions",
    "vad_type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "eagerness",
    "transcription",
    "scenario",
    "script",
    "label",
    "record",
)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class GoldenError(ValueError):
    """A golden file that cannot be used; the message names the place and the fix."""


@dataclass(frozen=True)
class Expect:
    """What a replay must show against its original (see the module's docstring)."""

    no_errors: bool = False
    not_slower: dict[str, float] = field(default_factory=dict)
    same_tools: bool = False
    latency_under: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Replay:
    """One replay of a golden file: a test."""

    name: str
    bundle: Path
    settings: dict[str, Any]
    client_events: bool
    expect: Expect


def load(path: Path) -> list[Replay]:
    """The replays of a golden file; GoldenError naming the place and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenError(f"{path}: cannot be read ({exc}); check the path") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GoldenError(f"{path.name} is not valid JSON: {exc}") from None
    return parse(data, path.parent, path.name)


def parse(data: Any, folder: Path, where: str = "golden file") -> list[Replay]:
    """The replays of a parsed golden file whose bundles are relative to `folder`."""
    if not isinstance(data, dict):
        raise GoldenError(
            f'{where}: expected {{"format": "{FORMAT}", "version": {VERSION}, "replays": [...]}}'
            f", got {kind_of(data)}"
        )
    _known(data, FILE_FIELDS, where)
    if data.get("format") != FORMAT:
        raise GoldenError(f'{where}: format must be "{FORMAT}", got {kind_of(data.get("format"))}')
    if data.get("version") != VERSION:
        raise GoldenError(
            f"{where}: version {data.get('version')!r} of {FORMAT} is not supported "
            f"(this Voice Lab reads version {VERSION})"
        )
    replays = data.get("replays")
    if not isinstance(replays, list) or not replays:
        raise GoldenError(f"{where}: replays must be a non-empty list, got {kind_of(replays)}")
    parsed = [_replay(r, folder, f"{where}: replays[{i}]") for i, r in enumerate(replays)]
    names = [r.name for r in parsed]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise GoldenError(
                f"{where}: replays[{index}].name {name!r} is the name of replays"
                f"[{names.index(name)}] too: give each replay its own name"
            )
    return parsed


def _replay(data: Any, folder: Path, where: str) -> Replay:
    if not isinstance(data, dict):
        raise GoldenError(
            f'{where} must be an object like {{"name": "...", "bundle": "call.zip", '
            f'"expect": {{"no_errors": true}}}}, got {kind_of(data)}'
        )
    _known(data, REPLAY_FIELDS, where)
    name = data.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise GoldenError(
            f"{where}.name must be the test's name in letters, digits, -, _ and . "
            f"(like weather-cedar), got {kind_of(name)}"
        )
    return Replay(
        name=name,
        bundle=_bundle(data.get("bundle"), folder, f"{where}.bundle"),
        settings=_settings(data.get("settings", {}), f"{where}.settings"),
        client_events=_flag(data.get("client_events", False), f"{where}.client_events"),
        expect=_expect(data.get("expect"), f"{where}.expect"),
    )


def _bundle(value: Any, folder: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.endswith(".zip") or Path(value).is_absolute():
        raise GoldenError(
            f"{where} must be the path of a bundle (.zip, as a session page exports it) "
            f"relative to the golden file's folder, got {kind_of(value)}"
        )
    path = folder / value
    if not path.is_file():
        raise GoldenError(
            f"{where}: {value} is not a file beside the golden file: export the session's "
            "bundle (its page's Export bundle, /sessions/ID/export.zip) there"
        )
    return path


def _settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GoldenError(
            f'{where} must be an object of the call page\'s fields, like {{"voice": "cedar"}}, '
            f"got {kind_of(value)}"
        )
    _known(value, CALL_FIELDS, where)
    for name, setting in value.items():
        if isinstance(setting, dict | list) or setting is None:
            raise GoldenError(
                f"{where}.{name} must be text, a number or true/false, got {kind_of(setting)}"
            )
    return dict(value)


def _expect(value: Any, where: str) -> Expect:
    if not isinstance(value, dict):
        raise GoldenError(
            f'{where} must be an object like {{"no_errors": true}}, got {kind_of(value)}; '
            f"a replay expects at least one of {', '.join(EXPECTATIONS)}"
        )
    _known(value, EXPECTATIONS, where)
    expect = Expect(
        no_errors=_flag(value.get("no_errors", False), f"{where}.no_errors"),
        not_slower=_figures(value.get("not_slower", {}), f"{where}.not_slower", FIGURES, 0),
        same_tools=_flag(value.get("same_tools", False), f"{where}.same_tools"),
        latency_under=_figures(
            value.get("latency_under", {}), f"{where}.latency_under", LATENCY_FIGURES, 1
        ),
    )
    if expect == Expect():
        raise GoldenError(
            f"{where} expects nothing, so the replay cannot fail: add one of "
            f'{", ".join(EXPECTATIONS)} (like "no_errors": true)'
        )
    return expect


def _figures(value: Any, where: str, names: tuple[str, ...], low: int) -> dict[str, float]:
    example = f'{{"{LATENCY_FIGURES[2]}": 300}}'
    if not isinstance(value, dict):
        raise GoldenError(f"{where} must be an object like {example}, got {kind_of(value)}")
    for figure, ms in value.items():
        if figure not in names:
            raise GoldenError(f"{where} has no figure {figure!r}; use {', '.join(names)}")
        if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < low:
            raise GoldenError(
                f"{where}.{figure} must be milliseconds, at least {low}, got {kind_of(ms)}"
            )
    return {figure: float(ms) for figure, ms in value.items()}


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise GoldenError(f"{where} must be true or false, got {kind_of(value)}")
    return value


def _known(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise GoldenError(f"{where} has no field {key!r}; use {', '.join(allowed)}")
