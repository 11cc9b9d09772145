"""Scripts, pure: parsing, refusals that name the field and the fix, matching, the director."""

from __future__ import annotations

import json

import pytest

from voice_lab.emulator import scripting
from voice_lab.emulator.director import Director
from voice_lab.emulator.scripting import Call, ScriptError, find, parse, spoken


def user(text: str) -> dict:
    """A typed user message item."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def output(value: dict) -> dict:
    """A function_call_output item."""
    return {"type": "function_call_output", "call_id": "call_1", "output": json.dumps(value)}


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ([], "a script must be an object with a turns list, got a list []"),
        ({"turns": []}, "turns must be a non-empty list of turns"),
        ({"turns": [{}], "voice": "x"}, "the script has no field 'voice'; use description, turns"),
        ({"turns": ["hi"]}, 'turns[0] must be an object like {"say": "Hello"}, got a string "hi"'),
        ({"turns": [{"sya": "hi"}]}, "turns[0] has no field 'sya'; use turn, match, say"),
        ({"turns": [{"turn": 0}]}, "turns[0].turn must be a whole number from 1, got 0"),
        ({"turns": [{"match": "("}]}, "turns[0].match is not a valid regular expression"),
        ({"turns": [{"say": 3}]}, "turns[0].say must be a string of words, got a number 3"),
        (
            {"turns": [{}, {}, {"call": {"name": "f", "arguments": [1]}}]},
            "turns[2].call.arguments must be an object, got a list [1]",
        ),
        (
            {"turns": [{"call": [{"name": ""}]}]},
            "turns[0].call[0].name must be the function's name",
        ),
        ({"turns": [{"delay_ms": -1}]}, "turns[0].delay_ms must be whole milliseconds 0-600000"),
        ({"turns": [{"talk_ms": 0}]}, "turns[0].talk_ms must be whole milliseconds 1-600000"),
        ({"turns": [{"fault": "mint_429"}]}, "turns[0].fault must be one of response_error"),
        ({"turns": [{"fault": "nope"}]}, "turns[0].fault: scenario must be one of none"),
        ({"turns": [{"end": "yes"}]}, 'turns[0].end must be true or false, got a string "yes"'),
    ],
)
def test_bad_scripts_are_refused_naming_the_field(script, message):
    """Each mistake is reported with its path in the script and what would be right."""
    with pytest.raises(ScriptError) as caught:
        parse(script)
    assert str(caught.value).startswith(message)


def test_the_shipped_scripts_load():
    """The examples in the package's scripts folder all parse."""
    assert scripting.names(scripting.FOLDER) == ["booking", "failing_tool", "weather"]
    for name in scripting.names(scripting.FOLDER):
        assert find(name, scripting.FOLDER).turns


def test_files_json_and_toml_and_where_names_come_from(tmp_path):
    """TOML reads like JSON; a name is looked up in the folder; paths only when allowed."""
    (tmp_path / "hello.toml").write_text('[[turns]]\nsay = "Hello there"\nend = true\n')
    (tmp_path / "broken.json").write_text('{"turns": [{"call": {"name": 1}}]}')
    script = find("hello", tmp_path)
    assert script.name == "hello" and script.turns[0].say == "Hello there"
    with pytest.raises(ScriptError, match=r"broken.json: turns\[0\].call.name must be"):
        find("broken", tmp_path)
    with pytest.raises(ScriptError, match=r"no script named 'nope' .*it has: broken, hello"):
        find("nope", tmp_path)
    path = str(tmp_path / "hello.toml")
    with pytest.raises(ScriptError, match="no script named"):
        find(path, tmp_path / "elsewhere")
    assert find(path, tmp_path / "elsewhere", paths=True).name == "hello"


def test_turns_match_by_number_then_pattern_then_anything():
    """The first turn that fits: a number, a pattern searched case-blind, or neither."""
    script = parse(
        {
            "turns": [
                {"turn": 2, "say": "second"},
                {"match": "weather", "say": "weather"},
                {"say": "anything"},
            ]
        }
    )
    assert script.turn_for(2, "the weather").say == "second"
    assert script.turn_for(1, "The WEATHER?").say == "weather"
    assert script.turn_for(3, "hello").say == "anything"


def test_say_takes_fields_of_the_output():
    """{field} from the JSON output, {output} the whole of it; unknown fields stay as written."""
    out = json.dumps({"city": "Oslo", "temperature": -3, "wind": {"speed": 5}})
    assert spoken("{city}: {temperature} ({wind}) {rain}", out) == "Oslo: -3 (speed 5) {rain}"
    assert spoken("Got {output}.", '{"ok": true}') == "Got ok true."
    assert spoken("Plain words", None) == "Plain words"


def test_the_director_walks_a_turn_through_its_calls():
    """A user input starts a turn, each output moves to the next call, then the words."""
    script = find("booking", scripting.FOLDER)
    director = Director(script)
    first = director.decide([user("book a table")], "book a table", "default")
    assert first.call == Call("find_slots", {"party_size": 2, "date": "2026-12-24"})
    inputs = [user("book a table"), output({"slots": ["19:00"]})]
    second = director.decide(inputs, "", "default")
    assert second.call is not None and second.call.name == "book_slot"
    inputs.append(output({"confirmation": "AB12"}))
    last = director.decide(inputs, "", "default")
    assert last.call is None and last.text == "You are booked: confirmation AB12."


def test_without_a_script_the_default_reply_stays():
    """No script: every response is the emulator's own reply."""
    assert Director(None).decide([user("hi")], "hi", "You said: hi").text == "You said: hi"
    assert not Director(None).listens
