"""The call page in Chromium with a fake microphone, against the emulator and the mirror."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from tests.waiting import until
from voice_lab.storage import open_store

pytestmark = pytest.mark.e2e

CALL_TIMEOUT_MS = 30_000


def by(page, testid: str):
    """The element with this data-testid."""
    return page.get_by_test_id(testid)


def listed_types(page) -> list[str]:
    """The types in the page's event list, in order."""
    return page.locator("[data-testid=event]").evaluate_all("els => els.map(e => e.dataset.type)")


def test_page_loads_idle_without_console_errors(call_page, console):
    expect(by(call_page, "call-phase")).to_have_text("idle")
    expect(by(call_page, "start")).to_be_enabled()
    expect(by(call_page, "stop")).to_be_disabled()
    expect(by(call_page, "recorded-count")).to_have_text("0")
    expect(by(call_page, "provider")).to_have_value("emulator")
    expect(by(call_page, "scenario")).to_be_visible()
    call_page.wait_for_timeout(300)
    assert console.errors == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "response.create",', "Invalid JSON: "),
        ("response.create", "Invalid JSON: "),
        ('[{"type": "response.create"}]', "must be a JSON object"),
        ('{"event_id": "x"}', 'needs a string "type"'),
    ],
)
def test_editor_refuses_what_is_not_a_client_event(call_page, text, message):
    by(call_page, "editor").fill(text)
    by(call_page, "editor-send").click()
    expect(by(call_page, "editor-error")).to_be_visible()
    expect(by(call_page, "editor-error")).to_contain_text(message)
    expect(by(call_page, "editor-sent")).to_have_text("")
    expect(by(call_page, "recorded-count")).to_have_text("0")


def test_editor_shows_the_parse_error_itself(call_page):
    by(call_page, "editor").fill('{"type": }')
    by(call_page, "editor-send").click()
    shown = by(call_page, "editor-error").text_content()
    expected = call_page.evaluate(
        "t => { try { JSON.parse(t) } catch (e) { return e.message } }", '{"type": }'
    )
    assert shown == f"Invalid JSON: {expected}"


def test_valid_event_without_a_call_is_not_sent(call_page):
    by(call_page, "editor").fill('{"type": "response.create"}')
    by(call_page, "editor-send").click()
    expect(by(call_page, "editor-error")).to_contain_text("No open call")


