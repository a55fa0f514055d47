"""`/v1/public/consent/{token}` through the real app: renew, withdraw, reuse, expiry, tampering,
erased subject, CSRF; and the page in headless Chromium (English, Arabic) with JavaScript off."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from retention.api import create_app
from retention.install import Installation
from retention.operations import EraseCandidate, RunCampaign, erase_candidate, run_campaign
from retention.testing import FixedClock
from tests.access_support import World
from tests.api.conftest import audit_entries
from tests.consent.test_campaign import register_notices, token_of
from tests.consent_support import (
    PUBLIC_URL,
    Inbox,
    add_pool_candidate,
    clock,
    dpo,
    free_port,
    inbox,
    mailed,
    world,
)

__all__ = ["clock", "inbox", "mailed", "world"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PATH = "/v1/public/consent/"


@pytest.fixture
def sent(world: World, mailed: Installation, inbox: tuple[Inbox, int]) -> dict[str, str]:
    """A campaign has asked an NL and an SA candidate; their tokens by country."""
    register_notices(world, mailed)
    soon = world.clock() + timedelta(days=20)
    nl = add_pool_candidate(mailed, "NL", soon, first_name="Maartje")
    sa = add_pool_candidate(mailed, "SA", soon, first_name="Layla")
    run_campaign(mailed, dpo(world), RunCampaign(), clock=world.clock)
    server, _ = inbox
    return {
        "NL": token_of(server.to(nl[1])[0]),
        "SA": token_of(server.to(sa[1])[0]),
        "NL_id": str(nl[0]),
    }


@pytest.fixture
def client(mailed: Installation, clock: FixedClock) -> Iterator[TestClient]:
    app = create_app(mailed, clock=clock)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


class TestFlow:
    def test_renew_then_reuse_is_neutral(
        self, client: TestClient, sent: dict[str, str], mailed: Installation
    ) -> None:
        page = client.get(PATH + sent["NL"])
        assert page.status_code == 200
        assert "Wij bewaren uw cv" in page.text and "<script" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
        answer = {"answer": "renew", "csrf": csrf_of(page.text)}
        done = client.post(PATH + sent["NL"], data=answer)
        assert done.status_code == 200 and 'id="done"' in done.text
        again = client.post(PATH + sent["NL"], data=answer)
        assert again.status_code == 404 and 'id="neutral"' in again.text
        entry = audit_entries(mailed.engine, action="consent.renewed")[0]
        assert entry["actor"] == "data-subject:email-link"
        assert entry["details"]["via"]["channel"] == "api"

    def test_withdraw(self, client: TestClient, sent: dict[str, str], mailed: Installation) -> None:
        page = client.get(PATH + sent["SA"])
        done = client.post(
            PATH + sent["SA"], data={"answer": "withdraw", "csrf": csrf_of(page.text)}
        )
        assert done.status_code == 200 and 'dir="rtl"' in done.text
        assert len(audit_entries(mailed.engine, action="consent.withdrawn")) == 1

    def test_every_unusable_link_gets_the_same_page(
        self,
        client: TestClient,
        sent: dict[str, str],
        mailed: Installation,
        world: World,
        clock: FixedClock,
    ) -> None:
        """Missing CSRF, tampered, garbage, expired and erased-subject links: one neutral page."""
        token = sent["NL"]
        page = client.get(PATH + token)
        csrf = csrf_of(page.text)
        client.cookies.clear()
        no_cookie = client.post(PATH + token, data={"answer": "renew", "csrf": csrf})
        tampered = client.get(PATH + token[:-3] + ("xyz" if not token.endswith("xyz") else "abc"))
        garbage = client.get(PATH + "not-a-token")
        bad_answer = client.post(PATH + token, data={"answer": "maybe", "csrf": csrf})
        clock.advance(timedelta(days=21))
        expired = client.get(PATH + token)
        clock.advance(timedelta(days=-21))
        erase_candidate(
            mailed,
            dpo(world),
            EraseCandidate(__import__("uuid").UUID(sent["NL_id"]), "DSR-1"),
            clock=world.clock,
        )
        erased = client.get(PATH + token)
        responses = [no_cookie, tampered, garbage, bad_answer, expired, erased]
        assert {r.status_code for r in responses} == {404}
        assert len({r.text for r in responses}) == 1
        assert "Maartje" not in erased.text


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def served(mailed: Installation, clock: FixedClock) -> Iterator[str]:
    """The real app on a loopback port (uvicorn in a thread)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(mailed, clock=clock), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class TestInChromium:
    @pytest.mark.parametrize(
        ("country", "lang", "direction"), [("NL", "nl", "ltr"), ("SA", "ar", "rtl")]
    )
    def test_page_renders_without_javascript(
        self,
        served: str,
        sent: dict[str, str],
        tmp_path: Path,
        country: str,
        lang: str,
        direction: str,
    ) -> None:
        browser = chromium()
        if browser is None:
            if IN_CI:
                pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
            pytest.skip("chromium is not installed (Debian package chromium)")
        common = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
        ]
        url = served + PATH + sent[country]
        # --dump-dom serializes through DevTools, which needs script on; the page has none, and
        # its CSP (default-src 'none') would block any. The screenshot runs with script off.
        dom = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert f'lang="{lang}"' in dom.stdout and f'dir="{direction}"' in dom.stdout
        assert dom.stdout.count("<form") == 2 and dom.stdout.count('type="submit"') == 2
        assert "<script" not in dom.stdout
        shot = tmp_path / f"{lang}.png"
        no_script = [*common, "--disable-javascript"]
        out = subprocess.run(
            [*no_script, f"--screenshot={shot}", "--window-size=900,1200", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
