"""Function calls paired with their outputs (analysis/tools.py), their checks, the Tools panel,
the chip and the export, from event sequences in the service's GA and beta shapes."""

import json
import re

import pytest
import requests

from tests.eventlogs import (
    ARGUMENTS,
    CALL_ID,
    FUNCTION_CALL_USAGE,
    REPLY,
    USER_TEXT,
    LogBuilder,
    function_call_log,
    user_turn,
)
from voice_lab.analysis import tools
from voice_lab.analysis.aggregates import Aggregates
from voice_lab.web import panels

OTHER_CALL = "call_unknown_0001"


def tool_log(
    ga: bool = True,
    arguments: str = ARGUMENTS,
    outputs: tuple[str, ...] = (CALL_ID,),
    status: str = "completed",
    early_create: dict | None = None,
    with_done: bool = True,
):
    """function_call_log's call with what a test changes: the arguments streamed (in three
    pieces), the item's final status, the call_ids the client answers (at 2600, 2605, ...), a
    response.create the client sends at 2450 while the call's response is active, and whether
    the server sends response.function_call_arguments.done (else only the deltas carry them)."""
    b = LogBuilder(ga)
    b.connect()
    user_turn(b, 1000, USER_TEXT)
    rid = b.response_created(2300)
    item_id = b.new_id("item")
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": CALL_ID,
        "arguments": "",
    }
    b.server(2340, "response.output_item.added", response_id=rid, output_index=0, item=item)
    ids = {"response_id": rid, "item_id": item_id, "output_index": 0, "call_id": CALL_ID}
    third = len(arguments) // 3
    for i, part in enumerate(
        (arguments[:third], arguments[third : 2 * third], arguments[2 * third :])
    ):
        b.server(2400 + 10 * i, "response.function_call_arguments.delta", **ids, delta=part)
    if with_done:
        name = {"name": "get_weather"} if ga else {}
        b.server(2430, "response.function_call_arguments.done", **ids, arguments=arguments, **name)
    final = {**item, "status": status} | ({"arguments": arguments} if with_done else {})
    b.server(2440, "response.output_item.done", response_id=rid, output_index=0, item=final)
    if early_create is not None:
        b.client(2450, "response.create", **early_create)
    b.response_done(2460, rid, output=[final], usage=FUNCTION_CALL_USAGE)
    for i, call_id in enumerate(outputs):
        output = {"type": "function_call_output", "call_id": call_id, "output": '{"temp_c":18}'}
        b.client(2600 + 5 * i, "conversation.item.create", item=output)
    b.client(2630, "response.create")
    second = b.response_created(2700)
    b.spoken_reply(2740, second, REPLY)
    b.response_done(3740, second)
    return b.build()


def checks_of(log) -> dict:
    return {c.name: c for c in tools.checks(tools.fold(log.events))}


def by_seq(log, ga_type: str, direction: str = "server") -> list[int]:
    return [e.seq for e in log.events if e.type == ga_type and e.direction == direction]


@pytest.mark.parametrize("ga", [True, False])
def test_a_call_is_paired_with_its_output_and_timed(ga):
    (call,) = tools.tool_calls(function_call_log(ga).events)
    assert (call.call_id, call.name, call.status) == (CALL_ID, "get_weather", "completed")
    assert call.arguments == ARGUMENTS and call.parsed == {"city": "Paris"}
    assert call.pretty == '{\n  "city": "Paris"\n}' and call.error is None
    assert call.output == '{"temp_c":18}' and call.answers == 1
    # arguments done at 2430, output sent at 2600, the next response's audio started at 2900
    assert (call.to_output_ms, call.to_audio_ms) == (170.0, 300.0)
    assert all(c.ok for c in checks_of(function_call_log(ga)).values())
    assert tools.errors([call]) == []


@pytest.mark.parametrize("ga", [True, False])
def test_arguments_are_assembled_from_the_deltas_without_a_done(ga):
    (call,) = tools.tool_calls(tool_log(ga, with_done=False).events)
    assert call.arguments == ARGUMENTS and call.parsed == {"city": "Paris"}


def test_an_output_for_an_unknown_call_and_a_call_never_answered():
    log = tool_log(outputs=(OTHER_CALL,))
    checks = checks_of(log)
    (output_seq,) = by_seq(log, "conversation.item.create", "client")
    assert not checks["outputs match calls"].ok and checks["outputs match calls"].seqs == (
        output_seq,
    )
    (call,) = tools.tool_calls(log.events)
    assert not checks["calls answered"].ok and checks["calls answered"].seqs == (call.seq,)
    (error,) = tools.errors([call])
    assert error.code == tools.UNANSWERED and CALL_ID in error.message
    assert "function_call_output" in error.message  # says what to send


def test_an_output_whose_call_id_is_not_text_is_an_unknown_call():
    log = tool_log(outputs=(CALL_ID,))
    b = LogBuilder()
    b.client(0, "conversation.item.create", item={"type": "function_call_output", "call_id": [1]})
    hostile = b.build().events[0]._replace(seq=len(log.events) + 1)
    state = tools.fold([*log.events, hostile])
    (unknown,) = [c for c in tools.checks(state) if c.name == "outputs match calls"]
    assert unknown.seqs == (hostile.seq,)


