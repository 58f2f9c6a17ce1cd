"""Registries that attack Hearth: trickled bytes that stall a pull, redirects into the machine.

The registries here are stand-ins, named as such: small Flask apps that
send what a hostile registry (or a very slow network) would, which the real
``docker-registry`` never does. Everything else is real: a real ``hearth
serve`` process pulls over real HTTP, and the "internal service" a redirect
aims at is a real server on 127.0.0.1 that counts the requests it gets.

All of it stays on 127.0.0.0/8. A registry *off* this machine is played by
a stub bound on 127.0.0.2: under the redirect rule (``redirect_policy``) a
registry may only send Hearth to a non-public address it is on itself, so
127.0.0.1 is "another host" for it, as Hearth's own API would be for a
registry on the internet.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, Response, request

from app.models.download import PullTuning
from app.models.errors import HearthError
from app.models.names import parse_name
from app.models.pull import pull_model
from app.models.pull_errors import PullCancelled, RegistryError, UnsafeRedirect
from app.models.redirect_policy import AddressPolicy
from app.models.request_guard import guarded_session, peer_check
from app.models.store import ModelStore
from tests.hearth_process import HearthFactory, HearthProcess
from tests.stub_registry import (
    MANIFEST_TYPE,
    Stub,
    bearer_challenge,
    digest_of,
    manifest_for,
    model_layer,
    registry_app,
    serve_blob,
)

TRICKLE_SECONDS = 3.0
"""One byte this often: no per-read socket timeout ever trips on it."""
DEADLINE = 2.0
"""``HEARTH_PULL_MANIFEST_TIMEOUT`` for the Hearth under test, so tests stay short."""
CONFIG = b"{}"
FAST = PullTuning(min_part_size=1 << 20, backoff_base=0.05, stall_timeout=5)


@pytest.fixture(scope="module")
def hearth_short_deadline(make_module_hearth: HearthFactory) -> HearthProcess:
    """A real ``hearth serve`` whose manifest deadline is ``DEADLINE`` seconds."""
    return make_module_hearth(env={"HEARTH_PULL_MANIFEST_TIMEOUT": str(DEADLINE)})


def trickle(data: bytes, stop: threading.Event, head: int = 0) -> Iterator[bytes]:
    """``data[:head]`` at once, then one byte every ``TRICKLE_SECONDS`` until ``stop``."""
    if head:
        yield data[:head]
    for index in range(head, len(data)):
        if stop.wait(TRICKLE_SECONDS):
            return
        yield data[index : index + 1]


def canary_app() -> Flask:
    """Stands in for a service inside the machine (Hearth's own API, a router page)."""
    app = Flask("internal_service_canary")

    @app.route("/<path:anything>", methods=["GET", "POST", "DELETE"])
    def anything(anything: str) -> Response:
        return Response(json.dumps({"token": "from-the-canary"}), content_type="application/json")

    return app


def pull_into(tmp_path: Path, name: str, **options: Any) -> list[dict[str, Any]]:
    """Pull ``name`` into a fresh store under ``tmp_path``, in this process; its status lines."""
    return list(pull_model(ModelStore(tmp_path / "m"), parse_name(name), **options))


def pull_via_hearth(process: HearthProcess, name: str, timeout: float = 60) -> requests.Response:
    return requests.post(
        f"{process.ollama_url}/api/pull",
        json={"model": name, "insecure": True, "stream": False},
        timeout=timeout,
    )


# -- 1. slow registries ----------------------------------------------------------------------


def test_a_trickling_manifest_fails_within_the_deadline(hearth_short_deadline, stubs):
    """Stand-in: a registry (or network) sending the manifest one byte every 3 s."""
    body = manifest_for([model_layer(digest_of(b"GGUF"), 4)], CONFIG)
    stop = threading.Event()
    stub = stubs(
        registry_app(lambda: Response(trickle(body, stop, head=1), content_type=MANIFEST_TYPE))
    )
    stub.stopping = stop
    began = time.monotonic()
    answer = pull_via_hearth(hearth_short_deadline, f"{stub.netloc}/slow/manifest", timeout=40)
    took = time.monotonic() - began
    print(f"\ntrickling manifest: failed after {took:.2f} s (deadline {DEADLINE:g} s)")
    assert answer.status_code >= 400
    error = answer.json()["error"]
    assert "too slow" in error and "manifest" in error and f"{DEADLINE:g} s" in error, error
    assert took < 30, "the deadline is for the whole manifest, not per read"
    assert requests.get(f"{hearth_short_deadline.ollama_url}/api/pulls", timeout=5).json() == {
        "pulls": []
    }


def test_cancel_while_a_blob_trickles_is_prompt(hearth_short_deadline, stubs):
    """Stand-in: a registry that sends 4 KiB of a blob, then one byte every 3 s.

    The part thread is then blocked in a socket read that only ends when a
    64 KiB buffer fills (in days); the cancel must cut it short anyway.
    """
    data = os.urandom(256 * 1024)
    body = manifest_for([model_layer(digest_of(data), len(data))], CONFIG)
    stop = threading.Event()
    trickling = threading.Event()

    def blob(digest: str) -> Response:
        if digest == digest_of(CONFIG):
            return serve_blob(CONFIG)
        header = request.headers.get("Range", "bytes=0-")
        start = int(header[6:].partition("-")[0])
        rest = data[start:]
        trickling.set()
        return Response(
            trickle(rest, stop, head=4096),
            status=206,
            headers={
                "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                "Content-Length": str(len(rest)),
            },
        )

    stub = stubs(registry_app(lambda: Response(body, content_type=MANIFEST_TYPE), blob))
    stub.stopping = stop
    name = f"{stub.netloc}/slow/blob"
    url = hearth_short_deadline.ollama_url
    lines: list[dict[str, Any]] = []
    ended = threading.Event()

    def watch() -> None:
        with requests.post(
            f"{url}/api/pull", json={"model": name, "insecure": True}, stream=True, timeout=60
        ) as response:
            lines.extend(json.loads(line) for line in response.iter_lines() if line)
        ended.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert trickling.wait(30), "the blob was never requested"
    time.sleep(1.0)  # the part thread is now blocked in its read
    assert not ended.is_set()
    began = time.monotonic()
    cancelled = requests.delete(f"{url}/api/pulls", json={"model": name}, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    finished = ended.wait(20)
    took = time.monotonic() - began
    print(f"\ncancel during a trickling blob: the pull ended {took:.2f} s after DELETE")
    assert finished, "the cancel did not stop a pull blocked on a trickling registry"
    assert "cancelled" in lines[-1].get("error", ""), lines[-1]
    assert requests.get(f"{url}/api/pulls", timeout=5).json() == {"pulls": []}


def test_cancel_while_the_manifest_trickles(stubs, tmp_path):
    """Stand-in: a trickling manifest with a long deadline; the cancel ends it, not the deadline."""
    body = manifest_for([model_layer(digest_of(b"GGUF"), 4)], CONFIG)
    stop = threading.Event()
    stub = stubs(registry_app(lambda: Response(trickle(body, stop, head=1))))
    stub.stopping = stop
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    tuning = PullTuning(exchange_deadline=120)
    began = time.monotonic()
    with pytest.raises(PullCancelled, match="pull cancelled"):
        pull_into(tmp_path, f"{stub.netloc}/slow/m", cancel=cancel, tuning=tuning)
    assert time.monotonic() - began < 20


def test_trickled_headers_also_meet_the_deadline(tmp_path):
    """Stand-in: a raw socket server that sends the status line, then a header byte per 3 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Slow: " + b"a" * 100:
                if stop.wait(TRICKLE_SECONDS):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    try:
        began = time.monotonic()
        with pytest.raises(RegistryError, match="too slow"):
            pull_into(
                tmp_path,
                f"127.0.0.1:{listener.getsockname()[1]}/slow/h",
                tuning=PullTuning(exchange_deadline=DEADLINE),
            )
        assert time.monotonic() - began < 20
    finally:
        stop.set()
        listener.close()


# -- 2. redirects into the machine -----------------------------------------------------------


def good_model() -> tuple[bytes, bytes]:
    data = b"GGUF" + os.urandom(8192)
    return data, manifest_for([model_layer(digest_of(data), len(data))], CONFIG)


@pytest.mark.parametrize("target_host", ["127.0.0.1", "localhost"])
def test_a_blob_redirect_to_an_internal_service_is_refused(
    hearth_short_deadline, stubs, target_host
):
    """A registry "elsewhere" (127.0.0.2) redirects a blob to a service on 127.0.0.1.

    ``localhost`` goes through DNS resolution (the resolver's answer is
    checked, not the name).
    """
    canary = stubs(canary_app())
    data, body = good_model()
    target = f"http://{target_host}:{canary.port}/api/v1/settings"
    registry = stubs(
        registry_app(
            lambda: Response(body, content_type=MANIFEST_TYPE),
            lambda digest: Response(status=307, headers={"Location": target}),
        ),
        host="127.0.0.2",
    )
    answer = pull_via_hearth(hearth_short_deadline, f"{registry.netloc}/evil/blob")
    assert answer.status_code >= 400
    error = answer.json()["error"]
    assert "refused the registry's redirect" in error and "loopback" in error, error
    assert canary.requests == [], "the internal service must never receive the request"
    assert registry.requests, "the registry itself was asked"


def test_a_manifest_redirect_to_an_internal_service_is_refused(hearth_short_deadline, stubs):
    canary = stubs(canary_app())
    target = f"http://127.0.0.1:{canary.port}/api/v1/chats"
    registry = stubs(
        registry_app(lambda: Response(status=302, headers={"Location": target})), host="127.0.0.2"
    )
    answer = pull_via_hearth(hearth_short_deadline, f"{registry.netloc}/evil/manifest")
    assert answer.status_code >= 400
    assert "refused the registry's redirect" in answer.json()["error"]
    assert canary.requests == []


def test_a_token_endpoint_redirect_to_an_internal_service_is_refused(stubs, tmp_path):
    """The auth realm is a target too: its endpoint redirects into the machine."""
    canary = stubs(canary_app())
    app = Flask("hostile_registry_with_auth")
    holder: dict[str, Stub] = {}

    @app.get("/v2/evil/auth/manifests/latest")
    def manifest() -> Response:
        return bearer_challenge(f"http://127.0.0.2:{holder['registry'].port}/token", service="stub")

    @app.get("/token")
    def token() -> Response:
        location = f"http://127.0.0.1:{canary.port}/api/v1/settings"
        return Response(status=307, headers={"Location": location})

    holder["registry"] = stubs(app, host="127.0.0.2")
    with pytest.raises(UnsafeRedirect, match="refused the registry's redirect"):
        pull_into(tmp_path, f"{holder['registry'].netloc}/evil/auth", insecure=True, tuning=FAST)
    assert canary.requests == []


def test_a_redirect_to_the_registrys_own_address_still_pulls(stubs, tmp_path):
    """A registry on 127.0.0.2 sends blobs to its storage service on 127.0.0.2, another port."""
    data, body = good_model()
    storage = Flask("registry_storage")

    @storage.get("/data/<digest>")
    def stored(digest: str) -> Response:
        return serve_blob(data if digest == digest_of(data) else CONFIG)

    cdn = stubs(storage, host="127.0.0.2")
    registry = stubs(
        registry_app(
            lambda: Response(body, content_type=MANIFEST_TYPE),
            lambda digest: Response(
                status=307, headers={"Location": f"http://{cdn.netloc}/data/{digest}"}
            ),
        ),
        host="127.0.0.2",
    )
    store = ModelStore(tmp_path / "m")
    name = parse_name(f"{registry.netloc}/fine/model")
    lines = list(pull_model(store, name, insecure=True, tuning=FAST))
    assert lines[-1] == {"status": "success"}
    assert store.blob_path(digest_of(data)).read_bytes() == data
    assert len(cdn.requests) >= 2


def test_redirects_are_bounded(stubs, tmp_path):
    _data, body = good_model()
    holder: dict[str, Stub] = {}

    def loop(digest: str) -> Response:
        location = f"http://{holder['registry'].netloc}/v2/x/y/blobs/{digest}"
        return Response(status=302, headers={"Location": location})

    holder["registry"] = stubs(
        registry_app(lambda: Response(body, content_type=MANIFEST_TYPE), loop)
    )
    with pytest.raises(UnsafeRedirect, match="too many redirects"):
        pull_into(tmp_path, f"{holder['registry'].netloc}/x/y", tuning=FAST)
    assert len(holder["registry"].requests) == 1 + 11  # the manifest, then 1 + MAX_REDIRECTS


def test_a_connection_reaching_a_refused_address_sends_nothing(stubs):
    """The address a connection really reached is checked, whatever DNS said before (rebinding)."""
    canary = stubs(canary_app())
    policy = AddressPolicy("127.0.0.2")
    session = guarded_session()
    with peer_check(policy.check_peer), pytest.raises(UnsafeRedirect, match="loopback"):
        session.get(f"http://127.0.0.1:{canary.port}/api/v1/settings", timeout=5)
    assert canary.requests == []


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("https://93.184.215.14/blob", True),
        ("https://[2606:4700::6810:84e5]/blob", True),
        ("http://127.0.0.1:8080/api/v1/settings", False),
        ("http://127.1.2.3/", False),
        ("http://[::1]/", False),
        ("http://[::ffff:127.0.0.1]/", False),
        ("http://0.0.0.0:8080/", False),
        ("http://[::]/", False),
        ("http://10.0.0.5/", False),
        ("http://172.16.0.1/", False),
        ("http://192.168.1.1/admin", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://[fe80::1]/", False),
        ("http://[fd00::1]/", False),
        ("http://100.64.0.1/", False),
    ],
)
def test_which_addresses_a_public_registry_may_redirect_to(target, allowed):
    """The rule for a registry on a public address (literal addresses: nothing is contacted)."""
    policy = AddressPolicy("151.101.0.1")  # a registry on the internet (a literal: no DNS)
    if allowed:
        policy.check_url(target)
    else:
        with pytest.raises(UnsafeRedirect, match="refused the registry's redirect"):
            policy.check_url(target)


def test_a_lan_registry_may_redirect_to_itself_only():
    policy = AddressPolicy("192.168.1.20")
    policy.check_url("http://192.168.1.20:9000/bucket/blob")
    policy.check_peer("192.168.1.20")
    policy.check_peer("151.101.0.1")
    with pytest.raises(UnsafeRedirect, match="private address"):
        policy.check_url("http://192.168.1.1/")
    with pytest.raises(UnsafeRedirect, match="loopback"):
        policy.check_url("http://127.0.0.1:8080/")


def test_refusals_are_hearth_errors():
    assert issubclass(UnsafeRedirect, HearthError)
