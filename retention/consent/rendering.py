"""Rendering the renewal e-mail and the answer page from the Jinja2 templates, autoescaped.

One environment, loaded from this package's `templates/` (shipped as package data), with
autoescaping on for `.html` and off for `.txt`; the words come from `messages`. The neutral page
takes no argument but a language, so it cannot reveal anything about a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from retention.consent.languages import direction
from retention.consent.messages import purpose_name, text_for

__all__ = ["Email", "render_done", "render_email", "render_neutral", "render_page"]


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("retention.consent", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def _date(at: datetime) -> str:
    return at.date().isoformat()


def render_email(
    *,
    language: str,
    name: str,
    purpose: str,
    expires_at: datetime,
    link: str,
    controller: str,
    reminder: bool,
) -> Email:
    """The renewal message (text and HTML parts) in `language`."""
    t = text_for(language)
    values = {
        "t": t,
        "language": language,
        "direction": direction(language),
        "name": name,
        "purpose_name": purpose_name(purpose, language),
        "expires": _date(expires_at),
        "link": link,
        "controller": controller,
        "reminder": reminder,
    }
    subject = (f"{t['reminder']}: " if reminder else "") + t["subject"]
    return Email(
        subject=subject,
        text=_env().get_template("renewal.txt").render(values),
        html=_env().get_template("renewal.html").render(values),
    )


def render_page(
    *,
    language: str,
    purpose: str,
    expires_at: datetime,
    notice_text: str,
    notice_language: str,
    action: str,
    csrf: str,
) -> str:
    """The answer page: the notice text and the two forms (renew, withdraw)."""
    return (
        _env()
        .get_template("page.html")
        .render(
            t=text_for(language),
            state="answer",
            language=language,
            direction=direction(language),
            purpose_name=purpose_name(purpose, language),
            expires=_date(expires_at),
            notice_text=notice_text,
            notice_language=notice_language,
            action=action,
            csrf=csrf,
        )
    )


def render_done(language: str, state: str) -> str:
    """The page after an answer (`renewed` or `withdrawn`)."""
    return (
        _env()
        .get_template("page.html")
        .render(t=text_for(language), state=state, language=language, direction=direction(language))
    )


def render_neutral(language: str = "en") -> str:
    """The same page for every link that cannot be used (reused, expired, tampered, erased)."""
    return render_done(language, "neutral")
