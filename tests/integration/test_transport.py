"""The delivery worker's HTTP/1.1 client against real servers on loopback ports: keep-alive and
its limit, the ways a response can end, timeouts, TLS against a trust store, and an HTTPS target
reached through a forward proxy's CONNECT tunnel."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from retention.integration.transport import Pool, Response, TransportError, proxy_for

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def read_request(f) -> tuple[str, dict[str, str], bytes] | None:
    line = f.readline()
    if not line:
        return None
    headers = {}
    while (h := f.readline()) not in (b"\r\n", b""):
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", 0)))
    return line.decode("latin-1").strip(), headers, body


class RawServer:
    """Answers each request with `answer(request line, headers)` bytes; None closes the
    connection, and so does every answer with `close_after`. Counts the connections it accepted and keeps what it received."""

    def __init__(
        self,
        answer: Callable[[str, dict[str, str]], bytes | None] = lambda *_: OK,
        tls: ssl.SSLContext | None = None,
        close_after: bool = False,
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.close_after = close_after
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
            while (req := read_request(f)) is not None:
                self.requests.append(req)
                reply = self.answer(req[0], req[1])
                if reply is None:
                    break
                conn.sendall(reply)
                if self.close_after:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def send(url: str, n: int = 1, *, size: int = 4, timeout: float = 5, **pool) -> list[Response]:
    async def run() -> list[Response]:
        p = Pool(url, size=size, timeout=timeout, **pool)
        try:
            return list(
                await asyncio.gather(
                    *(p.request("POST", url, {"webhook-id": f"msg_{i}"}, b"{}") for i in range(n))
                )
            )
        finally:
            p.close()

    return asyncio.run(run())


def error_of(url: str, **kw) -> str:
    with pytest.raises(TransportError) as exc:
        send(url, **kw)
    return exc.value.code


@pytest.fixture
def server() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.close()


class TestHTTP:
    def test_keep_alive_connections_are_reused_and_bounded(self, server: RawServer) -> None:
        responses = send(f"http://127.0.0.1:{server.port}/hooks?x=1", 200, size=3)
        assert [r.status for r in responses] == [200] * 200
        assert server.connections <= 3
        line, headers, body = server.requests[0]
        assert line == "POST /hooks?x=1 HTTP/1.1"
        assert headers["host"] == f"127.0.0.1:{server.port}" and headers["content-length"] == "2"
        assert body == b"{}"

    def test_connection_close_is_honoured(self) -> None:
        s = RawServer(lambda *_: b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        try:
            assert [r.status for r in send(f"http://127.0.0.1:{s.port}/", 5, size=1)] == [204] * 5
            assert s.connections == 5
        finally:
            s.close()

    @pytest.mark.parametrize(
        "reply",
        [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        ],
        ids=["chunked", "interim-100"],
    )
    def test_the_ways_a_response_ends(self, reply: bytes) -> None:
        s = RawServer(lambda *_: reply)
        try:
            assert [r.status for r in send(f"http://127.0.0.1:{s.port}/", 6, size=2)] == [200] * 6
            assert s.connections <= 2
        finally:
            s.close()

    def test_a_body_delimited_by_the_close_and_its_headers(self) -> None:
        # HTTP/1.0, no length: the body ends when the server closes; status and headers count.
        reply = b"HTTP/1.0 429 Too Many Requests\r\nRetry-After: 7\r\n\r\nslow down"
        s = RawServer(lambda *_: reply, close_after=True)
        try:
            (r,) = send(f"http://127.0.0.1:{s.port}/")
            assert (r.status, r.headers["retry-after"]) == (429, "7")
        finally:
            s.close()

    def test_no_answer_errors(self) -> None:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        assert error_of(f"http://127.0.0.1:{port}/") == "ConnectError"
        silent = RawServer(lambda *_: b"")  # reads the request, never answers
        closing = RawServer(lambda *_: None)  # closes without an answer
        garbage = RawServer(lambda *_: b"SMTP ready\r\n\r\n")
        try:
            assert error_of(f"http://127.0.0.1:{silent.port}/", timeout=0.3) == "timeout"
            assert error_of(f"http://127.0.0.1:{closing.port}/") == "ProtocolError"
            assert error_of(f"http://127.0.0.1:{garbage.port}/") == "ProtocolError"
        finally:
            silent.close()
            closing.close()
            garbage.close()

    def test_headers_cannot_smuggle_a_second_request(self, server: RawServer) -> None:
        async def run() -> None:
            url = f"http://127.0.0.1:{server.port}/"
            p = Pool(url, size=1, timeout=5)
            for headers, at in [
                ({"x": "a\r\nGET /admin HTTP/1.1"}, url),
                ({"x\nGET /admin HTTP/1.1\r\nx": "a"}, url),
                ({"x": "a\0"}, url),
                ({}, url + "x HTTP/1.1\r\nhost: evil\r\n\r\nGET /admin"),
                ({}, url.replace("127.0.0.1", "127.0.0.2")),  # another origin
                ({}, url.rstrip("/") + "@evil.example/"),
            ]:
                with pytest.raises(ValueError):
                    await p.request("POST", at, headers, b"")
            p.close()

        asyncio.run(run())
        assert server.requests == []


# --- TLS ---------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(tmp: Path, san: x509.GeneralName) -> tuple[Path, ssl.SSLContext]:
    """A test CA (written as a PEM trust store) and a server context with a cert it issued."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("receiver"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "server.pem")
    return tmp / "ca.pem", server


LOOPBACK = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))


class TestTLS:
    def test_verified_against_the_trust_store(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ca, tls = make_pki(tmp_path, LOOPBACK)
        s = RawServer(tls=tls)
        url = f"https://127.0.0.1:{s.port}/hooks"
        try:
            # Not in the trust store: refused before anything is sent.
            monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing.pem"))
            assert error_of(url) == "SSLError"
            assert s.requests == []
            monkeypatch.setenv("SSL_CERT_FILE", str(ca))
            assert [r.status for r in send(url, 3, size=1)] == [200] * 3
            assert s.connections == 2  # the refused handshake, then one kept alive
        finally:
            s.close()

    def test_the_host_name_is_checked(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ca, tls = make_pki(tmp_path, x509.DNSName("receiver.example"))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        s = RawServer(tls=tls)
        try:
            assert error_of(f"https://127.0.0.1:{s.port}/") == "SSLError"
            assert s.requests == []
        finally:
            s.close()


class _TunnelProxy:
    """A forward proxy that only tunnels: CONNECT host:port, then bytes both ways."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        line, _headers, _ = read_request(f) or ("", {}, b"")
        self.seen.append(line)
        method, authority, _ = line.split(" ")
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            conn.close()
            return
        host, _, port = authority.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                b.close()

        threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
        pump(conn, upstream)

    def close(self) -> None:
        self.sock.close()


class TestProxy:
    def test_an_https_target_through_a_connect_tunnel(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ca, tls = make_pki(tmp_path, LOOPBACK)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        proxy = _TunnelProxy()
        s = RawServer(tls=tls)
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        url = f"https://127.0.0.1:{s.port}/hooks"
        try:
            assert proxy_for(url) == proxy.url
            assert [r.status for r in send(url, 4, size=2, proxy=proxy_for(url))] == [200] * 4
            assert proxy.seen and all(
                line == f"CONNECT 127.0.0.1:{s.port} HTTP/1.1" for line in proxy.seen
            )
            # Inside the tunnel the target saw an origin-form request, TLS verified end to end.
            assert s.requests[0][0] == "POST /hooks HTTP/1.1"
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            assert proxy_for(url) is None
        finally:
            proxy.close()
            s.close()
