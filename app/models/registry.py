"""A client for Ollama-style (OCI distribution) registries: manifests and blobs.

What it guards against, since a registry is a remote party we do not trust:

* manifests are read with a size bound and parsed by the store's strict
  parser (digest pattern, sizes, layer count) before anything uses them;
* credentials (bearer tokens) are only ever sent to the registry's own
  scheme/host/port: blob redirects are followed by hand, and a redirect to
  a CDN gets a plain request; the token realm must be on the registry host,
  as Ollama requires;
* redirects only go to http(s), and never from https down to http unless
  the pull is ``insecure``; there are at most ``MAX_REDIRECTS`` of them, and
  every hop, and the token realm, must pass ``redirect_policy`` (no
  loopback or private address the registry is not itself on: no SSRF);
* a manifest or token exchange has ``deadline`` seconds in all, and every
  request and read obeys the pull's cancel within a fraction of a second,
  however slowly the registry trickles bytes (``request_guard``).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Event
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from app.models.digests import parse_digest
from app.models.errors import BadManifest
from app.models.names import ModelName
from app.models.network_words import network_failure
from app.models.pull_errors import (
    InsecureProtocol,
    ManifestNotFound,
    PullCancelled,
    RegistryError,
    Unauthorized,
    UnsafeRedirect,
)
from app.models.redirect_policy import AddressPolicy
from app.models.request_guard import ReadWatch, guarded_session, peer_check, watching
from app.models.store import MANIFEST_MEDIA_TYPE, MAX_MANIFEST_BYTES

OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_ACCEPT = f"{MANIFEST_MEDIA_TYPE}, {OCI_MANIFEST_MEDIA_TYPE};q=0.9"
MAX_REDIRECTS = 10
MAX_TOKEN_BYTES = 64 * 1024
EXCHANGE_DEADLINE = 30.0
"""Seconds a manifest or token exchange may take in all (both are small)."""
USER_AGENT = "hearth (ollama-compatible)"
_REDIRECTS = {301, 302, 303, 307, 308}
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, with or without a port."""
    bare = host.lower()
    if bare.startswith("["):
        bare = bare[1:].split("]", 1)[0]
    elif bare.count(":") == 1:
        bare = bare.split(":", 1)[0]
    if bare == "localhost" or bare.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def registry_base_url(name: ModelName, insecure: bool = False) -> str:
    """``https://host`` unless the pull is insecure or the registry is on this machine.

    A name written with ``http://`` but pulled without ``insecure`` is refused
    with Ollama's own message, so a typo cannot silently drop TLS.
    """
    if name.scheme == "http" and not insecure:
        raise InsecureProtocol()
    scheme = "http" if insecure or is_loopback_host(name.host) else "https"
    return f"{scheme}://{name.host}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` challenge, else None."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return {key.lower(): quoted or bare for key, quoted, bare in _CHALLENGE_PARAM.findall(rest)}


@dataclass(frozen=True)
class ByteRange:
    """What a ranged blob response covers, from ``Content-Range`` (or a plain 200)."""

    start: int
    total: int | None


def response_range(response: requests.Response) -> ByteRange:
    if response.status_code == 200:
        length = response.headers.get("Content-Length")
        return ByteRange(0, int(length) if length and length.isdigit() else None)
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
    if match is None:
        raise RegistryError("registry sent a partial response without a valid Content-Range")
    total = match.group(3)
    return ByteRange(int(match.group(1)), int(total) if total.isdigit() else None)


