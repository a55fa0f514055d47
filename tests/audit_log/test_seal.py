"""Tests of the batched append's sealing (`audit_log.store._seal`): byte for byte the reference.

`_seal` assembles each entry's canonical text from cached pieces instead of sealing it through
`Entry.create`; these pin that its bytes are exactly RFC 8785's (`rfc8785`, the reference
encoder), that its hashes chain, and that whatever the fast path does not hold goes the
reference way.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from audit_log import GENESIS_PREV, Entry, Event, InvalidEventError, PersonalDataError
from audit_log.store import _entries, _seal
from tests.audit_log.strategies import JSON, TEXT

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(actor: str, action: str, reason: str, details: dict, subject: UUID | None) -> Event:
    try:
        return Event(actor or "a", action or "b", subject, reason=reason, details=details)
    except PersonalDataError:
        assume(False)  # generated text that looks like an e-mail address or a phone number
        raise


def _reference(event: Event, seq: int, ts: datetime, prev: str) -> bytes:
    obj = {
        "seq": seq,
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": event.actor,
        "action": event.action,
        "subject": None if event.subject is None else str(event.subject),
        "outcome": event.outcome.value,
        "reason": event.reason,
        "details": dict(event.details),
        "prev": prev,
    }
    return rfc8785.dumps(obj)


class TestSeal:
    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(TEXT, TEXT, TEXT, st.dictionaries(TEXT, JSON, max_size=4),
                      st.uuids() | st.none(), st.integers(0, 2), st.integers(1, 3)),
            min_size=1, max_size=6,
        ),
        st.integers(min_value=0, max_value=2**40),
    )  # fmt: skip
    def test_rows_are_the_reference_bytes_chained(self, specs: list, first: int) -> None:
        """Events with their own or shared details, at one or several instants, with or
        without a subject: every row's bytes are rfc8785's, its hash the RFC 9162 leaf hash,
        each entry chained to the one before; `_entries` gives the same as `Entry.create`."""
        stamped = []
        for actor, action, reason, details, subject, second, copies in specs:
            event = _event(actor, action, reason, details, subject)
            # Copies share their details mapping, as a group's events do.
            stamped += [(event, T0 + timedelta(seconds=second))] * copies
        prev = f"{first:064x}"
        rows, last = _seal(stamped, first, prev)
        chained = prev
        for i, ((event, ts), row) in enumerate(zip(stamped, rows, strict=True)):
            seq, naive, actor, action, subject, outcome, data, leaf = row
            assert data == _reference(event, first + i, ts, chained)
            assert leaf == hashlib.sha256(b"\x00" + data).digest()
            assert (seq, naive, actor, action, subject, outcome) == (
                first + i, ts.replace(tzinfo=None), event.actor, event.action, event.subject,
                event.outcome.value,
            )  # fmt: skip
            chained = leaf.hex()
        assert last == chained
        expected, chained = [], prev
        for i, (event, ts) in enumerate(stamped):
            expected.append(Entry.create(first + i, ts, chained, event))
            chained = expected[-1].leaf_hash.hex()
        assert _entries(stamped, rows, prev) == expected

    def test_what_the_fast_path_does_not_hold_goes_the_reference_way(self) -> None:
        """A key beyond U+FFFF (JCS orders it by UTF-16 units, not code points), up to the
        largest seq JSON readers hold exactly: sealed as `Entry.create` does; past it, refused
        as `Entry.create` refuses it."""
        astral = Event("svc", "x", details={"\U0001f600": 1, "\uffff": 2, "z": 3})
        plain = Event("svc", "y", UUID(int=7), details={"k": "v"})
        for first in (0, 2**53 - 4):
            stamped = [(astral, T0), (plain, T0), (plain, T0)]
            rows, _ = _seal(stamped, first, GENESIS_PREV)
            chained, expected = GENESIS_PREV, []
            for i, (event, ts) in enumerate(stamped):
                expected.append(Entry.create(first + i, ts, chained, event))
                chained = expected[-1].leaf_hash.hex()
            assert [row[6] for row in rows] == [e.canonical for e in expected]
            assert [row[7] for row in rows] == [e.leaf_hash for e in expected]
        assert not astral.simple  # the case above is the reference path's, as intended
        with pytest.raises(InvalidEventError):
            Entry.create(2**53, T0, GENESIS_PREV, plain)
        with pytest.raises(InvalidEventError):
            _seal([(plain, T0)], 2**53, GENESIS_PREV)
