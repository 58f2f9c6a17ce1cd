"""Images through the real llama-server: Gemma 3 270M with a tiny projector (mmproj).

The projector (tests/tinyvision.py) has random weights, so the answer is noise;
what the tests check is that llama-server really decoded the image and fed its
tokens to the model: the prompt grows by the image's tokens.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.tinyvision import IMAGE_TOKENS, tiny_png, write_tiny_projector

VISION_NAME = "gemma3-vision:tiny"


@pytest.fixture(scope="module")
def vision_hearth(make_module_hearth: HearthFactory, gemma_gguf_path: Path) -> HearthProcess:
    """A Hearth with Gemma imported twice: text-only, and with the tiny projector."""
    process = make_module_hearth(models=[GEMMA_NAME], start=False)
    projector = write_tiny_projector(process.home / "tiny-mmproj.gguf")
    process.cli("import", str(gemma_gguf_path), VISION_NAME, "--mmproj", str(projector))
    process.start()
    return process


def _chat(hearth: HearthProcess, model: str, images: list[str] | None) -> list[dict]:
    message: dict = {"role": "user", "content": "What is in the picture?"}
    if images is not None:
        message["images"] = images
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={
            "model": model,
            "messages": [message],
            "options": {"num_predict": 8},
        },
        stream=True,
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    return [json.loads(line) for line in reply.iter_lines() if line]


def test_show_lists_vision_only_with_a_projector(vision_hearth: HearthProcess) -> None:
    def capabilities(model: str) -> list[str]:
        reply = requests.post(f"{vision_hearth.ollama_url}/api/show", json={"model": model})
        assert reply.status_code == 200, reply.text
        return reply.json()["capabilities"]

    assert "vision" in capabilities(VISION_NAME)
    assert "vision" not in capabilities(GEMMA_NAME)


def test_ollama_chat_with_an_image_streams_and_counts_its_tokens(
    vision_hearth: HearthProcess,
) -> None:
    image = base64.b64encode(tiny_png()).decode()
    with_image = _chat(vision_hearth, VISION_NAME, [image])
    without = _chat(vision_hearth, VISION_NAME, None)
    assert with_image[-1]["done"] is True, with_image
    assert not any("error" in chunk for chunk in with_image)
    assert with_image[-1]["eval_count"] > 0
    grown = with_image[-1]["prompt_eval_count"] - without[-1]["prompt_eval_count"]
    # The pooled image tokens, plus Gemma's start/end-of-image markers.
    assert grown >= IMAGE_TOKENS, (with_image[-1], without[-1])


def test_openai_data_url_image(vision_hearth: HearthProcess) -> None:
    url = "data:image/png;base64," + base64.b64encode(tiny_png(seed=3)).decode()

    def ask(content: object) -> dict:
        reply = requests.post(
            f"{vision_hearth.ollama_url}/v1/chat/completions",
            json={
                "model": VISION_NAME,
                "max_tokens": 4,
                "messages": [{"role": "user", "content": content}],
            },
            timeout=300,
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    answer = ask(
        [
            {"type": "text", "text": "What is in the picture?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
    )
    plain = ask("What is in the picture?")
    assert isinstance(answer["choices"][0]["message"]["content"], str)
    grown = answer["usage"]["prompt_tokens"] - plain["usage"]["prompt_tokens"]
    assert grown >= IMAGE_TOKENS, (answer["usage"], plain["usage"])


def test_text_only_model_refuses_images_in_words(vision_hearth: HearthProcess) -> None:
    image = base64.b64encode(tiny_png()).decode()
    reply = requests.post(
        f"{vision_hearth.ollama_url}/api/chat",
        json={
            "model": GEMMA_NAME,
            "messages": [{"role": "user", "content": "hi", "images": [image]}],
        },
        timeout=60,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert "image" in error.lower() and GEMMA_NAME.split(":")[0] in error
