"""Where a registry may send Hearth: redirect and token-realm targets, checked by address.

The threat: a registry answers a blob (or manifest, or token) request with
a redirect to ``http://127.0.0.1:<port>/...`` or a LAN address, and Hearth,
which runs inside the user's network, makes a request the registry itself
could never make (a blind SSRF: Hearth's own API, a router, a cloud
metadata service at 169.254.169.254).

The rule: a target is allowed when every address its host resolves to is
a public (globally routable) one, or is an address of the registry's own
host. So:

* a registry on a public address may redirect to public CDNs (what
  registry.ollama.ai and Hugging Face do for every blob), never to a
  loopback, private (RFC 1918), link-local, unique-local (fc00::/7),
  unspecified (0.0.0.0, ::) or otherwise non-global address;
* a registry on this machine or the LAN may redirect to itself, on any
  port (a registry with its storage service next to it, such as a test
  registry on 127.0.0.1), but not to *another* private address: a LAN
  registry redirecting to 192.168.1.1 is refused too.

Why not "a loopback registry may redirect anywhere loopback": 127.0.0.0/8
is all loopback, yet 127.0.0.2 and 127.0.0.1 are different addresses a
service binds to separately; comparing exact addresses keeps the rule one
sentence long and lets the tests, which must stay on loopback, run a
registry on 127.0.0.2 that is refused a redirect to Hearth on 127.0.0.1.
The one equivalence: 127.0.0.1 and ::1 count as one host, since both are
what ``localhost`` resolves to and a service on one is usually on both.

What it costs: a LAN registry whose blobs live on a *different* LAN host
(a separate MinIO box) cannot be pulled from; the error says why. Every
address a name resolves to must pass, so a name answering with one public
and one loopback address is refused; and ``request_guard`` checks the
address each connection really reached, so a DNS answer that changes
between this check and the connection (rebinding) is caught there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.models.pull_errors import UnsafeRedirect

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCALHOST = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


def parse_address(text: str) -> Address:
    """An IP address; IPv4-mapped IPv6 (``::ffff:127.0.0.1``) as the IPv4 it carries."""
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: Address) -> bool:
    """Globally routable unicast: not loopback, private, link-local, ULA, unspecified, multicast."""
    return address.is_global and not (address.is_multicast or address.is_unspecified)


def describe(address: Address) -> str:
    """Why an address is not public, in words for the error message."""
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    return "not a public address"


def resolve(host: str) -> set[Address]:
    """Every address ``host`` resolves to (a literal address resolves to itself).

    Raises ``OSError`` when the name does not resolve.
    """
    try:
        return {parse_address(host)}
    except ValueError:
        pass
    answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return {parse_address(str(answer[4][0])) for answer in answers}


class AddressPolicy:
    """The rule above, for one registry host; its addresses are resolved once, when first needed."""

    def __init__(self, registry_host: str) -> None:
        self.registry_host = registry_host.lower()
        self._own: set[Address] | None = None

    def own_addresses(self) -> set[Address]:
        if self._own is None:
            try:
                own = resolve(self.registry_host)
            except OSError:
                own = set()  # the registry's own requests fail on their own; nothing is trusted
            if own & _LOCALHOST:
                own |= _LOCALHOST
            self._own = own
        return self._own

    def allows(self, address: Address) -> bool:
        return is_public(address) or address in self.own_addresses()

    def check_url(self, url: str, what: str = "redirect") -> None:
        """Raise ``UnsafeRedirect`` unless every address of ``url``'s host is allowed."""
        host = (urlsplit(url).hostname or "").lower()
        if not host:
            raise UnsafeRedirect(f"refused the registry's {what} to {url!r}: it names no host")
        if host == self.registry_host:
            return  # the registry itself (its connections are still checked by address)
        try:
            addresses = resolve(host)
        except OSError as error:
            raise UnsafeRedirect(
                f"refused the registry's {what} to {host}: the name does not resolve ({error})"
            ) from None
        for address in sorted(addresses, key=str):
            if not self.allows(address):
                raise UnsafeRedirect(self._refusal(what, host, address))

    def check_peer(self, ip: str) -> None:
        """For ``request_guard.peer_check``: the address a new connection actually reached."""
        address = parse_address(ip)
        if not self.allows(address):
            raise UnsafeRedirect(self._refusal("request", ip, address))

    def _refusal(self, what: str, host: str, address: Address) -> str:
        where = host if host == str(address) else f"{host} ({address})"
        return (
            f"refused the registry's {what} to {where}: that is {describe(address)}, and the"
            f" registry ({self.registry_host}) is not on it; a registry may only send Hearth"
            " to public addresses or to its own"
        )
