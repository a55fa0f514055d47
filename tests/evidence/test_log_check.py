"""The streaming check of audit-log.jsonl and retention-actions.csv, on synthetic packs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

import retention.evidence.log_check as log_check
from audit_log import GENESIS_PREV, Entry, Event, leaf_hash
from retention.evidence.log_check import LogCheck
from retention.evidence.pack import (
    ACTIONS_HEADER,
    RETENTION_ACTIONS,
    PackPeriod,
    action_row,
    csv_line,
    parse_entry_line,
)

AT = datetime(2026, 9, 2, tzinfo=UTC)


def chain(n: int) -> list[Entry]:
    prev, out = GENESIS_PREV, []
    for seq in range(n):
        if seq % 3 == 0:
            event = Event("svc", "candidate.delete", UUID(int=seq + 1), details={"rule": "r"})
        elif seq % 7 == 0:
            # A nested object that looks like the top-level tail: the fast path must not trip.
            event = Event("svc", "x.y", details={"n": {"prev": "ab" * 32, "reason": "z"}})
        else:
            event = Event("svc", "candidate.read", UUID(int=seq + 1))
        entry = Entry.create(seq, AT, prev, event)
        prev = entry.leaf_hash.hex()
        out.append(entry)
    return out


def write_files(
    tmp_path: Path, lines: list[bytes], rows: list[list[str] | None]
) -> tuple[Path, Path]:
    """The pack's audit-log.jsonl of `lines` and its retention-actions.csv of `rows`."""
    log = tmp_path / "audit-log.jsonl"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    actions = tmp_path / "retention-actions.csv"
    actions.write_bytes(csv_line(ACTIONS_HEADER) + b"".join(csv_line(r) for r in rows if r))
    return log, actions


def write(tmp_path: Path, entries: list[Entry], prior: int | None) -> tuple[Path, Path, PackPeriod]:
    first = 0 if prior is None else prior + 1
    period_entries = [e for e in entries if e.seq >= first]
    rows = [action_row(parse_entry_line(e.canonical), None) for e in period_entries]
    log, actions = write_files(tmp_path, [e.canonical for e in entries], rows)
    period = PackPeriod("a", "b", "UTC", "s", "e", None, first, entries[-1].seq, prior)
    return log, actions, period


def run(log: Path, actions: Path, period: PackPeriod) -> tuple[LogCheck, list[str]]:
    problems: list[str] = []
    check = LogCheck(period, RETENTION_ACTIONS, lambda f, w, m: problems.append(f"{f} {w}: {m}"))
    check.run(log, actions)
    return check, problems


@pytest.fixture(params=[4 << 20, 700], ids=["one-block", "many-blocks"])
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(log_check, "_BLOCK", request.param)
    return request.param


class TestIntact:
    @pytest.mark.parametrize("prior", [None, 4])
    def test_chain_and_rows(self, tmp_path: Path, block: int, prior: int | None) -> None:
        """An intact log verifies whatever the block size, from genesis or after a prior entry,
        nested look-alike fields included."""
        entries = chain(60)
        log, actions, period = write(tmp_path, entries[(prior or 0) :], prior)
        check, problems = run(log, actions, period)
        assert problems == []
        assert check.entries == period.entries
        assert check.last_leaf == entries[-1].leaf_hash
        assert check.action_rows == sum(1 for e in entries[(prior or -1) + 1 :] if e.seq % 3 == 0)


class TestBroken:
    def test_removed_line(self, tmp_path: Path, block: int) -> None:
        """A missing entry is named by line, in any block layout."""
        entries = chain(60)
        log, actions, period = write(tmp_path, entries, None)
        lines = log.read_bytes().splitlines(keepends=True)
        del lines[40]
        log.write_bytes(b"".join(lines))
        _, problems = run(log, actions, period)
        assert problems[0] == (
            "audit-log.jsonl line 41: entry 41 follows entry 39: an entry is missing or the "
            "entries are reordered"
        )

    def test_truncated_last_line(self, tmp_path: Path, block: int) -> None:
        """A last line cut short (no newline) is still checked and fails."""
        entries = chain(20)
        log, actions, period = write(tmp_path, entries, None)
        log.write_bytes(log.read_bytes()[:-30])
        _, problems = run(log, actions, period)
        assert problems and problems[0].startswith("audit-log.jsonl")


