"""One call's realtime session: config, conversation, responses, and the client events.

Runs on the emulator's loop. The peer feeds it received audio (`on_audio`) and client events
(`on_message`); it sends server events through `send` and plays replies on the `audio` track.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import numpy as np

from ..protocol.codec import dumps
from . import client_events, responses, settings
from .client_events import ClientError
from .director import Director
from .ears import RATE, Ears, Tape
from .keys import Key
from .scenarios import Scenario
from .script import Ids, ResponsePlan, Script
from .vad import TurnDetector

log = logging.getLogger(__name__)

TRANSCRIPTION_DELAY = 0.05


class Player(Protocol):
    """The outbound audio the session plays replies on."""

    def play(self, samples: np.ndarray, on_drained: Callable[[], None]) -> None: ...

    def cut(self) -> int: ...


class RateLimits:
    """Requests and tokens left; a response reserves its maximum output at once."""

    def __init__(self, low: bool):
        self.requests = [5000, 3 if low else 5000]
        self.tokens = [40000, 120 if low else 40000]

    def start(self, reserve: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(limit, remaining) for requests and tokens as a response starts."""
        self.requests[1] -= 1
        return (self.requests[0], self.requests[1]), (self.tokens[0], self.tokens[1] - reserve)

    def finish(self, used: int) -> None:
        """Count the tokens a response used."""
        self.tokens[1] -= used


