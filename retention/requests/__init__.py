"""Data-subject requests (GDPR Art. 15-21): the register, its deadlines, and their fulfilment.

A request is opened when it is received, moves through a small state machine (verified, paused,
extended, refused, fulfilled, withdrawn) with each change audited, and is answered by the
Art. 12(3) deadline computed as Regulation 1182/71 counts time (`deadlines`). Fulfilling one goes
through the audited action path of its type (`fulfilment`); an access answer includes who
accessed the data, with proofs (`trail`). The register has its own retention (`retention`) and a
due list for the scheduler and a summary for the evidence pack (`due`).
"""

from __future__ import annotations

from retention.requests.deadlines import Deadline, WorkingCalendar, deadline
from retention.requests.due import DUE_WINDOW, DueCounts, DueItem, DueList, due_counts, due_list
from retention.requests.fulfilment import HOLD_GROUND, Fulfiller, Fulfilment
from retention.requests.keep_closed import expire_closed, keep_closed_cutoff
from retention.requests.register import (
    CHANNELS,
    EventView,
    Register,
    RequestView,
    parse_instant,
    parse_request_id,
    parse_type,
)

__all__ = [
    "CHANNELS",
    "DUE_WINDOW",
    "HOLD_GROUND",
    "Deadline",
    "DueCounts",
    "DueItem",
    "DueList",
    "EventView",
    "Fulfiller",
    "Fulfilment",
    "Register",
    "RequestView",
    "WorkingCalendar",
    "deadline",
    "due_counts",
    "due_list",
    "expire_closed",
    "keep_closed_cutoff",
    "parse_instant",
    "parse_request_id",
    "parse_type",
]
