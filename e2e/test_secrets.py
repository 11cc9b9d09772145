"""The API key stays on the server: nothing the browser receives or shows contains it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from voice_lab.testing import hold_call

pytestmark = pytest.mark.e2e

API_KEY = "azkey-VOICELAB-FAKE-4f1c9e2b7d"


def test_the_browser_never_sees_the_api_key(page, voice_lab_server, voice_lab_server_factory):
    # Azure is stood in by the emulator of the shared server; this one is a cloud Voice Lab.
    cloud = voice_lab_server_factory(
        VOICE_LAB_PROVIDER="azure",
        AZURE_OPENAI_ENDPOINT=f"{voice_lab_server.url}/emulator/",
        AZURE_OPENAI_API_KEY=API_KEY,
        AZURE_OPENAI_REALTIME_DEPLOYMENT="gpt-realtime",
    )
    seen: list[str] = []
    page.on("response", lambda r: seen.append(_text(r)))
    page.on(
        "websocket",
        lambda ws: (
            ws.on("framesent", lambda f: seen.append(str(f))),
            ws.on("framereceived", lambda f: seen.append(str(f))),
        ),
    )
    session_id = hold_call(page, cloud.url, {"label": "cloud"})
    seen.append(page.content())
    assert page.get_by_test_id("provider").input_value() == "azure"

    for path in ("/", f"/sessions/{session_id}", f"/sessions/{session_id}?view=flat"):
        page.goto(f"{cloud.url}{path}")
        expect(
            page.get_by_test_id("panel-checks").or_(page.get_by_test_id("import-form"))
        ).to_be_visible()
        seen.append(page.content())
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    seen.append(open(download.value.path()).read())

    frames = [text for text in seen if "oai-events" in text or '"op"' in text]
    assert frames, "no websocket frame was seen"
    assert any("response.done" in text for text in seen)
    assert any('"ephemeral_key"' in text for text in seen), "the mint reply was not read"
    leaks = [text[:200] for text in seen if API_KEY in text]
    assert leaks == []
    assert API_KEY not in cloud.output()


def _text(response) -> str:
    """A response's headers and body as text ("" for a body the browser no longer has)."""
    try:
        body = response.body().decode("utf-8", "replace")
    except Exception:
        body = ""
    return f"{response.url} {response.headers} {body}"
