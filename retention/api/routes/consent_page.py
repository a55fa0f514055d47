"""`/v1/public/consent/{token}`: the candidate's answer page, public (the link is the credential).

No bearer token: the signed, single-use, expiring token in the path is all the credential there
is, and it names an outbox message, never a person. GET shows the notice text and two plain HTML
forms (renew, withdraw) that work without JavaScript; it sets a random CSRF value in a
`SameSite=Strict`, `HttpOnly` cookie scoped to this path, and the forms carry its HMAC. POST
applies the answer once. Every link that cannot be used (reused, expired, tampered, erased
subject, bad CSRF) gets the same neutral page with status 404, in the visitor's language
(`Accept-Language`), so a response tells nothing about any candidate. Pages are never cached,
framed, or sent with a Referer (the token is in the URL), and a CSP forbids every script.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    ANSWER_PATH,
    CONSENT_LANGUAGES,
    AnswerConsent,
    AnswerPage,
    OpenConsentLink,
    answer_consent,
    new_csrf_nonce,
    open_consent_link,
)

__all__ = ["CSRF_COOKIE", "router"]

# Mounted under /v1 like every router: the prefix is the rest of ANSWER_PATH.
router = APIRouter(prefix=ANSWER_PATH.removeprefix("/v1"), tags=["public consent page"])

CSRF_COOKIE = "consent_csrf"
MAX_FORM_BYTES = 4096
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The answer page, or the page after an answer.", **_HTML},
    404: {"description": "The one neutral page for any link that cannot be used.", **_HTML},
    **problems(
        ProblemKind.CONTENT_TOO_LARGE, ProblemKind.UNSUPPORTED_MEDIA_TYPE, authenticated=False
    ),
}

# No length bound here: a link of any other length is as unusable as a tampered one and gets
# the same neutral page from the operation, not a validation problem that tells them apart.
Token = Annotated[str, Path()]


def visitor_language(request: Request) -> str:
    """The first language of Accept-Language the templates speak, else English."""
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CONSENT_LANGUAGES:
            return code
    return "en"


async def form_fields(request: Request) -> dict[str, str]:
    """The urlencoded form, read here so the endpoint itself stays a plain `def`."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("latin-1"), max_num_fields=10)
    return {k: v[0] for k, v in parsed.items() if v}


def _page(page: AnswerPage) -> HTMLResponse:
    return HTMLResponse(page.html, status_code=200 if page.usable else 404, headers=_HEADERS)


@router.get("/{token}", response_class=HTMLResponse, responses=_RESPONSES)
def consent_page(
    token: Token, request: Request, installation: InstallationDep, clock: ClockDep
) -> HTMLResponse:
    """The notice and the two answers (renew, withdraw), as plain HTML forms."""
    nonce = new_csrf_nonce()
    request_data = OpenConsentLink(
        token=token,
        csrf_nonce=nonce,
        action=request.url.path,
        visitor_language=visitor_language(request),
    )
    response = _page(open_consent_link(installation, request_data, clock=clock))
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=ANSWER_PATH,
    )
    return response


@router.post("/{token}", response_class=HTMLResponse, responses=_RESPONSES)
def consent_answer(
    token: Token,
    request: Request,
    form: Annotated[dict[str, str], Depends(form_fields)],
    installation: InstallationDep,
    clock: ClockDep,
) -> HTMLResponse:
    """Apply the answer once; anything amiss gets the neutral page."""
    request_data = AnswerConsent(
        token=token,
        answer=form.get("answer", ""),
        csrf_nonce=request.cookies.get(CSRF_COOKIE),
        csrf=form.get("csrf"),
        visitor_language=visitor_language(request),
    )
    return _page(answer_consent(installation, request_data, clock=clock))
