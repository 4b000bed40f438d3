"""Outbound HTTP to addresses other people chose (webhook receivers): the SSRF guard.

Two checks, because either alone can be bypassed:
- ``check_url`` when a URL is saved: https only (http only to allow-listed hosts), no
  credentials, no odd low ports, and an IP literal in any spelling (decimal ``2130706433``,
  octal ``0177.0.0.1``, hex, short ``127.1``, IPv4-mapped IPv6) must be a public address.
  The host is read as the connection will read it (``connection_host``): httpx's IDNA
  normalisation turns full-width dots (``127。0。0。1``) into dots, and an absolute name's
  trailing dot (``localhost.``) names the same host, so neither slips past the save.
- ``GuardedBackend`` at every connection: the host name is resolved once, every address is
  checked, and the socket connects to the checked address. A DNS answer that changes between
  the check and the connection (rebinding) therefore cannot reach an internal address.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

import anyio
import httpcore
import httpx

from app.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Low ports other than the web's own are internal services (ssh, smtp, ...), never receivers.
ALLOWED_LOW_PORTS = frozenset({80, 443})


class BlockedAddress(Exception):
    """The destination resolves to an address outbound requests must not reach."""


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes when it is an IP literal in any spelling the socket
    layer accepts, else None (a name to resolve)."""
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    # inet_aton accepts the legacy forms browsers and libc also accept: 2130706433,
    # 0177.0.0.1, 0x7f.1, 127.1. A name made of such parts is an address, not a host name.
    if candidate and all(part.isalnum() for part in candidate.split(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


def connection_host(host: str) -> str:
    """A host (as httpx has normalised it) as a lookup or a literal parse reads it: the
    trailing dots of an absolute name dropped, since ``localhost.`` is ``localhost``."""
    return host.strip("[]").rstrip(".").lower()


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
        if address.teredo is not None:
            return all(is_public(inner) for inner in address.teredo)
        # fec0::/10, the deprecated site-local range, is still routed inside some networks,
        # but the ipaddress module counts it as global.
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def _host_allowed(host: str, allowed_http_hosts: Iterable[str]) -> bool:
    return host.lower().strip("[]") in {h.lower() for h in allowed_http_hosts}


def check_url(url: str, allowed_http_hosts: Iterable[str]) -> SplitResult:
    """Refuse a receiver URL that can never be delivered to safely (422 on the field)."""
    allowed = list(allowed_http_hosts)
    try:
        parts = urlsplit(url)
        port = parts.port
        # The host the delivery will connect to, normalised by httpx as when it sends.
        name = connection_host(httpx.URL(url).host) if parts.hostname else ""
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidInput(f"url is malformed: {exc}.") from exc
    # The allow-list is matched on the host as written: another spelling of an allowed host
    # is judged like any other host.
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or not name:
        raise InvalidInput("The URL must be an absolute https URL.")
    if parts.scheme == "http" and not _host_allowed(host, allowed):
        raise InvalidInput(
            "The URL must use https (plain http is allowed only to hosts the "
            "deployment allow-lists).",
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("The URL must not contain credentials.")
    if port is not None and port < 1024 and port not in ALLOWED_LOW_PORTS:
        raise InvalidInput(f"Port {port} is not allowed for receivers.")
    if _host_allowed(host, allowed):
        return parts
    literal = parse_ip_literal(name)
    if literal is not None and not is_public(literal):
        raise InvalidInput("The URL points to a private or reserved address.")
    if name.endswith((".localhost", ".local", ".internal")) or name == "localhost":
        raise InvalidInput("The URL points to a local host name.")
    return parts


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address (see the module's docstring).

    The method signatures are httpcore's interface, hence their ``timeout`` parameters."""

    def __init__(self, allowed_hosts: Iterable[str]):
        self._allowed = {h.lower() for h in allowed_hosts}
        self._inner = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> str:
        if host.lower().strip("[]") in self._allowed:
            return host
        literal = parse_ip_literal(connection_host(host))
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses or not all(is_public(address) for address in addresses):
            raise BlockedAddress(f"{host} resolves to a non-public address")
        return str(addresses[0])

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.resolve(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not reachable from outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(allowed_hosts: Iterable[str]) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through ``GuardedBackend``.

    httpx takes no network backend argument, so its connection pool is replaced by an
    equivalent one built with the guard (tests prove the guard is what connects).
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001 - see the docstring
        ssl_context=httpx.create_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(allowed_hosts),
    )
    return transport


def outbound_client(
    allowed_hosts: Iterable[str],
    timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The client for receivers: guarded, no redirects followed, no proxies from the
    environment, a hard timeout. ``transport`` replaces the guard only in tests of callers."""
    return httpx.AsyncClient(
        transport=transport or guarded_transport(allowed_hosts),
        follow_redirects=False,
        timeout=httpx.Timeout(timeout_seconds),
        trust_env=False,
    )
