"""HTTP/1.1 for the delivery worker: keep-alive connections driven by one asyncio event loop.

The worker sends small requests (a signed JSON body, or a bodiless Harvest call) and needs only
the status and the `Retry-After` of each answer. Threads over a blocking client spent most of
their CPU on the client and on contending for the GIL (urllib3: ~0.5 ms a request on this
kind of machine; aiohttp's client measured no cheaper); here one event loop drives every
connection, requests are written in one piece, and responses are parsed by llhttp through
`httptools` (the parser uvicorn uses): ~0.05 ms a request, signing included.

What it does, and nothing more:

- a `Pool` per target: at most `size` connections to the target's origin, each reused while
  the server keeps it alive (`should_keep_alive`), one request at a time on each; an idle
  connection the server has closed is noticed (the loop saw its EOF) and never reused;
- no retries and no redirects: every answer, 3xx included, goes back to the worker, which
  retries on its own schedule;
- TLS verified against the system trust store (`ssl.create_default_context`: certificate
  and host name, TLS 1.2 at least, ALPN `http/1.1`);
- the proxy the environment names for the target's URL (`HTTPS_PROXY`/`HTTP_PROXY`, unless
  `NO_PROXY` exempts its host), as the host's other HTTP clients would use it: a plain-HTTP
  target through an absolute-form request, an HTTPS one through a `CONNECT` tunnel; a user and
  password in the proxy URL are sent as `Proxy-Authorization: Basic`;
- a connect timeout (connection, tunnel and TLS handshake) and a response timeout (the whole
  answer), both the target's `timeout_seconds`.

A request that gets no answer raises `TransportError` with a short code: `ConnectError`
(nobody listening, no route, no such host), `timeout`, `SSLError`, `ProxyError`,
`ProtocolError` (the connection closed or spoke something else than HTTP/1.1), as urllib3's
exception names were recorded before. Header values are checked before they are written: a
CR, LF or NUL in one is a programming error (`ValueError`), never a second request.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass

import httptools

__all__ = ["Pool", "Response", "TransportError", "proxy_for"]

_PORTS = {"http": 80, "https": 443}


class TransportError(Exception):
    """No answer to a request; `code` is short and holds no request data."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url`, or None (direct, or exempted by NO_PROXY)."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return proxy
    return None


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise ValueError("not an http(s) URL")
        return cls(parts.scheme, parts.hostname, parts.port or _PORTS[parts.scheme])

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _PORTS[self.scheme] else f"{host}:{self.port}"


def _header_block(headers: dict[str, str]) -> str:
    """The header lines; a CR, LF or NUL in a name or value would start another line or
    request, so the block is refused (counted over the whole block: one check, not one per
    header)."""
    block = "".join([f"{k}: {v}\r\n" for k, v in headers.items()])
    n = len(headers)
    if block.count("\n") != n or block.count("\r") != n or "\0" in block:
        raise ValueError("CR, LF or NUL in an HTTP header")
    return block


