"""Rendering a chat with a model's Go template, the way Ollama does.

Ollama's rules (its ``template`` package), reproduced here:

- consecutive messages of one role are merged (``\\n\\n``), except tool
  results; all system messages, joined, are also ``.System``;
- a template that mentions ``.Messages`` is rendered once with
  ``.System``, ``.Messages``, ``.Tools``, ``.Think``, ``.IsThinkSet``;
- an older template (only ``.System``/``.Prompt``/``.Response``) is
  rendered once per finished user/assistant turn and the pieces joined;
  the last turn is rendered only up to its ``{{ .Response }}``, so the
  prompt ends where the model's answer begins;
- a template with neither ``.Messages`` nor ``.Response`` gets a
  ``{{ .Response }}`` appended, as Ollama's ``Parse`` does.

Messages, tools and tool calls become ``Struct`` values with Ollama's Go
field names (``.Role``, ``.ToolCalls``, ``.Function.Arguments``...), so a
library template sees what it would see in Ollama.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import BadRequest
from app.runner.go_template import (
    Command,
    GoTemplate,
    JSONMap,
    Node,
    Operand,
    Pipeline,
    Struct,
)


def _response_node() -> Node:
    return Node("action", pipe=Pipeline([Command([Operand("field", chain=["Response"])])]))


def uses_messages(template: GoTemplate) -> bool:
    return "messages" in template.identifiers()


def _nodes(template: GoTemplate) -> list[Node]:
    """The template's nodes, with ``{{ .Response }}`` appended where Ollama appends it."""
    nodes = template.nodes()
    names = template.identifiers()
    if "messages" not in names and "response" not in names:
        nodes = [*nodes, _response_node()]
    return nodes


def render(
    source: str,
    messages: list[dict[str, Any]],
    tools: list[Any] | None = None,
    think: Any = None,
) -> str:
    """The prompt for ``messages`` (Ollama request shape) in the Go template ``source``."""
    template = GoTemplate(source)
    nodes = _nodes(template)
    system, collated = collate([_message(m, i) for i, m in enumerate(messages)])
    thinking = {
        "Think": bool(think) and think != "false",
        "IsThinkSet": think is not None,
        "ThinkLevel": think if isinstance(think, str) else "",
    }
    if uses_messages(template):
        data = {
            "System": system,
            "Messages": collated,
            "Tools": [_tool(t, i) for i, t in enumerate(tools or [])],
            "Response": "",
            "Query": "",
            "Document": "",
            "Instruction": "",
            **thinking,
        }
        return template.render(data, nodes)
    return _legacy(template, nodes, collated, thinking)


def _legacy(
    template: GoTemplate, nodes: list[Node], messages: list[Struct], thinking: dict[str, Any]
) -> str:
    pieces: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def execute() -> None:
        pieces.append(template.render({**turn, **thinking}, nodes))
        turn.update(System="", Prompt="", Response="")

    for message in messages:
        role, content = message.fields["Role"], message.fields["Content"]
        if role == "system":
            if turn["Prompt"] or turn["Response"]:
                execute()
            turn["System"] = content
        elif role == "user":
            if turn["Response"]:
                execute()
            turn["Prompt"] = content
        elif role == "assistant":
            turn["Response"] = content
    cut, _ = _cut_after_response(nodes)
    pieces.append(template.render({**turn, **thinking}, cut))
    return "".join(pieces)


def _mentions_response(pipe: Pipeline | None) -> bool:
    return any(
        operand.kind == "field" and "Response" in operand.chain
        for command in (pipe.commands if pipe else ())
        for operand in command.operands
    )


def _cut_after_response(nodes: list[Node]) -> tuple[list[Node], bool]:
    """The nodes up to and including the first ``{{ .Response }}``; whether one was found.

    Ollama deletes everything after that action (in the order the tree is
    walked), so the last turn's prompt stops where the answer goes.
    """
    kept: list[Node] = []
    for node in nodes:
        if node.kind == "action" and _mentions_response(node.pipe):
            kept.append(node)
            return kept, True
        if node.kind in {"if", "with", "range"}:
            body, found = _cut_after_response(node.body)
            if found:
                kept.append(Node(node.kind, pipe=node.pipe, body=body))
                return kept, True
            otherwise, found = _cut_after_response(node.otherwise)
            kept.append(Node(node.kind, pipe=node.pipe, body=node.body, otherwise=otherwise))
            if found:
                return kept, True
            continue
        kept.append(node)
    return kept, False


