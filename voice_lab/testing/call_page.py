"""Driving the call page from Playwright: settings, start, answers, stop, and the model's
function calls answered the way an app answers them.

Function calls go through the call page's client-event editor, so what a test sends is mirrored
and checked like any other client event: the tools are declared with a `session.update`, then
each completed function call gets its `function_call_output` and a `response.create`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import HarnessError

CALL_TIMEOUT_MS = 30_000
# An answer is the output itself, or a function of the call's parsed arguments that returns it.
Answer = Any | Callable[[dict[str, Any]], Any]

RESPONSES_DONE = "[data-testid=event][data-type='response.done']"
SESSION_UPDATED = "[data-testid=event][data-type='session.updated']"
DONE_TEXTS = "rows => rows.map(row => row.querySelector('pre').textContent)"


class CallFailed(AssertionError):
    """The call page could not start the call; the message is what the page showed."""


def choose_settings(page, settings: Mapping[str, Any]) -> None:
    """Set the call page's settings by field name (provider, protocol, scenario, label, ...).

    A scenario with seconds (`drop_call:2`) is added to the scenario choices first.
    """
    for name, value in settings.items():
        field = page.locator(f"#settings [name={name}]")
        kind = field.evaluate("el => el.type")
        if kind == "checkbox":
            field.set_checked(bool(value))
        elif kind.startswith("select"):
            field.evaluate(
                "(el, v) => { if (![...el.options].some(o => o.value === v))"
                " el.add(new Option(v, v)); }",
                str(value),
            )
            field.select_option(str(value))
        else:
            field.fill(str(value))


def start_call(
    page, base_url: str, settings: Mapping[str, Any] | None = None, timeout_ms=CALL_TIMEOUT_MS
) -> str:
    """Open /call, apply `settings`, press Start and wait for the call to be live; its session id.

    CallFailed with the page's message when the call ends before it is live (a mint error).
    """
    page.goto(f"{base_url}/call")
    page.wait_for_selector("#call[data-ready=true]")
    choose_settings(page, settings or {})
    page.get_by_test_id("start").click()
    page.wait_for_selector("#call[data-phase=live], #call[data-phase=ended]", timeout=timeout_ms)
    if page.locator("#call").get_attribute("data-phase") == "ended":
        raise CallFailed(page.get_by_test_id("call-error").text_content())
    return page.get_by_test_id("session-link").text_content()


def wait_for_responses(page, count: int = 1, timeout_ms=CALL_TIMEOUT_MS) -> None:
    """Wait until the call page listed `count` response.done events in all."""
    page.wait_for_function(
        "n => document.querySelectorAll(\"[data-testid=event][data-type='response.done']\")"
        ".length >= n",
        arg=count,
        timeout=timeout_ms,
    )


def stop_call(page, timeout_ms=10_000) -> None:
    """Press Stop and wait until the mirror handed everything over."""
    page.get_by_test_id("stop").click()
    page.wait_for_selector("#call[data-phase=ended]", timeout=timeout_ms)


def hold_call(
    page,
    base_url: str,
    settings: Mapping[str, Any] | None = None,
    responses: int = 1,
    during: Callable[[Any], None] | None = None,
    timeout_ms=CALL_TIMEOUT_MS,
    script: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    answers: Mapping[str, Answer] | None = None,
) -> str:
    """Start a call from the call page, wait for `responses` answers to the page's microphone,
    run `during(page)` if given, stop; the session id. `script` names one of the server's
    emulator scripts (see the `voice_lab_scripted_server` fixture). `tools` are declared as the
    call goes live, and `answers` answer the model's function calls (see answer_tool_calls;
    `responses` counts the calls' own responses too)."""
    chosen = {**(settings or {}), **({"script": script} if script else {})}
    session_id = start_call(page, base_url, chosen, timeout_ms)
    if tools:
        # Declared before the microphone's first turn can end: its WAV leads with silence.
        declare_tools(page, tools, timeout_ms=timeout_ms)
    if answers is None:
        wait_for_responses(page, responses, timeout_ms)
    else:
        answer_tool_calls(page, answers, responses, timeout_ms)
    if during is not None:
        during(page)
    stop_call(page)
    return session_id


