"""A renderer for the part of Go's ``text/template`` that Ollama's model templates use.

Ollama's library ships each model's prompt format as a Go template (a
``template`` layer). Hearth has no Go, so this module parses and renders
that language itself: text and ``{{ actions }}`` with the ``{{-``/``-}}``
trim markers, comments, fields (``.Messages``, ``$.System``), variables
(``$x := ...``, ``$x = ...``), ``if``/``else if``/``else``, ``range``
(lists, maps in key order, integers) with ``break``/``continue``,
``with``, parenthesised pipelines, ``|`` pipes, and the functions
``and or not eq ne lt le gt ge len index slice print printf println json``.

What it leaves out (``define``, ``template``, ``block``, other functions)
is not refused when the template is parsed: the error is raised when the
template is rendered, as a 400 that names the construct, so a model with
such a template can still be stored, shown and copied.

Values follow Go's rules where a template can tell: a missing map key is
nil and prints ``<no value>``; empty strings, lists and maps, zero and nil
are false; structs (``Struct``) are always true; a ``JSONMap`` (Ollama's
tool-call arguments) and a ``Struct`` print as JSON, as their Go String
methods do.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.errors import BadRequest
from app.gofmt import go_float

NO_VALUE = "<no value>"
_SPACE = " \t\r\n"


class TemplateError(BadRequest):
    """The template cannot be rendered (unsupported construct, bad syntax, bad data)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"template: {message}")


class Struct:
    """A Go struct: named fields (missing ones are an error), printed as ``json_value``."""

    __slots__ = ("fields", "json_value", "type_name")

    def __init__(self, type_name: str, fields: dict[str, Any], json_value: Any = None) -> None:
        self.type_name = type_name
        self.fields = fields
        self.json_value = json_value

    def __repr__(self) -> str:
        return f"Struct({self.type_name}, {self.fields!r})"


class JSONMap(dict[str, Any]):
    """A Go map whose String method writes JSON (Ollama's tool-call arguments)."""


