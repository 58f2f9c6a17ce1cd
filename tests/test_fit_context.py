"""Which messages of a long chat are kept when it no longer fits the context.

The counting is llama-server's in the product (template + tokenize); here a
count of words stands in for it, since the choice of messages is pure logic.
"""

from __future__ import annotations

from typing import Any

from app.runner.fit_context import answer_reserve, fitted_messages, prompt_limits, text_only


def words(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m["content"]).split()) for m in messages)


def chat(turns: int, words_each: int = 10) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "be brief"}]
    for turn in range(turns):
        role = "user" if turn % 2 == 0 else "assistant"
        messages.append({"role": role, "content": " ".join([f"t{turn}"] * words_each)})
    return messages


def test_the_newest_turns_that_fit_are_kept_with_the_system_message() -> None:
    messages = chat(9)  # system (2 words) + 9 turns of 10 words: 92 words
    kept = fitted_messages(messages, 45, words)
    assert kept is not None
    assert kept[0] == messages[0]
    assert kept[1:] == messages[-3:]  # user, assistant, user: 32 words with the system
    assert words(kept) <= 45


def test_a_cut_never_leaves_the_assistant_speaking_first() -> None:
    messages = chat(9)
    for budget in range(12, 93):
        kept = fitted_messages(messages, budget, words)
        assert kept is not None
        assert kept[1]["role"] == "user", budget
        assert kept[-1] == messages[-1]


def test_system_messages_from_the_middle_of_the_chat_stay() -> None:
    messages = chat(6)
    messages.insert(3, {"role": "system", "content": "now answer in French"})
    kept = fitted_messages(messages, 25, words)
    assert kept is not None
    assert [m["content"] for m in kept if m["role"] == "system"] == [
        "be brief",
        "now answer in French",
    ]


def test_none_when_not_even_the_last_turn_fits() -> None:
    assert fitted_messages(chat(3, words_each=50), 40, words) is None


def test_the_search_counts_a_few_times_not_once_per_message() -> None:
    calls = 0

    def counting(messages: list[dict[str, Any]]) -> int:
        nonlocal calls
        calls += 1
        return words(messages)

    fitted_messages(chat(201), 500, counting)
    assert calls <= 9  # 101 user turns: one check of the last, then bisection


def test_a_tool_loop_whose_last_message_is_a_tool_result_keeps_it() -> None:
    messages = chat(4) + [
        {"role": "assistant", "content": "", "tool_calls": []},
        {"role": "tool", "content": "18 degrees"},
    ]
    kept = fitted_messages(messages, 15, words)
    assert kept is not None and kept[-1]["content"] == "18 degrees"


def test_answer_reserve() -> None:
    assert answer_reserve(4096, 10 * 4096) == 1024
    assert answer_reserve(4096, 64) == 64
    assert answer_reserve(4096, -1) == 1024


def test_images_are_left_out_of_the_text_and_counted() -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    text, images = text_only(message)
    assert text == {"role": "user", "content": "what is this?"} and images == 1
    plain = {"role": "user", "content": "plain"}
    assert text_only(plain) == (plain, 0)


def test_the_last_turn_alone_may_leave_less_room_than_the_reserve() -> None:
    """Ollama keeps the system prompt, tools and last message whenever they fit num_ctx."""
    messages = chat(5, words_each=30)  # the last turn with the system message: 32 words
    assert fitted_messages(messages, 30, words) is None
    assert fitted_messages(messages, 30, words, most=31) is None
    assert fitted_messages(messages, 30, words, most=40) == [messages[0], messages[-1]]


def test_prompt_limits() -> None:
    assert prompt_limits(8192, -1) == (8192 - 2048, 8192 - 256)
    assert prompt_limits(8192, 100) == (8092, 8092)
    assert prompt_limits(512, -1) == (384, 384)
