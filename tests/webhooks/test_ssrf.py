"""The SSRF guard: receiver URLs are checked when saved and every connection is checked."""

import socket

import httpx
import pytest
from sqlalchemy import func, select

from app.core.errors import InvalidInput
from app.core.http import BlockedAddress, GuardedBackend, check_url, guarded_transport
from app.models.webhook import WebhookSubscription

REFUSED = [
    "http://example.com/hook",  # plain http to a host not allow-listed
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com:70/_x",
    "javascript:alert(1)",
    "https://",
    "//example.com/hook",
    "https://user:pass@example.com/hook",
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",  # decimal 127.0.0.1
    "https://0177.0.0.1/hook",  # octal
    "https://0x7f.0.0.1/hook",  # hex
    "https://0x7f000001/hook",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",  # multicast
    "https://240.0.0.1/hook",  # reserved
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "https://[ff02::1]/hook",
    "https://[fec0::1]/hook",  # the deprecated IPv6 site-local range, fec0::/10
    "https://[feff:ffff::1]/hook",  # its last block
    "https://localhost/hook",
    "https://localhost./hook",  # an absolute name: the same host
    "https://LOCALHOST../hook",
    "https://metadata.internal./hook",
    "https://printer.local./hook",
    "https://127.0.0.1./hook",
    "https://127\u30020\u30020\u30021/hook",  # ideographic full stops: 127.0.0.1 to httpx
    "https://127\uff0e0\uff0e0\uff0e1/hook",  # full-width full stops
    "https://127\uff610\uff610\uff611/hook",  # half-width ideographic full stops
    "https://10\u30020\u30020\u30025/hook",
    "https://\uff11\uff12\uff17.0.0.1/hook",  # full-width digits
    "https://localhost\u3002/hook",
    "http://localhost./x",
    "http://127\u30020\u30020\u30021/x",
    "https://metadata.internal/hook",
    "https://printer.local/hook",
    "https://example.com:22/hook",  # ssh
    "https://example.com:25/hook",  # smtp
    "https://example.com:99999/hook",  # not a port
]

ACCEPTED = [
    "https://example.com/hook",
    "https://example.com:8443/hook",
    "https://93.184.215.14/hook",
    "https://[2606:4700::6810:85e5]/hook",
    "https://example.com./hook",  # an absolute public name
    "https://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/hook",  # an IDN
    "http://receiver.test:8080/hook",  # allow-listed for development and tests
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_when_saved(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, ["receiver.test"])


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted_when_saved(url: str) -> None:
    check_url(url, ["receiver.test"])


async def test_connection_to_a_name_resolving_inside_is_refused(monkeypatch) -> None:
    """DNS rebinding: the name looked public when saved, resolves to loopback when used."""
    check_url("https://rebind.example.com/hook", [])

    async def resolve_inside(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr("app.core.http.anyio.getaddrinfo", resolve_inside)
    async with httpx.AsyncClient(transport=guarded_transport([])) as client:
        with pytest.raises(BlockedAddress):
            await client.post("https://rebind.example.com/hook", content=b"{}")


async def test_every_resolved_address_must_be_public(monkeypatch) -> None:
    async def mixed(host, port, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr("app.core.http.anyio.getaddrinfo", mixed)
    with pytest.raises(BlockedAddress):
        await GuardedBackend([]).resolve("mixed.example.com", 443)


async def test_connects_to_the_checked_address(monkeypatch) -> None:
    calls = []

    async def public(host, port, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr("app.core.http.anyio.getaddrinfo", public)
    assert await GuardedBackend([]).resolve("public.example.com", 443) == "93.184.215.14"
    assert calls == ["public.example.com"]


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f.1",
        "[::ffff:127.0.0.1]",
        "localhost",
        "[fec0::1]",
        "127.0.0.1.",
        "127\u30020\u30020\u30021",
    ],
)
async def test_literal_and_local_hosts_are_refused_at_connect(host: str) -> None:
    async with httpx.AsyncClient(transport=guarded_transport([])) as client:
        with pytest.raises(BlockedAddress):
            await client.get(f"http://{host}:8080/")


async def test_allow_listed_host_is_reached() -> None:
    from tests.receivers import Receiver, serve

    receiver = Receiver()
    async with serve(receiver.app()) as base:
        async with httpx.AsyncClient(transport=guarded_transport(["127.0.0.1"])) as client:
            response = await client.post(f"{base}/hook", content=b"{}")
    assert response.status_code == 200
    assert len(receiver.arrivals) == 1


@pytest.mark.parametrize(
    "url",
    ["http://localhost./x", "http://127\u30020\u30020\u30021/x", "https://[fec0::1]/x"],
)
async def test_the_api_refuses_them_when_saved(client, factory, db, url: str) -> None:
    """Through the API, as an admin saves them: refused at once (422), not only at delivery;
    the suite's settings allow-list 127.0.0.1 for plain http, not its other spellings."""
    admin = await factory.member("admin")
    created = await client.post("/api/v1/webhooks", headers=admin.headers, json={"url": url})
    assert created.status_code == 422, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert await db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
