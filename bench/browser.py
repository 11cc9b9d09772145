"""Figures 2 and 5, in Chromium: live latency to a following tab, and the mirror's page cost.

Live latency: a call from the call page with a looping fake microphone, and a second tab on the
session page; each row's first appearance in that tab's DOM minus the event's browser time `t`
(one browser, one clock). Baseline in the same run: `t` to the row being stored (the server's
clock), so the ratio shows what the dashboard adds to ingest.

Mirror cost: main-thread time of Mirror.record per event in a page, against JSON.stringify of
the same event (the least any mirror must do), with the server up and with it unreachable.
"""

from __future__ import annotations

import sqlite3

from playwright.sync_api import sync_playwright

from voice_lab.analysis.metrics import percentile
from voice_lab.testing import (
    launch_options,
    speech_wav,
    start_call,
    start_server,
    stop_call,
    wait_for_responses,
)

from .common import Figure, scratch

# Records when each timeline row first shows up in the page, on the page's own clock.
FIRST_SEEN = """
window.__seen = {};
new MutationObserver(() => {
  const now = performance.timeOrigin + performance.now();
  for (const row of document.querySelectorAll("[data-testid=event-row]")) {
    if (!(row.dataset.seq in window.__seen)) window.__seen[row.dataset.seq] = now;
  }
}).observe(document, { subtree: true, childList: true });
"""

# Times Mirror.record over `n` realistic events, and JSON.stringify of the same, in the page.
RECORD_COST = """
async ([url, n]) => {
  const { Mirror } = await import("/static/js/mirror.js");
  const mirror = new Mirror({ url, create: { label: "bench", provider: "external" } });
  const text = JSON.stringify({ type: "response.output_audio_transcript.delta",
    event_id: "event_CHd8Zq3bXk1", response_id: "resp_CHd8Zq3bXk1", item_id: "item_CHd8Zq3bXk1",
    output_index: 0, content_index: 0, delta: " museums" });
  const events = Array.from({ length: n }, (_, i) => text.replace("museums", "word" + i));
  let sink = 0;
  let start = performance.now();
  for (const e of events) sink += JSON.stringify(e).length;
  const baseline = (performance.now() - start) / n;
  start = performance.now();
  for (const e of events) mirror.record("server", e);
  const record = (performance.now() - start) / n;
  await new Promise((done) => setTimeout(done, 300));
  mirror.close({ waitMs: 500 });
  return { record_us: record * 1000, baseline_us: baseline * 1000, sink };
}
"""


def run_live(quick: bool = False) -> list[Figure]:
    """Live latency, event `t` to its row in a following tab: p50 and p95."""
    responses = 2 if quick else 5
    with scratch() as workdir, start_server(workdir) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            **launch_options(speech_wav(workdir / "speech.wav"), loop=True)
        )
        try:
            caller = browser.new_context().new_page()
            session_id = start_call(caller, server.url)
            follower = browser.new_context().new_page()
            follower.add_init_script(FIRST_SEEN)
            follower.goto(f"{server.url}/sessions/{session_id}?view=flat")
            follower.wait_for_selector("[data-testid=event-row]")
            following_from = follower.evaluate("performance.timeOrigin + performance.now()")
            wait_for_responses(caller, responses, timeout_ms=120_000)
            stop_call(caller)
            follower.wait_for_timeout(500)
            seen = {int(seq): at for seq, at in follower.evaluate("window.__seen").items()}
        finally:
            browser.close()
        with sqlite3.connect(server.database) as db:
            rows = db.execute(
                "SELECT seq, t, received_at FROM events WHERE session_id = ? AND t > ?",
                (session_id, following_from),
            ).fetchall()
    shown = [seen[seq] - t for seq, t, _ in rows if seq in seen]
    stored = [received * 1000 - t for seq, t, received in rows if seq in seen]
    return live_figures(shown, stored)


def live_figures(shown: list[float], stored: list[float]) -> list[Figure]:
    """p50 and p95 of each row's event `t` to its first appearance (ms), against `t` to stored."""
    names = ("live latency p50", "live latency p95")
    if not shown:
        return [
            Figure(name, None, "ms", note="no row was seen while the call ran") for name in names
        ]
    p50, p95 = percentile(shown, 50), percentile(shown, 95)
    base50, base95 = percentile(stored, 50), percentile(stored, 95)
    note = f"{len(shown)} rows seen while the call ran; stored p50 {base50:.0f} ms"
    return [
        Figure(names[0], p50, "ms", base50, _ratio(p50, base50), "", note),
        Figure(
            names[1],
            p95,
            "ms",
            base95,
            _ratio(p95, base95),
            "p95 <= 250 ms",
            "baseline: event t to stored",
        ),
    ]


def run_mirror(quick: bool = False) -> list[Figure]:
    """Main-thread time per Mirror.record, with the server up and with it unreachable."""
    count = 5_000 if quick else 50_000
    figures = []
    with scratch() as workdir, start_server(workdir) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(speech_wav(workdir / "speech.wav")))
        try:
            page = browser.new_context().new_page()
            page.goto(f"{server.url}/login")
            for label, url in (("server up", "/ws/mirror"), ("server down", "ws://127.0.0.1:9/")):
                result = page.evaluate(RECORD_COST, [url, count])
                figures.append(
                    Figure(
                        f"mirror record per event ({label})",
                        result["record_us"],
                        "us",
                        result["baseline_us"],
                        result["record_us"] / result["baseline_us"],
                        "< 50 us",
                        f"{count:,} events; baseline JSON.stringify of each",
                    )
                )
        finally:
            browser.close()
    return figures


def _ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, None when either is missing (or the baseline is 0)."""
    return value / baseline if value is not None and baseline else None
