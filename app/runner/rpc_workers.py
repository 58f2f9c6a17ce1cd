"""Worker addresses and a tiny client of ggml's RPC protocol, to check workers before a load.

A worker is llama.cpp's ``ggml-rpc-server`` (what ``hearth worker`` runs)
on another machine; llama-server reaches it with ``--rpc host:port``. Why a
client of our own rather than ``llama-server --rpc H:P --list-devices``:
llama-server *aborts* when one listed worker cannot be reached (so one dead
worker hides what the others have), it starts every backend first (a second
or more, per check), and it cannot tell a refused connection from a worker
busy with another client. Three commands of the protocol answer the
question in milliseconds, with a timeout we choose:

- ``HELLO`` (14): the worker's protocol version; llama-server refuses a
  worker whose major differs or whose minor is newer, so we do too.
- ``DEVICE_COUNT`` (15) and ``GET_DEVICE_MEMORY`` (11): each device's free
  and total memory, which is what decides where layers go.

The message layout (from the pinned llama.cpp's ``ggml-rpc.cpp``, protocol
7.0.0): a request is ``| cmd: u8 | size: u64 | payload |``, a reply
``| size: u64 | payload |``, little-endian, structs packed. HELLO's payload
is 24 bytes of connection capabilities (all zero: plain TCP, no RDMA), its
reply ``major, minor, patch, pad`` and the worker's 24 bytes of caps.

A worker serves one client at a time: while a llama-server uses it, a new
connection is queued by the kernel and HELLO gets no answer. A check that
connects but hears nothing therefore says "busy", not "down".
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from app.errors import HearthException

PROTO_MAJOR = 7
PROTO_MINOR = 0
"""The RPC protocol of the pinned llama.cpp (``ggml/include/ggml-rpc.h``)."""
CMD_GET_DEVICE_MEMORY = 11
CMD_HELLO = 14
CMD_DEVICE_COUNT = 15
CONN_CAPS_SIZE = 24
DEFAULT_PORT = 50052
"""ggml-rpc-server's own default port."""
MAX_DEVICES = 64
CONNECT_TIMEOUT = 2.0
REPLY_TIMEOUT = 3.0

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


class WorkerAddressError(HearthException, ValueError):
    """A worker address that is not ``host:port``; the message says what is wrong."""


def parse_worker(text: Any) -> str:
    """``host:port`` in its one canonical spelling, or ``WorkerAddressError``.

    IPv4 addresses and host names only: llama-server splits ``--rpc`` on
    ``,`` and each endpoint on its first ``:``, so an IPv6 literal cannot be
    passed to it at all. The port must be given (no silent 50052) so that
    a typo never reaches a machine nobody meant.
    """
    if not isinstance(text, str):
        raise WorkerAddressError("a worker address must be a string like 192.168.1.20:50052")
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise WorkerAddressError(f"{text!r} is not host:port (e.g. 192.168.1.20:{DEFAULT_PORT})")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise WorkerAddressError(f"{text!r}: the port must be a number from 1 to 65535")
    if host.startswith("[") or ":" in host:
        raise WorkerAddressError(f"{text!r}: IPv6 addresses cannot be used by llama.cpp's RPC")
    try:
        host = str(ipaddress.IPv4Address(host))
    except ValueError:
        if not _HOST_NAME.match(host) or host.replace(".", "").isdigit():
            message = f"{text!r}: {host!r} is not a host name or IPv4 address"
            raise WorkerAddressError(message) from None
        host = host.lower()
    return f"{host}:{int(port_text)}"


def parse_workers(value: Any) -> tuple[str, ...]:
    """A list (or comma-separated text) of addresses, canonical, duplicates dropped."""
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise WorkerAddressError("workers must be a list of host:port addresses")
    if len(items) > MAX_DEVICES:
        raise WorkerAddressError(f"at most {MAX_DEVICES} workers")
    return tuple(dict.fromkeys(parse_worker(item) for item in items))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8: the only binds that need no flag."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


@dataclass
class DeviceMemory:
    index: int
    free: int
    total: int


@dataclass
class WorkerStatus:
    """What a check of one worker found. ``state``: ok, busy, down, refused, bad."""

    address: str
    state: str
    detail: str = ""
    version: str = ""
    devices: list[DeviceMemory] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.state == "ok"

    @property
    def free(self) -> int:
        return sum(device.free for device in self.devices)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "free": self.free}

    def describe(self) -> str:
        if self.usable:
            mib = 2**20
            devices = ", ".join(
                f"device {d.index}: {d.free // mib} MiB free of {d.total // mib} MiB"
                for d in self.devices
            )
            return f"{self.address}: reachable, protocol {self.version}; {devices}"
        return f"{self.address}: {self.state} ({self.detail})"


class _Closed(Exception):
    pass


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise _Closed()
        data += chunk
    return data


def _call(sock: socket.socket, cmd: int, payload: bytes, reply_size: int) -> bytes:
    sock.sendall(struct.pack("<BQ", cmd, len(payload)) + payload)
    (size,) = struct.unpack("<Q", _recv_exact(sock, 8))
    if size != reply_size:
        raise ValueError(f"a reply of {size} bytes to command {cmd}, not {reply_size}")
    return _recv_exact(sock, size)


def probe_worker(
    address: str, connect_timeout: float = CONNECT_TIMEOUT, reply_timeout: float = REPLY_TIMEOUT
) -> WorkerStatus:
    """Connect, HELLO, and read each device's memory; never raises."""
    host, _, port = address.rpartition(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=connect_timeout)
    except ConnectionRefusedError:
        return WorkerStatus(address, "refused", "connection refused: no worker listens there")
    except TimeoutError:
        return WorkerStatus(address, "down", f"no answer to connect within {connect_timeout:g} s")
    except OSError as error:
        return WorkerStatus(address, "down", error.strerror or str(error))
    with sock:
        sock.settimeout(reply_timeout)
        try:
            hello = _call(sock, CMD_HELLO, bytes(CONN_CAPS_SIZE), 4 + CONN_CAPS_SIZE)
            major, minor, patch = hello[0], hello[1], hello[2]
            version = f"{major}.{minor}.{patch}"
            if major != PROTO_MAJOR or minor > PROTO_MINOR:
                return WorkerStatus(
                    address,
                    "bad",
                    f"it speaks RPC protocol {version}; this Hearth's llama.cpp speaks"
                    f" {PROTO_MAJOR}.{PROTO_MINOR}.x: run the same Hearth version on both",
                    version,
                )
            (count,) = struct.unpack("<I", _call(sock, CMD_DEVICE_COUNT, b"", 4))
            devices = []
            for index in range(min(count, MAX_DEVICES)):
                reply = _call(sock, CMD_GET_DEVICE_MEMORY, struct.pack("<I", index), 16)
                free, total = struct.unpack("<QQ", reply)
                devices.append(DeviceMemory(index, free, total))
        except TimeoutError:
            return WorkerStatus(
                address,
                "busy",
                f"it accepted the connection but did not answer within {reply_timeout:g} s:"
                " a worker serves one client at a time, and another is connected",
            )
        except _Closed:
            return WorkerStatus(address, "bad", "it closed the connection: not a Hearth worker?")
        except (OSError, ValueError) as error:
            return WorkerStatus(address, "bad", f"not a Hearth worker? ({error})")
    return WorkerStatus(address, "ok", version=version, devices=devices)


def probe_workers(addresses: tuple[str, ...] | list[str]) -> list[WorkerStatus]:
    """Check every worker at once (each check is bounded by its timeouts)."""
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(len(addresses), 16)) as pool:
        return list(pool.map(probe_worker, addresses))
