"""The chat of ``hearth run MODEL`` on a terminal, with ``ollama run``'s commands and keys.

The conversation is kept (each request sends the whole history, as
``ollama run`` does) until ``/clear``. ``/bye`` or Ctrl+D ends it; Ctrl+C
while an answer streams stops that answer and comes back to the prompt; at
the prompt it reminds how to leave. ``\"\"\"`` opens and closes a message of
several lines. Typed lines are not saved to a history file: Hearth's chats
live in its own database, and a terminal chat leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from app.cli_client import Backend
from app.cli_format import model_lines
from app.cli_run import AnswerView, Session, print_stats, show_thinking, stream_answer
from app.errors import BadRequest, HearthError
from app.options import OPTION_TYPES, validate_options

HELP = """Available Commands:
  /set            Set session variables
  /show           Show model information
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use \"\"\" to begin a multi-line message.
"""

SET_HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set think             Enable thinking
  /set nothink           Disable thinking
"""

SHOW_HELP = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""

PARAMETER_HELP = """Available Parameters:
  /set parameter seed <int>             Random number seed
  /set parameter num_predict <int>      Max number of tokens to predict
  /set parameter top_k <int>            Pick from top k num of tokens
  /set parameter top_p <float>          Pick token based on sum of probabilities
  /set parameter min_p <float>          Pick token based on top token probability * min_p
  /set parameter num_ctx <int>          Set the context size
  /set parameter temperature <float>    Set creativity level
  /set parameter repeat_penalty <float> How strongly to penalize repetitions
  /set parameter repeat_last_n <int>    Set how far back to look for repetitions
  /set parameter num_gpu <int>          The number of layers to send to the GPU
  /set parameter stop <string> <string> ...   Set the stop parameters
"""

SHORTCUTS = """Available keyboard shortcuts:
  Ctrl + a            Move to the beginning of the line (Home)
  Ctrl + e            Move to the end of the line (End)
  Ctrl + k            Delete the sentence after the cursor
  Ctrl + u            Delete the sentence before the cursor
  Ctrl + w            Delete the word before the cursor

  Ctrl + l            Clear the screen
  Ctrl + c            Stop the model from responding
  Ctrl + d            Exit (/bye)
"""

_MODES: dict[str, tuple[str, bool]] = {
    "verbose": ("verbose", True),
    "quiet": ("verbose", False),
    "think": ("think", True),
    "nothink": ("think", False),
}
"""``/set`` words that switch a session flag on or off: each is one field and one value,
and ``ollama run`` answers all four alike (``Set 'think' mode.``)."""

PROMPT, MORE = ">>> ", "... "
QUOTES = '"""'


def _enable_line_editing() -> None:
    """Arrow keys, Ctrl+A/E/K/U/W and a per-session history for ``input()`` where readline exists.

    Importing the module is what turns it on. Windows has none; plain
    ``input()`` still works there.
    """
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


def read_message() -> str | None:
    """One message from the terminal: a line, or lines between ``\"\"\"``; None on Ctrl+D.

    Ctrl+C at the prompt drops what was typed and asks again, as Ollama does.
    """
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            print()
            return None
        except KeyboardInterrupt:
            print("\nUse Ctrl + d or /bye to exit.")
            continue
        if not line.startswith(QUOTES):
            return line
        try:
            return _read_quoted(line[len(QUOTES) :])
        except EOFError:
            print()
            return None
        except KeyboardInterrupt:
            print()
            continue


def _read_quoted(first: str) -> str:
    """The rest of a ``\"\"\"`` message, up to the line that ends with ``\"\"\"``."""
    lines: list[str] = []
    line = first
    while True:
        if line.endswith(QUOTES):
            lines.append(line[: -len(QUOTES)])
            return "\n".join(lines).strip("\n")
        lines.append(line)
        line = input(MORE)


def chat_loop(backend: Backend, session: Session) -> int:
    """Read, answer, repeat, until ``/bye`` or Ctrl+D; 0 at the end, 1 if the model cannot load."""
    _enable_line_editing()
    loaded = stream_answer(backend, session.request([]), None)
    if loaded.interrupted:
        return 130
    if loaded.error is not None:
        print(f"Error: {loaded.error}", file=sys.stderr)
        return 1
    messages: list[dict[str, Any]] = []
    while True:
        text = read_message()
        if text is None:
            return 0
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("/"):
            if not _command(stripped, session, messages, backend):
                return 0
            continue
        _ask(backend, session, messages, text)


