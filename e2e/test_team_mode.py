"""Team mode in a real browser: two gunicorn workers on one PostgreSQL database, a call mirrored
through one while a tab served by the other follows it live, then the first worker killed in
the middle of the call and nothing lost.

gunicorn hands each connection to whichever of its workers takes it first, so a test with one
master and two workers could not say which worker served what. Each worker here has a master of
its own, on its own port, and both serve the same database: the page talks to A through a
TcpProxy, the following tab to B. Before A's worker is killed the proxy is pointed at B, so the
page's reconnect reaches the other worker (as a load balancer would send it), not A's
replacement. The call itself is held by an emulator in a process of its own, standing in for
OpenAI, as a team's workers would reach the real service: killing a worker leaves it up.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.stores import HOW_TO_RUN, fresh_database, postgres_wanted, store_on
from voice_lab.testing import TcpProxy, start_call, stop_call, wait_for_responses
from voice_lab.testing.workers import Gunicorn

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not postgres_wanted(), reason=f"needs PostgreSQL: {HOW_TO_RUN}"),
]

EMULATOR_KEY = "emu-key-for-the-team-" + "k" * 16


@pytest.fixture
def team(tmp_path, voice_lab_server_factory) -> Iterator[tuple[Gunicorn, Gunicorn, TcpProxy, str]]:
    """Two workers on one fresh PostgreSQL database, the proxy the page reaches A through, the
    database's URL; the emulator's service in a third process, open to the page's origin."""
    proxy = TcpProxy("http://127.0.0.1:9")  # pointed at A once A listens
    service = voice_lab_server_factory(
        VOICE_LAB_EMULATOR_API_KEY=EMULATOR_KEY, VOICE_LAB_ALLOWED_ORIGINS=proxy.url
    )
    with fresh_database("postgresql", tmp_path) as database:
        env = {
            "VOICE_LAB_DATABASE": database,
            "VOICE_LAB_FILES": str(tmp_path / "files"),
            "VOICE_LAB_PROVIDER": "openai",
            "VOICE_LAB_EMULATOR": "off",
            "OPENAI_BASE_URL": f"{service.url}/emulator/v1",
            "OPENAI_API_KEY": EMULATOR_KEY,
            "VOICE_LAB_ASR": "off",
        }
        pair = (Gunicorn(tmp_path / "a", env), Gunicorn(tmp_path / "b", env))
        proxy.point_at(pair[0].url)
        try:
            yield (*pair, proxy, database)
        finally:
            proxy.close()
            for worker in pair:
                worker.stop()


def test_a_tab_on_one_worker_follows_a_call_on_another_and_a_kill_loses_nothing(context, team):
    a, b, proxy, database = team
    caller = context.new_page()
    session_id = start_call(caller, proxy.url, {"label": "team"})
    watcher = context.new_page()
    watcher.goto(f"{b.url}/sessions/{session_id}")
    expect(watcher.get_by_test_id("session-status")).to_have_text("live")
    done = watcher.locator("[data-testid=event-row][data-type='response.done']")
    expect(done).to_have_count(0)

    # Mirrored through A, shown live by B: only the database tells B.
    wait_for_responses(caller, 1)
    expect(done).to_have_count(1, timeout=10_000)

    proxy.point_at(b.url)
    (worker,) = a.worker_pids()
    os.kill(worker, signal.SIGKILL)
    recorded = int(caller.get_by_test_id("recorded-count").text_content())
    wait_for_responses(caller, 2)  # the call goes on; the page reconnects, to B
    expect(done).to_have_count(2, timeout=10_000)
    stop_call(caller, timeout_ms=30_000)

    by = caller.get_by_test_id
    assert int(by("recorded-count").text_content()) > recorded
    assert int(by("recorded-count").text_content()) == int(by("acked-seq").text_content())
    stored = requests.get(f"{b.url}/api/sessions/{session_id}", timeout=5).json()
    assert int(by("acked-seq").text_content()) == stored["event_count"] == stored["max_seq"]
    assert stored["ended_at"]
    store = store_on(database)
    try:  # every seq stored once, none missing
        seqs = [row["seq"] for row in store.iter_events(session_id)]
    finally:
        store.close()
    assert seqs == list(range(1, stored["max_seq"] + 1))
