"""The official Agents SDK for JavaScript (@openai/agents-realtime, its RealtimeSession over its
own WebRTC transport), unchanged, against the emulator: it holds calls from a page on Voice
Lab's own origin, and from a page on a second origin (the SDP endpoint answers its preflight as
the service does) runs its agent's tool when the emulator calls it; an allowed origin's page is
mirrored into Voice Lab by capture()'s two lines.

The SDK comes from the npm registry and is bundled with esbuild (e2e/sdk_bundle.py): without
npm the test fails in CI and skips elsewhere, with one line saying what to install.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from flask import Blueprint, Flask, request, send_file
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from e2e import sdk_bundle
from tests.waiting import until
from voice_lab.storage import open_store
from voice_lab.testing import LiveServer, speech_wav

pytestmark = pytest.mark.e2e

CALL_TIMEOUT_MS = 90_000
TURNS = 3

# The page and its bundle, served the same way by Voice Lab (its own origin) and by a bare app
# on another port (a second origin).
sdk_pages = Blueprint("sdk_pages", __name__, url_prefix="/sdk-test")


@sdk_pages.get("/")
def sdk_page():
    """The page that loads the bundle."""
    return send_file(sdk_bundle.PAGE)


@sdk_pages.get("/mirrored.html")
def sdk_mirrored_page():
    """The page with the two lines that mirror it into the Voice Lab at ?voice_lab=URL."""
    return sdk_bundle.MIRRORED_PAGE.read_text().replace("VOICE_LAB", request.args["voice_lab"])


@sdk_pages.get("/page.js")
def sdk_script():
    """The bundle: the page's script with the SDK inside."""
    return send_file(sdk_bundle.BUNDLE, mimetype="text/javascript")


@pytest.fixture(scope="session")
def sdk_bundle_built() -> None:
    """The SDK's bundle, built once per test run (and only when out of date)."""
    try:
        sdk_bundle.bundle()
    except sdk_bundle.BundleUnavailable as exc:
        if sdk_bundle.in_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def voice_lab(app, sdk_bundle_built) -> Iterator[LiveServer]:
    """Voice Lab (the emulator as provider) serving the SDK's page on its own origin."""
    app.register_blueprint(sdk_pages)
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def other_origin(sdk_bundle_built) -> Iterator[LiveServer]:
    """The same page from a second origin: another port of 127.0.0.1."""
    app = Flask(__name__)
    app.register_blueprint(sdk_pages)
    with LiveServer(app) as live:
        yield live


