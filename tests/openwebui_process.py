"""A real Open WebUI server for tests, pointed at a Hearth, and a client that talks like its page.

Open WebUI is installed by ``packaging/dev.sh test`` into its own cached
virtual environment (it pins hundreds of packages, torch among them, that
must not meet Hearth's). ``HEARTH_TEST_OPENWEBUI`` names that venv; without
it the default cache path is used, and a missing install fails the test
with what to run, never a silent skip.

It runs offline (``OFFLINE_MODE``, no OpenAI connection, no telemetry) so
nothing leaves 127.0.0.1, with its own data directory and port.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.registry import free_port

VERSION = "0.12.4"
DEFAULT_VENV = Path.home() / ".cache" / "hearth-test" / f"open-webui-{VERSION}"
MARKER = f".hearth-open-webui-{VERSION}"
"""Written by packaging/dev.sh once ``pip install open-webui==VERSION`` succeeded."""


def openwebui_venv() -> Path:
    """The venv holding Open WebUI ``VERSION``; AssertionError saying how to get one."""
    venv = Path(os.environ.get("HEARTH_TEST_OPENWEBUI") or DEFAULT_VENV)
    assert (venv / MARKER).is_file() and (venv / "bin" / "open-webui").is_file(), (
        f"Open WebUI {VERSION} is not installed in {venv}: run `bash packaging/dev.sh test`"
        " (its first run installs it: 5 to 15 minutes, 3 to 8 GB), or set HEARTH_TEST_OPENWEBUI"
        f" to a venv where `pip install open-webui=={VERSION}` succeeded and {MARKER} exists"
    )
    return venv


class OpenWebUIProcess:
    """``open-webui serve`` in its own process group, data directory and port."""

    def __init__(self, venv: Path, data_dir: Path, ollama_base_url: str) -> None:
        self.venv = venv
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ollama_base_url = ollama_base_url
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.started_in = 0.0

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OLLAMA_", "OPENAI_", "HEARTH_", "VIRTUAL_ENV", "PYTHON"))
        }
        env.update(
            DATA_DIR=str(self.data_dir),
            WEBUI_SECRET_KEY=secrets.token_hex(16),
            OLLAMA_BASE_URL=self.ollama_base_url,
            ENABLE_OLLAMA_API="true",
            # Nothing beyond 127.0.0.1: no OpenAI connection, no downloads, no telemetry.
            ENABLE_OPENAI_API="false",
            OFFLINE_MODE="true",
            HF_HUB_OFFLINE="1",
            RAG_EMBEDDING_MODEL_AUTO_UPDATE="false",
            RAG_RERANKING_MODEL_AUTO_UPDATE="false",
            ANONYMIZED_TELEMETRY="false",
            SCARF_NO_ANALYTICS="true",
            DO_NOT_TRACK="true",
            ENABLE_VERSION_UPDATE_CHECK="false",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 300) -> None:
        """Start it and return once ``/health`` answers (a busy machine takes a minute or two)."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "open-webui"), "serve", "--host", "127.0.0.1"]
            + ["--port", str(self.port)],
            cwd=self.data_dir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/health", timeout=5).status_code == 200:
                    self.started_in = time.monotonic() - started
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError("open-webui did not start:\n" + "".join(self.output[-200:]))

    @property
    def log_path(self) -> Path:
        """Its output, also kept on disk for a failed run to be read."""
        return self.data_dir / "open-webui.log"

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log_path.open("a") as log:
            for line in self.process.stdout:
                self.output.append(line)
                log.write(line)
                log.flush()

    def stop(self) -> None:
        """SIGTERM to its whole process group (uvicorn and any worker), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait()


class PageClient:
    """What Open WebUI's chat page sends, over the same HTTP API, for one signed-in user.

    The request bodies follow the 0.12.4 page's ``sendMessage`` (its
    compiled ``Chat`` component): a saved chat sends no history, only the
    new user message and the ids of the turn, and Open WebUI loads the rest
    from its database. The answer is followed by polling the saved chat,
    which is where the page's socket events end up too.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session_id = uuid.uuid4().hex[:20]
        """Stands for the page's socket.io id: Open WebUI adds its built-in tools only to
        requests that carry one (a plain API caller gets none)."""
        self.chat_id = ""
        self.last_assistant_id: str | None = None

    def new_chat(self) -> PageClient:
        """As the page's "New Chat": the next message starts another chat."""
        self.chat_id = ""
        self.last_assistant_id = None
        return self

    def sign_up(self) -> None:
        """The first account becomes the admin, as on a fresh install."""
        reply = self.session.post(
            f"{self.url}/api/v1/auths/signup",
            json={"name": "Tester", "email": "tester@example.com", "password": "hearth-test-pw"},
            timeout=60,
        )
        reply.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {reply.json()['token']}"

    def get(self, path: str) -> Any:
        reply = self.session.get(f"{self.url}{path}", timeout=60)
        reply.raise_for_status()
        return reply.json()

    def model_item(self, model: str, timeout: float = 60) -> dict[str, Any]:
        """The model as the page's selector holds it (``/api/models``)."""
        deadline = time.monotonic() + timeout
        while True:
            models = {item["id"]: item for item in self.get("/api/models")["data"]}
            if model in models:
                return models[model]
            assert time.monotonic() < deadline, f"{model} not among Open WebUI's models {models}"
            time.sleep(1)

    def send(self, model: str, text: str) -> dict[str, Any]:
        """One user turn as the page sends it; the reply (task ids and the chat's id)."""
        item = self.model_item(model)
        user_id, assistant_id = str(uuid.uuid4()), str(uuid.uuid4())
        user_message = {
            "id": user_id,
            "parentId": self.last_assistant_id,
            "childrenIds": [assistant_id],
            "role": "user",
            "content": text,
            "timestamp": int(time.time()),
            "models": [model],
        }
        body = {
            "stream": True,
            "model": model,
            "params": {"model_controls": {}},
            "tool_ids": [],
            "tool_servers": [],
            "features": {"voice": False, "image_generation": False, "code_interpreter": False}
            | {"web_search": False},
            "variables": {"{{USER_NAME}}": "Tester", "{{USER_LANGUAGE}}": "en-US"},
            "chat_variables": {},
            "model_item": item,
            "session_id": self.session_id,
            **({"chat_id": self.chat_id} if self.chat_id else {}),
            "id": assistant_id,
            "parent_id": self.last_assistant_id,
            "user_message": user_message,
            "background_tasks": (
                {} if self.chat_id else {"title_generation": True, "tags_generation": True}
            )
            | {"follow_up_generation": True},
        }
        reply = self.session.post(f"{self.url}/api/chat/completions", json=body, timeout=120)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        self.chat_id = answer.get("chat_id") or self.chat_id
        self.last_assistant_id = assistant_id
        return answer

    def answer(self, timeout: float = 300) -> dict[str, Any]:
        """The last assistant message once Open WebUI has marked it done."""
        assert self.chat_id and self.last_assistant_id
        deadline = time.monotonic() + timeout
        while True:
            chat = self.get(f"/api/v1/chats/{self.chat_id}")["chat"]
            message = chat["history"]["messages"].get(self.last_assistant_id) or {}
            if message.get("done"):
                return message
            assert time.monotonic() < deadline, f"no finished answer in {timeout} s: {message}"
            time.sleep(1)
