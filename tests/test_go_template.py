"""The Go template renderer against Ollama's library templates; which requests use it.

Each template below is a version of a file in Ollama's ``template/``
directory (named with the commit it was read at); the expected prompts are
Ollama's ``template/testdata`` files for the same version, or, where
Ollama has none, written by reading the template. The three conversations
are the ones Ollama's ``TestTemplate`` uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.api_types import ChatRequest, GenerateRequest
from app.chat_templates import FALLBACK_STOP
from app.models.errors import BadRequest
from app.models.names import parse_name
from app.models.show import RunSpec
from app.runner import templated
from app.runner.go_template import GoTemplate, TemplateError
from app.runner.ollama_prompt import render

USER = [{"role": "user", "content": "Hello, how are you?"}]
USER_ASSISTANT_USER = [
    *USER,
    {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
    {"role": "user", "content": "I'd like to show off how chat templating works!"},
]
SYSTEM_USER_ASSISTANT_USER = [
    {"role": "system", "content": "You are a helpful assistant."},
    *USER_ASSISTANT_USER,
]

# gemma3-instruct.gotmpl @ a10ddf2577f8
GEMMA3 = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}
"""

# gemma3-instruct.gotmpl @ 601035152644 (the system prompt in a variable)
GEMMA3_LATER = """{{- $system := .System }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $system }}
{{ $system }}
{{- end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}
"""

# chatml.gotmpl @ 9fbfa74219fa
CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

# llama3-instruct.gotmpl @ 888b6fbb5a1a
LLAMA3 = """{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

# mistral-instruct.gotmpl @ 75d1b79659f6
MISTRAL = """[INST] {{ range $index, $_ := .Messages }}
{{- if eq .Role "system" }}{{ .Content }}

{{ else if eq .Role "user" }}{{ .Content }}[/INST]
{{- else if eq .Role "assistant" }} {{ .Content }}</s>[INST] {{ end }}
{{- end }}"""

# alpaca.gotmpl @ 040a8e85eeea (variables assigned inside range, printf)
ALPACA = """{{- $system := "" }}
{{- range .Messages }}
{{- if eq .Role "system" }}
{{- if not $system }}{{ $system = .Content }}
{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}
{{- end }}
{{- else if eq .Role "user" }}
{{- if $system }}{{ $system }}

{{ $system = "" }}
{{- end }}### Instruction:
{{ .Content }}

{{ else if eq .Role "assistant" }}### Response:
{{ .Content }}

{{ end }}
{{- end }}### Response:
"""

# deepseek.gotmpl @ 2d407e9dcda9 (tools, tool calls, tool results, thinking)
DEEPSEEK = (
    r"""{{- if .System }}{{ .System }}{{ end }}
{{- if .Tools }}
# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range $i, $_ := .Tools }}
{{ .Function }}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments """
    r"""within <tool_call></tool_call> XML tags.
{{- end }}
{{- range $i, $_ := .Messages }}
  {{- $last := eq (len (slice $.Messages $i)) 1 }}
  {{- if eq .Role "user" -}}
    <｜User｜>{{ .Content }}
  {{- else if eq .Role "assistant" -}}
    <｜Assistant｜>
    {{- if .ToolCalls -}}
      {{ "\n" }}<｜tool▁calls▁begin｜>{{ "\n" }}
      {{- range $i, $_ := .ToolCalls -}}
        <｜tool▁call▁begin｜>function<｜tool▁sep｜>{{ .Function.Name }}
