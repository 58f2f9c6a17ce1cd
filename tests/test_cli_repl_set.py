"""``/set`` and ``/show`` in ``hearth run``'s chat, as ``ollama run`` answers them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.cli_client import Backend
from app.cli_format import model_lines
from app.cli_repl import _command, _set
from app.cli_run import Session
from app.errors import NotFound
from app.runner.abort import Abort


@pytest.mark.parametrize(
    ("word", "field", "value"),
    [("verbose", "verbose", True), ("quiet", "verbose", False), ("think", "think", True)]
    + [("nothink", "think", False)],
)
def test_a_mode_word_sets_its_flag_and_says_so(
    word: str, field: str, value: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    session = Session(model="m", verbose=not value, think=None)
    _set(f"/set {word}", [word], session)
    assert getattr(session, field) is value
    assert capsys.readouterr().out == f"Set '{word}' mode.\n"


def test_other_words_keep_their_answers(capsys: pytest.CaptureFixture[str]) -> None:
    session = Session(model="m")
    _set('/set system "be brief"', ["system", '"be', 'brief"'], session)
    assert session.system == "be brief"
    _set("/set parameter top_k 5", ["parameter", "top_k", "5"], session)
    assert session.options == {"top_k": 5}
    _set("/set nonsense", ["nonsense"], session)
    out = capsys.readouterr().out
    assert "Set system message." in out and "Set parameter 'top_k' to '5'" in out
    assert out.endswith("/set nothink           Disable thinking\n\n")
    assert session.verbose is False and session.think is None


def test_a_parameter_the_server_would_refuse_is_not_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kept, ``temperature hot`` made every later message fail with the same error."""
    session = Session(model="m", options={"temperature": 0.5})
    _set("/set parameter temperature hot", ["parameter", "temperature", "hot"], session)
    _set("/set parameter tempreature 1", ["parameter", "tempreature", "1"], session)
    _set("/set parameter num_ctx 2.5", ["parameter", "num_ctx", "2.5"], session)
    _set("/set parameter seed null", ["parameter", "seed", "null"], session)
    assert session.options == {"temperature": 0.5}
    out = capsys.readouterr().out.splitlines()
    assert out == [
        'Couldn\'t set parameter: option "temperature" must be of type float',
        "Couldn't set parameter: unknown parameter 'tempreature'",
        'Couldn\'t set parameter: option "num_ctx" must be of type integer',
        'Couldn\'t set parameter: option "seed" must be of type integer',
    ]


def test_a_good_parameter_is_kept_typed(capsys: pytest.CaptureFixture[str]) -> None:
    session = Session(model="m")
    _set("/set parameter temperature 1", ["parameter", "temperature", "1"], session)
    _set("/set parameter stop x y", ["parameter", "stop", "x", "y"], session)
    assert session.options == {"temperature": 1.0, "stop": ["x", "y"]}
    assert isinstance(session.options["temperature"], float)
    assert capsys.readouterr().out.splitlines()[-1] == "Set parameter 'stop' to 'x, y'"


class ShowOnly:
    """A Backend that only answers ``show``, with a model made by ``hearth create``."""

    where = "a test"

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    def show(self, name: str) -> dict[str, Any]:
        if name != "pirate:latest":
            raise NotFound(f"model '{name}' not found")
        return self.info

    def chat(self, request: dict[str, Any], abort: Abort) -> Iterator[dict[str, Any]]:
        raise AssertionError("/show must not chat")

    def close(self) -> None:
        pass


PIRATE = {
    "modelfile": "FROM /blobs/sha256-x\nSYSTEM You are a pirate\n",
    "parameters": 'temperature                    0.2\nstop                           "a"',
    "template": "",
    "system": "You are a pirate",
    "details": {"family": "gemma3", "parameter_size": "268.10M", "quantization_level": "Q4_K_M"},
    "model_info": {"gemma3.context_length": 32768, "tokenizer.ggml.tokens": ["<pad>", "<eos>"]},
    "capabilities": ["completion"],
    "warnings": ["this model has no chat template"],
}


def _run(line: str, session: Session, backend: Backend) -> None:
    assert _command(line, session, [], backend) is True


def test_show_says_what_ollama_run_says(capsys: pytest.CaptureFixture[str]) -> None:
    """``/show`` is how an Ollama user checks mid-chat what the answers come from."""
    session, backend = Session(model="pirate:latest"), ShowOnly(PIRATE)
    _run("/show", session, backend)
    assert capsys.readouterr().out.startswith("Available Commands:\n  /show info ")
    _run("/show system", session, backend)
    assert capsys.readouterr().out == "You are a pirate\n\n"
    session.system = "be nice"
    _run("/show system", session, backend)
    assert capsys.readouterr().out == "be nice\n\n"
    _run("/show template", session, backend)
    assert capsys.readouterr().out == "No prompt template was specified for this model.\n\n"
    _run("/show modelfile", session, backend)
    assert capsys.readouterr().out.startswith("FROM /blobs/sha256-x\n")
    _run("/show info", session, backend)
    info = capsys.readouterr().out
    assert "    quantization    Q4_K_M\n" in info and "context length  32768" in info
    assert "  Warnings\n    this model has no chat template\n" in info
    assert "tokenizer.ggml.tokens" not in info  # metadata only with hearth show --verbose


def test_show_parameters_lists_the_sessions_then_the_models(
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = Session(model="pirate:latest", options={"num_predict": 4, "stop": ["x", "y"]})
    _run("/show parameters", session, ShowOnly(PIRATE))
    assert capsys.readouterr().out.splitlines() == [
        "User defined parameters:",
        "num_predict                    4",
        "stop                           [x y]",
        "",
        "Model defined parameters:",
        "temperature                    0.2",
        'stop                           "a"',
        "",
    ]
    _run("/show parameters", Session(model="pirate:latest"), ShowOnly({**PIRATE, "parameters": ""}))
    assert capsys.readouterr().out == "No parameters were specified for this model.\n\n"


def test_show_of_a_model_gone_meanwhile_is_an_error_not_a_crash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run("/show info", Session(model="deleted:latest"), ShowOnly(PIRATE))
    assert capsys.readouterr().err == "Error: model 'deleted:latest' not found\n"


def test_hearth_show_verbose_adds_the_metadata_with_arrays_elided() -> None:
    lines = model_lines(PIRATE, verbose=True)
    assert "  Metadata" in lines
    assert "    tokenizer.ggml.tokens  [...]" in lines
    assert "    gemma3.context_length  32768" in lines
    assert lines[-2:] == ["  Warnings", "    this model has no chat template"]
