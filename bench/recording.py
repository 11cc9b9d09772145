"""Figures in Chromium of what recording a call costs the page and the network.

Calls from the call page with the emulator and one looping fake microphone, with recording on
and off (the call page's checkbox), in turn. Main-thread cost: Chromium's own count of the
page's main-thread task time (CDP Performance.getMetrics, TaskDuration and ScriptDuration),
taken once the call is live and again before it stops, per minute of the page's clock between
the two; the figure is recording's extra time a minute against the call without it. Uploads:
the recording's bytes the store holds for the call (as base64 on the mirror socket, and as
WebM/Opus, whose rate is the bitrate) per minute of the recording, against the bytes of the
same call's events.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

from playwright.sync_api import sync_playwright

from voice_lab.testing import launch_options, speech_wav, start_call, start_server, stop_call

from .common import Figure, scratch

KIB = 1024


def metrics(cdp) -> dict[str, float]:
    """The page's Performance.getMetrics by name (durations in seconds)."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def hold(browser, url: str, record: bool, seconds: float) -> dict[str, float | str]:
    """One call of about `seconds` once live: its session id, the page's seconds measured and
    its main-thread task and script ms over them."""
    context = browser.new_context()
    try:
        page = context.new_page()
        session_id = start_call(page, url, {"record": record, "label": f"record {record}"})
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before = metrics(cdp)
        page.wait_for_timeout(seconds * 1000)  # the call runs on meanwhile: this is its length
        after = metrics(cdp)
        stop_call(page)
    finally:
        context.close()
    return {
        "session": session_id,
        "seconds": after["Timestamp"] - before["Timestamp"],
        "task_ms": (after["TaskDuration"] - before["TaskDuration"]) * 1000,
        "script_ms": (after["ScriptDuration"] - before["ScriptDuration"]) * 1000,
    }


def uploads(database: Path, session_id: str) -> dict[str, float]:
    """A stored call's recording (its bytes, their base64 as sent, its seconds from the
    voicelab.recording start to stop) and its events' bytes."""
    with sqlite3.connect(database) as db:
        stored, sent, chunks = db.execute(
            "SELECT coalesce(sum(length(data)), 0), coalesce(sum((length(data) + 2) / 3 * 4), 0),"
            " count(*) FROM recording_chunks WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        events = db.execute(
            "SELECT sum(length(CAST(payload AS BLOB))) FROM events WHERE session_id = ?",
            (session_id,),
        ).fetchone()[0]
        span = db.execute(
            "SELECT max(t) - min(t) FROM events WHERE session_id = ? AND type = ?",
            (session_id, "voicelab.recording"),
        ).fetchone()[0]
    if not chunks or not span:
        raise RuntimeError(
            f"session {session_id} stored no recording: is VOICE_LAB_RECORDING off here?"
        )
    return {"stored": stored, "sent": sent, "events": events, "seconds": span / 1000}


@cache
def calls(seconds: float, rounds: int) -> dict[bool, list[dict]]:
    """`rounds` of a call with recording on then one with it off, each held `seconds` once
    live, the recorded ones with their uploads: shared by this module's figures in one run."""
    held: dict[bool, list[dict]] = {True: [], False: []}
    with scratch() as workdir, start_server(workdir) as server, sync_playwright() as playwright:
        mic = speech_wav(workdir / "speech.wav")
        browser = playwright.chromium.launch(**launch_options(mic, loop=True))
        try:
            for _ in range(rounds):
                for record in (True, False):
                    held[record].append(hold(browser, server.url, record, seconds))
        finally:
            browser.close()
        for call in held[True]:
            call.update(uploads(server.database, call["session"]))
    return held


def _length(quick: bool) -> tuple[float, int]:
    """The calls' seconds and rounds: a quick run scales a 25 s call to a minute."""
    return (25, 1) if quick else (60, 2)


def per_minute(call: dict, key: str) -> float:
    """A call's figure per minute of its measured time."""
    return call[key] * 60 / call["seconds"]


def run_recording(quick: bool = False) -> list[Figure]:
    """Recording's extra main-thread ms per minute of call, against the call without it."""
    held = calls(*_length(quick))
    on = min(per_minute(c, "task_ms") for c in held[True])
    off = min(per_minute(c, "task_ms") for c in held[False])
    script_on = min(per_minute(c, "script_ms") for c in held[True])
    script_off = min(per_minute(c, "script_ms") for c in held[False])
    extra = on - off
    return [
        Figure(
            "recording main-thread time per minute of call",
            extra,
            "ms",
            off,
            extra / off if off else None,
            "< 1,000 ms a minute",
            f"extra task time, on {on:,.0f} ms against off {off:,.0f} ms a minute "
            f"(script {script_on:,.0f} / {script_off:,.0f}); {len(held[True])} call(s) each of "
            f"{held[True][0]['seconds']:.0f} s, best of them",
        )
    ]


def run_uploads(quick: bool = False) -> list[Figure]:
    """The recording's bytes uploaded per minute against the events', and its bitrate."""
    recorded = calls(*_length(quick))[True]
    sent = min(c["sent"] * 60 / c["seconds"] for c in recorded)
    events = min(c["events"] * 60 / c["seconds"] for c in recorded)
    kbps = min(c["stored"] * 8 / c["seconds"] / 1000 for c in recorded)
    return [
        Figure(
            "recording upload per minute of call",
            sent / KIB,
            "KiB",
            events / KIB,
            sent / events if events else None,
            "",
            "base64 of the chunks stored, as the mirror socket carries them; baseline the "
            "same call's events",
        ),
        Figure(
            "recording bitrate",
            kbps,
            "kbps",
            64.0,
            kbps / 64,
            "",
            "WebM/Opus as stored, container included; baseline the 64 kbps the recorder asks",
        ),
    ]