def test_a_call_answered_twice():
    log = tool_log(outputs=(CALL_ID, CALL_ID))
    check = checks_of(log)["calls answered once"]
    assert not check.ok and check.seqs == (by_seq(log, "conversation.item.create", "client")[1],)
    (call,) = tools.tool_calls(log.events)
    assert call.answers == 2 and checks_of(log)["calls answered"].ok


@pytest.mark.parametrize("ga", [True, False])
def test_response_create_while_a_response_is_active(ga):
    log = tool_log(ga, early_create={"event_id": "evt_too_soon"})
    check = checks_of(log)["one response at a time"]
    assert not check.ok and check.seqs == (by_seq(log, "response.create", "client")[0],)
    # An out-of-band response does not use the conversation's active slot.
    out_of_band = tool_log(ga, early_create={"response": {"conversation": "none"}})
    assert checks_of(out_of_band)["one response at a time"].ok


def test_arguments_that_are_not_json():
    log = tool_log(arguments='{"city": "Par')
    check = checks_of(log)["arguments are JSON"]
    (call,) = tools.tool_calls(log.events)
    assert not check.ok and check.seqs == (call.seq,)
    assert call.parsed is None and call.error.startswith("not valid JSON")


def test_an_interrupted_call_needs_no_output():
    (call,) = tools.tool_calls(tool_log(status="incomplete", outputs=()).events)
    assert call.status == "incomplete" and tools.errors([call]) == []


def test_the_fold_saved_and_loaded_keeps_the_calls():
    events = sorted(tool_log(outputs=()).events, key=lambda e: e.seq)
    half = len(events) // 2
    fold = Aggregates().feed_all(events[:half])
    again = Aggregates.loads(fold.dumps()).feed_all(events[half:])
    assert tools.calls(again.tools) == tools.tool_calls(events)
    built = panels.view(again)
    assert built["tool_count"] == 1 and [e.code for e in built["errors"]] == [tools.UNANSWERED]
    assert "calls answered" in {c.name for c in built["checks"] if not c.ok}


def document(log, ga: bool) -> dict:
    """A Voice Lab export of a log, as another Voice Lab would have written it."""
    return {
        "format": "voice-lab.session",
        "version": 1,
        "session": {"label": "tools", "provider": "emulator", "protocol": "ga" if ga else "beta"},
        "events": [
            {"seq": e.seq, "dir": e.direction, "t": e.t, "type": e.type, "event": e.data}
            for e in log.events
        ],
    }


def imported(server, doc: dict) -> str:
    """Import a document through the import form of a running Voice Lab; the new session's id."""
    browser = requests.Session()
    page = browser.get(f"{server.url}/", timeout=10).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    reply = browser.post(
        f"{server.url}/import",
        data={"csrf_token": token},
        files={"file": ("tools.json", json.dumps(doc).encode())},
        headers={"Origin": server.url},
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code == 303, reply.text
    return reply.headers["Location"].rsplit("/", 1)[-1]


@pytest.mark.parametrize("ga", [True, False])
def test_the_tools_panel_chip_and_export_of_an_imported_session(live_server, ga):
    log = tool_log(ga, outputs=(CALL_ID, OTHER_CALL))
    sid = imported(live_server, document(log, ga))
    html = requests.get(f"{live_server.url}/sessions/{sid}/panels", timeout=10).text
    (row,) = re.findall(r'<details class="tool-call[^"]*"[^>]*data-testid="tool-call"[^>]*>', html)
    assert f'data-call-id="{CALL_ID}"' in row and 'data-answered="true"' in row
    assert (
        "&#34;city&#34;: &#34;Paris&#34;" in html or "&quot;city&quot;: &quot;Paris&quot;" in html
    )
    assert re.search(r'id="tools-calls"[^>]*hx-swap-oob="true"[^>]*>1<', html)  # the chip
    failing = re.findall(r'data-testid="check" data-ok="false" title="[^"]*">\s*✗ ([^\n<]+)', html)
    assert [name.strip() for name in failing] == ["outputs match calls"]
    page = requests.get(f"{live_server.url}/sessions/{sid}", timeout=10).text
    assert 'id="tools-calls"' in page  # where the panels put the count
    exported = requests.get(f"{live_server.url}/sessions/{sid}/export.json", timeout=10).json()
    (call,) = exported["tool_calls"]
    assert call["call_id"] == CALL_ID and call["parsed"] == {"city": "Paris"}
    assert call["to_output_ms"] == 170.0 and call["answers"] == 1
    again = imported(live_server, exported)  # the export imports back, its tool calls aside
    assert (
        requests.get(f"{live_server.url}/sessions/{again}/export.json", timeout=10).json()[
            "tool_calls"
        ]
        == exported["tool_calls"]
    )
