"""One spoken call, from the call page to the session page, the exported file and back in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from voice_lab.exchange.otlp import from_otlp_json, span_id, trace_id
from voice_lab.testing import BrowserLauncher, CapturedSession, hold_call

pytestmark = pytest.mark.e2e

WEATHER = Path(__file__).parent / "audio" / "weather.wav"


@dataclass
class Call:
    """A finished call: the page that held it, its session and what the browser counted."""

    page: object
    base_url: str
    session_id: str
    recorded: int
    acked: int
    ephemeral_key: str

    def stored(self) -> dict:
        """The session row as the API gives it."""
        return requests.get(f"{self.base_url}/api/sessions/{self.session_id}", timeout=5).json()


@pytest.fixture(scope="module")
def call(browser_type, browser_type_launch_args, voice_lab_server):
    """A call with a spoken question as the microphone (a WAV kept in the repo), held once."""
    launcher = BrowserLauncher(browser_type, browser_type_launch_args)
    page = launcher.page(WEATHER, loop=True)
    minted = []
    page.on(
        "response",
        lambda r: minted.append(r.json()) if r.url.endswith("/api/sessions") else None,
    )
    session_id = hold_call(page, voice_lab_server.url, {"label": "happy path"})
    by = page.get_by_test_id
    yield Call(
        page,
        voice_lab_server.url,
        session_id,
        int(by("recorded-count").text_content()),
        int(by("acked-seq").text_content()),
        minted[0]["ephemeral_key"],
    )
    launcher.close()


def row_seqs(page) -> list[str]:
    """The seqs of the timeline's rows, in order."""
    return page.locator("[data-testid=event-row]").evaluate_all(
        "els => els.map(e => e.dataset.seq)"
    )


def shown_events(page) -> int:
    """How many events the timeline's rows stand for (a delta run counts each delta)."""
    return page.locator("[data-testid=event-row]").evaluate_all(
        "els => els.reduce((n, e) => n + Number(e.dataset.count), 0)"
    )


def open_session(call: Call, query: str = ""):
    """The session page, fully loaded (panels and timeline included)."""
    page = call.page
    page.goto(f"{call.base_url}/sessions/{call.session_id}{query}")
    expect(page.get_by_test_id("panel-checks")).to_be_visible()
    timeline_loaded(page)
    return page


def timeline_loaded(page) -> None:
    """Wait for the timeline's first window (with a recording, it follows the time view)."""
    expect(page.locator("[data-testid=timeline] .window").first).to_be_attached()


def test_the_call_is_stored_as_the_browser_saw_it(call):
    stored = call.stored()
    assert call.recorded == call.acked == stored["event_count"] > 20
    assert stored["ended_at"] is not None
    assert stored["label"] == "happy path"
    page = open_session(call, "?view=flat")
    expect(page.get_by_test_id("session-status")).to_have_text("ended")
    assert shown_events(page) == stored["event_count"]


def test_the_session_page_shows_the_turn_and_its_figures(call):
    page = open_session(call)
    turns = page.locator("[data-testid=group][data-kind=response]")
    expect(turns.first).to_be_visible()
    turn = turns.first
    expect(turn.locator("[data-type='response.created']")).to_have_count(1)
    expect(turn.locator("[data-type='response.done']")).to_have_count(1)
    spoken = turn.locator("[data-testid=assembled-text]").first
    assert re.match(r"I heard you speak for \d+\.\d seconds\.", spoken.text_content())

    assistant = page.locator("[data-testid=transcript-line][data-role=assistant]").first
    expect(assistant).to_contain_text(spoken.text_content())
    for name in ("to_created_ms", "to_first_text_ms", "to_first_audio_ms", "duration_ms"):
        p50 = page.locator(f"[data-testid=latency-stat][data-name={name}] td").nth(1)
        assert re.fullmatch(r"[\d,]+ ms", p50.text_content()), name
    assert int(page.get_by_test_id("usage-total-tokens").text_content()) > 0
    # The emulator's model is priced: the session's estimate shows beside its tokens.
    assert re.fullmatch(r"~\$\d+\.\d{4}", page.get_by_test_id("session-cost").text_content())
    expect(page.get_by_test_id("cost-note")).to_contain_text("estimate")
    expect(page.get_by_test_id("panel-rate-limits")).to_contain_text("left")
    checks = page.locator("[data-testid=check]")
    expect(checks).to_have_count(4 + 5 + 3)  # the events' checks, the tools', the recording's
    expect(page.locator("[data-testid=check][data-ok=false]")).to_have_count(0)
    expect(page.get_by_test_id("panel-errors")).to_contain_text("No errors.")


