"""Driving the call page from Playwright: settings, start, answers, stop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CALL_TIMEOUT_MS = 30_000


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
) -> str:
    """Start a call from the call page, wait for `responses` answers to the page's microphone,
    run `during(page)` if given, stop; the session id. `script` names one of the server's
    emulator scripts (see the `voice_lab_scripted_server` fixture)."""
    chosen = {**(settings or {}), **({"script": script} if script else {})}
    session_id = start_call(page, base_url, chosen, timeout_ms)
    wait_for_responses(page, responses, timeout_ms)
    if during is not None:
        during(page)
    stop_call(page)
    return session_id
