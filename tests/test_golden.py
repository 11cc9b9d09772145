"""Golden files: the strict parser's errors, and a pytest run collecting a file's replays."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from tests import eventlogs
from tests.test_testing import export_of
from voice_lab.exchange.bundle import AUDIO_MEMBER
from voice_lab.testing import CapturedSession, golden
from voice_lab.testing.golden import Expect, GoldenError
from voice_lab.testing.golden_run import failures

pytest_plugins = ["pytester"]


def a_file(**replay) -> dict:
    """A golden file of one replay: a good one, with `replay`'s fields in place of its own."""
    good = {"name": "cedar", "bundle": "call.zip", "expect": {"no_errors": True}}
    return {"format": golden.FORMAT, "version": 1, "replays": [{**good, **replay}]}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A golden file's folder with a bundle beside it."""
    (tmp_path / "call.zip").write_bytes(b"PK\x03\x04")
    return tmp_path


def test_a_good_file(folder):
    data = a_file(
        settings={"voice": "cedar", "script": "weather", "threshold": 0.6, "record": True},
        client_events=True,
        expect={
            "no_errors": True,
            "not_slower": {"to_first_audio_ms": 300, "heard_to_first_audio_ms": 400},
            "same_tools": True,
            "latency_under": {"to_created_ms": 900},
        },
    )
    (replay,) = golden.parse(data, folder)
    assert replay.name == "cedar" and replay.bundle == folder / "call.zip"
    assert replay.settings["voice"] == "cedar" and replay.client_events
    assert replay.expect == golden.Expect(
        no_errors=True,
        not_slower={"to_first_audio_ms": 300.0, "heard_to_first_audio_ms": 400.0},
        same_tools=True,
        latency_under={"to_created_ms": 900.0},
    )
    defaults = golden.parse(a_file(), folder)[0]
    assert defaults.settings == {} and not defaults.client_events


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'golden file: expected {"format": "voice-lab.golden", "version": 1'),
        ({**a_file(), "format": "voice-lab.session"}, 'format must be "voice-lab.golden"'),
        ({**a_file(), "version": 2}, "version 2 of voice-lab.golden is not supported"),
        ({**a_file(), "calls": []}, "golden file has no field 'calls'; use format, version"),
        ({**a_file(), "replays": []}, "replays must be a non-empty list, got a list []"),
        ({**a_file(), "replays": ["x"]}, 'replays[0] must be an object like {"name"'),
        (a_file(name="two words"), "replays[0].name must be the test's name in letters"),
        (a_file(voice="cedar"), "replays[0] has no field 'voice'; use name, bundle, settings"),
        (a_file(bundle="call.json"), "replays[0].bundle must be the path of a bundle (.zip"),
        (a_file(bundle="/calls/call.zip"), "relative to the golden file's folder"),
        (a_file(bundle="other.zip"), "replays[0].bundle: other.zip is not a file beside"),
        (a_file(settings=["voice"]), "replays[0].settings must be an object of the call page"),
        (a_file(settings={"colour": "red"}), "settings has no field 'colour'; use provider,"),
        (a_file(settings={"voice": None}), "replays[0].settings.voice must be text, a number"),
        (a_file(client_events="yes"), 'client_events must be true or false, got a string "yes"'),
        (a_file(expect=None), "replays[0].expect must be an object like"),
        (a_file(expect={}), "replays[0].expect expects nothing, so the replay cannot fail"),
        (a_file(expect={"no_errors": False}), "expects nothing"),
        (a_file(expect={"faster": True}), "expect has no field 'faster'; use no_errors, not_sl"),
        (a_file(expect={"no_errors": 1}), "replays[0].expect.no_errors must be true or false"),
        (
            a_file(expect={"not_slower": {"first_audio": 300}}),
            "expect.not_slower has no figure 'first_audio'; use to_created_ms, ",
        ),
        (
            a_file(expect={"not_slower": {"to_first_audio_ms": -1}}),
            "expect.not_slower.to_first_audio_ms must be milliseconds, at least 0, got a number",
        ),
        (
            a_file(expect={"latency_under": {"to_first_audio_ms": 0}}),
            "latency_under.to_first_audio_ms must be milliseconds, at least 1",
        ),
        (
            a_file(expect={"latency_under": {"heard_to_first_audio_ms": 900}}),
            "latency_under has no figure 'heard_to_first_audio_ms'; use to_created_ms,",
        ),
        (a_file(expect={"not_slower": 300}), 'not_slower must be an object like {"to_first_aud'),
    ],
)
def test_each_mistake_is_named_with_its_place_and_fix(folder, data, message):
    with pytest.raises(GoldenError) as refused:
        golden.parse(data, folder)
    assert message in str(refused.value)


