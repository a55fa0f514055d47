"""Sending through the configured SMTP server: one connection reused for a whole batch.

`security` is `none` (plain SMTP, for a relay on localhost), `starttls` (upgrade on port 587) or
`tls` (implicit TLS on 465). Each send ends in one of three ways: sent; a temporary failure (a 4xx
reply, a dropped or refused connection, a timeout), retried later; a permanent failure (a 5xx reply
to the recipient or the message), after which the address is marked undeliverable. Errors are
reported by SMTP code or exception class only: server replies can quote the address.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from enum import StrEnum
from types import TracebackType

from retention.config import MailConfig, MailSecurity

__all__ = ["Delivery", "SendResult", "SmtpSession"]

_WIRE = compat32.clone(linesep="\r\n")


class Delivery(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    delivery: Delivery
    error: str | None = None  # "smtp-550", "ConnectionRefusedError", ...


def _code_result(code: int) -> SendResult:
    kind = Delivery.PERMANENT if 500 <= code < 600 else Delivery.TEMPORARY
    return SendResult(kind, f"smtp-{code}")


class SmtpSession:
    """A lazily opened, reused SMTP connection; reopened once after the server drops it."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.security is MailSecurity.TLS:
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            if c.security is MailSecurity.STARTTLS:
                smtp.starttls(context=context)
        if c.username is not None:
            smtp.login(c.username, c.password() or "")
        self.connections += 1
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def send(self, message: Message, sender: str, recipient: str) -> SendResult:
        """Send one message; never raises for SMTP or network trouble."""
        data = message.as_bytes(policy=_WIRE)  # CRLF line ends: smtplib sends bytes as they are
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._open()
                refused = self._smtp.sendmail(sender, [recipient], data)
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if attempt == 1:
                    continue  # the server closed an idle connection: reconnect once
                return SendResult(Delivery.TEMPORARY, "SMTPServerDisconnected")
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                return _code_result(max(codes) if codes else 550)
            except smtplib.SMTPResponseException as exc:
                self._reset()
                return _code_result(exc.smtp_code)
            except (smtplib.SMTPException, OSError) as exc:
                self.close_broken()
                return SendResult(Delivery.TEMPORARY, type(exc).__name__)
            if refused:
                codes = [code for code, _ in refused.values()]
                return _code_result(max(codes))
            return SendResult(Delivery.SENT)
        return SendResult(Delivery.TEMPORARY, "SMTPServerDisconnected")  # pragma: no cover

    def _reset(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self.close_broken()

    def close_broken(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None