def _ask(backend: Backend, session: Session, messages: list[dict[str, Any]], text: str) -> None:
    """Send the history plus ``text``; keep both only when the answer completed.

    A stopped or failed answer leaves the history as it was: a question with
    no answer after it would make the next turn two user messages in a row,
    which some chat templates (Gemma's) refuse.
    """
    asked = [*_system(session), *messages, {"role": "user", "content": text}]
    view = AnswerView(sys.stdout, show_thinking(session, sys.stdout))
    answer = stream_answer(backend, session.request(asked), view)
    if answer.error is not None and not answer.interrupted:
        print(f"Error: {answer.error}", file=sys.stderr)
        return
    if answer.interrupted:
        print()
        return
    messages.append({"role": "user", "content": text})
    messages.append({"role": "assistant", "content": answer.content})
    if session.verbose and answer.final is not None:
        print_stats(answer.final, sys.stderr)
    print()


def _system(session: Session) -> list[dict[str, Any]]:
    return [{"role": "system", "content": session.system}] if session.system else []


def _command(line: str, session: Session, messages: list[dict[str, Any]], backend: Backend) -> bool:
    """Run one ``/`` command; False when it ends the chat."""
    words = line.split()
    head = words[0]
    if head in ("/bye", "/exit"):
        return False
    if head == "/clear":
        messages.clear()
        print("Cleared session context")
    elif head in ("/?", "/help"):
        _help(words[1] if len(words) > 1 else "")
    elif head == "/set":
        _set(line, words[1:], session)
    elif head == "/show":
        _show(words[1] if len(words) > 1 else "", session, backend)
    else:
        print(f"Unknown command '{head}'. Type /? for help")
    return True


def _help(topic: str) -> None:
    if topic in ("shortcut", "shortcuts"):
        print(SHORTCUTS)
    elif topic == "set":
        print(SET_HELP)
    elif topic == "show":
        print(SHOW_HELP)
    else:
        print(HELP)


_NONE_SPECIFIED = {
    "license": "No license was specified for this model.",
    "system": "No system message was specified for this model.",
    "template": "No prompt template was specified for this model.",
}


def _show(what: str, session: Session, backend: Backend) -> None:
    """``/show info|license|modelfile|parameters|system|template``, as ``ollama run`` has them.

    Why: it is how an Ollama user checks, mid-chat, which system message and
    parameters the answers come from (the session's ``/set`` ones first).
    """
    if what not in ("info", "license", "modelfile", "parameters", "system", "template"):
        print(SHOW_HELP)
        return
    try:
        info = backend.show(session.model)
    except HearthError as error:
        print(f"Error: {error}", file=sys.stderr)
        return
    if what == "info":
        print("\n".join(model_lines(info)) + "\n")
    elif what == "parameters":
        print(_parameters_text(session, str(info.get("parameters") or "")))
    elif what == "system" and session.system:
        print(session.system + "\n")
    else:
        text = str(info.get(what) or "").strip()
        print((text or _NONE_SPECIFIED.get(what, "")) + "\n")


def _parameters_text(session: Session, model_defined: str) -> str:
    """The session's ``/set parameter`` values, then the model's, as ``ollama run`` lists them."""
    if not session.options and not model_defined:
        return "No parameters were specified for this model.\n"
    parts = []
    if session.options:
        parts.append("User defined parameters:")
        parts += [f"{name:<30} {_go_value(value)}" for name, value in session.options.items()]
        parts.append("")
    if model_defined:
        parts += ["Model defined parameters:", model_defined, ""]
    return "\n".join(parts)


def _go_value(value: Any) -> str:
    """A value as Go's ``%v`` prints it, as ``ollama run`` lists it: ``[a b]`` for a list."""
    return "[" + " ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def _set(line: str, words: list[str], session: Session) -> None:
    """``/set verbose|quiet|think|nothink|system <text>|parameter <name> <value>``."""
    what = words[0] if words else ""
    if what in _MODES:
        field, value = _MODES[what]
        setattr(session, field, value)
        print(f"Set '{what}' mode.")
    elif what == "system" and len(words) > 1:
        session.system = line.split("system", 1)[1].strip().strip('"')
        print("Set system message.")
    elif what == "parameter" and len(words) > 2:
        name, values = words[1], words[2:]
        try:
            session.options.update(_checked_parameter(name, values))
        except BadRequest as error:
            print(f"Couldn't set parameter: {error}")
            return
        print(f"Set parameter '{name}' to '{', '.join(values)}'")
    elif what == "parameter":
        print(PARAMETER_HELP)
    else:
        print(SET_HELP)


def _checked_parameter(name: str, values: list[str]) -> dict[str, Any]:
    """``{name: value}`` typed and checked now, as ``ollama run`` checks ``/set parameter``.

    Why now: a value the server refuses (``temperature hot``) would otherwise
    be kept and sent with every later message, each failing with the same
    error until the person thought to set it again.
    """
    if name not in OPTION_TYPES:
        raise BadRequest(f"unknown parameter '{name}'")
    value = values if name == "stop" else _parameter_value(" ".join(values))
    return validate_options({name: value})


def _parameter_value(text: str) -> Any:
    """``42`` -> 42, ``0.5`` -> 0.5, ``true`` -> True, anything else (``null`` too) the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return text if value is None else value