class TestActionRows:
    """Rows read from action lines by position must be the rows `action_row` gives."""

    DETAILS = (
        {"rule": "r", "country": "NL", "run_id": "run-1", "policy": "NL"},
        {"run": 42, "country": "DE", "review": "rv", "cite": 'say "hi", twice'},
        {"n": {"outcome": "x", "prev": "ab" * 32, "reason": "z"}, "policy_hash": "cd" * 32},
        {},
    )

    def _entries(self) -> list[Entry]:
        prev, out = GENESIS_PREV, []
        for seq in range(48):
            actor = ["svc", 'a "quoted" actor', "back\\slash"][seq % 3]
            subject = UUID(int=seq + 1) if seq % 5 else None
            event = Event(actor, RETENTION_ACTIONS[seq % len(RETENTION_ACTIONS)], subject,
                          reason="why, \"quoted\"" if seq % 2 else "",
                          details=self.DETAILS[seq % len(self.DETAILS)])  # fmt: skip
            entry = Entry.create(seq, AT, prev, event)
            prev = entry.leaf_hash.hex()
            out.append(entry)
        return out

    def test_varied_actions_verify(self, tmp_path: Path, block: int) -> None:
        """Quotes, backslashes, null subjects, nested look-alikes and run/review variants."""
        log, actions, period = write(tmp_path, self._entries(), None)
        check, problems = run(log, actions, period)
        assert problems == []
        assert check.action_rows == 48

    @pytest.mark.parametrize("seq", [0, 2, 13, 47])
    def test_changed_cell_found(self, tmp_path: Path, block: int, seq: int) -> None:
        """A changed cell in any row is reported at its CSV line, whichever run of rows before
        it was compared as text."""
        log, actions, period = write(tmp_path, self._entries(), None)
        lines = actions.read_bytes().split(b"\n")
        lines[seq + 1] = lines[seq + 1].replace(b",ok,", b",denied,")
        actions.write_bytes(b"\n".join(lines))
        _, problems = run(log, actions, period)
        assert len(problems) == 1 and f"line {seq + 2}" in problems[0]

    def test_country_filter(self, tmp_path: Path) -> None:
        """With a country filter, only that country's actions are rows."""
        entries = self._entries()
        rows = [action_row(parse_entry_line(e.canonical), "DE") for e in entries]
        log, actions = write_files(tmp_path, [e.canonical for e in entries], rows)
        period = PackPeriod("a", "b", "UTC", "s", "e", "DE", 0, entries[-1].seq, None)
        check, problems = run(log, actions, period)
        assert problems == [] and check.action_rows == 12


