"""A response's server events, from created to done, and a whole voice turn around one, built
as plain dicts in the service's own order and names by a call's `Script`.

Pure, as script.py is: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .script import split_words
from .tools import call_events, call_item
from .usage import usage

if TYPE_CHECKING:
    from .script import ResponsePlan, Script


def response_object(
    script: Script,
    plan: ResponsePlan,
    status: str,
    output: list[dict],
    details: dict[str, Any] | None = None,
    usage: dict | None = None,
) -> dict:
    """The response object, shaped for the protocol."""
    body: dict[str, Any] = {
        "object": "realtime.response",
        "id": plan.response_id,
        "status": status,
        "status_details": details,
        "output": output,
        "conversation_id": plan.conversation_id,
        "max_output_tokens": plan.max_output_tokens,
        "metadata": plan.metadata,
        "usage": usage,
    }
    if script.protocol == "ga":
        body["output_modalities"] = ["audio"] if "audio" in plan.modalities else ["text"]
        body["audio"] = {
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": plan.voice}
        }
    else:
        body["modalities"] = plan.modalities
        body["voice"] = plan.voice
        body["output_audio_format"] = "pcm16"
        body["temperature"] = 0.8
    return body


def response_events(script: Script, plan: ResponsePlan) -> Iterator[dict[str, Any]]:
    """A response from created to done, in the order the service sends them."""
    yield script.event(
        "response.created", response=response_object(script, plan, "in_progress", [])
    )
    yield script.event("rate_limits.updated", rate_limits=plan.rate_limits)
    if plan.failure is not None:
        yield script.error(
            plan.failure["message"], type_=plan.failure["type"], code=plan.failure["code"]
        )
        yield response_done(script, plan, "failed", error=plan.failure)
        return
    if plan.call is not None:
        yield from call_events(script, plan, plan.call)
        yield response_done(script, plan, "completed")
        return
    where = {"response_id": plan.response_id, "output_index": 0}
    yield script.event(
        "response.output_item.added", **where, item=script.assistant_item(plan, "in_progress")
    )
    if plan.conversation_id is not None:
        yield from script.events(
            (
                "conversation.item.added",
                {
                    "previous_item_id": plan.previous_item_id,
                    "item": script.assistant_item(plan, "in_progress"),
                },
            )
        )
    part_where = {**where, "item_id": plan.item_id, "content_index": 0}
    empty = {"type": "audio", "transcript": ""} if plan.audio else {"type": "text", "text": ""}
    yield script.event("response.content_part.added", **part_where, part=empty)
    stream = "response.output_audio_transcript" if plan.audio else "response.output_text"
    for index, word in enumerate(split_words(plan.text)):
        plan.sent_text += word
        yield script.event(f"{stream}.delta", **part_where, delta=word)
        if index == 0 and plan.audio:
            yield script.event("output_audio_buffer.started", response_id=plan.response_id)
    if plan.audio:
        yield script.event("response.output_audio.done", **part_where)
        yield script.event(f"{stream}.done", **part_where, transcript=plan.text)
        part = {"type": "audio", "transcript": plan.text}
    else:
        yield script.event(f"{stream}.done", **part_where, text=plan.text)
        part = {"type": "text", "text": plan.text}
    yield script.event("response.content_part.done", **part_where, part=part)
    item = script.assistant_item(plan, "completed")
    yield script.event("response.output_item.done", **where, item=item)
    if plan.conversation_id is not None:
        yield from script.events(
            (
                "conversation.item.done",
                {"previous_item_id": plan.previous_item_id, "item": item},
            )
        )
    yield response_done(script, plan, "completed")


def response_done(
    script: Script,
    plan: ResponsePlan,
    status: str,
    reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`response.done` for any outcome, with the output produced so far and its usage."""
    output = []
    if status != "failed":
        item_status = "completed" if status == "completed" else "incomplete"
        output = [
            call_item(plan.call, item_status)
            if plan.call is not None
            else script.assistant_item(plan, item_status)
        ]
    details = None if status == "completed" else {"type": status, "reason": reason, "error": error}
    spent = usage(plan)
    if script.protocol == "beta":  # the beta usage block predates image and cache details
        for name in ("image_tokens", "cached_tokens_details"):
            del spent["input_token_details"][name]
    return script.event(
        "response.done", response=response_object(script, plan, status, output, details, spent)
    )


def voice_turn(
    script: Script,
    *,
    item_id: str,
    previous_item_id: str | None,
    start_ms: int,
    end_ms: int,
    plan: ResponsePlan,
    transcript: str | None = None,
) -> list[dict]:
    """A whole server-VAD voice turn, section 4 of the protocol notes, as one ordered list."""
    events = [
        script.speech_started(item_id, start_ms),
        script.speech_stopped(item_id, end_ms),
        script.committed(item_id, previous_item_id),
    ]
    events += script.item_added(script.user_audio_item(item_id), previous_item_id)
    response = list(response_events(script, plan))
    if transcript is not None:
        response[1:1] = script.transcription(item_id, transcript, (end_ms - start_ms) / 1000)
    events += response
    if plan.audio:
        events.append(script.audio_buffer("stopped", plan.response_id))
    return events