def test_filters_change_the_list_and_the_url_and_a_reload_keeps_the_view(call):
    page = open_session(call)
    everything = shown_events(page)

    page.get_by_test_id("chip-vad").locator("input").check()
    expect(page).to_have_url(re.compile(r"[?&]cat=vad"))
    assert "q=" not in page.url and "type=" not in page.url  # empty filters stay out of it
    rows = page.locator("[data-testid=event-row]")
    expect(rows.first).to_have_attribute("data-category", "vad")
    assert set(rows.evaluate_all("els => els.map(e => e.dataset.category)")) == {"vad"}

    page.get_by_test_id("chip-vad").locator("input").uncheck()
    page.get_by_test_id("dir-client").locator("input").check()
    expect(page).to_have_url(re.compile(r"[?&]dir=client"))
    expect(rows.first).to_have_attribute("data-type", "session.update")
    client_only = row_seqs(page)
    assert 0 < len(client_only) < everything

    page.get_by_test_id("dir-client").locator("input").uncheck()
    page.get_by_test_id("filter-type").fill("response.output_audio_transcript*")
    expect(page).to_have_url(re.compile(r"type=response\.output_audio_transcript"))
    expect(rows.first).to_have_attribute("data-type", re.compile("^response.output_audio_transcr"))

    page.get_by_test_id("filter-type").fill("")
    page.get_by_test_id("filter-text").fill("I heard you speak")
    expect(page).to_have_url(re.compile(r"q=I(%20|\+)heard"))
    page.get_by_test_id("view-flat").check()
    expect(page).to_have_url(re.compile(r"view=flat"))
    expect(rows.first).to_be_visible()
    filtered, url = row_seqs(page), page.url
    assert 0 < len(filtered) < everything

    page.reload()
    assert page.url == url
    timeline_loaded(page)
    assert row_seqs(page) == filtered
    expect(page.get_by_test_id("filter-text")).to_have_value("I heard you speak")
    expect(page.get_by_test_id("view-flat")).to_be_checked()


def test_the_export_has_every_event_and_no_key_and_imports_the_same(call, tmp_path):
    page = open_session(call)
    grouped = row_seqs(page)
    transcript = page.get_by_test_id("panel-transcript").inner_text()
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    path = tmp_path / "export.json"
    download.value.save_as(path)
    text = path.read_text()
    document = json.loads(text)
    assert (document["format"], document["version"]) == ("voice-lab.session", 1)
    assert [e["seq"] for e in document["events"]] == list(range(1, call.recorded + 1))
    assert call.ephemeral_key not in text
    assert not re.search(r"ek_[A-Za-z0-9_-]{8,}", text)

    page.goto(f"{call.base_url}/")
    page.get_by_test_id("import-file").set_input_files(path)
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("session-status")).to_have_text("imported")
    assert page.url.split("/sessions/")[1] != call.session_id
    expect(page.get_by_test_id("panel-checks")).to_be_visible()
    assert row_seqs(page) == grouped
    assert page.get_by_test_id("panel-transcript").inner_text() == transcript


def test_export_otlp_downloads_the_calls_trace(call, tmp_path):
    """The Export OTLP button: one trace of the spoken call, its turn and response spans under
    the session's root, the response with the model's usage."""
    page = open_session(call)
    with page.expect_download() as download:
        page.get_by_test_id("export-otlp").click()
    path = tmp_path / "trace.otlp.jsonl"
    download.value.save_as(path)
    spans = [
        span
        for line in path.read_text().splitlines()
        for resource in from_otlp_json(line).resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert {int.from_bytes(span.trace_id) for span in spans} == {trace_id(call.session_id)}
    root = span_id(call.session_id, "session")
    assert [int.from_bytes(s.span_id) for s in spans if not s.parent_span_id] == [root]
    names = {span.name for span in spans}
    assert "user turn" in names and any(name.startswith("chat") for name in names)
    response = next(span for span in spans if span.name.startswith("chat"))
    attributes = {a.key: a.value for a in response.attributes}
    assert attributes["gen_ai.operation.name"].string_value == "chat"
    assert attributes["gen_ai.usage.output_tokens"].int_value > 0
    assert attributes["gen_ai.response.time_to_first_chunk"].double_value > 0


def test_the_captured_session_passes_the_protocol_checks(call):
    captured = CapturedSession.load(call.base_url, call.session_id)
    assert len(captured.events) == call.recorded
    captured.assert_order(
        [
            "session.created",
            "session.updated",
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "response.created",
            "output_audio_buffer.started",
            "response.done",
        ]
    )
    captured.assert_order(["session.update", "session.updated"])  # sent as the channel opens
    assert captured.types("client") == ["session.update"]
    captured.assert_no_errors()
    captured.assert_latency_under(5000)
    assert captured.latency()["to_created_ms"].count >= 1
    with pytest.raises(AssertionError, match="does not follow"):
        captured.assert_order(["response.done", "session.created"])
