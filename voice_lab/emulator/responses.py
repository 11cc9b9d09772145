"""A response's life on the emulator's loop: its plan, what it says or calls, its events
streamed, its speech played, and its end (done, cancelled, or cut by barge-in).

The state lives on the `Session`; these functions are its responses' part, as
`client_events` is its client events' part.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from . import settings, tools, voice
from .director import Decision, latest_input
from .response_events import response_done, response_events
from .script import ResponsePlan
from .usage import text_tokens

if TYPE_CHECKING:
    from .session import Session

DELTA_SPACING = 0.04  # seconds between streamed deltas: fast, yet visibly streaming
FAILURE = {
    "type": "server_error",
    "code": "server_error",
    "message": "The server had an error while processing your request (emulated fault).",
}


def start(s: Session, params: dict[str, Any]) -> None:
    """Start a response with `response.create` parameters (empty for a VAD turn)."""
    out_of_band = params.get("conversation") == "none"
    key = "output_modalities" if s.protocol == "ga" else "modalities"
    modalities = params.get(key) or settings.modalities(s.protocol, s.config)
    max_tokens = params.get(
        "max_output_tokens" if s.protocol == "ga" else "max_response_output_tokens"
    ) or settings.max_output_tokens(s.protocol, s.config)
    audio = "audio" in modalities
    requests, tokens = s.limits.start(max_tokens if isinstance(max_tokens, int) else 4096)
    plan = ResponsePlan(
        response_id=s.script.ids.make("resp"),
        item_id=s.script.ids.make("item"),
        text="",
        modalities=["audio", "text"] if audio else ["text"],
        conversation_id=None if out_of_band else s.conversation_id,
        voice=settings.voice(s.protocol, s.config),
        max_output_tokens=max_tokens,
        metadata=params.get("metadata"),
        previous_item_id=None if out_of_band or not s.items else s.items[-1]["id"],
        rate_limits=s.script.rate_limits(requests, tokens),
        input_text_tokens=text_tokens(str(s.config.get("instructions") or ""))
        + sum(text_tokens(item_text(i)) for i in s.items),
        input_audio_tokens=sum(s.audio_ms.values()) // 100,
        failure=FAILURE if s.scenario.name == "response_error" else None,
    )
    s.response, s.drained_early = plan, False
    s.response_task = s.spawn(_run(s, plan, params))


async def _decide(s: Session, plan: ResponsePlan, params: dict[str, Any]) -> Decision:
    """Fill in what the response says or calls, as the script (if any) has it."""
    given = params.get("input")
    inputs = given if isinstance(given, list) else s.items
    latest = latest_input(inputs) or {}
    said = item_text(latest)
    if s.director.listens and latest.get("id") in s.heard:
        said = await s.heard[latest["id"]]
    decision = s.director.decide(inputs, said, _reply_text(s, inputs))
    wanted = (decision.call.name, decision.call.arguments) if decision.call else None
    plan.call = _call(s, params, wanted, plan.item_id)
    plan.text = decision.text
    if decision.call is not None and plan.call is None:
        plan.text = f"I would call {decision.call.name}, but the session does not let me."
    if decision.fault is not None and decision.fault.name == "response_error":
        plan.failure = FAILURE
    if plan.conversation_id is not None:
        s.items.append(
            tools.call_item(plan.call, "in_progress")
            if plan.call is not None
            else s.script.assistant_item(plan, "in_progress")
        )
    return decision


def _call(
    s: Session, params: dict[str, Any], wanted: tuple[str, dict[str, Any]] | None, item_id: str
) -> tools.FunctionCall | None:
    """The function call this response makes, from its own or the session's tools."""
    chosen = tools.choose(
        params.get("tools", s.config.get("tools")),
        params.get("tool_choice", s.config.get("tool_choice", "auto")),
        wanted,
    )
    if chosen is None:
        return None
    return tools.FunctionCall(
        item_id=item_id,
        call_id=s.script.ids.make("call"),
        name=chosen[0],
        arguments=json.dumps(chosen[1]),
    )


