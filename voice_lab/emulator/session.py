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
from . import client_events, settings, tools, voice
from .client_events import ClientError
from .director import Decision, Director, latest_input
from .ears import RATE, Ears, Tape
from .keys import Key
from .scenarios import Scenario
from .script import Ids, ResponsePlan, Script
from .usage import text_tokens
from .vad import TurnDetector

log = logging.getLogger(__name__)

DELTA_SPACING = 0.04  # seconds between streamed deltas: fast, yet visibly streaming
TRANSCRIPTION_DELAY = 0.05
FAILURE = {
    "type": "server_error",
    "code": "server_error",
    "message": "The server had an error while processing your request (emulated fault).",
}


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
            self.spawn(self._drop_later(self.scenario.seconds))

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

    async def _drop_later(self, seconds: float) -> None:
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
            self._interrupt("turn_detected")

    def _speech_stopped(self, end_ms: int, speech_ms: int) -> None:
        item_id = self.speech[0] if self.speech else self.script.ids.make("item")
        self.speech = None
        self.send(self.script.speech_stopped(item_id, end_ms))
        self.commit(item_id, speech_ms, end_ms)
        vad = settings.turn_detection(self.protocol, self.config) or {}
        if vad.get("create_response", True) and self.response is None:
            self.start_response({})

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
            await asyncio.sleep(DELTA_SPACING / 2)
        # The item holds its transcript before `completed` goes out: clients (the Agents SDK)
        # retrieve the item as soon as that event arrives.
        item["content"][0]["transcript"] = transcript
        self.send(completed)
        self.hear(item["id"], transcript)

    # Responses

    def start_response(self, params: dict[str, Any]) -> None:
        """Start a response with `response.create` parameters (empty for a VAD turn)."""
        out_of_band = params.get("conversation") == "none"
        key = "output_modalities" if self.protocol == "ga" else "modalities"
        modalities = params.get(key) or settings.modalities(self.protocol, self.config)
        max_tokens = params.get(
            "max_output_tokens" if self.protocol == "ga" else "max_response_output_tokens"
        ) or settings.max_output_tokens(self.protocol, self.config)
        audio = "audio" in modalities
        requests, tokens = self.limits.start(max_tokens if isinstance(max_tokens, int) else 4096)
        plan = ResponsePlan(
            response_id=self.script.ids.make("resp"),
            item_id=self.script.ids.make("item"),
            text="",
            modalities=["audio", "text"] if audio else ["text"],
            conversation_id=None if out_of_band else self.conversation_id,
            voice=settings.voice(self.protocol, self.config),
            max_output_tokens=max_tokens,
            metadata=params.get("metadata"),
            previous_item_id=None if out_of_band or not self.items else self.items[-1]["id"],
            rate_limits=self.script.rate_limits(requests, tokens),
            input_text_tokens=text_tokens(str(self.config.get("instructions") or ""))
            + sum(text_tokens(item_text(i)) for i in self.items),
            input_audio_tokens=sum(self.audio_ms.values()) // 100,
            failure=FAILURE if self.scenario.name == "response_error" else None,
        )
        self.response, self.drained_early = plan, False
        self.response_task = self.spawn(self._run_response(plan, params))

    async def _decide(self, plan: ResponsePlan, params: dict[str, Any]) -> Decision:
        """Fill in what the response says or calls, as the script (if any) has it."""
        given = params.get("input")
        inputs = given if isinstance(given, list) else self.items
        latest = latest_input(inputs) or {}
        said = item_text(latest)
        if self.director.listens and latest.get("id") in self.heard:
            said = await self.heard[latest["id"]]
        decision = self.director.decide(inputs, said, self._reply_text(inputs))
        wanted = (decision.call.name, decision.call.arguments) if decision.call else None
        plan.call = self._call(params, wanted, plan.item_id)
        plan.text = decision.text
        if decision.call is not None and plan.call is None:
            plan.text = f"I would call {decision.call.name}, but the session does not let me."
        if decision.fault is not None and decision.fault.name == "response_error":
            plan.failure = FAILURE
        if plan.conversation_id is not None:
            self.items.append(
                tools.call_item(plan.call, "in_progress")
                if plan.call is not None
                else self.script.assistant_item(plan, "in_progress")
            )
        return decision

    def _call(
        self, params: dict[str, Any], wanted: tuple[str, dict[str, Any]] | None, item_id: str
    ) -> tools.FunctionCall | None:
        """The function call this response makes, from its own or the session's tools."""
        chosen = tools.choose(
            params.get("tools", self.config.get("tools")),
            params.get("tool_choice", self.config.get("tool_choice", "auto")),
            wanted,
        )
        if chosen is None:
            return None
        return tools.FunctionCall(
            item_id=item_id,
            call_id=self.script.ids.make("call"),
            name=chosen[0],
            arguments=json.dumps(chosen[1]),
        )

    def _reply_text(self, inputs: list[Any]) -> str:
        """A short, deterministic reply about the latest user input or function output."""
        item = latest_input(inputs) or {}
        if item.get("type") == "function_call_output":
            name = self.function_name(item.get("call_id")) or "function"
            return f"The {name} result: {tools.output_words(str(item.get('output')))}."
        if item.get("id") in self.audio_ms:
            return f"I heard you speak for {self.audio_ms[item['id']] / 1000:.1f} seconds."
        said = item_text(item)
        return f"You said: {said}" if said else "Hello from the Voice Lab emulator."

    async def _run_response(self, plan: ResponsePlan, params: dict[str, Any]) -> None:
        events = self.script.response_events(plan)
        # The service announces a response at once, before the input's transcription is in: a
        # turn that waits for the words must not hold back response.created.
        self.send(next(events))
        decision = await self._decide(plan, params)
        faults = [f for f in (self.scenario, decision.fault) if f is not None]
        delay = decision.delay_ms / 1000 + sum(
            f.seconds for f in faults if f.name == "slow_response"
        )
        if decision.fault is not None and decision.fault.name == "drop_call":
            self.spawn(self._drop_later(decision.fault.seconds))
        self.end_after = plan if decision.end else None
        # The speech is made while response.created and the first events go out, as the
        # service's model is still generating when it announces the response.
        speaking = self.spawn(self._speech(plan.text, decision.talk_ms)) if plan.audio else None
        first_delta = True
        for event in events:
            if event["type"].endswith(".delta"):
                if first_delta and delay:
                    await asyncio.sleep(delay)
                first_delta = False
                await asyncio.sleep(DELTA_SPACING)
            if event["type"] == "output_audio_buffer.started" and speaking is not None:
                samples = await speaking
                plan.audio_ms = len(samples) * 1000 // voice.RATE  # usage counts what plays
                self._play(plan, samples)
            if event["type"] == "response.done":
                self._finish(plan, event)
            self.send(event)
        if self.drained_early and self.playing is None:
            self.send(self.script.audio_buffer("stopped", plan.response_id))
        if self.end_after is plan and self.playing is not plan:
            self.spawn(self._drop_later(0))

    @staticmethod
    async def _speech(text: str, talk_ms: int | None) -> np.ndarray:
        """The reply's samples, stretched or cut to `talk_ms` when the script sets it."""
        samples = await voice.default().speak(text)
        if talk_ms is None or not len(samples):
            return samples
        return np.resize(samples, talk_ms * voice.RATE // 1000)

    def _finish(self, plan: ResponsePlan, done: dict[str, Any]) -> None:
        """Bookkeeping when a response ends, whatever its status."""
        self.response = self.response_task = None
        response = done["response"]
        self.limits.finish(int((response.get("usage") or {}).get("total_tokens") or 0))
        final = response["output"][0] if response["output"] else None
        for index, item in enumerate(self.items):
            if item["id"] == plan.item_id:
                if final is None:
                    del self.items[index]
                else:
                    self.items[index] = final
                break

    def _play(self, plan: ResponsePlan, samples: np.ndarray) -> None:
        self.playing, self.spoke = plan, True
        self.audio.play(samples, lambda: self._drained(plan))

    def _drained(self, plan: ResponsePlan) -> None:
        if self.playing is not plan:
            return
        self.playing = None
        if self.response is plan:
            self.drained_early = True  # `stopped` must follow `response.done`
        else:
            self.send(self.script.audio_buffer("stopped", plan.response_id))
            if self.end_after is plan:
                self.spawn(self._drop_later(0))

    def _interrupt(self, reason: str) -> None:
        """Barge-in: cut the audio where the user stopped hearing it, cancel what still runs."""
        playing = self.playing
        if playing is not None:
            heard_ms = self.audio.cut()
            self.playing = None
            self.send(self.script.audio_buffer("cleared", playing.response_id))
            self.send(self.script.truncated(playing.item_id, heard_ms))
        self.cancel_response(reason)

    def cancel_response(self, reason: str) -> bool:
        """End the running response as cancelled; False if none runs."""
        plan, task = self.response, self.response_task
        if plan is None or task is None:
            return False
        task.cancel()
        done = self.script.response_done(plan, "cancelled", reason)
        self._finish(plan, done)
        self.send(done)
        return True

    def function_name(self, call_id: Any) -> str | None:
        """The name of the conversation's function call with `call_id` (None: no such call)."""
        for item in self.items:
            if item.get("type") == "function_call" and item.get("call_id") == call_id:
                return str(item.get("name"))
        return None

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


def item_text(item: dict[str, Any]) -> str:
    """The text a message item carries (typed text or a transcript)."""
    content = item.get("content")
    parts = content if isinstance(content, list) else []
    return " ".join(
        str(p.get("text") or p.get("transcript") or "") for p in parts if isinstance(p, dict)
    ).strip()
