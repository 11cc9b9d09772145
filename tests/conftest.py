"""Fixtures: an app on a temporary database, its clients, and a live server on port 0."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from voice_lab import create_app
from voice_lab.storage.sqlite import SQLiteStore
from voice_lab.testing import LiveServer


@pytest.fixture
def settings(tmp_path) -> dict:
    """The test app's raw settings (the environment is not read): edit before using `app`."""
    return {"VOICE_LAB_DATABASE": str(tmp_path / "voice_lab.sqlite3"), "TESTING": True}


@pytest.fixture
def app(settings):
    """An app on a fresh database; the emulator, when on, is shut down afterwards."""
    app = create_app(settings)
    yield app
    emulator = app.extensions.get("voice_lab_emulator")
    if emulator is not None:
        emulator.shutdown()


@pytest.fixture
def azure_stub(settings, httpserver):
    """Point the app at a local stand-in of Azure GA: call it with the API key, and optionally
    the deployment and the JSON every mint gets back; it returns the stand-in."""

    def configure(api_key: str, deployment: str = "rt", mint_reply: dict | None = None):
        settings.update(
            {
                "AZURE_OPENAI_ENDPOINT": httpserver.url_for("/"),
                "AZURE_OPENAI_API_KEY": api_key,
                "AZURE_OPENAI_REALTIME_DEPLOYMENT": deployment,
            }
        )
        if mint_reply is not None:
            mint = httpserver.expect_request("/openai/v1/realtime/client_secrets")
            mint.respond_with_json(mint_reply)
        return httpserver

    return configure


@pytest.fixture
def store(tmp_path) -> Iterator[SQLiteStore]:
    """A migrated Store on a database of its own."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def csrf(client) -> str:
    """The CSRF token of the test client's browser session, as a page shows it."""
    page = client.get("/").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The app served for real, for websockets and WebRTC clients."""
    with LiveServer(app) as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """Print the reliability figures the tests counted, when any ran."""
    from tests.figures import FIGURES

    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value}")
