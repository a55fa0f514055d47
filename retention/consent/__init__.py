"""The consent lifecycle: notices, the appended consent events, signed receipts, renewal campaigns
by e-mail through an outbox, the candidate's answer link and page, and the renewal figures.

Design: `consent` rows stay the current state that the policy language and the sweep's SQL read
(given_at, expires_at, withdrawn_at of the latest consent per purpose); every change to them is
made in the transaction that appends the `consent_event` explaining it, and events are never
updated. Silence renews nothing (GDPR Art. 4(11), 7): a renewal is a new consent row created only
by the candidate's answer; without one the consent expires and the rules act as before.
"""

from __future__ import annotations

from retention.consent.answers import ANSWER_ACTOR, Answer, AnswerPage, answer_link, open_link
from retention.consent.campaign import (
    CampaignCounts,
    DueMessage,
    expire_due,
    queue_due,
    select_due,
    send_queued,
)
from retention.consent.languages import LANGUAGES, RTL, direction, language_for
from retention.consent.links import ANSWER_PATH, LinkKeys, LinkToken, answer_url, new_csrf_nonce
from retention.consent.mailer import Delivery, SendResult, SmtpSession
from retention.consent.notices import NoticeView, add_notice, get_notice, list_notices
from retention.consent.receipts import (
    ReceiptCheck,
    ReceiptInput,
    build_documents,
    sign_receipt,
    verify_receipt,
)
from retention.consent.rendering import Email, render_email, render_neutral, render_page
from retention.consent.report import REPORT_HEADER, RenewalFigures, renewal_figures
from retention.consent.schedules import ScheduleGroup, schedule_for, schedule_groups

__all__ = [
    "ANSWER_ACTOR",
    "ANSWER_PATH",
    "LANGUAGES",
    "REPORT_HEADER",
    "RTL",
    "Answer",
    "AnswerPage",
    "CampaignCounts",
    "Delivery",
    "DueMessage",
    "Email",
    "LinkKeys",
    "LinkToken",
    "NoticeView",
    "ReceiptCheck",
    "ReceiptInput",
    "RenewalFigures",
    "ScheduleGroup",
    "SendResult",
    "SmtpSession",
    "add_notice",
    "answer_link",
    "answer_url",
    "build_documents",
    "direction",
    "expire_due",
    "get_notice",
    "language_for",
    "list_notices",
    "new_csrf_nonce",
    "open_link",
    "queue_due",
    "render_email",
    "render_neutral",
    "render_page",
    "renewal_figures",
    "schedule_for",
    "schedule_groups",
    "select_due",
    "send_queued",
    "sign_receipt",
    "verify_receipt",
]
