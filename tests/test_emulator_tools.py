"""Function calls: arguments from schemas, the event sequence through the SDK's models, and
the round trip over a real peer (call, output, reply that says the output)."""

from __future__ import annotations

import json

import pytest
from openai.types import realtime as ga
from openai.types.beta import realtime as beta

from tests.test_emulator_call import assert_conforms, extras, open_call, run
from voice_lab.emulator.response_events import response_events
from voice_lab.emulator.script import Ids, ResponsePlan, Script
from voice_lab.emulator.tools import FunctionCall, choose, fill

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
}
# The SDK's model for each event of a function call, by protocol.
MODELS = {
    "ga": {
        "response.output_item.added": ga.ResponseOutputItemAddedEvent,
        "conversation.item.added": ga.ConversationItemAdded,
        "response.function_call_arguments.delta": ga.ResponseFunctionCallArgumentsDeltaEvent,
        "response.function_call_arguments.done": ga.ResponseFunctionCallArgumentsDoneEvent,
        "response.output_item.done": ga.ResponseOutputItemDoneEvent,
        "conversation.item.done": ga.ConversationItemDone,
        "response.done": ga.ResponseDoneEvent,
    },
    "beta": {
        "response.output_item.added": beta.ResponseOutputItemAddedEvent,
        "conversation.item.created": beta.ConversationItemCreatedEvent,
        "response.function_call_arguments.delta": beta.ResponseFunctionCallArgumentsDeltaEvent,
        "response.function_call_arguments.done": beta.ResponseFunctionCallArgumentsDoneEvent,
        "response.output_item.done": beta.ResponseOutputItemDoneEvent,
        "response.done": beta.ResponseDoneEvent,
    },
}
SEQUENCE = {
    "ga": [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        *["response.function_call_arguments.delta"] * 4,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ],
}
SEQUENCE["beta"] = [
    "conversation.item.created" if t == "conversation.item.added" else t
    for t in SEQUENCE["ga"]
    if t != "conversation.item.done"
]


def call_response(protocol: str) -> tuple[list[dict], FunctionCall]:
    """The events of a response that calls get_weather, from a seeded script."""
    script = Script(protocol, Ids(seed=4))
    call = FunctionCall("item_call", "call_1", "get_weather", '{"city": "Paris", "unit": "c"}')
    plan = ResponsePlan(
        response_id="resp_1",
        item_id="item_call",
        text="",
        modalities=["audio", "text"],
        conversation_id="conv_1",
        call=call,
    )
    return list(response_events(script, plan)), call


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_function_call_sequence_in_the_sdk_models(protocol):
    """The exact order, each event through its own SDK model with no unknown fields."""
    events, call = call_response(protocol)
    assert [e["type"] for e in events] == SEQUENCE[protocol]
    for event in events:
        model = MODELS[protocol].get(event["type"])
        if model is not None:
            assert extras(model.model_validate(event), event["type"]) == []
    added = events[2]["item"]
    assert (added["type"], added["name"], added["call_id"]) == (
        "function_call",
        *("get_weather",),
        "call_1",
    )
    deltas = [e["delta"] for e in events if e["type"].endswith("arguments.delta")]
    assert len(deltas) > 1 and "".join(deltas) == call.arguments
    done = next(e for e in events if e["type"].endswith("arguments.done"))
    assert done["arguments"] == call.arguments and done["call_id"] == "call_1"
    assert ("name" in done) is (protocol == "ga")
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"][0]["arguments"] == call.arguments


def test_arguments_are_filled_from_the_schema():
    """Enums, defaults, types, required properties, nested objects and arrays; given wins."""
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "default": 3},
            "when": {
                "type": "object",
                "properties": {"hour": {"type": "number"}, "exact": {"type": "boolean"}},
                "required": ["hour", "exact"],
            },
            "tags": {"type": "array", "items": {"type": "string", "enum": ["rain"]}},
            "optional": {"type": "string"},
        },
        "required": ["city", "unit", "days", "when", "tags"],
    }
    assert fill(schema) == {
        "city": "example",
        "unit": "celsius",
        "days": 3,
        "when": {"hour": 1.5, "exact": True},
        "tags": ["rain"],
    }
    filled = fill(schema, {"city": "Oslo", "when": {"hour": 9}, "optional": "x"})
    assert filled["city"] == "Oslo" and filled["when"] == {"hour": 9, "exact": True}
    assert filled["optional"] == "x"


def test_tool_choice_decides_what_is_called():
    """required and named call; auto calls only what a script wants; none never calls."""
    other = {**WEATHER, "name": "get_time", "parameters": {"type": "object"}}
    tools = [WEATHER, other]
    assert choose(tools, "required", None) == (
        "get_weather",
        {"city": "example", "unit": "celsius"},
    )
    assert choose(tools, {"type": "function", "name": "get_time"}, None) == ("get_time", {})
    assert choose(tools, "auto", None) is None
    assert choose(tools, "auto", ("get_time", {"zone": "UTC"})) == ("get_time", {"zone": "UTC"})
    assert choose(tools, "none", ("get_time", {})) is None
    assert choose(tools, "auto", ("undeclared", {})) is None