class TestActionTemplates:
    """The fast path writes each row from a template per distinct head (the line up to its
    top-level prev); lines it cannot template fall back to the row-by-row check."""

    def _chain(self, heads: list[tuple[str, dict[str, object]]]) -> list[Entry]:
        prev, out = GENESIS_PREV, []
        for seq, (action, details) in enumerate(heads):
            event = Event("svc", action, UUID(int=seq + 1), details=details)
            entry = Entry.create(seq, AT, prev, event)
            prev = entry.leaf_hash.hex()
            out.append(entry)
        return out

    def _slow_calls(self, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
        calls: list[bytes] = []
        original = LogCheck._action

        def counting(self: LogCheck, line: bytes, lineno: int | None) -> bool:
            calls.append(line)
            return original(self, line, lineno)

        monkeypatch.setattr(LogCheck, "_action", counting)
        return calls

    def _three_rewritten(self, old: bytes, new: bytes) -> list[bytes]:
        """Three delete lines, the second with `old` replaced by `new`, re-hashed and re-chained
        by hand (the prev of lines 2 and 3 set to the hash of the line before)."""
        lines = [e.canonical for e in self._chain([("candidate.delete", {"rule": "r"})] * 3)]
        lines[1] = lines[1].replace(old, new)
        prev = leaf_hash(lines[0]).hex()
        for i in (1, 2):
            at = lines[i].rfind(b',"prev":"') + 9
            lines[i] = lines[i][:at] + prev.encode() + lines[i][at + 64 :]
            prev = leaf_hash(lines[i]).hex()
        return lines

    def _write_lines(
        self, tmp_path: Path, lines: list[bytes], rows: list[list[str] | None]
    ) -> tuple[Path, Path, PackPeriod]:
        log, actions = write_files(tmp_path, lines, rows)
        return log, actions, PackPeriod("a", "b", "UTC", "s", "e", None, 0, len(lines) - 1, None)

    def test_intact_rows_take_the_fast_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Quotes, backslashes and a `%` in the cells (the template is a %-format) are written
        by the template: no line is checked one by one."""
        details = [
            {"cite": "100% sure, 5%s of it", "country": "NL", "rule": 'r "q"'},
            {"cite": "back\\slash", "country": "DE", "run": 7, "review": None},
            {"n": {"prev": "ab" * 32, "reason": "z"}, "policy": "p,q"},
        ]
        heads = [(RETENTION_ACTIONS[i % len(RETENTION_ACTIONS)], details[i % 3]) for i in range(30)]
        log, actions, period = write(tmp_path, self._chain(heads), None)
        calls = self._slow_calls(monkeypatch)
        check, problems = run(log, actions, period)
        assert problems == [] and check.action_rows == 30
        assert calls == []

    def test_untemplated_head_falls_back(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A head whose details are not an object is not templated: its run is compared row by
        row, and still verifies (action_row reads such details as empty)."""
        # Line 2's details are a list: written by hand, as Entry.create only takes objects.
        lines = self._three_rewritten(b'"details":{"rule":"r"}', b'"details":[1]')
        rows = [action_row(parse_entry_line(line), None) for line in lines]
        log, actions, period = self._write_lines(tmp_path, lines, rows)
        calls = self._slow_calls(monkeypatch)
        check, problems = run(log, actions, period)
        assert problems == [] and check.action_rows == 3
        assert len(calls) == 3

    @pytest.mark.parametrize("reason", [b"\\q", b"\\u12", b"a\tb"], ids=["bad-escape",
                             "short-u", "raw-tab"])  # fmt: skip
    def test_reason_that_is_no_json_string_is_refused(
        self, tmp_path: Path, block: int, reason: bytes
    ) -> None:
        """An action line whose reason is no JSON string (an escape JSON has not, a raw control
        character), re-hashed and re-chained, is refused as the line by line check refuses it:
        the fast path reads the reason escape by escape, JSON's escapes only."""
        lines = self._three_rewritten(b'"reason":""', b'"reason":"' + reason + b'"')
        # The rows the exporter wrote for the lines as they were (the rewritten one is no entry).
        entries = self._chain([("candidate.delete", {"rule": "r"})] * 3)
        rows = [action_row(parse_entry_line(e.canonical), None) for e in entries]
        log, actions, period = self._write_lines(tmp_path, lines, rows)
        _, problems = run(log, actions, period)
        assert problems[:1] == ["audit-log.jsonl None: holds a line that is not a JSON audit entry"]

    @pytest.mark.parametrize(
        "head",
        [
            b'{"action":"candidate.delete","actor":"a","details":[1],"outcome":"ok"',
            b'{"action":"candidate.delete","actor":"a","details":{},"outcome":1',
            b'{"action":"candidate.delete","actor":"a","details":{},"outcome":"ok","x":1',
            b'{"action":"candidate.read","actor":"a","details":{},"outcome":"ok"',
            b'{"action":"candidate.delete","actor":"a","details":{},"outcome":"ok",',
            b'{"action":"candidate.delete","actor":"\xff","details":{},"outcome":"ok"',
        ],
        ids=[
            "details-list",
            "outcome-int",
            "extra-key",
            "not-retention",
            "broken-json",
            "not-utf8",
        ],
    )
    def test_template_refuses(self, head: bytes) -> None:
        assert log_check._template(head) is None

    def test_template_is_the_row(self) -> None:
        """A template filled with a line's seq, date and subject is csv_line(action_row(...))."""
        entry = self._chain([("candidate.block", {"cite": "50%", "country": "ES", "run": 3})])[0]
        line = entry.canonical
        made = log_check._template(line[: line.rfind(b',"prev":"')])
        assert made is not None
        country, template = made
        row = action_row(parse_entry_line(line), None)
        assert row is not None and country == "ES"
        assert template % (b"0", row[1].encode(), row[2].encode()) == csv_line(row)
