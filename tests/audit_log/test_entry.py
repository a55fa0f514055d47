"""Tests of audit_log.entry: events are validated, entries hash their exact canonical bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
import rfc8785

from audit_log.entry import GENESIS_PREV, Entry, Event, Outcome, format_ts, parse_ts
from audit_log.errors import InvalidEventError, PersonalDataError
from audit_log.merkle import leaf_hash

SUBJECT = UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
TS = datetime(2026, 3, 1, 12, 30, 5, 1234, tzinfo=UTC)


def _entry(**kw: object) -> Entry:
    fields = {"actor": "dpo", "action": "candidate.read", "subject": SUBJECT} | kw
    return Entry.create(7, TS, GENESIS_PREV, Event(**fields))  # type: ignore[arg-type]


class TestTimestamps:
    def test_fixed_form(self) -> None:
        """Instants are written in UTC with six fractional digits and a Z."""
        assert format_ts(TS) == "2026-03-01T12:30:05.001234Z"

    def test_other_zone_converted(self) -> None:
        """An instant in another zone is written as the same instant in UTC."""
        cet = TS.astimezone(timezone(timedelta(hours=1)))
        assert format_ts(cet) == format_ts(TS)
        assert parse_ts(format_ts(cet)) == TS

    def test_naive_refused(self) -> None:
        """A naive datetime is refused rather than guessed."""
        with pytest.raises(InvalidEventError):
            format_ts(datetime(2026, 1, 1))


class TestEntry:
    def test_object_and_hash(self) -> None:
        """The bytes are RFC 8785 of the nine fields, and the hash is the RFC 9162 leaf hash."""
        entry = _entry(reason="DSAR", details={"count": 3})
        obj = {
            "seq": 7, "ts": "2026-03-01T12:30:05.001234Z", "actor": "dpo",
            "action": "candidate.read", "subject": str(SUBJECT), "outcome": "ok",
            "reason": "DSAR", "details": {"count": 3}, "prev": GENESIS_PREV,
        }  # fmt: skip
        assert entry.canonical == rfc8785.dumps(obj)
        assert entry.leaf_hash == leaf_hash(entry.canonical)

    def test_decode_round_trip(self) -> None:
        """Decoding the bytes gives back an equal entry."""
        entry = _entry(outcome=Outcome.DENIED, details={"a": [1, "x", None, True]})
        assert Entry.decode(entry.canonical) == entry

    def test_json_adds_hash(self) -> None:
        """The JSON form is the hashed object plus its hex leaf hash."""
        entry = _entry()
        assert entry.to_json()["leaf_hash"] == entry.leaf_hash.hex()
        assert entry.to_json()["seq"] == 7


class TestEventValidation:
    def test_email_in_details_refused_without_echo(self) -> None:
        """An e-mail address in details is refused, and the message does not contain it."""
        with pytest.raises(PersonalDataError) as err:
            Event("dpo", "export", details={"note": "sent to jane.doe@example.org"})
        assert "jane" not in str(err.value) and "details.note" in str(err.value)

    def test_phone_in_nested_details_refused(self) -> None:
        """A phone number nested in a list inside details is refused."""
        with pytest.raises(PersonalDataError, match=r"details.contacts\[1\]"):
            Event("dpo", "export", details={"contacts": ["ok", "+31 6 12345678"]})

    def test_personal_key_refused_without_echo(self) -> None:
        """A details key that looks like an e-mail is refused without naming it."""
        with pytest.raises(PersonalDataError) as err:
            Event("dpo", "export", details={"x@example.org": 1})
        assert "example" not in str(err.value)

    def test_personal_reason_refused(self) -> None:
        """A reason holding an e-mail address is refused."""
        with pytest.raises(PersonalDataError):
            Event("dpo", "export", reason="asked by x@example.org")

    def test_with_details_is_the_event_built_with_them(self) -> None:
        """Merging details without validating the event again gives the event built whole."""
        ev = Event("s", "a", SUBJECT, Outcome.DENIED, "why", {"n": 5, "via": "old"})
        merged = ev.with_details({"via": {"channel": "api", "t": TS}})
        whole = Event("s", "a", SUBJECT, Outcome.DENIED, "why",
                      {"n": 5, "via": {"channel": "api", "t": TS}})  # fmt: skip
        assert merged == whole and merged.simple == whole.simple
        assert dict(merged.details) == dict(whole.details)
        assert dict(ev.details) == {"n": 5, "via": "old"}  # the original is unchanged
        assert Entry.create(3, TS, GENESIS_PREV, merged).canonical == (
            Entry.create(3, TS, GENESIS_PREV, whole).canonical
        )

    def test_with_details_validates_what_it_adds(self) -> None:
        ev = Event("s", "a")
        with pytest.raises(PersonalDataError) as err:
            ev.with_details({"note": "jane.doe@example.org"})
        assert "jane" not in str(err.value)
        with pytest.raises(InvalidEventError):
            ev.with_details({"f": float("nan")})

    def test_values_made_json_safe(self) -> None:
        """Big ints, floats, decimals, instants and UUIDs become fixed strings; small ints stay."""
        ev = Event("s", "a", details={"big": 2**60, "n": 5, "f": 0.1, "d": Decimal("1.50"),
                                      "t": TS, "u": SUBJECT})  # fmt: skip
        want = {"big": str(2**60), "n": 5, "f": "0.1", "d": "1.50",
                "t": "2026-03-01T12:30:05.001234Z", "u": str(SUBJECT)}  # fmt: skip
        assert dict(ev.details) == want
        json.dumps(dict(ev.details), allow_nan=False)

    @pytest.mark.parametrize(
        "value", [float("nan"), float("inf"), b"raw", {1: "x"}, object()], ids=repr
    )
    def test_unsafe_values_refused(self, value: object) -> None:
        """Values JSON cannot hold faithfully are refused with InvalidEventError."""
        with pytest.raises(InvalidEventError):
            Event("s", "a", details={"v": value})

    @pytest.mark.parametrize(
        "kw",
        [{"actor": ""}, {"action": ""}, {"subject": "not-a-uuid"}, {"outcome": "maybe"}],
        ids=["actor", "action", "subject", "outcome"],
    )
    def test_bad_fields_refused(self, kw: dict) -> None:
        """Empty actor or action, a non-UUID subject or an unknown outcome are refused."""
        fields = {"actor": "a", "action": "b"} | kw
        with pytest.raises(ValueError):
            Event(**fields)

    def test_details_read_only(self) -> None:
        """An event's details cannot be changed after validation."""
        ev = Event("s", "a", details={"k": 1})
        with pytest.raises(TypeError):
            ev.details["k"] = 2  # type: ignore[index]