class Session:
    """The service side of one call."""

    def __init__(
        self,
        key: Key,
        scenario: Scenario,
        audio: Player,
        hangup: Callable[[], Awaitable[None]],
        ids: Ids | None = None,
        ears: Ears | None = None,
    ):
        self.protocol, self.scenario, self.audio, self.hangup = (
            key.protocol,
            scenario,
            audio,
            hangup,
        )
        self.config = copy.deepcopy(key.session)
        self.director = Director(key.script)
        self.heard: dict[str, asyncio.Future[str]] = {}  # user audio items: the words said
        self.script = Script(self.protocol, ids)
        self.conversation_id = self.script.ids.make("conv")
        self.items: list[dict[str, Any]] = []
        self.audio_ms: dict[str, int] = {}  # user audio items: how long the speech was
        self.limits = RateLimits(scenario.name == "rate_limit_low")
        self.detector = TurnDetector()
        self.configure_vad()
        self.send_text: Callable[[str], None] | None = None
        self.tasks: set[asyncio.Task] = set()
        self.response: ResponsePlan | None = None
        self.end_after: ResponsePlan | None = None  # the reply after which the script hangs up
        self.response_task: asyncio.Task | None = None
        self.playing: ResponsePlan | None = None
        self.drained_early = False
        self.spoke = False
        self.buffer_start_ms = 0
        self.speech: tuple[str, int] | None = None  # (item id, audio_start_ms) while speaking
        self.ears, self.tape = ears, Tape()

    # Wiring

    def attach(self, send_text: Callable[[str], None]) -> None:
        """The data channel is open: greet with `session.created`, arm a drop if asked."""
        self.send_text = send_text
        self.send(self.script.event("session.created", session=self.config))
        if self.scenario.name == "drop_call":
            self.spawn(self.drop_later(self.scenario.seconds))

    def send(self, event: dict[str, Any] | None) -> None:
        """Send one server event on the data channel."""
        if event is not None and self.send_text is not None:
            self.send_text(dumps(event))  # compact, as the service writes it

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run `coro` as a task the session owns (cancelled on close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator task failed", exc_info=task.exception())

    async def close(self) -> None:
        """Stop everything the session runs."""
        self.send_text = None
        # A hangup from inside a task (drop_call) must not cancel the task doing it.
        tasks = [t for t in self.tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drop_later(self, seconds: float) -> None:
        """Hang up after `seconds` (a fault, or the end a script asks for)."""
        await asyncio.sleep(seconds)
        await self.hangup()

    # Audio in

    def on_audio(self, samples: np.ndarray) -> None:
        """16 kHz mono audio from the caller: keep it for the item, run turn detection on it."""
        self.tape.feed(samples)
        for change in self.detector.feed(samples):
            if change.kind == "started":
                self._speech_started(change.ms)
            else:
                self._speech_stopped(change.ms, change.speech_ms)

    def configure_vad(self) -> None:
        """Apply the session's turn detection settings to the detector."""
        vad = settings.turn_detection(self.protocol, self.config)
        self.detector.enabled = vad is not None
        if vad is not None:
            self.detector.configure(
                float(vad.get("threshold") or 0.5),
                int(vad.get("prefix_padding_ms") or 300),
                int(vad.get("silence_duration_ms") or 500),
            )

    def _speech_started(self, start_ms: int) -> None:
        item_id = self.script.ids.make("item")
        self.speech = (item_id, start_ms)
        self.tape.mark(start_ms)
        self.send(self.script.speech_started(item_id, start_ms))
        vad = settings.turn_detection(self.protocol, self.config) or {}
        if vad.get("interrupt_response", True):
            responses.interrupt(self, "turn_detected")

    def _speech_stopped(self, end_ms: int, speech_ms: int) -> None:
        item_id = self.speech[0] if self.speech else self.script.ids.make("item")
        self.speech = None
        self.send(self.script.speech_stopped(item_id, end_ms))
        self.commit(item_id, speech_ms, end_ms)
        vad = settings.turn_detection(self.protocol, self.config) or {}
        if vad.get("create_response", True) and self.response is None:
            responses.start(self, {})

    def commit(self, item_id: str, speech_ms: int, end_ms: int) -> None:
        """Turn the input buffer into a user item (and transcribe it when that is on)."""
        previous = self.items[-1]["id"] if self.items else None
        self.buffer_start_ms = end_ms
        self.send(self.script.committed(item_id, previous))
        item = self.script.user_audio_item(item_id)
        self.items.append(item)
        self.audio_ms[item_id] = speech_ms
        pcm = self.tape.take(end_ms)
        for event in self.script.item_added(item, previous):
            self.send(event)
        self.heard[item_id] = asyncio.get_running_loop().create_future()
        if settings.transcription(self.protocol, self.config) is not None or (
            self.scenario.name == "transcription_failed"
        ):
            task = self.spawn(self._transcribe(item, speech_ms, pcm))
            task.add_done_callback(lambda _: self.hear(item_id, ""))  # failed: no words
        else:
            self.hear(item_id, "")

    def hear(self, item_id: str, words: str) -> None:
        """The words of a user audio item are known: a script may match on them."""
        future = self.heard.get(item_id)
        if future is not None and not future.done():
            future.set_result(words)

    async def _transcribe(self, item: dict[str, Any], speech_ms: int, pcm: np.ndarray) -> None:
        if self.scenario.name == "transcription_failed":
            await asyncio.sleep(TRANSCRIPTION_DELAY)
            self.send(self.script.transcription_failed(item["id"]))
            return
        if self.ears is None:
            # No recogniser: say honestly what was heard and for how long.
            await asyncio.sleep(TRANSCRIPTION_DELAY)
            transcript = f"(speech, {speech_ms / 1000:.1f} s)"
        else:
            try:
                transcript = await self.ears.hear(pcm)
            except Exception as exc:
                log.error("input transcription failed", exc_info=exc)
                self.send(self.script.transcription_failed(item["id"], str(exc)))
                return
        model = (settings.transcription(self.protocol, self.config) or {}).get("model")
        *deltas, completed = self.script.transcription(
            item["id"], transcript, len(pcm) / RATE, model
        )
        for event in deltas:
            self.send(event)
            await asyncio.sleep(responses.DELTA_SPACING / 2)
        # The item holds its transcript before `completed` goes out: clients (the Agents SDK)
        # retrieve the item as soon as that event arrives.
        item["content"][0]["transcript"] = transcript
        self.send(completed)
        self.hear(item["id"], transcript)

    # Client events

    def on_message(self, message: str | bytes) -> None:
        """One client event from the data channel; every problem becomes an `error` event."""
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        event_id = None
        try:
            try:
                event = json.loads(text)
            except ValueError:
                raise ClientError("The event is not valid JSON.", "invalid_json") from None
            if not isinstance(event, dict):
                raise ClientError("The event must be a JSON object.", "invalid_json")
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            kind = event.get("type")
            if not isinstance(kind, str):
                raise ClientError(
                    "Missing required parameter: 'type'.", "missing_required_parameter", "type"
                )
            handler = client_events.HANDLERS.get(kind)
            if handler is None:
                raise ClientError(
                    f"Invalid value: '{kind}'. Supported values are: "
                    + ", ".join(f"'{n}'" for n in client_events.HANDLERS)
                    + ".",
                    "invalid_value",
                    "type",
                )
            handler(self, event)
        except ClientError as exc:
            self.send(
                self.script.error(str(exc), code=exc.code, param=exc.param, event_id=event_id)
            )
        except settings.ConfigProblem as exc:
            self.send(
                self.script.error(str(exc), code=exc.code, param=exc.param, event_id=event_id)
            )