class _Connection(asyncio.Protocol):
    """One connection: a request written whole, its response parsed as it arrives."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.tunnel: asyncio.Future[bytes] | None = None  # a proxy's answer to CONNECT
        self.buffer = b""
        self.headers: dict[str, str] = {}
        self.status = 0
        self.in_headers = False
        self.closed = False
        self.reusable = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.buffer += data
            if b"\r\n\r\n" in self.buffer and not self.tunnel.done():
                self.tunnel.set_result(self.buffer)
            return
        if self.waiter is None or self.waiter.done():
            self._fail("ProtocolError")  # bytes nobody asked for: the connection is not ours
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("ProtocolError")

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.tunnel is not None and not self.tunnel.done():
            self.tunnel.set_exception(TransportError("ProxyError"))
        if self.waiter is not None and not self.waiter.done():
            if self.status >= 200 and not self.in_headers:
                # A body delimited by the close: the status and headers are all we need.
                self.waiter.set_result(Response(self.status, self.headers))
            else:
                self.waiter.set_exception(TransportError("ProtocolError"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = {}
        self.status = 0
        self.in_headers = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.in_headers = False

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return  # an interim answer (100 Continue, 103 Early Hints): the final one follows
        self.reusable = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(Response(self.status, self.headers))

    def _fail(self, code: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(TransportError(code))
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, data: bytes, timeout: float) -> Response:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.reusable = False
        self.status = 0
        self.transport.write(data)
        try:
            async with asyncio.timeout(timeout):
                return await self.waiter
        except TimeoutError:
            self.close()
            raise TransportError("timeout") from None
        finally:
            self.waiter = None


class Pool:
    """At most `size` keep-alive connections to the origin of `url`, directly or through
    `proxy`; `request` is a coroutine of the event loop that owns the pool."""

    def __init__(
        self,
        url: str,
        *,
        size: int,
        timeout: float,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.origin = _Origin.of(url)
        parts = urllib.parse.urlsplit(url)
        self.prefix = f"{parts.scheme}://{parts.netloc}"  # as the target's URL spells it
        self.timeout = timeout
        self.slots = asyncio.Semaphore(size)
        self.idle: deque[_Connection] = deque()
        self.tls = ssl_context or _default_tls()
        self.proxy: _Origin | None = None
        self.proxy_headers = ""
        if proxy is not None:
            parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            self.proxy = _Origin.of(parts.geturl())
            if parts.username is not None:
                user = urllib.parse.unquote(parts.username)
                password = urllib.parse.unquote(parts.password or "")
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                self.proxy_headers = f"proxy-authorization: Basic {token}\r\n"
        # A plain-HTTP target behind a proxy is asked for in absolute form, through it.
        self.forward = self.proxy is not None and self.origin.scheme == "http"

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        target = self._target(url)
        if self.forward:
            target = f"http://{self.origin.authority}{target}"
        if not method.isalpha() or any(c in target for c in " \r\n\0"):
            raise ValueError("not a method, or not a request target")
        lines = [
            f"{method} {target} HTTP/1.1\r\nhost: {self.origin.authority}\r\n",
            _header_block(headers),
        ]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(body or b'')}\r\n")
        if self.forward:
            lines.append(self.proxy_headers)
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1") + (body or b"")
        async with self.slots:
            conn = self._idle()
            if conn is None:
                conn = await self._connect()
            try:
                response = await conn.exchange(data, self.timeout)
            except BaseException:
                conn.close()
                raise
            if conn.reusable and not conn.closed:
                self.idle.append(conn)
            else:
                conn.close()
            return response

    def _target(self, url: str) -> str:
        """The origin-form target (path and query) of `url`, which must be on the pool's
        origin; the URLs of a target all start as its configured URL does, so that is
        checked first, and anything else is parsed."""
        rest = url[len(self.prefix) :] if url.startswith(self.prefix) else None
        if rest is None or rest[:1] not in ("", "/", "?") or "#" in rest:
            if _Origin.of(url) != self.origin:
                raise ValueError("a pool sends to one origin only")
            parts = urllib.parse.urlsplit(url)
            rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return rest if rest.startswith("/") else f"/{rest}"

    def _idle(self) -> _Connection | None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        first = self.proxy or self.origin
        tls_first = self.tls if first.scheme == "https" else None
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    _, conn = await loop.create_connection(
                        _Connection,
                        first.host,
                        first.port,
                        ssl=tls_first,
                        server_hostname=first.host if tls_first else None,
                    )
                except ssl.SSLError:
                    raise TransportError("SSLError") from None
                except OSError:
                    raise TransportError(
                        "ProxyError" if self.proxy is not None else "ConnectError"
                    ) from None
                if self.proxy is not None and self.origin.scheme == "https":
                    await self._tunnel(conn)
            return conn
        except TimeoutError:
            if conn is not None:
                conn.close()
            raise TransportError("timeout") from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    async def _tunnel(self, conn: _Connection) -> None:
        """CONNECT through the proxy, then TLS with the target inside the tunnel."""
        assert conn.transport is not None
        loop = asyncio.get_running_loop()
        authority = f"{self.origin.host}:{self.origin.port}"
        conn.tunnel = loop.create_future()
        conn.transport.write(
            f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n{self.proxy_headers}\r\n".encode(
                "latin-1"
            )
        )
        answer = await conn.tunnel
        conn.tunnel = None
        status_line = answer.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[1].startswith(b"2"):
            raise TransportError("ProxyError")
        try:
            transport = await loop.start_tls(
                conn.transport, conn, self.tls, server_hostname=self.origin.host
            )
        except (ssl.SSLError, OSError):
            raise TransportError("SSLError") from None
        assert transport is not None
        conn.transport = transport

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()


def _default_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()  # the system trust store; host names checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context