def test_two_replays_of_one_name_are_refused(folder):
    data = a_file()
    data["replays"].append(dict(data["replays"][0]))
    with pytest.raises(
        GoldenError, match=r"replays\[1\]\.name 'cedar' is the name of replays\[0\]"
    ):
        golden.parse(data, folder)


def test_a_file_names_itself_in_its_errors(folder):
    path = folder / "calls.golden.json"
    path.write_text("{not json")
    with pytest.raises(GoldenError, match=r"^calls\.golden\.json is not valid JSON"):
        golden.load(path)
    path.write_text(json.dumps(a_file(expect={})))
    with pytest.raises(GoldenError, match=r"^calls\.golden\.json: replays\[0\]\.expect expects"):
        golden.load(path)


def test_each_expectation_missed_is_listed_with_its_figures():
    voice = CapturedSession.from_export(export_of(eventlogs.voice_turn_log()))
    text = CapturedSession.from_export(export_of(eventlogs.text_response_log()))
    tool = CapturedSession.from_export(export_of(eventlogs.function_call_log()))
    failed = CapturedSession.from_export(export_of(eventlogs.failed_response_log()))
    every = Expect(
        no_errors=True,
        not_slower={"to_created_ms": 150},  # voice's 300 ms against text's 150 ms: just within
        same_tools=True,
        latency_under={"to_created_ms": 301},
    )
    assert failures(every, voice, text) == []
    assert failures(Expect(not_slower={"to_created_ms": 149}), voice, text) == [
        "expect.not_slower.to_created_ms: to_created_ms p95 is 300 ms here against 150 ms in "
        "the other: 150 ms slower (budget 149 ms)"
    ]
    missed = failures(every, failed, tool)
    assert [line.split(":")[0] for line in missed] == ["expect.no_errors", "expect.same_tools"]
    assert "functions called here [], in the other ['get_weather']" in missed[1]
    assert failures(Expect(latency_under={"to_created_ms": 300}), voice, voice) == [
        "expect.latency_under.to_created_ms: to_created_ms p95 is 300 ms (budget 300 ms)"
    ]


def test_the_repository_golden_set_is_a_valid_file_of_small_recorded_bundles():
    path = Path(__file__).resolve().parent.parent / "e2e" / "golden" / "calls.golden.json"
    replays = golden.load(path)
    assert replays
    for replay in replays:
        assert replay.bundle.stat().st_size < 200_000, f"{replay.bundle.name}: keep it small"
        with zipfile.ZipFile(replay.bundle) as bundle:
            assert AUDIO_MEMBER in bundle.namelist(), f"{replay.bundle.name} has no recording"


def golden_suite(pytester, replays: list[dict]) -> None:
    """A suite that loads the plugin, with a golden file of `replays` and their bundle."""
    pytester.makeconftest('pytest_plugins = ["voice_lab.testing"]')
    (pytester.path / "call.zip").write_bytes(b"PK\x03\x04")
    data = {"format": golden.FORMAT, "version": 1, "replays": replays}
    (pytester.path / "calls.golden.json").write_text(json.dumps(data))
    (pytester.path / "golden-notes.json").write_text("not a golden file: never collected")


def test_a_pytest_run_collects_a_test_per_replay(pytester):
    expect = {"no_errors": True}
    golden_suite(
        pytester,
        [
            {"name": "cedar", "bundle": "call.zip", "expect": expect},
            {
                "name": "weather",
                "bundle": "call.zip",
                "settings": {"script": "weather"},
                "expect": expect,
            },
        ],
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["calls.golden.json::cedar", "calls.golden.json::weather"])


def test_a_mistake_fails_collection_naming_the_place_and_fix(pytester):
    golden_suite(pytester, [{"name": "cedar", "bundle": "call.zip", "expect": {"fast": True}}])
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    said = "calls.golden.json: replays[0].expect has no field 'fast'; use no_errors, not_slower"
    result.stdout.re_match_lines([re.escape(said)])
    result.stdout.no_fnmatch_line("*Traceback*")
