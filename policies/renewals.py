"""When a renewal schedule acts: the expiry of a consent, the ask, each reminder.

Pure calendar arithmetic over a `Renewal` (the policy's `renewal PURPOSE` block), shared by
`policy explain` and the engine's campaigns, so the dates a DPO reads are the dates mail goes out.
Subtracting is adding a negative calendar duration (months clamp to the month's end as ever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .durations import add_duration
from .nodes import Duration, Renewal

__all__ = ["RenewalDates", "expiry_after", "renewal_dates", "renewal_text"]


def _before(instant: datetime, d: Duration) -> datetime:
    return add_duration(instant, -d.amount, d.unit)


def _after(instant: datetime, d: Duration) -> datetime:
    return add_duration(instant, d.amount, d.unit)


def expiry_after(renewal: Renewal, given_at: datetime) -> datetime:
    """When a consent given (or renewed) at `given_at` under this schedule expires."""
    return _after(given_at, renewal.lasts)


@dataclass(frozen=True, slots=True)
class RenewalDates:
    """The ask and the reminders of one consent, in schedule order (step 0 is the ask)."""

    ask_at: datetime
    reminders: tuple[datetime | None, ...]  # None: after an ask that has not happened
    expires_at: datetime

    def step_at(self, step: int) -> datetime | None:
        return self.ask_at if step == 0 else self.reminders[step - 1]


def renewal_dates(
    renewal: Renewal, expires_at: datetime, asked_at: datetime | None = None
) -> RenewalDates:
    """Dates for a consent expiring at `expires_at`; reminders after asking count from
    `asked_at` (the real ask) or, before it happened, from the scheduled ask."""
    ask = _before(expires_at, renewal.ask)
    base = asked_at or ask
    reminders = tuple(
        _after(base, r.duration) if r.relative_to == "ask" else _before(expires_at, r.duration)
        for r in renewal.reminders
    )
    return RenewalDates(ask, reminders, expires_at)


def renewal_text(renewal: Renewal) -> str:
    """The schedule in one line, as `policy explain` shows it."""
    parts = [
        f"consent lasts {renewal.lasts.text()}",
        f"ask {renewal.ask.text()} before expiry",
        *(r.text() for r in renewal.reminders),
        "without an answer the consent expires",
    ]
    cite = f'; cite "{renewal.cite}"' if renewal.cite else ""
    return f"renewal {renewal.purpose}: " + "; ".join(parts) + cite