def send_client_event(page, event: Mapping[str, Any]) -> None:
    """Type `event` into the call page's client-event editor and send it."""
    page.get_by_test_id("editor").fill(json.dumps(event))
    page.get_by_test_id("editor-send").click()
    problem = page.get_by_test_id("editor-error").text_content()
    if problem:
        raise HarnessError(f"the call page did not send {event.get('type')}: {problem}")


def declare_tools(
    page, tools: Sequence[Mapping[str, Any]], tool_choice: Any = "auto", timeout_ms=CALL_TIMEOUT_MS
) -> None:
    """Declare function tools for the live call (a session.update) and wait until the session
    echoes them. Send it as the call goes live: the model only calls what is declared."""
    # "live" comes with the SDP answer; the data channel opens later, and the page's own
    # session.update on opening is answered first: after that, the editor can send.
    page.wait_for_selector(SESSION_UPDATED, state="attached", timeout=timeout_ms)
    updated = page.locator(SESSION_UPDATED).count()
    protocol = page.evaluate(
        "() => { const f = document.getElementById('settings').elements;"
        " return f.provider.value === 'emulator' ? f.protocol.value"
        " : f.provider.selectedOptions[0].dataset.protocol; }"
    )
    session = {"tools": list(tools), "tool_choice": tool_choice}
    send_client_event(
        page,
        {
            "type": "session.update",
            "session": {"type": "realtime", **session} if protocol == "ga" else session,
        },
    )
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length > n",
        arg=[SESSION_UPDATED, updated],
        timeout=timeout_ms,
    )


def answer_tool_calls(
    page, answers: Mapping[str, Answer], responses: int = 1, timeout_ms=CALL_TIMEOUT_MS
) -> int:
    """Wait until the page listed `responses` response.done events in all, answering each
    completed function call as its response ends: the output from `answers[name]` (a value, or
    a callable given the parsed arguments; text is sent as is, anything else as JSON), then one
    response.create per response. Returns how many calls it answered."""
    answered: set[str] = set()
    while True:
        done = [json.loads(t) for t in page.locator(RESPONSES_DONE).evaluate_all(DONE_TEXTS)]
        calls = [c for c in _completed_calls(done) if c["call_id"] not in answered]
        for call in calls:
            output = _output(answers, call)
            send_client_event(
                page,
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": output,
                    },
                },
            )
            answered.add(call["call_id"])
        if calls:
            send_client_event(page, {"type": "response.create"})
        if len(done) >= responses:
            return len(answered)
        page.wait_for_function(
            "([selector, n]) => document.querySelectorAll(selector).length > n",
            arg=[RESPONSES_DONE, len(done)],
            timeout=timeout_ms,
        )


def _completed_calls(done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The function calls of completed responses: a client runs only those (the protocol notes,
    section 6: `.done` also ends interrupted and cancelled responses)."""
    return [
        item
        for event in done
        if (event.get("response") or {}).get("status") == "completed"
        for item in event["response"].get("output") or []
        if item.get("type") == "function_call" and item.get("status") == "completed"
    ]


def _output(answers: Mapping[str, Answer], call: dict[str, Any]) -> str:
    name = str(call.get("name"))
    if name not in answers:
        raise AssertionError(
            f"the model called {name}({call.get('arguments')}), which answers does not hold: "
            f"add {name!r} to answers (the output, or a function of the arguments)"
        )
    answer = answers[name]
    if callable(answer):
        answer = answer(json.loads(call.get("arguments") or "{}"))
    return answer if isinstance(answer, str) else json.dumps(answer)