def collate(messages: list[Struct]) -> tuple[str, list[Struct]]:
    """Ollama's ``collate``: merge same-role neighbours (not tool results), gather systems."""
    systems: list[str] = []
    collated: list[Struct] = []
    for message in messages:
        role = message.fields["Role"]
        if role == "system":
            systems.append(message.fields["Content"])
        if collated and collated[-1].fields["Role"] == role and role != "tool":
            last = collated[-1]
            merged = dict(
                last.fields, Content=last.fields["Content"] + "\n\n" + message.fields["Content"]
            )
            collated[-1] = Struct("api.Message", merged, last.json_value)
        else:
            collated.append(message)
    return "\n\n".join(systems), collated


def _message(message: Any, index: int) -> Struct:
    if not isinstance(message, dict):
        raise BadRequest(f"messages[{index}] must be an object")
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise BadRequest(f"messages[{index}].content must be a string")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise BadRequest(f"messages[{index}].tool_calls must be a list")
    fields = {
        "Role": str(message.get("role") or ""),
        "Content": content,
        "Thinking": str(message.get("thinking") or ""),
        "Images": list(message.get("images") or []),
        "ToolCalls": [_tool_call(call, i) for i, call in enumerate(calls)],
        "ToolName": str(message.get("tool_name") or ""),
        "ToolCallID": str(message.get("tool_call_id") or ""),
    }
    return Struct("api.Message", fields, message)


def _tool_call(call: Any, index: int) -> Struct:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        raise BadRequest("tool_calls entries need a function")
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise BadRequest("tool call arguments must be a JSON object") from None
    arguments = JSONMap(arguments if isinstance(arguments, dict) else {})
    inner = Struct(
        "api.ToolCallFunction",
        {
            "Index": int(function.get("index") or index),
            "Name": str(function.get("name") or ""),
            "Arguments": arguments,
        },
        {
            "index": int(function.get("index") or index),
            "name": function.get("name") or "",
            "arguments": arguments,
        },
    )
    json_value: dict[str, Any] = {"function": inner.json_value}
    if call.get("id"):
        json_value = {"id": call["id"], **json_value}
    return Struct("api.ToolCall", {"ID": str(call.get("id") or ""), "Function": inner}, json_value)


def _tool(tool: Any, index: int) -> Struct:
    if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
        raise BadRequest(f"tools[{index}] must be an object with a function")
    function = tool["function"]
    parameters: dict[str, Any] = (
        function["parameters"] if isinstance(function.get("parameters"), dict) else {}
    )
    properties: dict[str, Any] = (
        parameters["properties"] if isinstance(parameters.get("properties"), dict) else {}
    )
    props = {
        name: Struct(
            "api.ToolProperty",
            {
                "Type": (spec or {}).get("type", ""),
                "Items": (spec or {}).get("items"),
                "Description": (spec or {}).get("description", ""),
                "Enum": list((spec or {}).get("enum") or []),
            },
            _ordered(spec or {}, _PROPERTY_ORDER),
        )
        for name, spec in properties.items()
        if isinstance(spec, dict) or spec is None
    }
    params = Struct(
        "api.ToolFunctionParameters",
        {
            "Type": parameters.get("type", ""),
            "Defs": parameters.get("$defs"),
            "Items": parameters.get("items"),
            "Required": list(parameters.get("required") or []),
            "Properties": props,
        },
        {**_ordered(parameters, _PARAMETERS_ORDER), "properties": JSONMap(props)},
    )
    inner = Struct(
        "api.ToolFunction",
        {
            "Name": str(function.get("name") or ""),
            "Description": str(function.get("description") or ""),
            "Parameters": params,
        },
        {**_ordered(function, _FUNCTION_ORDER), "parameters": params},
    )
    return Struct(
        "api.Tool",
        {
            "Type": str(tool.get("type") or "function"),
            "Items": tool.get("items"),
            "Function": inner,
        },
        {**_ordered(tool, ("type", "items?")), "function": inner},
    )


# Go writes a struct's fields in declaration order, leaving out empty
# ``omitempty`` ones; these are Ollama's api.Tool* structs. Map keys
# (property names, tool-call arguments) come out sorted.
_FUNCTION_ORDER = ("name", "description?")
_PARAMETERS_ORDER = ("type", "$defs?", "items?", "required?")
_PROPERTY_ORDER = ("anyOf?", "type?", "items?", "description?", "enum?", "properties?")
_NESTED = {"function", "parameters", "properties"}


def _ordered(source: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """``source``'s known keys in Go's field order (``?``: left out when empty), then the rest."""
    out: dict[str, Any] = {}
    for entry in order:
        key = entry.rstrip("?")
        value = source.get(key)
        if entry.endswith("?") and not value:
            continue
        out[key] = value if value is not None else ""
    if source.get("properties") and "properties?" in order:
        out["properties"] = JSONMap(source["properties"])
    known = {entry.rstrip("?") for entry in order} | _NESTED
    out.update({k: v for k, v in source.items() if k not in known})
    return out
