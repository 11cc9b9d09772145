"""Follows a call's script: for each response, what the model does given the conversation.

A user input starts a turn (its number counts the user's messages, typed or spoken); each
function output the client sends back moves the turn on to its next call, and after the last
one to its words. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scenarios import Scenario
from .scripting import Call, ModelScript, Turn, spoken


@dataclass(frozen=True)
class Decision:
    """What one response does: say `text` or make `call`, and how."""

    text: str
    call: Call | None = None
    delay_ms: int = 0
    talk_ms: int | None = None
    fault: Scenario | None = None
    end: bool = False


class Director:
    """A script's progress through one call."""

    def __init__(self, script: ModelScript | None):
        self.script = script
        self.turn: Turn | None = None
        self.calls_made = 0

    @property
    def listens(self) -> bool:
        """Whether a turn is chosen by what the user said (so a response waits for the words)."""
        return self.script is not None and any(t.pattern for t in self.script.turns)

    def decide(self, inputs: list[Any], said: str, default: str) -> Decision:
        """The next response, given the conversation (`inputs`), the words of its latest user
        input (`said`) and the emulator's own reply (`default`, used where the script is silent)."""
        latest = latest_input(inputs)
        if self.script is None or latest is None:
            return Decision(default)
        if latest.get("type") == "function_call_output":
            return self._after_output(str(latest.get("output")), default)
        number = sum(1 for i in inputs if isinstance(i, dict) and i.get("role") == "user")
        self.turn, self.calls_made = self.script.turn_for(number, said), 0
        if self.turn is None:
            return Decision(default)
        fault = self.turn.fault
        if self.turn.calls:
            self.calls_made = 1
            return Decision("", call=self.turn.calls[0], fault=fault)
        return self._words(self.turn, None, default, fault)

    def _after_output(self, output: str, default: str) -> Decision:
        turn = self.turn
        if turn is None:
            return Decision(default)
        if self.calls_made < len(turn.calls):
            self.calls_made += 1
            return Decision("", call=turn.calls[self.calls_made - 1])
        self.turn = None
        return self._words(turn, output, default, None)

    @staticmethod
    def _words(turn: Turn, output: str | None, default: str, fault: Scenario | None) -> Decision:
        text = spoken(turn.say, output) if turn.say is not None else default
        return Decision(
            text, delay_ms=turn.delay_ms, talk_ms=turn.talk_ms, fault=fault, end=turn.end
        )


def latest_input(inputs: list[Any]) -> dict[str, Any] | None:
    """The latest user message or function output: what a response answers."""
    for item in reversed(inputs):
        if isinstance(item, dict) and (
            item.get("role") == "user" or item.get("type") == "function_call_output"
        ):
            return item
    return None