```json
{{ .Function.Arguments }}
```<｜tool▁call▁end｜>{{ "\n" }}
      {{- end -}}
      <｜tool▁calls▁end｜><｜end▁of▁sentence｜>
    {{- end }}
    {{- if and $.IsThinkSet (and $last .Thinking) -}}
      <think>
        {{ .Thinking }}
      </think>
    {{- end }}{{ .Content }}{{- if not $last }}<｜end▁of▁sentence｜>{{- end }}
  {{- else if eq .Role "tool" -}}
    {{ "\n" }}<｜tool▁output▁begin｜>{{ .Content }}<｜tool▁output▁end｜>{{ "\n" }}
  {{- end }}
  {{- if and $last (ne .Role "assistant") -}}
    <｜Assistant｜>
    {{- if and $.IsThinkSet (not $.Think) -}}
      <think> </think>
    {{ end }}
  {{- end -}}
{{- end -}}
"""
)

CASES = [
    (
        GEMMA3,
        USER,
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n\n",
    ),
    (
        GEMMA3,
        USER_ASSISTANT_USER,
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
        "<start_of_turn>model\n\n",
    ),
    (
        GEMMA3,
        SYSTEM_USER_ASSISTANT_USER,
        "<start_of_turn>user\nYou are a helpful assistant.\n\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
        "<start_of_turn>model\n\n",
    ),
    (
        GEMMA3_LATER,
        SYSTEM_USER_ASSISTANT_USER,
        "<start_of_turn>user\nYou are a helpful assistant.\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
        "<start_of_turn>model\n\n",
    ),
    (
        CHATML,
        SYSTEM_USER_ASSISTANT_USER,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
        "<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
    (
        LLAMA3,
        SYSTEM_USER_ASSISTANT_USER,
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        "I'm doing great. How can I help you today?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "I'd like to show off how chat templating works!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        MISTRAL,
        SYSTEM_USER_ASSISTANT_USER,
        "[INST] You are a helpful assistant.\n\nHello, how are you?[/INST] "
        "I'm doing great. How can I help you today?</s>"
        "[INST] I'd like to show off how chat templating works![/INST]",
    ),
    (
        MISTRAL,
        USER_ASSISTANT_USER,
        "[INST] Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>"
        "[INST] I'd like to show off how chat templating works![/INST]",
    ),
    (
        ALPACA,
        SYSTEM_USER_ASSISTANT_USER,
        "You are a helpful assistant.\n\n### Instruction:\nHello, how are you?\n\n"
        "### Response:\nI'm doing great. How can I help you today?\n\n"
        "### Instruction:\nI'd like to show off how chat templating works!\n\n### Response:\n",
    ),
]


@pytest.mark.parametrize(("template", "messages", "expected"), CASES)
def test_library_templates_render_as_in_ollama(
    template: str, messages: list[dict[str, str]], expected: str
) -> None:
    assert render(template, messages) == expected


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get current weather information for a location",
        "parameters": {
            "type": "object",
            # Given out of Go's field order: the JSON must still come out in it.
            "properties": {
                "unit": {
                    "type": "string",
                    "description": "The unit of temperature to use",
                    "enum": ["celsius", "fahrenheit"],
                },
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
            },
            "required": ["location"],
        },
    },
}


def test_tools_tool_calls_and_results_render_as_in_ollama() -> None:
    """DeepSeek's template: ``.Tools`` as JSON, ``.ToolCalls``, tool results (Ollama's testdata)."""
    messages = [
        {"role": "user", "content": "What's the weather in SF?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "function": {
                        "name": "get_weather",
                        "arguments": {"location": "San Francisco, CA"},
                    }
                }
            ],
        },
        {"role": "tool", "content": '{"temperature": 22}'},
    ]
    prompt = render(DEEPSEEK, messages, [WEATHER])
    tools_single = (  # testdata/deepseek.gotmpl/tools-single
        "\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"name":"get_weather","description":"Get current weather information for a location",'
        '"parameters":{"type":"object","required":["location"],"properties":{"location":'
        '{"type":"string","description":"The city and state, e.g. San Francisco, CA"},'
        '"unit":{"type":"string","description":"The unit of temperature to use",'
        '"enum":["celsius","fahrenheit"]}}}}\n</tools>\n\n'
        "For each function call, return a json object with function name and arguments "
        "within <tool_call></tool_call> XML tags."
    )
    call = (  # testdata/deepseek.gotmpl/tools-single-call
        "<｜Assistant｜>\n<｜tool▁calls▁begin｜>\n"
        "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
        '```json\n{"location":"San Francisco, CA"}\n```<｜tool▁call▁end｜>\n'
        "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
    )
    result = (  # testdata/deepseek.gotmpl/tools-single-result
        '\n<｜tool▁output▁begin｜>{"temperature": 22}<｜tool▁output▁end｜>\n<｜Assistant｜>'
    )
    user = "<｜User｜>What's the weather in SF?"
    # Not the last message, so the assistant turn is closed once more.
    assert prompt == tools_single + user + call + "<｜end▁of▁sentence｜>" + result
    # With think: false set, the template opens and closes an empty <think>.
    assert render(DEEPSEEK, messages[:1], think=False).endswith(
        "<｜Assistant｜><think> </think>\n    "
    )


# Ollama's TestExecuteWithMessages: older templates without .Messages.
MISTRAL_CHAT = [
    {"role": "user", "content": "Hello friend!"},
    {"role": "assistant", "content": "Hello human!"},
    {"role": "user", "content": "What is your name?"},
]


@pytest.mark.parametrize(
    "template",
    [
        "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] ",
        "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] {{ .Response }}",
    ],
)
def test_legacy_templates_render_each_turn(template: str) -> None:
    expected = "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
    assert render(template, MISTRAL_CHAT) == expected
    with_system = [{"role": "system", "content": "You are a helpful assistant!"}, *MISTRAL_CHAT]
    assert render(template, with_system) == (
        "[INST] You are a helpful assistant!\n\nHello friend![/INST] Hello human!"
        "[INST] What is your name?[/INST] "
    )


def test_legacy_template_stops_at_the_response_and_continues_a_prefill() -> None:
    chatml = (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
        "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"
    )
    messages = [{"role": "system", "content": "You are a helpful assistant!"}, *MISTRAL_CHAT]
    assert render(chatml, messages) == (
        "<|im_start|>system\nYou are a helpful assistant!<|im_end|>\n"
        "<|im_start|>user\nHello friend!<|im_end|>\n"
        "<|im_start|>assistant\nHello human!<|im_end|>\n"
        "<|im_start|>user\nWhat is your name?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    prefill = [*MISTRAL_CHAT, {"role": "assistant", "content": "My name is Ollama and I"}]
    assert render("[INST] {{ .Prompt }}[/INST] {{ .Response }}", prefill) == (
        "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
        "My name is Ollama and I"
    )


def test_consecutive_messages_of_one_role_are_merged() -> None:
    messages = [
        {"role": "user", "content": "Hello"},
        {"role": "user", "content": "How are you?"},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "72F"},
    ]
    out = render("{{ range .Messages }}[{{ .Role }}:{{ .Content }}]{{ end }}", messages)
    assert out == "[user:Hello\n\nHow are you?][tool:sunny][tool:72F]"


def go(source: str, data: object = None) -> str:
    return GoTemplate(source).render(data if data is not None else {})


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("a  {{- 1 -}}  b", None, "a1b"),
        ("a {{/* a comment */}} b", None, "a  b"),
        ("a {{- /* trimmed */ -}} b", None, "ab"),
        ("{{ with .X }}x={{ . }}{{ else }}none{{ end }}", {"X": "y"}, "x=y"),
        ("{{ with .X }}x={{ . }}{{ else }}none{{ end }}", {"X": ""}, "none"),
        (
            "{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}",
            {"M": {"b": 2, "a": 1}},
            "a=1;b=2;",
        ),
        (
            "{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}"
            "{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            {"L": [1, 2, 3, 4, 5]},
            "13",
        ),
        ("{{ range .L }}x{{ else }}empty{{ end }}", {"L": []}, "empty"),
        (
            '{{ index .L 1 }} {{ index .M "k" }} {{ len .L }} {{ len .S }}',
            {"L": [7, 8], "M": {"k": "v"}, "S": "héllo"},
            "8 v 2 6",
        ),
        (
            "{{ json .V }}",
            {"V": {"a": "<b>&", "n": [1, 2.0, True, None]}},
            '{"a":"\\u003cb\\u003e\\u0026","n":[1,2,true,null]}',
        ),
        ("{{ .Missing }}|{{ if .Missing }}y{{ else }}n{{ end }}", {}, "<no value>|n"),
        ("{{ or .A .B }} {{ and .A .B }} {{ not .A }}", {"A": "", "B": "b"}, "b  true"),
        ("{{ if and .L (index .L 0) }}y{{ end }}", {"L": []}, ""),  # and stops early
        (
            '{{ if lt 1 2 }}a{{ end }}{{ if ge "b" "a" }}b{{ end }}{{ if ne 1 2 }}c{{ end }}',
            None,
            "abc",
        ),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}", None, "2"),
        ("{{ $.A }}{{ range .L }}{{ $.A }}{{ . }}{{ end }}", {"A": "-", "L": [1, 2]}, "--1-2"),
        (
            "{{ .S | len }} {{ (index .L 1).X }} {{ (index .L 0).X }}",
            {"S": "abc", "L": [{}, {"X": 1}]},
            "3 1 <no value>",
        ),
        (
            '{{ slice .S 1 3 }} {{ print 1 2 "a" "b" }} {{ printf "%d-%s" 3 "x" }}',
            {"S": "hello"},
            "el 1 2ab 3-x",
        ),
        (
            "{{ \"a\\tb\" }} {{ `raw\\n` }} {{ 'x' }} {{ 0x10 }} {{ 1.5 }}",
            None,
            "a\tb raw\\n 120 16 1.5",
        ),
        ("{{ range 3 }}{{ . }}{{ end }}", None, "012"),
    ],
)
def test_constructs(source: str, data: object, expected: str) -> None:
    assert go(source, data) == expected


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('{{ template "other" . }}', "{{template}} is not supported"),
        ('{{ define "x" }}y{{ end }}', "{{define}} is not supported"),
        ("{{ .A | upper }}", 'function "upper" not defined'),
        ("{{ .A ", "unclosed action"),
        ("{{ if .A }}no end", "unexpected end of template"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ $nope }}", "undefined variable: $nope"),
        ('{{ eq .A "x" }}', None),  # fine: a missing key is nil
        ('{{ eq 1 "1" }}', "incompatible types"),
        ("{{ .A.B }}", "nil pointer evaluating"),
        ("{{ index .L 5 }}", "index out of range"),
    ],
)
def test_unsupported_or_broken_templates_fail_when_rendered(source: str, words: str | None) -> None:
    template = GoTemplate(source)  # never raises: the model can still be stored and shown
    if words is None:
        template.render({"L": []})
        return
    with pytest.raises(TemplateError) as raised:
        template.render({"L": []})
    assert words in str(raised.value)
    assert isinstance(raised.value, BadRequest) and raised.value.status == 400


def test_struct_fields_must_exist_as_in_go() -> None:
    with pytest.raises(TemplateError, match="can't evaluate field Nope in type api.Message"):
        render("{{ range .Messages }}{{ .Nope }}{{ end }}", USER)
    assert render("{{ range .Messages }}[{{ .Thinking }}]{{ .ToolCalls }}{{ end }}", USER) == "[][]"


def spec(template: str | None = None, gguf_template: str | None = None) -> RunSpec:
    metadata = {"tokenizer.chat_template": gguf_template} if gguf_template else {}
    return RunSpec(
        name=parse_name("m:1"),
        display="m:1",
        digest="sha256:" + "0" * 64,
        model_path=Path("/nonexistent"),
        template=template,
        metadata=metadata,
    )


JINJA = "{% for m in messages %}{{ m.content }}{% endfor %}"
HI_BODY = {"messages": [{"role": "user", "content": "hi"}]}
HI = ChatRequest.parse(HI_BODY)


def test_which_requests_hearth_renders_itself() -> None:
    """A Go layer wins; Jinja, images, and tools with a GGUF template stay with llama-server."""
    assert templated.go_template_for(spec(GEMMA3, JINJA), HI) == GEMMA3
    assert templated.go_template_for(spec(JINJA), HI) is None
    assert templated.go_template_for(spec(None, JINJA), HI) is None
    assert templated.go_template_for(spec(None), HI) is None
    with_image = ChatRequest.parse(
        {"messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]}
    )
    assert templated.go_template_for(spec(GEMMA3), with_image) is None
    tools = ChatRequest.parse({**HI_BODY, "tools": [WEATHER]})
    assert templated.go_template_for(spec(DEEPSEEK, JINJA), tools) is None
    assert templated.go_template_for(spec(DEEPSEEK), tools) == DEEPSEEK
    assert templated.go_template_for(spec(None, JINJA), HI, override="{{ .Prompt }}")


def test_only_a_model_without_any_template_gets_the_chatml_stops() -> None:
    assert templated.fallback_stops(spec(None)) == FALLBACK_STOP
    assert templated.fallback_stops(spec(GEMMA3)) == FALLBACK_STOP  # when it goes native
    assert templated.fallback_stops(spec(JINJA)) == ()
    assert templated.fallback_stops(spec(None, JINJA)) == ()
    merged = templated.with_stops({"stop": ["<|im_end|>", "x"]}, FALLBACK_STOP)
    assert merged["stop"] == ["<|im_end|>", "x", "<|im_start|>"]
    assert templated.with_stops({"stop": "x"}, ())["stop"] == "x"


def test_model_system_prompt_comes_first_as_in_ollama() -> None:
    model = spec(GEMMA3)
    model.system = "Be brief."
    messages = templated.chat_messages(model, HI)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    own = ChatRequest.parse(
        {"messages": [{"role": "system", "content": "Mine."}, *HI_BODY["messages"]]}
    )
    assert templated.chat_messages(model, own)[0]["content"] == "Mine."
    assert render(GEMMA3, messages) == (
        "<start_of_turn>user\nBe brief.\n\nhi<end_of_turn>\n<start_of_turn>model\n\n"
    )
    generate = templated.generate_messages(model, GenerateRequest.parse({}), "hi")
    assert [m["role"] for m in generate] == ["system", "user"]


def test_a_requests_own_stop_replaces_the_fallback_stops() -> None:
    """The fallback's stops are the model's defaults: a request's ``stop`` replaces them."""
    bare = spec(None)
    merged = templated.fallback_options(bare, {"stop": ["\n\n"], "seed": 1}, {"seed": 1})
    assert merged["stop"] == ["\n\n", *FALLBACK_STOP]  # the model's params layer and the fallback
    assert templated.fallback_options(bare, {"stop": []}, {"stop": []}) == {"stop": []}
