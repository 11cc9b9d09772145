"""What Voice Lab stored about a call, read back from its export, with assertions over it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ..analysis import compare as comparing
from ..analysis import cost, metrics, review, timeline, tools
from ..analysis.call_times import hearing_from_json
from ..analysis.heard import AudioCheck, HeardLatency, Hearing
from ..protocol.names import normalize_type
from ..protocol.record import Event, parse_event


@dataclass(frozen=True)
class CapturedSession:
    """A stored session as Voice Lab exports it, with assertions over its events."""

    session: dict[str, Any]
    events: list[Event]
    document: dict[str, Any]

    @classmethod
    def load(cls, base_url: str, session_id: str, timeout: float = 10) -> CapturedSession:
        """Download the session's export from a running Voice Lab."""
        reply = requests.get(f"{base_url}/sessions/{session_id}/export.json", timeout=timeout)
        reply.raise_for_status()
        return cls.from_export(reply.json())

    @classmethod
    def from_export(cls, document: dict[str, Any]) -> CapturedSession:
        """A CapturedSession from an export document (voice-lab.session, version 1)."""
        events = [parse_event(e["seq"], e["dir"], e["t"], e["event"]) for e in document["events"]]
        return cls(document["session"], events, document)

    def types(self, direction: str | None = None) -> list[str]:
        """Event types in seq order, optionally of one direction (server, client, local)."""
        return [e.type or "" for e in self.events if direction is None or e.direction == direction]

    def of_type(self, type_: str) -> list[Event]:
        """The events of a type (beta and GA names match each other)."""
        wanted = normalize_type(type_)
        return [e for e in self.events if normalize_type(e.type) == wanted]

    def assert_order(self, types: Sequence[str], direction: str | None = None) -> None:
        """Assert the types occur in this order (others may come between; beta = GA names)."""
        seen = iter(normalize_type(t) for t in self.types(direction))
        for position, wanted in enumerate(types):
            if normalize_type(wanted) not in seen:
                raise AssertionError(
                    f"{wanted!r} (#{position + 1} of {list(types)}) does not follow "
                    f"{list(types[:position])} in {self.types(direction)}"
                )

    def latencies(self) -> list[metrics.Latency]:
        """Latency of each response (see voice_lab.metrics.Latency)."""
        return metrics.latencies(self.events)

    def latency(self) -> dict[str, metrics.Stat]:
        """p50/p95 of each latency figure: to_created_ms, to_first_text_ms, ... by name."""
        return {s.name: s for s in metrics.latency_stats(self.latencies())}

    def assert_latency_under(self, ms: float, figure: str = "to_first_audio_ms") -> None:
        """Assert the p95 of a latency figure is measured and under `ms`."""
        stat = self.latency()[figure]
        assert stat.p95 is not None, f"no response has {figure}"
        assert stat.p95 < ms, f"{figure} p95 is {stat.p95:.0f} ms (budget {ms:g} ms)"

    def errors(self) -> list[review.ErrorInfo]:
        """Error events, failed or incomplete responses, cancelled responses and function
        calls never answered, in seq order."""
        found = review.errors(self.events) + tools.errors(self.tool_calls())
        return sorted(found, key=lambda error: error.seq)

    def checks(self) -> list[review.Check]:
        """The protocol checks of the session page (responses finish, no errors, ..., and
        those of function calls)."""
        return review.protocol_checks(self.events) + tools.checks(tools.fold(self.events))

    def tool_calls(self) -> list[tools.ToolCall]:
        """Every function call the model made, with the output the client sent for it (see
        voice_lab.analysis.tools.ToolCall)."""
        return tools.tool_calls(self.events)

    def assert_tool_called(self, name: str, **argument_subset: Any) -> tools.ToolCall:
        """Assert the model called function `name` with arguments holding these values (others
        may be there too); returns the first such call."""
        made = self.tool_calls()
        for call in made:
            parsed = call.parsed if isinstance(call.parsed, dict) else {}
            if call.name == name and all(
                key in parsed and parsed[key] == value for key, value in argument_subset.items()
            ):
                return call
        listed = [f"#{c.seq} {c.name}({c.arguments})" for c in made] or ["none"]
        raise AssertionError(
            f"no call of {name!r} with arguments holding {argument_subset!r}; "
            f"calls made: {', '.join(listed)}"
        )

    def cost(self) -> dict[str, Any]:
        """The estimated cost in dollars of the session ("session") and of each response
        ("responses"), with the date of the prices: as the export gives it, else estimated from
        the events at the shipped prices (see voice_lab.analysis.cost.session_cost)."""
        exported = self.document.get("cost")
        if isinstance(exported, dict):
            return exported
        usages = metrics.usage_by_response(self.events)
        total = metrics.usage_total(usages)
        return cost.session_cost(cost.shipped(), self.session.get("model"), usages, total)

    def transcript(self) -> list[timeline.Line]:
        """What each side said."""
        return timeline.transcript(self.events)

    def hearing(self) -> Hearing | None:
        """What the call's recording says (ms from the recording's start), as the server heard
        it; None when the session has no recording."""
        heard = (self.document.get("recording") or {}).get("hearing")
        return None if heard is None else hearing_from_json(heard)

    def heard_latencies(self) -> list[HeardLatency]:
        """To first audio, heard, per response (see voice_lab.analysis.heard.HeardLatency)."""
        hearing = self.hearing()
        return [] if hearing is None else list(hearing.heard)

    def audio_checks(self) -> list[AudioCheck]:
        """The recording's protocol checks: model audio only while the buffer plays, reported
        audio played, every stretch of user speech reported by VAD."""
        hearing = self.hearing()
        return [] if hearing is None else list(hearing.checks)

    def assert_no_errors(self) -> None:
        """Assert no error is pinned and every protocol check holds."""
        errors = [f"#{e.seq} {e.type}: {e.message}" for e in self.errors()]
        failed = [f"{c.name}: {c.detail}" for c in self.checks() if not c.ok]
        assert not errors and not failed, f"errors {errors}, failed checks {failed}"

    def compare(self, other: CapturedSession) -> comparing.Comparison:
        """The compare page's figures of this session (side "a") and `other` (side "b"), built
        from the two exports (see voice_lab.analysis.compare): every change is b minus a; cost
        at the shipped prices."""
        sides = [comparing.side_of(s.session, s.events, s.hearing()) for s in (self, other)]
        return comparing.compare(sides[0], sides[1], cost.shipped())

    def assert_not_slower(
        self, other: CapturedSession, figure: str = "to_first_audio_ms", by_ms: float = 0
    ) -> None:
        """Assert this session (the new run) is not slower than `other` (the baseline): its
        p95 of `figure` (a latency figure, or heard_to_first_audio_ms from the recordings)
        exceeds other's by at most `by_ms`, and both sides measured it."""
        row = self.compare(other).figure(figure)
        this, base = row.a.p95, row.b.p95
        if this is None or base is None:
            lacking = [
                name for name, p95 in (("this session", this), ("the other", base)) if p95 is None
            ]
            raise AssertionError(
                f"{figure}: {' and '.join(lacking)} measured none (p95 {_ms(this)} here, "
                f"{_ms(base)} in the other; budget {by_ms:g} ms)"
            )
        if this - base > by_ms:  # raised, not asserted: the message is the whole story
            raise AssertionError(
                f"{figure} p95 is {this:.0f} ms here against {base:.0f} ms in the other: "
                f"{this - base:.0f} ms slower (budget {by_ms:g} ms)"
            )

    def assert_same_tools(self, other: CapturedSession) -> None:
        """Assert the model called the same functions, in the same order, in this session as
        in `other` (arguments may differ)."""
        these, those = self.compare(other).tools
        if these != those:
            raise AssertionError(f"functions called here {these}, in the other {those}")


def _ms(value: float | None) -> str:
    """A p95 for a message: "none" when it was not measured."""
    return "none" if value is None else f"{value:.0f} ms"
