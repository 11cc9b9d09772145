"""Function calls as the service makes them: which tool a response calls, arguments that fit
the tool's JSON schema, and the streamed event sequence of section 6 of the protocol notes.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .script import ResponsePlan, Script

ARGUMENT_CHUNK = 8  # characters per arguments delta: small enough to split every value
PLACEHOLDER = {"string": "example", "number": 1.5, "integer": 1, "boolean": True, "null": None}


@dataclass
class FunctionCall:
    """One function call a response makes."""

    item_id: str
    call_id: str
    name: str
    arguments: str  # the JSON text, as the service streams it


def declared(tools: Any) -> dict[str, dict[str, Any]]:
    """The function tools by name (MCP and other tool types are not called)."""
    found: dict[str, dict[str, Any]] = {}
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type", "function") == "function":
            if isinstance(tool.get("name"), str):
                found[tool["name"]] = tool
    return found


def undeclared_choice(tools: Any, tool_choice: Any) -> str | None:
    """The function a named `tool_choice` names when `tools` does not declare it (a choice the
    service refuses), else None."""
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = tool_choice.get("name")
        return None if name in declared(tools) else str(name)
    return None


def choose(
    tools: Any, tool_choice: Any, wanted: tuple[str, dict[str, Any]] | None
) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) the response calls, or None for a spoken reply.

    `wanted` is what a script asks for under "auto"; "required" calls it too, else the first
    tool; a named function is called whatever the script says; "none" never calls.
    """
    functions = declared(tools)
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = tool_choice.get("name")
        if name not in functions:
            return None
        given = wanted[1] if wanted and wanted[0] == name else {}
        return name, fill(functions[name].get("parameters"), given)
    if tool_choice == "none" or not functions:
        return None
    if wanted is not None and wanted[0] in functions:
        return wanted[0], fill(functions[wanted[0]].get("parameters"), wanted[1])
    if tool_choice == "required":
        name = next(iter(functions))
        return name, fill(functions[name].get("parameters"), {})
    return None


def fill(schema: Any, given: Any = None) -> Any:
    """A value that fits `schema`: `given` where it says something, the schema's enum, default or
    type otherwise, and every required property of an object (nested ones too)."""
    if not isinstance(schema, dict):
        return given if given is not None else {}
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        given = given if isinstance(given, dict) else {}
        required = [n for n in schema.get("required") or [] if n in properties]
        names = required + [n for n in given if n not in required]
        return {n: fill(properties.get(n), given.get(n)) for n in names}
    if given is not None:
        return given
    if "default" in schema:
        return schema["default"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind == "array":
        return [fill(schema.get("items"))] if schema.get("items") else []
    return PLACEHOLDER.get(str(kind), "example")


def output_words(output: str) -> str:
    """A function output as words a reply can say: `key value, key value` for a JSON object."""
    try:
        value = json.loads(output)
    except ValueError:
        return output.strip()
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_words(v)}" for k, v in value.items())
    return _words(value)


def _words(value: Any) -> str:
    if isinstance(value, dict):
        return output_words(json.dumps(value))
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)  # true, not True


def call_item(call: FunctionCall, status: str) -> dict[str, Any]:
    """The function_call item; its arguments are whole only once the call is done."""
    return {
        "id": call.item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "name": call.name,
        "call_id": call.call_id,
        "arguments": call.arguments if status != "in_progress" else "",
    }


def call_events(script: Script, plan: ResponsePlan, call: FunctionCall) -> Iterator[dict]:
    """The output of a response that calls a function: added, argument deltas, done."""
    where = {"response_id": plan.response_id, "output_index": 0}
    yield script.event("response.output_item.added", **where, item=call_item(call, "in_progress"))
    if plan.conversation_id is not None:
        yield from script.events(
            (
                "conversation.item.added",
                {"previous_item_id": plan.previous_item_id, "item": call_item(call, "in_progress")},
            )
        )
    ids = {**where, "item_id": call.item_id, "call_id": call.call_id}
    text = call.arguments
    for start in range(0, len(text), ARGUMENT_CHUNK):
        delta = text[start : start + ARGUMENT_CHUNK]
        yield script.event("response.function_call_arguments.delta", **ids, delta=delta)
    named = {"name": call.name} if script.protocol == "ga" else {}
    yield script.event("response.function_call_arguments.done", **ids, **named, arguments=text)
    yield script.event("response.output_item.done", **where, item=call_item(call, "completed"))
    if plan.conversation_id is not None:
        yield from script.events(
            (
                "conversation.item.done",
                {"previous_item_id": plan.previous_item_id, "item": call_item(call, "completed")},
            )
        )