class RegistryClient:
    """One model's repository on one registry.

    Thread-safe for concurrent blob reads: the token is a plain attribute
    and ``requests.Session`` tolerates concurrent requests for this use.
    A ``session`` passed in should come from ``request_guard.guarded_session``;
    another one works, but without the deadline, cancel and peer-address
    hooks on its connections.
    """

    def __init__(
        self,
        name: ModelName,
        *,
        insecure: bool = False,
        session: requests.Session | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float = EXCHANGE_DEADLINE,
        cancel: Event | None = None,
    ) -> None:
        self.name = name
        self.insecure = insecure
        self.base_url = registry_base_url(name, insecure)
        self.repo_url = f"{self.base_url}/v2/{name.namespace}/{name.model}"
        self.session = session or guarded_session()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        """Seconds a whole manifest or token exchange may take (redirects and body included)."""
        self.cancel = cancel or Event()
        self.policy = AddressPolicy(urlsplit(self.base_url).hostname or "")
        self._token: str | None = None

    # -- plumbing ------------------------------------------------------
    def _headers(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, **(extra or {})}
        if self._token and _origin(url) == _origin(self.base_url):
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    @contextmanager
    def guard(
        self, seconds: float | None = None, stop: Any = None, what: str = "registry request"
    ) -> Iterator[ReadWatch]:
        """Requests and reads in the block stop at ``seconds`` in all, or on cancel (or ``stop``).

        A watch that fired turns whatever the cut-off read raised (or a
        body that merely looks short) into ``PullCancelled`` or a
        ``RegistryError`` naming ``what`` and the deadline.
        """
        stopping = stop or self.cancel.is_set
        with watching(seconds, stopping) as watch:
            try:
                yield watch
            except Exception:
                _raise_if_fired(watch, what)
                raise
            _raise_if_fired(watch, what)

    def _get(
        self, url: str, headers: dict[str, str], read_timeout: float | None
    ) -> requests.Response:
        """One GET, never following redirects; new connections must reach allowed addresses."""
        with peer_check(self.policy.check_peer):
            return self.session.request(
                "GET",
                url,
                headers=headers,
                allow_redirects=False,
                stream=True,
                timeout=(self.connect_timeout, read_timeout or self.read_timeout),
            )

    def _send(
        self, url: str, headers: dict[str, str] | None, read_timeout: float | None
    ) -> requests.Response:
        """One request, answering a bearer challenge once; never follows redirects."""
        for attempt in range(2):
            response = self._get(url, self._headers(url, headers), read_timeout)
            if response.status_code != 401 or _origin(url) != _origin(self.base_url):
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            if attempt == 1:
                break
            self._token = self._fetch_token(challenge)
        raise Unauthorized()

    def _fetch_token(self, header: str) -> str:
        params = parse_challenge(header)
        if not params or not params.get("realm"):
            raise Unauthorized()
        realm = params["realm"]
        parts = urlsplit(realm)
        registry_host = urlsplit(self.base_url).hostname
        if parts.scheme not in {"http", "https"} or parts.hostname != registry_host:
            # Ollama's rule: a realm elsewhere could harvest whatever we would sign.
            raise Unauthorized(f"unauthorized: token realm {realm!r} is not on the registry host")
        if parts.scheme == "http" and not (self.insecure or is_loopback_host(self.name.host)):
            raise InsecureProtocol()
        self.policy.check_url(realm, "token realm")
        query = {"service": params.get("service", ""), "ts": str(int(time.time()))}
        if params.get("scope"):
            query["scope"] = params["scope"]
        url = requests.Request("GET", realm, params=query).prepare().url or realm
        try:
            with self.guard(self.deadline, what="the registry's token"):
                response = self._follow(url, {"User-Agent": USER_AGENT}, authorize=False)
                with response:
                    if response.status_code != 200:
                        raise Unauthorized()
                    body = _read_bounded(response, MAX_TOKEN_BYTES)  # never read whole
        except BadManifest:
            raise Unauthorized("unauthorized: the registry's token response is too large") from None
        except (requests.RequestException, http.client.HTTPException) as error:
            raise RegistryError(
                f"cannot get a registry token: {network_failure('GET', error)}"
            ) from None
        try:
            data: Any = json.loads(body)
        except ValueError:
            raise Unauthorized() from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise Unauthorized()
        return token

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        read_timeout: float | None = None,
        *,
        authorize: bool = True,
    ) -> requests.Response:
        """GET with redirects followed by hand, under the rules in the module docstring."""
        for _hop in range(MAX_REDIRECTS + 1):
            if authorize:
                response = self._send(url, headers, read_timeout)
            else:
                response = self._get(url, headers, read_timeout)
            if response.status_code not in _REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.close()
            target = urljoin(url, location)
            scheme = urlsplit(target).scheme.lower()
            if scheme not in {"http", "https"}:
                raise UnsafeRedirect(
                    f"registry redirected to a {scheme or 'relative'} URL; refused"
                )
            if scheme == "http" and urlsplit(url).scheme == "https" and not self.insecure:
                raise UnsafeRedirect("registry redirected from https to plain http; refused")
            self.policy.check_url(target)
            url = target
        raise UnsafeRedirect(f"too many redirects from the registry (more than {MAX_REDIRECTS})")

    # -- manifests -----------------------------------------------------
    def fetch_manifest(self) -> bytes:
        """The manifest bytes exactly as sent (they are stored and hashed as they are)."""
        url = f"{self.repo_url}/manifests/{self.name.tag}"
        try:
            with self.guard(self.deadline, what="the manifest"):
                response = self._follow(url, {"Accept": MANIFEST_ACCEPT})
                with response:
                    return self._manifest_body(response)
        except (requests.RequestException, http.client.HTTPException) as error:
            raise RegistryError(f"pull model manifest: {network_failure('GET', error)}") from None

    @staticmethod
    def _manifest_body(response: requests.Response) -> bytes:
        if response.status_code == 404:
            raise ManifestNotFound()
        if response.status_code >= 400:
            body = _read_bounded(response, 4096, truncate=True).decode("utf-8", "replace")
            raise RegistryError(f"pull model manifest: {response.status_code}: {body.strip()}")
        if response.status_code != 200:
            raise RegistryError(f"pull model manifest: unexpected {response.status_code}")
        return _read_bounded(response, MAX_MANIFEST_BYTES)

    # -- blobs ---------------------------------------------------------
    def blob_url(self, digest: str) -> str:
        return f"{self.repo_url}/blobs/{parse_digest(digest)}"

    def open_blob(
        self, digest: str, start: int, end: int | None = None, read_timeout: float | None = None
    ) -> requests.Response:
        """A streaming GET of ``bytes=start-end`` (inclusive); caller closes it.

        The status is 206 or 200 (servers may ignore Range); anything else
        raises ``RegistryError`` with the status, so callers can decide
        whether to retry (``retryable_status``). Open and read it inside
        ``guard`` so that a cancel cuts a blocked read short.
        """
        headers = {"Range": f"bytes={start}-{'' if end is None else end}"}
        response = self._follow(self.blob_url(digest), headers, read_timeout)
        if response.status_code in {200, 206}:
            return response
        status = response.status_code
        body = _read_bounded(response, 1024, truncate=True).decode("utf-8", "replace").strip()
        response.close()
        error = RegistryError(f"registry answered {status} for blob {digest}: {body}")
        error.http_status = status  # type: ignore[attr-defined]
        raise error


def _raise_if_fired(watch: ReadWatch, what: str) -> None:
    """Turn a read the watch cut off into the error that says why."""
    if watch.fired == "stopped":
        raise PullCancelled()
    if watch.fired == "deadline":
        raise RegistryError(
            f"the registry is too slow: {what} did not arrive within {watch.seconds or 0:g} s"
            " (a registry sending a few bytes at a time); try again later"
        )


def retryable_status(error: RegistryError) -> bool:
    """Server trouble and throttling are worth retrying; 404s and 403s are not."""
    status = getattr(error, "http_status", None)
    return status is None or status >= 500 or status in {408, 429}


def _read_bounded(response: requests.Response, limit: int, truncate: bool = False) -> bytes:
    length = response.headers.get("Content-Length", "")
    if not truncate and length.isdigit() and int(length) > limit:
        raise BadManifest("manifest is too large")
    data = bytearray()
    for chunk in response.iter_content(64 * 1024):
        data += chunk
        if len(data) > limit:
            if truncate:
                return bytes(data[:limit])
            raise BadManifest("manifest is too large")
    return bytes(data)
