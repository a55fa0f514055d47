"""The streaming check of a pack's audit-log.jsonl and retention-actions.csv, in one pass.

This is the part of verification whose cost grows with the period (a million entries is a few
hundred megabytes), so it reads the log once, in large blocks, hashing every byte for the manifest
while it splits lines, and holds one entry at a time: memory stays constant. Per line it does only
what the proof of integrity needs: the RFC 9162 leaf hash and the comparison of the line's `prev`
with the previous line's hash. Canonical JSON puts `prev` after `details` (keys sorted), so the
last `,"prev":"` of a line is the top-level one; only retention actions (which canonical JSON
start with `{"action":"candidate.delete"` and so on) are parsed, to be compared with retention-actions.csv in step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from audit_log.entry import GENESIS_PREV
from retention.evidence_pack import (
    ACTIONS_HEADER,
    COLUMN,
    FileDigest,
    PackFile,
    PackPeriod,
    action_prefixes,
    action_row,
    iter_csv,
    parse_entry_line,
)

__all__ = ["LogCheck"]

_BLOCK = 1 << 20
_PREV = b',"prev":"'

Fail = Callable[[str, str | None, str], None]
"""Records a problem: file, where (line or entry), message."""


class LogCheck:
    """Checks the log lines of one pack against its period and its actions CSV."""

    def __init__(self, period: PackPeriod, actions: Sequence[str], fail: Fail) -> None:
        self.period = period
        self.actions = actions
        self.fail = fail
        self.entries = 0
        self.action_rows = 0
        self.first_leaf: bytes | None = None
        self.last_leaf: bytes | None = None

    def run(self, log_path: Path, actions_path: Path) -> FileDigest | None:
        """Check both files; returns the log file's digest (None when it is missing)."""
        name = PackFile.AUDIT_LOG
        try:
            fh = log_path.open("rb")
        except OSError:
            self.fail(name, None, "missing")
            return None
        hasher = _CountingHash()
        try:
            actions_fh: IO[str] | None = actions_path.open(encoding="utf-8", newline="")
        except OSError:
            actions_fh = None
            self.fail(PackFile.ACTIONS, None, "missing")
        try:
            rows = _ActionsCsv(actions_fh, self.fail) if actions_fh is not None else None
            lines = _lines(fh, hasher)
            broken = self._chain(lines, rows)
            for _rest in lines:
                pass  # the manifest hash covers every byte, even after a broken link
            if rows is not None:
                self.action_rows = rows.finish(complete=not broken)
        finally:
            fh.close()
            if actions_fh is not None:
                actions_fh.close()
        return hasher.digest(name)

    def _chain(self, lines: Iterator[bytes], rows: _ActionsCsv | None) -> bool:
        """Check every line's link; returns True when the chain broke (reported)."""
        period = self.period
        name = PackFile.AUDIT_LOG
        sha256 = hashlib.sha256
        expected_prev = GENESIS_PREV.encode() if period.prior_seq is None else None
        prev_line: bytes | None = None
        lineno = 0
        country = period.country
        prefixes = action_prefixes(self.actions)
        for line in lines:
            lineno += 1
            leaf = sha256(b"\x00" + line).digest()
            if expected_prev is None:
                # Line 1 is the entry just before the period: its own link is outside the pack.
                if _seq_of(line) != period.prior_seq:
                    self.fail(name, "line 1", f"should be entry {period.prior_seq}")
                    return True
            else:
                at = line.rfind(_PREV)
                if at < 0 or line[at + 9 : at + 73] != expected_prev:
                    self._link_failure(line, prev_line, lineno)
                    return True
                if self.entries == 0:
                    if _seq_of(line) != period.first_seq:
                        self.fail(name, f"line {lineno}", f"should be entry {period.first_seq}")
                        return True
                    self.first_leaf = leaf
                self.entries += 1
                self.last_leaf = leaf
                if rows is not None and line.startswith(prefixes):
                    try:
                        row = action_row(parse_entry_line(line), country)
                    except ValueError:
                        self.fail(name, f"line {lineno}", "is not a JSON audit entry")
                        return True
                    if row is not None:
                        rows.expect(row)
            expected_prev = leaf.hex().encode()
            prev_line = line
        want = period.entries + (0 if period.prior_seq is None else 1)
        if lineno != want:
            self.fail(name, None, f"holds {lineno} lines, the manifest's period needs {want}")
            return True
        if self.entries and _seq_of(prev_line or b"") != period.last_seq:
            self.fail(name, f"line {lineno}", f"should be entry {period.last_seq}")
            return True
        return False

    def _link_failure(self, line: bytes, prev_line: bytes | None, lineno: int) -> None:
        seq = _seq_of(line)
        before = _seq_of(prev_line) if prev_line is not None else None
        if prev_line is None:
            msg = f"entry {seq} does not start the log (its prev is not the genesis hash)"
        elif seq is not None and before is not None and seq != before + 1:
            msg = (
                f"entry {seq} follows entry {before}: an entry is missing or the entries "
                "are reordered"
            )
        else:
            msg = (
                f"entry {seq} does not link to the line before it (entry {before}): "
                "one of them was changed"
            )
        self.fail(PackFile.AUDIT_LOG, f"line {lineno}", msg)


def _seq_of(line: bytes) -> int | None:
    try:
        seq = parse_entry_line(line).get("seq")
    except ValueError:
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class _ActionsCsv:
    """Compares retention-actions.csv with the rows the audit entries give, in step."""

    def __init__(self, fh: IO[str], fail: Fail) -> None:
        self._records = iter_csv(fh)
        self._fail_to = fail
        self._failed = False
        self.rows = 0
        header = next(self._records, None)
        if header is None or header[1] != list(ACTIONS_HEADER):
            self._fail("line 1", f"header should be {','.join(ACTIONS_HEADER)}")

    def _fail(self, where: str | None, message: str) -> None:
        self._failed = True
        self._fail_to(PackFile.ACTIONS, where, message)

    def expect(self, row: list[str]) -> None:
        if self._failed:
            return
        found = next(self._records, None)
        if found is None:
            self._fail(
                None, f"ends early: audit entry {row[0]} ({row[COLUMN['action']]}) has no line"
            )
            return
        line, record = found
        if record != row:
            self._fail(
                f"line {line}",
                f"does not match audit entry {row[0]}: expected {','.join(row)!r}, "
                f"found {','.join(record)!r}",
            )
            return
        self.rows += 1

    def finish(self, *, complete: bool) -> int:
        """Report lines no entry gives; only meaningful when every entry was read."""
        if complete and not self._failed:
            extra = next(self._records, None)
            if extra is not None:
                self._fail(f"line {extra[0]}", "no audit entry of the period gives this line")
        return self.rows


class _CountingHash:
    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def update(self, block: bytes) -> None:
        self._h.update(block)
        self.size += len(block)

    def digest(self, path: str) -> FileDigest:
        return FileDigest(path, self._h.hexdigest(), self.size)


def _lines(fh: IO[bytes], hasher: _CountingHash) -> Iterator[bytes]:
    """The file's '\\n'-terminated lines without their newline; hashes every byte read.

    A final fragment without a newline is yielded too (and fails its checks), so that no byte of
    the file escapes verification.
    """
    carry = b""
    while block := fh.read(_BLOCK):
        hasher.update(block)
        parts = (carry + block).split(b"\n")
        carry = parts.pop()
        yield from parts
    if carry:
        yield carry
