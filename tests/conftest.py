"""Fixtures: an app on a temporary database, its clients, and a live server on port 0."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from voice_lab import create_app
from voice_lab.storage.base import Store
from voice_lab.testing import LiveServer

from .stores import BACKENDS, HOW_TO_RUN, fresh_database, postgres_wanted, stop_news, store_on

_not_run: list[pytest.Item] = []  # the PostgreSQL tests left out, with no server for them


def pytest_generate_tests(metafunc):
    """A test marked `backends` runs on each backend its marker names (all, with none named);
    the others on SQLite alone."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        metafunc.parametrize("backend", marker.args or BACKENDS, indirect=True)


def pytest_collection_modifyitems(config, items):
    """Leave the PostgreSQL tests out when there is no server for them (never under CI)."""
    if postgres_wanted():
        return
    _not_run.extend(
        i
        for i in items
        if getattr(i, "callspec", None) and i.callspec.params.get("backend") == "postgresql"
    )
    if _not_run:
        items[:] = [item for item in items if item not in _not_run]
        config.hook.pytest_deselected(items=_not_run)


@pytest.fixture
def backend(request) -> str:
    """The storage backend the test runs on: sqlite, or postgresql (see `backends`)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database(backend, tmp_path) -> Iterator[str]:
    """The VOICE_LAB_DATABASE of a fresh, migrated database on the test's backend."""
    with fresh_database(backend, tmp_path) as setting:
        yield setting


@pytest.fixture
def settings(database, tmp_path) -> dict:
    """The test app's raw settings (the environment is not read): edit before using `app`.

    The emulator's ears are off unless a test turns them on (tests/test_ears.py): recognising
    every test utterance would only slow the tests about other things."""
    return {
        "VOICE_LAB_DATABASE": database,
        "VOICE_LAB_FILES": str(tmp_path),
        "TESTING": True,
        "VOICE_LAB_ASR": "off",
    }


@pytest.fixture
def app(settings):
    """An app on a fresh database; the emulator, when on, is shut down afterwards."""
    app = create_app(settings)
    yield app
    stop_news(app)
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
def store(database) -> Iterator[Store]:
    """A migrated Store on a database of its own, on the test's backend."""
    store = store_on(database)
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
    """Print the reliability figures the tests counted, when any ran, and how to run the
    PostgreSQL tests when they were skipped."""
    from tests.figures import FIGURES

    if _not_run:
        terminalreporter.write_line(f"{len(_not_run)} PostgreSQL tests not run: {HOW_TO_RUN}")

    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value}")
