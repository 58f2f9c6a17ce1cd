"""A client for Ollama-style (OCI distribution) registries: manifests and blobs.

What it guards against, since a registry is a remote party we do not trust:

* manifests are read with a size bound and parsed by the store's strict
  parser (digest pattern, sizes, layer count) before anything uses them;
* credentials (bearer tokens) are only ever sent to the registry's own
  scheme/host/port: blob redirects are followed by hand, and a redirect to
  a CDN gets a plain request; the token realm must be on the registry host,
  as Ollama requires;
* redirects only go to http(s), and never from https down to http unless
  the pull is ``insecure``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters

from app.models.digests import parse_digest
from app.models.errors import BadManifest
from app.models.names import ModelName
from app.models.network_words import network_failure
from app.models.pull_errors import (
    InsecureProtocol,
    ManifestNotFound,
    RegistryError,
    Unauthorized,
    UnsafeRedirect,
)
from app.models.store import MANIFEST_MEDIA_TYPE, MAX_MANIFEST_BYTES

OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_ACCEPT = f"{MANIFEST_MEDIA_TYPE}, {OCI_MANIFEST_MEDIA_TYPE};q=0.9"
MAX_REDIRECTS = 10
MAX_TOKEN_BYTES = 64 * 1024
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
    """

    def __init__(
        self,
        name: ModelName,
        *,
        insecure: bool = False,
        session: requests.Session | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.insecure = insecure
        self.base_url = registry_base_url(name, insecure)
        self.repo_url = f"{self.base_url}/v2/{name.namespace}/{name.model}"
        self.session = session or _pooled_session()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._token: str | None = None

    # -- plumbing ------------------------------------------------------
    def _headers(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, **(extra or {})}
        if self._token and _origin(url) == _origin(self.base_url):
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _send(
        self, method: str, url: str, headers: dict[str, str] | None, read_timeout: float | None
    ) -> requests.Response:
        """One request, answering a bearer challenge once; never follows redirects."""
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        for attempt in range(2):
            response = self.session.request(
                method,
                url,
                headers=self._headers(url, headers),
                allow_redirects=False,
                stream=True,
                timeout=timeout,
            )
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
        query = {"service": params.get("service", ""), "ts": str(int(time.time()))}
        if params.get("scope"):
            query["scope"] = params["scope"]
        try:
            response = self.session.get(
                realm,
                params=query,
                headers={"User-Agent": USER_AGENT},
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
                stream=True,  # read with a bound below, never whole
            )
            with response:
                if response.status_code != 200:
                    raise Unauthorized()
                body = _read_bounded(response, MAX_TOKEN_BYTES)
        except BadManifest:
            raise Unauthorized("unauthorized: the registry's token response is too large") from None
        except requests.RequestException as error:
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
        self, url: str, headers: dict[str, str], read_timeout: float | None = None
    ) -> requests.Response:
        """GET with redirects followed by hand, under the rules in the module docstring."""
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send("GET", url, headers, read_timeout)
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
            url = target
        raise UnsafeRedirect("too many redirects from the registry")

    # -- manifests -----------------------------------------------------
    def fetch_manifest(self) -> bytes:
        """The manifest bytes exactly as sent (they are stored and hashed as they are)."""
        url = f"{self.repo_url}/manifests/{self.name.tag}"
        try:
            response = self._follow(url, {"Accept": MANIFEST_ACCEPT})
        except requests.RequestException as error:
            raise RegistryError(f"pull model manifest: {network_failure('GET', error)}") from None
        with response:
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
        whether to retry (``retryable_status``).
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


def _pooled_session(connections: int = 32) -> requests.Session:
    """A session that keeps a connection per parallel part (requests keeps 10 per host).

    Why: up to 16 parts download at once; with requests' pool of ten, the
    connections past ten are closed when their attempt ends (urllib3 warns
    "connection pool is full"), so a retried or resumed part pays for a new
    connection (and, on a real link, TCP slow start) again.
    """
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


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
