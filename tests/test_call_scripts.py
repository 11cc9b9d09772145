"""The call page's scripts as the browser fetches them: one module per feature, all from here."""

import re
from urllib.parse import urljoin

import pytest
import requests


@pytest.fixture
def settings(settings):
    """A cloud configuration that is never called: the page only has to render."""
    settings["OPENAI_API_KEY"] = "sk-unused"
    return settings


def imported_modules(entry: str) -> dict[str, str]:
    """Every module reachable from `entry` by relative imports, fetched over HTTP: url -> text."""
    found: dict[str, str] = {}
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        reply = requests.get(url, timeout=5)
        assert reply.status_code == 200, f"{url} answered {reply.status_code}"
        assert "javascript" in reply.headers["Content-Type"], f"{url} is not served as a script"
        found[url] = reply.text
        todo += [urljoin(url, path) for path in re.findall(r'from "(\.[^"]+)"', reply.text)]
    return found


def test_call_page_loads_a_module_per_feature_and_clones_rows_from_a_template(live_server):
    page = requests.get(f"{live_server.url}/call", timeout=5).text
    entries = re.findall(r'<script type="module" src="([^"]+)"', page)
    modules: dict[str, str] = {}
    for entry in entries:
        modules |= imported_modules(urljoin(live_server.url, entry))
    assert all(url.startswith(f"{live_server.url}/static/js/") for url in modules)
    names = {url.rsplit("/", 1)[1] for url in modules}
    assert names == {
        "dashboard.js",
        "call.js",
        "call_settings.js",
        "call_status.js",
        "call_controls.js",
        "client_events.js",
        "levels.js",
        "mirror.js",
        "mirror_audio.js",
        "recorder.js",
        "signaling.js",
    }
    # The rows the status module lists come from this template, hooks and all.
    row = re.search(r'<template id="event-row">(.*?)</template>', page, re.S)
    assert row and 'data-testid="event"' in row[1] and "<pre>" in row[1]
    assert 'createElement("li")' not in "".join(modules.values())