def test_templates_follow_the_protocol(call_page):
    by(call_page, "vad-type").select_option("semantic_vad")
    by(call_page, "editor-template").select_option("session.update")
    ga = json.loads(by(call_page, "editor").input_value())
    assert ga["type"] == "session.update"
    assert ga["session"]["type"] == "realtime"
    assert ga["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert ga["session"]["audio"]["input"]["transcription"] == {"model": "whisper-1"}

    by(call_page, "protocol").select_option("beta")
    by(call_page, "transcription").uncheck()
    by(call_page, "editor-template").select_option("response.cancel")
    by(call_page, "editor-template").select_option("session.update")
    beta = json.loads(by(call_page, "editor").input_value())
    assert set(beta["session"]) == {
        "instructions",
        "voice",
        "turn_detection",
        "input_audio_transcription",
    }
    assert beta["session"]["input_audio_transcription"] is None

    for name in ("response.create", "conversation.item.create", "output_audio_buffer.clear"):
        by(call_page, "editor-template").select_option(name)
        assert json.loads(by(call_page, "editor").input_value())["type"] == name


def test_mint_error_shows_the_service_message(call_page, server, app):
    said = requests.post(f"{server.url}/api/sessions", json={"scenario": "mint_401"}, timeout=5)
    assert said.status_code == 502
    by(call_page, "scenario").select_option("mint_401")
    by(call_page, "start").click()
    error = by(call_page, "call-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"(HTTP 502): {said.json()['error']['message']}")
    expect(error).to_contain_text("status 401")
    expect(by(call_page, "call-phase")).to_have_text("ended")
    expect(by(call_page, "start")).to_be_enabled()
    with app.app_context():
        assert open_store(app).list_sessions() == []


def test_a_call_from_start_to_stop_is_mirrored_completely(call_page, console, server, app):
    by(call_page, "label").fill("e2e call")
    by(call_page, "start").dblclick()  # twice: still one call
    expect(by(call_page, "call-phase")).to_have_text("live", timeout=CALL_TIMEOUT_MS)
    expect(by(call_page, "pc-state")).to_have_text("connected", timeout=CALL_TIMEOUT_MS)
    expect(by(call_page, "dc-state")).to_have_text("oai-events: open")
    expect(by(call_page, "key-ttl")).to_have_text("used")
    session_id = by(call_page, "session-link").text_content()
    assert by(call_page, "session-link").get_attribute("href") == f"/sessions/{session_id}"

    # The fake microphone speaks: the emulator's VAD hears it and answers.
    done = call_page.locator("[data-testid=event][data-type='response.done']")
    expect(done.first).to_be_attached(timeout=CALL_TIMEOUT_MS)
    types = listed_types(call_page)
    created, update = types.index("session.created"), types.index("session.update")
    assert created < update < types.index("session.updated")  # the protocol's order
    assert "input_audio_buffer.speech_started" in types

    # A typed message goes out as two client events and gets its own response.
    answered = done.count()
    by(call_page, "text-input").fill("Hello there")
    by(call_page, "text-input").press("Enter")
    client = call_page.locator("[data-testid=event][data-dir=client]")
    expect(client.last).to_have_attribute("data-type", "response.create")

    # An invalid raw event during the call is refused and nothing is recorded for it.
    before = by(call_page, "recorded-count").text_content()
    by(call_page, "editor").fill("{nope")
    by(call_page, "editor-send").click()
    expect(by(call_page, "editor-error")).to_contain_text("Invalid JSON")
    assert int(by(call_page, "recorded-count").text_content()) >= int(before)
    assert client.count() == 3  # session.update, conversation.item.create, response.create
    expect(done).to_have_count(answered + 1, timeout=CALL_TIMEOUT_MS)

    expect(by(call_page, "mic-level")).not_to_have_attribute("value", "0")
    assert by(call_page, "mic").locator("option").count() >= 1
    by(call_page, "mute").check()
    mic = call_page.locator("[data-testid=event][data-type='voicelab.mic'] pre")
    expect(mic).to_have_count(2)
    assert json.loads(mic.last.text_content())["muted"] is True
    by(call_page, "stop").click()
    expect(by(call_page, "call-phase")).to_have_text("ended", timeout=10_000)
    expect(by(call_page, "mirror-state")).to_have_text("closed")

    recorded = int(by(call_page, "recorded-count").text_content())
    acked = int(by(call_page, "acked-seq").text_content())
    stored = requests.get(f"{server.url}/api/sessions/{session_id}", timeout=5).json()
    assert recorded == acked == stored["event_count"] > 10
    assert stored["ended_at"] is not None
    assert stored["label"] == "e2e call"
    with app.app_context():
        assert len(open_store(app).list_sessions()) == 1
    assert "ek_" not in call_page.content()
    assert console.errors == []


def test_a_beta_call_speaks_the_beta_shape(call_page, server):
    by(call_page, "protocol").select_option("beta")
    by(call_page, "start").click()
    expect(by(call_page, "call-phase")).to_have_text("live", timeout=CALL_TIMEOUT_MS)
    updated = call_page.locator("[data-testid=event][data-type='session.updated']")
    expect(updated).to_have_count(1, timeout=CALL_TIMEOUT_MS)
    sent = call_page.locator("[data-testid=event][data-type='session.update'] pre").text_content()
    assert "input_audio_transcription" in json.loads(sent)["session"]
    assert "error" not in listed_types(call_page)
    by(call_page, "stop").click()
    expect(by(call_page, "call-phase")).to_have_text("ended", timeout=10_000)
    session_id = by(call_page, "session-link").text_content()
    stored = requests.get(f"{server.url}/api/sessions/{session_id}", timeout=5).json()
    assert stored["protocol"] == "beta"
    assert stored["event_count"] == int(by(call_page, "acked-seq").text_content())


MIRROR_SCRIPT = """async ({ big }) => {
  const { Mirror } = await import("/static/js/mirror.js");
  const mirror = new Mirror({ url: "/ws/mirror", create: { label: "external", protocol: "ga" } });
  const acked = (seq) => new Promise((resolve) => {
    const check = () => mirror.acked >= seq && resolve();
    mirror.addEventListener("ack", check);
    check();
  });
  for (let i = 0; i < 1200; i++) mirror.record("server", JSON.stringify({ type: "x.delta", i }));
  await acked(mirror.seq);
  const session = mirror.session;
  mirror._ws.close();  // the server goes away mid-call: record on, it resends after reconnecting
  for (let i = 0; i < 50; i++) mirror.local("voicelab.stats", { rtt_ms: i });
  mirror.record("client", "x".repeat(big));
  await acked(mirror.seq);
  const closed = await mirror.close();
  return { session, resumed: mirror.session, ...closed };
}"""


def test_mirror_splits_batches_resends_after_reconnect_and_cuts_huge_events(call_page, server):
    result = call_page.evaluate(MIRROR_SCRIPT, {"big": 2 * 1024 * 1024})
    assert result["session"] == result["resumed"]
    assert result["recorded"] == result["acked"] == 1251
    stored = requests.get(f"{server.url}/api/sessions/{result['session']}", timeout=5).json()
    assert stored["event_count"] == 1251
    assert stored["origin"] == "external"
    assert stored["label"] == "external"


def test_a_call_the_service_drops_ends_by_itself(call_page, server):
    by(call_page, "scenario").select_option("drop_call")
    call_page.evaluate(
        "() => { const o = document.querySelector('[data-testid=scenario] option:checked');"
        " o.value = 'drop_call:1'; }"
    )
    by(call_page, "start").click()
    expect(by(call_page, "call-phase")).to_have_text("ended", timeout=CALL_TIMEOUT_MS)
    expect(by(call_page, "call-error")).to_contain_text("The call ended")
    expect(by(call_page, "start")).to_be_enabled()
    session_id = by(call_page, "session-link").text_content()
    stored = requests.get(f"{server.url}/api/sessions/{session_id}", timeout=5).json()
    assert stored["ended_at"] is not None
    assert stored["event_count"] == int(by(call_page, "acked-seq").text_content())


def test_leaving_the_page_mid_call_ends_the_session_by_beacon(call_page, server):
    by(call_page, "start").click()
    expect(by(call_page, "call-phase")).to_have_text("live", timeout=CALL_TIMEOUT_MS)
    session_id = by(call_page, "session-link").text_content()
    call_page.goto(f"{server.url}/")  # pagehide: the beacon carries the write secret

    def ended() -> bool:
        row = requests.get(f"{server.url}/api/sessions/{session_id}", timeout=5).json()
        return row["ended_at"] is not None

    until(ended, "the beacon ended the session")