# -- lexing -------------------------------------------------------------


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    tokens: list[tuple[str, Any]]
    position: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<declare>:=)
  | (?P<punct>[()|,=])
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_CHAIN = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _lex(source: str) -> list[_Text | _Action]:
    """Text pieces and actions, with trim markers applied to the neighbouring text."""
    items: list[_Text | _Action] = []
    position = 0
    trim_next = False
    while True:
        start = source.find("{{", position)
        text = source[position:] if start < 0 else source[position:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        inner_start = start + 2
        trim_before = start >= 0 and source[inner_start : inner_start + 1] == "-"
        if trim_before and source[inner_start + 1 : inner_start + 2] in tuple(_SPACE):
            text = text.rstrip(_SPACE)
            inner_start += 2
        else:
            trim_before = False
        if text:
            items.append(_Text(text))
        if start < 0:
            return items
        inner = inner_start
        if source.startswith("/*", inner):
            close = source.find("*/", inner + 2)
            if close < 0:
                raise TemplateError("unclosed comment")
            end, trim_next = _close_delim(source, close + 2, "comment")
            position = end
            continue
        tokens, end, trim_next = _lex_action(source, inner)
        items.append(_Action(tokens, start))
        position = end


def _close_delim(source: str, at: int, what: str) -> tuple[int, bool]:
    rest = source[at:]
    stripped = rest.lstrip(_SPACE)
    if stripped.startswith("-}}") and len(stripped) < len(rest):
        return len(source) - len(stripped) + 3, True
    if stripped.startswith("}}"):
        return len(source) - len(stripped) + 2, False
    raise TemplateError(f"unclosed {what}")


def _lex_action(source: str, at: int) -> tuple[list[tuple[str, Any]], int, bool]:
    tokens: list[tuple[str, Any]] = []
    position = at
    while True:
        if source.startswith("}}", position):
            return tokens, position + 2, False
        if source.startswith("-}}", position) and position > at and source[position - 1] in _SPACE:
            return tokens, position + 3, True
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            if position >= len(source):
                raise TemplateError("unclosed action")
            raise TemplateError(f"unexpected {source[position]!r} in action")
        kind = match.lastgroup or ""
        value = match.group()
        position = match.end()
        if kind == "space":
            continue
        # A field chain right after ")" belongs to the parenthesised operand.
        if kind == "field" and value != "." and source[match.start() - 1] == ")":
            tokens.append(("chain", value[1:].split(".")))
            continue
        if kind == "variable":
            chain = _CHAIN.match(source, position)
            names = chain.group()[1:].split(".") if chain else []
            position = chain.end() if chain else position
            tokens.append(("variable", (value, names)))
        elif kind == "field":
            tokens.append(("field", [] if value == "." else value[1:].split(".")))
        elif kind == "string":
            tokens.append(("literal", _unquote(value[1:-1])))
        elif kind == "raw":
            tokens.append(("literal", value[1:-1]))
        elif kind == "char":
            tokens.append(("literal", ord(_unquote(value[1:-1]))))
        elif kind == "number":
            tokens.append(("literal", _number(value)))
        elif kind == "declare":
            tokens.append((":=", value))
        elif kind == "punct":
            tokens.append((value, value))
        elif value in {"true", "false"}:
            tokens.append(("literal", value == "true"))
        elif value == "nil":
            tokens.append(("nil", None))
        else:
            tokens.append(("ident", value))


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(body: str) -> str:
    """A Go string literal's body with its escapes decoded."""
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        code = body[index + 1 : index + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            index += 2
        elif code in {"\\", '"', "'"}:
            out.append(code)
            index += 2
        elif code in {"x", "u", "U"}:
            width = {"x": 2, "u": 4, "U": 8}[code]
            out.append(chr(int(body[index + 2 : index + 2 + width], 16)))
            index += 2 + width
        elif code.isdigit():
            out.append(chr(int(body[index + 1 : index + 4], 8)))
            index += 4
        else:
            raise TemplateError(f"unknown escape \\{code}")
    return "".join(out)


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    if clean.lower().lstrip("+-").startswith("0x"):
        return int(clean, 16)
    try:
        return int(clean)
    except ValueError:
        return float(clean)


# -- parsing ------------------------------------------------------------


@dataclass
class Operand:
    kind: str  # field, variable, literal, nil, ident, pipe
    value: Any = None
    chain: list[str] = field(default_factory=list)


@dataclass
class Command:
    operands: list[Operand]


@dataclass
class Pipeline:
    commands: list[Command]
    declared: list[str] = field(default_factory=list)
    assign: bool = False  # ``=`` rather than ``:=``


@dataclass
class Node:
    kind: str  # text, action, if, range, with, break, continue, unsupported
    text: str = ""
    pipe: Pipeline | None = None
    body: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)


class _Parser:
    def __init__(self, items: list[_Text | _Action]) -> None:
        self.items = items
        self.index = 0

    def parse(self) -> list[Node]:
        nodes, stop = self._list()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _list(self) -> tuple[list[Node], str | None]:
        """Nodes up to an ``end`` or ``else`` (returned as the stop word) or the end of input."""
        nodes: list[Node] = []
        while self.index < len(self.items):
            item = self.items[self.index]
            self.index += 1
            if isinstance(item, _Text):
                nodes.append(Node("text", text=item.text))
                continue
            tokens = item.tokens
            word = tokens[0][1] if tokens and tokens[0][0] == "ident" else None
            if word in {"end", "else"}:
                self._pending = tokens
                return nodes, word
            if word in {"if", "range", "with"}:
                nodes.append(self._branch(word, tokens[1:]))
            elif word in {"break", "continue"}:
                nodes.append(Node(word))
            elif word in {"define", "template", "block"}:
                nodes.append(Node("unsupported", text=f"{{{{{word}}}}} is not supported"))
                if word in {"define", "block"}:
                    self._skip_to_end()
            else:
                nodes.append(Node("action", pipe=_pipeline(tokens, allow_declare=True)))
        return nodes, None

    def _branch(self, word: str, tokens: list[tuple[str, Any]]) -> Node:
        node = Node(word, pipe=_pipeline(tokens, allow_declare=True, is_range=word == "range"))
        node.body, stop = self._list()
        if stop is None:
            raise TemplateError(f"unexpected end of template in {{{{{word}}}}}")
        if stop == "else":
            rest = self._pending[1:]
            if rest and rest[0][0] == "ident" and rest[0][1] in {"if", "with"}:
                # ``else if`` / ``else with``: a nested branch that shares this ``end``.
                node.otherwise = [self._branch(str(rest[0][1]), rest[1:])]
                return node
            if rest:
                raise TemplateError("unexpected words after {{else}}")
            node.otherwise, stop = self._list()
            if stop != "end":
                raise TemplateError(f"expected {{{{end}}}} after {{{{else}}}} in {{{{{word}}}}}")
        if len(self._pending) > 1:
            raise TemplateError("unexpected words after {{end}}")
        return node

    def _skip_to_end(self) -> None:
        depth = 1
        while self.index < len(self.items) and depth:
            item = self.items[self.index]
            self.index += 1
            if isinstance(item, _Action) and item.tokens and item.tokens[0][0] == "ident":
                word = item.tokens[0][1]
                if word in {"if", "range", "with", "define", "block"}:
                    depth += 1
                elif word == "end":
                    depth -= 1


def _pipeline(
    tokens: list[tuple[str, Any]], allow_declare: bool = False, is_range: bool = False
) -> Pipeline:
    declared: list[str] = []
    assign = False
    # ``$x :=``, ``$x =``, and for range ``$i, $v :=``.
    for width in (3, 1):
        head = tokens[: width + 1]
        if (
            allow_declare
            and len(head) == width + 1
            and head[-1][0] in {":=", "="}
            and all(t[0] == "variable" and not t[1][1] for t in head[:-1:2])
            and (width == 1 or head[1][0] == ",")
        ):
            if width == 3 and not is_range:
                raise TemplateError("only range declares two variables")
            declared = [t[1][0] for t in head[:-1:2]]
            assign = head[-1][0] == "="
            tokens = tokens[width + 1 :]
            break
    commands, rest = _commands(tokens, 0)
    if rest != len(tokens):
        raise TemplateError(f"unexpected {tokens[rest][1]!r} in pipeline")
    if not commands:
        raise TemplateError("missing value in action")
    return Pipeline(commands, declared, assign)


def _commands(tokens: list[tuple[str, Any]], at: int) -> tuple[list[Command], int]:
    commands: list[Command] = []
    operands: list[Operand] = []
    while at < len(tokens):
        kind, value = tokens[at]
        if kind == ")":
            break
        if kind == "|":
            if not operands:
                raise TemplateError("missing command before |")
            commands.append(Command(operands))
            operands = []
            at += 1
            continue
        if kind == "(":
            inner, end = _commands(tokens, at + 1)
            if end >= len(tokens) or tokens[end][0] != ")":
                raise TemplateError("unclosed left paren")
            operand = Operand("pipe", Pipeline(inner))
            at = end + 1
            if at < len(tokens) and tokens[at][0] == "chain":
                operand.chain = tokens[at][1]
                at += 1
            operands.append(operand)
            continue
        if kind == "variable":
            operands.append(Operand("variable", value[0], value[1]))
        elif kind == "field":
            operands.append(Operand("field", chain=value))
        elif kind in {"literal", "nil", "ident"}:
            operands.append(Operand(kind, value))
        else:
            raise TemplateError(f"unexpected {value!r} in command")
        at += 1
    if operands:
        commands.append(Command(operands))
    return commands, at


@functools.lru_cache(maxsize=64)
def _parsed(source: str) -> tuple[list[Node], set[str]] | TemplateError:
    """Parse once per template text; a parse error is kept and raised when rendering."""
    try:
        nodes = _Parser(_lex(source)).parse()
    except TemplateError as error:
        return error
    return nodes, _identifiers(nodes)


def _identifiers(nodes: list[Node]) -> set[str]:
    """Lower-cased field and variable names the template mentions (Ollama's ``Vars``)."""
    found: set[str] = set()

    def pipe(p: Pipeline | None) -> None:
        for command in p.commands if p else ():
            for operand in command.operands:
                if operand.kind == "pipe":
                    pipe(operand.value)
                elif operand.kind in {"field", "variable"}:
                    found.update(name.lower() for name in operand.chain)
                    if operand.kind == "variable":
                        found.add(operand.value.lower())

    def walk(items: list[Node]) -> None:
        for node in items:
            pipe(node.pipe)
            walk(node.body)
            walk(node.otherwise)

    walk(nodes)
    return found


# -- rendering ----------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class GoTemplate:
    """A parsed template (cached by its text); ``render`` may raise ``TemplateError``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._parsed = _parsed(source)

    @property
    def error(self) -> TemplateError | None:
        return self._parsed if isinstance(self._parsed, TemplateError) else None

    def identifiers(self) -> set[str]:
        """The names the template uses, lower-cased; empty for a template that does not parse."""
        return set() if isinstance(self._parsed, TemplateError) else self._parsed[1]

    def nodes(self) -> list[Node]:
        if isinstance(self._parsed, TemplateError):
            raise self._parsed
        return self._parsed[0]

    def render(self, data: Any, nodes: list[Node] | None = None) -> str:
        out: list[str] = []
        _Renderer(data, out).walk(self.nodes() if nodes is None else nodes, data)
        return "".join(out)


class _Renderer:
    def __init__(self, root: Any, out: list[str]) -> None:
        self.out = out
        self.vars: list[tuple[str, Any]] = [("$", root)]

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            kind = node.kind
            if kind == "text":
                self.out.append(node.text)
            elif kind == "action":
                assert node.pipe is not None
                value = self.pipeline(node.pipe, dot)
                if not node.pipe.declared:
                    self.out.append(go_print(value))
            elif kind in {"if", "with"}:
                self.branch(node, dot)
            elif kind == "range":
                self.range(node, dot)
            elif kind == "break":
                raise _Break()
            elif kind == "continue":
                raise _Continue()
            else:
                raise TemplateError(node.text)

    def branch(self, node: Node, dot: Any) -> None:
        mark = len(self.vars)
        try:
            assert node.pipe is not None
            value = self.pipeline(node.pipe, dot)
            if truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                self.walk(node.otherwise, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Node, dot: Any) -> None:
        assert node.pipe is not None
        mark = len(self.vars)
        pipe = Pipeline(node.pipe.commands)
        try:
            value = self.pipeline(pipe, dot)
            pairs = list(_range_pairs(value))
            if not pairs:
                self.walk(node.otherwise, dot)
                return
            names = node.pipe.declared
            for name in names:
                self.vars.append((name, None))
            for key, element in pairs:
                if len(names) == 1:
                    self.vars[mark] = (names[0], element)
                elif len(names) == 2:
                    self.vars[mark] = (names[0], key)
                    self.vars[mark + 1] = (names[1], element)
                inner = len(self.vars)
                try:
                    self.walk(node.body, element)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    del self.vars[inner:]
        finally:
            del self.vars[mark:]

    def pipeline(self, pipe: Pipeline, dot: Any) -> Any:
        value: Any = None
        for index, command in enumerate(pipe.commands):
            value = self.command(command, dot, value, piped=index > 0)
        for name in pipe.declared:
            if pipe.assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def command(self, command: Command, dot: Any, final: Any, piped: bool) -> Any:
        first = command.operands[0]
        if first.kind == "ident":
            return self.call(str(first.value), command.operands[1:], dot, final, piped)
        if len(command.operands) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {_describe(first)}")
        if first.kind == "nil":
            raise TemplateError("nil is not a command")
        return self.operand(first, dot)

    def operand(self, operand: Operand, dot: Any) -> Any:
        kind = operand.kind
        if kind == "literal":
            return operand.value
        if kind == "nil":
            return None
        if kind == "ident":
            return self.call(str(operand.value), [], dot, None, piped=False)
        if kind == "field":
            base = dot
        elif kind == "variable":
            base = self.get_var(operand.value)
        else:  # a parenthesised pipeline
            base = self.pipeline(operand.value, dot)
        for name in operand.chain:
            base = field_of(base, name)
        return base

    def get_var(self, name: str) -> Any:
        for known, value in reversed(self.vars):
            if known == name:
                return value
        raise TemplateError(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for index in range(len(self.vars) - 1, -1, -1):
            if self.vars[index][0] == name:
                self.vars[index] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}")

    def call(self, name: str, args: list[Operand], dot: Any, final: Any, piped: bool) -> Any:
        if name in {"and", "or"}:
            thunks: list[Callable[[], Any]] = [
                functools.partial(self.operand, a, dot) for a in args
            ]
            if piped:
                thunks.append(lambda: final)
            if not thunks:
                raise TemplateError(f"wrong number of args for {name}")
            value: Any = None
            for thunk in thunks:
                value = thunk()
                if truth(value) != (name == "and"):
                    return value
            return value
        function = FUNCTIONS.get(name)
        if function is None:
            raise TemplateError(f'function "{name}" not defined')
        values = [self.operand(a, dot) for a in args]
        if piped:
            values.append(final)
        return function(*values)


def _describe(operand: Operand) -> str:
    if operand.kind == "literal":
        return repr(operand.value)
    return "." + ".".join(operand.chain) if operand.chain else operand.kind


def _range_pairs(value: Any) -> Iterator[tuple[Any, Any]]:
    if value is None:
        return
    if isinstance(value, bool):
        raise TemplateError("range can't iterate over a bool")
    if isinstance(value, int):
        yield from ((i, i) for i in range(value))
    elif isinstance(value, list | tuple):
        yield from enumerate(value)
    elif isinstance(value, dict):
        for key in sorted(value):
            yield key, value[key]
    else:
        raise TemplateError(f"range can't iterate over {go_print(value)}")


def field_of(value: Any, name: str) -> Any:
    """``value.name`` by Go's rules: struct fields must exist, map keys may be missing."""
    if isinstance(value, Struct):
        if name not in value.fields:
            raise TemplateError(f"can't evaluate field {name} in type {value.type_name}")
        return value.fields[name]
    if isinstance(value, dict):
        return value.get(name)
    if value is None:
        raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
    raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")


def truth(value: Any) -> bool:
    """Go's ``if``: false for nil, false, zero, and empty strings, lists and maps."""
    if value is None:
        return False
    if isinstance(value, Struct):
        return True
    if isinstance(value, bool | int | float):
        return bool(value)
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def go_json(value: Any) -> str:
    """Go's ``json.Marshal``: compact, map keys sorted, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Struct):
        return _jsonable(value.json_value)
    if isinstance(value, dict):
        keys = sorted(value) if isinstance(value, JSONMap) else list(value)
        return {str(k): _jsonable(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def go_print(value: Any) -> str:
    """Go's ``fmt`` ``%v`` of a template value, as an action prints it."""
    if value is None:
        return NO_VALUE
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Struct | JSONMap):
        return go_json(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    return str(value)


# -- functions ----------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(first: Any, *others: Any) -> bool:
    """Go's ``eq``: basic values only; a string never equals a number (an error in Go)."""
    if not others:
        raise TemplateError("missing argument for comparison")
    for other in others:
        kinds = {_kind(first), _kind(other)}
        if "other" in kinds:
            raise TemplateError("eq: non-comparable type")
        if len(kinds) > 1 and "nil" not in kinds:
            raise TemplateError("eq: incompatible types for comparison")
        if first == other:
            return True
    return False


def _ordered(function: str, check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        kinds = {_kind(a), _kind(b)}
        if len(kinds) > 1 or not kinds <= {"number", "string"}:
            raise TemplateError(f"{function}: incompatible types for comparison")
        return check(a, b)

    return compare


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list | tuple | dict):
        return len(value)
    raise TemplateError(f"len of {'nil' if value is None else type(value).__name__}")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list | tuple | str) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _slice(value: Any, *bounds: Any) -> Any:
    if not isinstance(value, list | tuple | str):
        raise TemplateError(f"can't slice item of type {type(value).__name__}")
    if len(bounds) > 2 or not all(isinstance(b, int) for b in bounds):
        raise TemplateError("slice takes at most two integer indexes here")
    start = bounds[0] if bounds else 0
    stop = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= start <= stop <= len(value):
        raise TemplateError(f"slice index out of range: {start}:{stop}")
    return value[start:stop]


def _sprint(*values: Any) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    out = ""
    for index, value in enumerate(values):
        if index and not isinstance(value, str) and not isinstance(values[index - 1], str):
            out += " "
        out += go_print(value)
    return out


def _printf(pattern: Any, *values: Any) -> str:
    if not isinstance(pattern, str):
        raise TemplateError("printf needs a format string")
    queue = list(values)

    def one(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        if not queue:
            return f"%!{verb}(MISSING)"
        value = queue.pop(0)
        if verb == "q":
            return json.dumps(value if isinstance(value, str) else go_print(value))
        if verb == "d" and isinstance(value, int):
            return str(value)
        return go_print(value)

    return re.sub(r"%([%vsdq])", one, pattern)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "not": lambda value: not truth(value),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "json": go_json,
    "print": _sprint,
    "println": lambda *values: " ".join(go_print(v) for v in values) + "\n",
    "printf": _printf,
}