def _reply_text(s: Session, inputs: list[Any]) -> str:
    """A short, deterministic reply about the latest user input or function output."""
    item = latest_input(inputs) or {}
    if item.get("type") == "function_call_output":
        name = function_name(s, item.get("call_id")) or "function"
        return f"The {name} result: {tools.output_words(str(item.get('output')))}."
    if item.get("id") in s.audio_ms:
        return f"I heard you speak for {s.audio_ms[item['id']] / 1000:.1f} seconds."
    said = item_text(item)
    return f"You said: {said}" if said else "Hello from the Voice Lab emulator."


async def _run(s: Session, plan: ResponsePlan, params: dict[str, Any]) -> None:
    events = response_events(s.script, plan)
    # The service announces a response at once, before the input's transcription is in: a
    # turn that waits for the words must not hold back response.created.
    s.send(next(events))
    decision = await _decide(s, plan, params)
    faults = [f for f in (s.scenario, decision.fault) if f is not None]
    delay = decision.delay_ms / 1000 + sum(f.seconds for f in faults if f.name == "slow_response")
    if decision.fault is not None and decision.fault.name == "drop_call":
        s.spawn(s.drop_later(decision.fault.seconds))
    s.end_after = plan if decision.end else None
    # The speech is made while response.created and the first events go out, as the
    # service's model is still generating when it announces the response.
    speaking = s.spawn(_speech(plan.text, decision.talk_ms)) if plan.audio else None
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
            _play(s, plan, samples)
        if event["type"] == "response.done":
            _finish(s, plan, event)
        s.send(event)
    if s.drained_early and s.playing is None:
        s.send(s.script.audio_buffer("stopped", plan.response_id))
    if s.end_after is plan and s.playing is not plan:
        s.spawn(s.drop_later(0))


async def _speech(text: str, talk_ms: int | None) -> np.ndarray:
    """The reply's samples, stretched or cut to `talk_ms` when the script sets it."""
    samples = await voice.default().speak(text)
    if talk_ms is None or not len(samples):
        return samples
    return np.resize(samples, talk_ms * voice.RATE // 1000)


def _finish(s: Session, plan: ResponsePlan, done: dict[str, Any]) -> None:
    """Bookkeeping when a response ends, whatever its status."""
    s.response = s.response_task = None
    response = done["response"]
    s.limits.finish(int((response.get("usage") or {}).get("total_tokens") or 0))
    final = response["output"][0] if response["output"] else None
    for index, item in enumerate(s.items):
        if item["id"] == plan.item_id:
            if final is None:
                del s.items[index]
            else:
                s.items[index] = final
            break


def _play(s: Session, plan: ResponsePlan, samples: np.ndarray) -> None:
    s.playing, s.spoke = plan, True
    s.audio.play(samples, lambda: _drained(s, plan))


def _drained(s: Session, plan: ResponsePlan) -> None:
    if s.playing is not plan:
        return
    s.playing = None
    if s.response is plan:
        s.drained_early = True  # `stopped` must follow `response.done`
    else:
        s.send(s.script.audio_buffer("stopped", plan.response_id))
        if s.end_after is plan:
            s.spawn(s.drop_later(0))


def interrupt(s: Session, reason: str) -> None:
    """Barge-in: cut the audio where the user stopped hearing it, cancel what still runs."""
    playing = s.playing
    if playing is not None:
        heard_ms = s.audio.cut()
        s.playing = None
        s.send(s.script.audio_buffer("cleared", playing.response_id))
        s.send(s.script.truncated(playing.item_id, heard_ms))
    cancel(s, reason)


def cancel(s: Session, reason: str) -> bool:
    """End the running response as cancelled; False if none runs."""
    plan, task = s.response, s.response_task
    if plan is None or task is None:
        return False
    task.cancel()
    done = response_done(s.script, plan, "cancelled", reason)
    _finish(s, plan, done)
    s.send(done)
    return True


def function_name(s: Session, call_id: Any) -> str | None:
    """The name of the conversation's function call with `call_id` (None: no such call)."""
    for item in s.items:
        if item.get("type") == "function_call" and item.get("call_id") == call_id:
            return str(item.get("name"))
    return None


def item_text(item: dict[str, Any]) -> str:
    """The text a message item carries (typed text or a transcript)."""
    content = item.get("content")
    parts = content if isinstance(content, list) else []
    return " ".join(
        str(p.get("text") or p.get("transcript") or "") for p in parts if isinstance(p, dict)
    ).strip()