def minted(voice_lab: LiveServer, **body) -> dict:
    """A key minted by Voice Lab for a new session (`body` added to the mint's), and the
    emulator's calls URL."""
    reply = requests.post(
        f"{voice_lab.url}/api/sessions", json={"label": "agents sdk", **body}, timeout=10
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert "/realtime/calls" in body["webrtc_url"]
    return {"key": body["ephemeral_key"], "url": body["webrtc_url"]}


def open_page(page, origin: LiveServer) -> None:
    """Load the SDK's page from `origin` and wait for its script."""
    page.goto(f"{origin.url}/sdk-test/")
    page.get_by_test_id("sdk-phase").filter(has_text="ready").wait_for()


def sdk_state(page) -> dict:
    """What the page saw: phase, failure, the server and client events, errors, tool runs."""
    return page.evaluate("() => voiceLabSdk.state")


def test_the_sdk_holds_three_voice_turns_from_voice_labs_own_origin(page, voice_lab):
    open_page(page, voice_lab)
    assert page.evaluate("c => voiceLabSdk.start(c)", minted(voice_lab)) == "connected"
    # The looping microphone may talk over a reply (barge-in): count completed responses, and
    # the user items the SDK retrieved (it retrieves truncated assistant items too).
    page.wait_for_function(
        """n => {
          const events = voiceLabSdk.state.events;
          const done = events.filter(
            e => e.type === "response.done" && e.response.status === "completed");
          const users = events.filter(
            e => e.type === "conversation.item.retrieved" && e.item.role === "user");
          return done.length >= n && users.length >= n;
        }""",
        arg=TURNS,
        timeout=CALL_TIMEOUT_MS,
    )
    page.evaluate("() => voiceLabSdk.stop()")
    state = sdk_state(page)
    events = state["events"]
    assert state["errors"] == [] and [e for e in events if e["type"] == "error"] == []
    adapter = TypeAdapter(RealtimeServerEvent)
    for event in events:
        adapter.validate_python(event)
    # The SDK asks for each user item once its transcript is in: the emulator sends that item
    # back, transcript included.
    transcribed = {
        e["item_id"]: e["transcript"]
        for e in events
        if e["type"] == "conversation.item.input_audio_transcription.completed"
    }
    retrieved = [
        e["item"]
        for e in events
        if e["type"] == "conversation.item.retrieved" and e["item"]["role"] == "user"
    ]
    for item in retrieved:
        assert item["content"][0]["transcript"] == transcribed[item["id"]]


def wait_for_responses(page, count: int) -> list[dict]:
    """The first `count` responses the SDK saw done (response.done's `response`)."""
    page.wait_for_function(
        """n => voiceLabSdk.state.events.filter(e => e.type === "response.done").length >= n""",
        arg=count,
        timeout=CALL_TIMEOUT_MS,
    )
    events = sdk_state(page)["events"]
    return [e["response"] for e in events if e["type"] == "response.done"][:count]


def test_the_emulator_calls_the_agents_tool_and_the_sdk_runs_it(
    voice_lab_browser, voice_lab, other_origin, tmp_path
):
    """From a page on a second origin (the browser's real preflight answered as the service
    answers it), with the weather script chosen at the mint: the user's first turn makes the
    emulator call the agent's get_weather, the SDK runs it in the page and sends its output for
    that call_id with a response.create, and the emulator's next reply says the output's
    values."""
    # One utterance, played once: a looping microphone would barge in on the reply.
    page = voice_lab_browser.page(speech_wav(tmp_path / "once.wav"), loop=False)
    open_page(page, other_origin)
    call = minted(voice_lab, script="weather")
    assert page.evaluate("c => voiceLabSdk.start(c)", call) == "connected"
    asked, answered = wait_for_responses(page, 2)
    page.evaluate("() => voiceLabSdk.stop()")
    state = sdk_state(page)
    events, sent = state["events"], state["sent"]
    assert state["errors"] == [] and [e for e in events if e["type"] == "error"] == []
    adapter = TypeAdapter(RealtimeServerEvent)
    for event in events:
        adapter.validate_python(event)
    # The SDK declares its tool in the GA shape and leaves the choice to the model.
    (configured,) = [e["session"] for e in sent if e["type"] == "session.update"][:1]
    (declared,) = configured["tools"]
    assert declared["type"] == "function" and declared["name"] == "get_weather"
    assert declared["parameters"]["required"] == ["city"]
    assert configured.get("tool_choice", "auto") == "auto"
    # The first response is the call, streamed as the service streams it.
    (called,) = asked["output"]
    assert asked["status"] == "completed" and called["type"] == "function_call"
    assert called["name"] == "get_weather" and json.loads(called["arguments"]) == {"city": "Paris"}
    streamed = [e for e in events if e.get("response_id") == asked["id"]]
    deltas = [e for e in streamed if e["type"] == "response.function_call_arguments.delta"]
    assert deltas and "".join(e["delta"] for e in deltas) == called["arguments"]
    assert [
        e["type"] for e in streamed if "function_call" in e["type"] or "output_item" in e["type"]
    ] == [
        "response.output_item.added",
        *[e["type"] for e in deltas],
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    done = next(e for e in streamed if e["type"] == "response.function_call_arguments.done")
    assert done["call_id"] == called["call_id"] and done["arguments"] == called["arguments"]
    # The SDK ran the tool and sent its output for that call_id, then asked for a response.
    assert state["toolRuns"] == [{"city": "Paris"}]
    after = sent[[e["type"] for e in sent].index("conversation.item.create") :]
    (output, create) = after[:2]
    assert output["item"]["type"] == "function_call_output"
    assert output["item"]["call_id"] == called["call_id"]
    assert json.loads(output["item"]["output"]) == {
        "city": "Paris",
        "temperature": 21,
        "conditions": "sunny",
    }
    assert create["type"] == "response.create"
    # The emulator took the output into the conversation, and the reply says its values.
    assert any(
        e["type"] == "conversation.item.added"
        and e["item"]["type"] == "function_call_output"
        and e["item"]["call_id"] == called["call_id"]
        for e in events
    )
    (reply,) = answered["output"]
    assert answered["status"] == "completed" and reply["type"] == "message"
    assert reply["content"][0]["transcript"] == "In Paris it is 21 degrees and sunny."


def test_the_sdp_endpoint_answers_other_origins_and_the_mint_does_not(voice_lab, other_origin):
    """A minted key guards the SDP endpoint, so its preflight allows a page on any origin and
    the SDK's header, as the service's does; the emulator's mint, which takes the API key,
    answers no other origin."""
    call = minted(voice_lab)
    asking = {
        "Origin": other_origin.url,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-openai-agents-sdk",
    }
    sdp = requests.options(call["url"], headers=asking, timeout=5)
    assert sdp.headers["Access-Control-Allow-Origin"] == other_origin.url
    assert "x-openai-agents-sdk" in sdp.headers["Access-Control-Allow-Headers"]
    mint = requests.options(
        f"{voice_lab.url}/emulator/v1/realtime/client_secrets", headers=asking, timeout=5
    )
    assert "Access-Control-Allow-Origin" not in mint.headers


def mirrored_call(page, app, voice_lab: LiveServer, other_origin: LiveServer) -> dict:
    """The SDK's page on the second origin, mirrored by capture(), holding a call until its
    first response is done; returns the session the mirror made (still live)."""
    app.config["VOICE_LAB_ALLOWED_ORIGINS"] = (other_origin.url,)
    page.goto(f"{other_origin.url}/sdk-test/mirrored.html?voice_lab={voice_lab.url}")
    page.get_by_test_id("sdk-phase").filter(has_text="ready").wait_for()
    assert page.evaluate("c => voiceLabSdk.start(c)", minted(voice_lab)) == "connected"
    wait_for_responses(page, 1)
    (session,) = [s for s in stored_sessions(app) if s["origin"] == "external"]
    assert session["label"] == "Agents SDK call, mirrored" and session["ended_at"] is None
    return session


def stored_sessions(app) -> list[dict]:
    """Every session row in the app's store."""
    store = open_store(app)
    try:
        return store.list_sessions()
    finally:
        store.close()


def stored_events(app, session_id: str) -> list[dict]:
    """A session's stored events, in seq order."""
    store = open_store(app)
    try:
        return [dict(row) for row in store.iter_events(session_id)]
    finally:
        store.close()


def wait_until_ended(app, session_id: str) -> None:
    """Until the session's row says it ended."""

    def ended() -> bool:
        return any(s["id"] == session_id and s["ended_at"] for s in stored_sessions(app))

    until(ended, f"session {session_id} ended")


def test_an_sdk_page_on_another_origin_is_mirrored_until_it_goes_away(
    page, app, voice_lab, other_origin
):
    """Every event from session.created on, both ways, is stored; going away ends the session."""
    session = mirrored_call(page, app, voice_lab, other_origin)
    seen = [e["event_id"] for e in sdk_state(page)["events"]]
    page.goto("about:blank")  # pagehide
    wait_until_ended(app, session["id"])
    rows = stored_events(app, session["id"])
    server = [json.loads(r["payload"]) for r in rows if r["direction"] == "server"]
    client = [json.loads(r["payload"]) for r in rows if r["direction"] == "client"]
    assert server[0]["type"] == "session.created"
    assert [e["event_id"] for e in server[: len(seen)]] == seen
    # The SDK's first send configures the session; its sends are mirrored as it made them.
    assert client and client[0]["type"] == "session.update"
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))


def test_an_sdk_page_that_hangs_up_ends_its_mirrored_session(page, app, voice_lab, other_origin):
    session = mirrored_call(page, app, voice_lab, other_origin)
    page.evaluate("() => voiceLabSdk.stop()")  # the SDK closes its peer connection
    wait_until_ended(app, session["id"])
    local = [json.loads(r["payload"]) for r in stored_events(app, session["id"])]
    assert {"type": "voicelab.pc_state", "state": "closed"} in local
