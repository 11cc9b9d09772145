"""A scripted call from the call page: the harness's fixture and hold_call(script=)."""

import pytest

from voice_lab.testing import CapturedSession, hold_call

pytestmark = pytest.mark.e2e

SCRIPT = {
    "turns": [
        {"turn": 1, "say": "This is the first scripted answer."},
        {"say": "Every later turn gets this one."},
    ]
}


def test_a_call_page_call_follows_the_chosen_script(page, voice_lab_scripted_server):
    """The script named in hold_call answers the looping microphone's turns in its words."""
    server = voice_lab_scripted_server(answers=SCRIPT)
    session_id = hold_call(page, server.url, {"label": "scripted"}, responses=2, script="answers")

    session = CapturedSession.load(server.url, session_id)
    said = [e.raw for e in session.of_type("response.done") if '"completed"' in e.raw]
    assert "This is the first scripted answer." in said[0]
    assert "Every later turn gets this one." in said[1]