def session_update(protocol: str, **fields) -> dict:
    """A session.update in the protocol's shape."""
    session = {"type": "realtime", **fields} if protocol == "ga" else fields
    return {"type": "session.update", "session": session}


def typed(text: str) -> dict:
    """A user's typed message."""
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_a_call_and_its_output_round_trip(live_server, protocol):
    """tool_choice required: the response calls; the output comes back; the reply says it."""

    async def call():
        client = await open_call(live_server, audio=False, protocol=protocol)
        client.send(session_update(protocol, tools=[WEATHER], tool_choice="required"))
        await client.wait_for("session.updated")
        client.send(typed("weather in Paris?"))
        client.send({"type": "response.create"})
        done = await client.wait_for("response.done")
        item = done["response"]["output"][0]
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": item["call_id"],
                    "output": json.dumps({"city": "Paris", "temperature": 18}),
                },
            }
        )
        text = "output_modalities" if protocol == "ga" else "modalities"
        client.send(
            {"type": "response.create", "response": {text: ["text"], "tool_choice": "none"}}
        )
        second = await client.wait_for("response.done", after=client.index(done) + 1)
        await client.close()
        return client, item, second

    client, item, second = run(call())
    assert item["type"] == "function_call" and item["status"] == "completed"
    assert json.loads(item["arguments"]) == {"city": "example", "unit": "celsius"}
    said = second["response"]["output"][0]["content"][0]["text"]
    assert "Paris" in said and "18" in said and "get_weather" in said
    assert not [e for e in client.events if e["type"] == "error"]
    assert_conforms(client.events, protocol)


def test_output_for_an_unknown_call_and_create_while_active(live_server):
    """Both answered as the service words them, with invalid_request_error."""

    async def call():
        client = await open_call(live_server, audio=False)
        client.send(
            {
                "type": "conversation.item.create",
                "event_id": "evt_out",
                "item": {"type": "function_call_output", "call_id": "call_nope", "output": "{}"},
            }
        )
        unknown = await client.wait_for("error")
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        client.send({"type": "response.create", "event_id": "evt_twice"})
        created = await client.wait_for("response.created")
        active = await client.wait_for("error", after=client.index(unknown) + 1)
        await client.wait_for("response.done")
        await client.close()
        return unknown, created, active

    unknown, created, active = run(call())
    assert unknown["error"]["type"] == "invalid_request_error"
    assert unknown["error"]["message"] == "Tool call ID 'call_nope' not found in conversation."
    assert unknown["error"]["event_id"] == "evt_out"
    assert active["error"]["code"] == "conversation_already_has_active_response"
    assert active["error"]["message"].startswith(
        f"Conversation already has an active response in progress: {created['response']['id']}"
    )


def test_a_response_creates_own_tools_and_auto_without_a_script_speaks(live_server):
    """response.create's tools and named tool_choice are honoured; auto alone just replies."""

    async def call():
        client = await open_call(live_server, audio=False)
        client.send(session_update("ga", tools=[WEATHER]))
        await client.wait_for("session.updated")
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        first = await client.wait_for("response.done")
        own = {**WEATHER, "name": "get_time", "parameters": {"type": "object"}}
        choice = {"type": "function", "name": "get_time"}
        client.send(
            {"type": "response.create", "response": {"tools": [own], "tool_choice": choice}}
        )
        second = await client.wait_for("response.done", after=client.index(first) + 1)
        await client.close()
        return first, second

    first, second = run(call())
    assert first["response"]["output"][0]["type"] == "message"
    assert second["response"]["output"][0]["name"] == "get_time"


def test_a_named_tool_choice_must_name_a_declared_function(live_server):
    """session.update and response.create naming an undeclared function get an error; the
    session keeps its tools and nothing is called."""

    async def call():
        client = await open_call(live_server, audio=False)
        choice = {"type": "function", "name": "get_time"}
        client.send(session_update("ga", tools=[WEATHER], tool_choice=choice))
        refused = await client.wait_for("error")
        client.send({"type": "response.create", "response": {"tool_choice": choice}})
        again = await client.wait_for("error", after=client.index(refused) + 1)
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = await client.wait_for("response.done")
        await client.close()
        return client, refused, again, done

    client, refused, again, done = run(call())
    for error, param in ((refused, "session.tool_choice"), (again, "response.tool_choice")):
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["param"] == param
        assert error["error"]["message"].startswith(
            "Tool choice function 'get_time' not found in 'tools' parameter"
        )
    assert "session.updated" not in client.types()[1:]
    assert done["response"]["output"][0]["type"] == "message"
