"""The streaming check of a pack's audit-log.jsonl and retention-actions.csv, in one pass.

This is the part of verification whose cost grows with the period (a million entries is a few
hundred megabytes), so it reads the log once, in blocks of a few megabytes, hashing every byte for
the manifest while it splits lines: memory stays constant. Per line it does only what integrity
needs: the RFC 9162 leaf hash, and the comparison of the line's `prev` with the previous line's
hash. Canonical JSON sorts keys, so the top-level `prev` is the last `,"prev":"` of a line and is
followed by `"reason"`; a block's links are found with one regex pass and compared with the
block's hashes in one comparison, and only a block that does not fit is checked line by line (which
names the line at fault). Only retention actions (`{"action":"candidate.delete"` and so on) are
parsed, to be compared with retention-actions.csv in step.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import compress, repeat
from operator import add, eq, getitem, itemgetter, methodcaller
from pathlib import Path
from typing import IO, Any, cast

from audit_log import GENESIS_PREV
from retention.evidence.pack import (
    ACTIONS_HEADER,
    COLUMN,
    RETENTION_ACTIONS,
    FileDigest,
    PackFile,
    PackPeriod,
    action_prefixes,
    action_row,
    parse_entry_line,
)

__all__ = ["LogCheck"]

_BLOCK = 4 << 20
_PREV = b',"prev":"'
_cut = cast(Callable[[bytes, slice], bytes], getitem)  # line[span], called in C by map

_DETAILS = b'","details":'
_OUTCOME = b',"outcome":"'
_CANDIDATE = b'{"action":"candidate.'
_ACTION_AT = len(_CANDIDATE)
_STR = rb'[^"\\]*'
_TAIL = re.compile(
    rb'\n,"outcome":"([a-z_]*)","prev":"[^"]{64}","reason":"' + _STR + rb'(?:\\.' + _STR
    + rb')*","seq":(0|[1-9][0-9]*),"subject":(?:"([0-9a-f-]*)"|null),"ts":"([0-9:.TZ-]*)"\}(?=\n)'
)  # fmt: skip
"""The tail of a line from its top-level outcome on, the tails joined between newlines: the
cells that need no CSV quoting (no group can take in a quote, and the reason is read escape by
escape). Anchored on the newlines, not on `^`/`$` (MULTILINE): the regex then searches for its
literal start instead of trying every position, which took half of the actions' check."""
_ROW = b"%s,%s,%s,%s,%s,%s,%s\n"  # seq, ts, subject, (country, policy, rule), action, outcome, ...
_ROW_ORDER = itemgetter(1, 3, 2, 5, 7, 0, 6)
_decode = json.JSONDecoder().decode


def _detail_cells(details: dict[str, Any]) -> tuple[str, str, str]:
    """The actions-row cells taken from an entry's details (as `action_row` renders them): its
    country, and as CSV text the cells country, policy, rule and policy_hash, cite, run_id,
    review_id (the two runs of the row around its action and outcome)."""
    row = action_row({"action": RETENTION_ACTIONS[0], "details": details}, None)
    assert row is not None
    c = COLUMN
    before = [row[c[name]] for name in ("country", "policy", "rule")]
    after = [row[c[name]] for name in ("policy_hash", "cite", "run_id", "review_id")]
    return row[c["country"]], _csv_text(before), _csv_text(after)


def _csv_text(cells: list[str]) -> str:
    """`cells` as the exporter's CSV writer writes them, without the line end."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()[:-1]


Fail = Callable[[str, str | None, str], None]
"""Records a problem: file, where (line or entry), message."""


class LogCheck:
    """Checks the log lines of one pack against its period and its actions CSV."""

    def __init__(self, period: PackPeriod, actions: Sequence[str], fail: Fail) -> None:
        self.period = period
        self.fail = fail
        self.entries = 0
        self.action_rows = 0
        self.first_leaf: bytes | None = None
        self.last_leaf: bytes | None = None
        self._prefixes = action_prefixes(actions)
        self._candidate_actions = all(p.startswith(_CANDIDATE) for p in self._prefixes)
        self._details: dict[bytes, tuple[str, bytes, bytes]] = {}
        self._rows: _ActionsCsv | None = None
        self._lineno = 0
        self._prev_line: bytes | None = None
        # Hex leaf hash the next line's `prev` must hold; None while line 1 is the prior entry.
        self._expected: str | None = GENESIS_PREV if period.prior_seq is None else None

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
            if actions_fh is not None:
                self._rows = _ActionsCsv(actions_fh, self.fail)
            chunks = _chunks(fh, hasher)
            intact = all(self._chunk(body) for body in chunks)
            for _rest in chunks:
                pass  # the manifest hash covers every byte, even after a broken link
            intact = intact and self._ends_well()
            if self._rows is not None:
                self.action_rows = self._rows.finish(complete=intact)
        finally:
            fh.close()
            if actions_fh is not None:
                actions_fh.close()
            hasher.close()
        return hasher.digest(name)

    def _chunk(self, body: bytes) -> bool:
        """Check a run of whole lines; False when the chain broke (reported).

        Fast path: each line's `prev` is read after its last `,"prev":"` (strings in canonical
        JSON hold no raw quote, so that is the top-level one), and one comparison checks them
        all against the hashes of the lines before; the per-line work runs in C (`map`). A
        chunk that does not fit it (a line without a link, or a broken link) is checked line
        by line, which finds and names the problem. The fast path is sound because it only
        accepts when the sequence of links found equals the sequence of hashes, and the last
        entry is tied to the signed checkpoint.
        """
        lines = body.split(b"\n")
        start = 0
        if self._expected is None:
            if not self._line(lines[0]):
                return False
            start = 1
        rest = lines[start:]
        at = list(map(bytes.rfind, rest, repeat(_PREV)))
        if rest and -1 not in at:
            sha256 = hashlib.sha256
            hashes = [sha256(b"\x00" + line).digest() for line in rest]
            spans = map(slice, map(add, at, repeat(9)), map(add, at, repeat(73)))
            links = b"".join(map(_cut, rest, spans))
            assert self._expected is not None
            want = self._expected + b"".join(hashes[:-1]).hex()
            if links == want.encode() and self._accept(rest, hashes):
                return True
        return all(self._line(line) for line in rest)

    def _accept(self, lines: list[bytes], hashes: list[bytes]) -> bool:
        if self.entries == 0:
            if _seq_of(lines[0]) != self.period.first_seq:
                return False  # the slow path names it
            self.first_leaf = hashes[0]
        self._lineno += len(lines)
        self.entries += len(lines)
        self.last_leaf = hashes[-1]
        self._expected = hashes[-1].hex()
        self._prev_line = lines[-1]
        if self._rows is not None:
            actions = list(filter(methodcaller("startswith", self._prefixes), lines))
            if actions and not self._actions_fast(actions):
                for line in actions:
                    self._action(line, None)
        return True

    def _actions_fast(self, lines: list[bytes]) -> bool:
        """Compare the CSV lines of these accepted retention-action lines with the next lines
        of the actions file as one string; False (nothing consumed) when some line is of a form
        only `_action` reads or the text differs, so that the caller compares row by row and
        names the line at fault.

        The lines are cut where their details start and end, and one regex pass over their tails
        joined by newlines reads the cells after the details (the action is the one of the
        prefix each line was picked by). The details of a run's actions repeat, so their cells
        are decoded and written as CSV once per distinct details text. Each line is the one the
        exporter's CSV writer writes for `action_row` of the same bytes.
        """
        assert self._rows is not None
        if not self._candidate_actions:
            return False
        # Strings in canonical JSON hold no raw quote: the first '","details":' ends the actor
        # and the last ',"outcome":"' starts the tail. Each step runs in C over all the lines.
        starts = list(map(bytes.find, lines, repeat(_DETAILS)))
        ends = list(map(bytes.rfind, lines, repeat(_OUTCOME)))
        if -1 in starts or -1 in ends:
            return False
        tails = _TAIL.findall(
            b"\n".join((b"", *map(_cut, lines, map(slice, ends, repeat(None))), b""))
        )
        if len(tails) != len(lines):
            return False
        quotes = map(bytes.find, lines, repeat(b'"'), repeat(_ACTION_AT))
        actions = map(_cut, lines, map(slice, repeat(_ACTION_AT), quotes))
        details = list(map(_cut, lines, map(slice, map(add, starts, repeat(len(_DETAILS))), ends)))
        known = self._details
        cached = list(map(known.get, details))
        if None in cached:
            for i, found in enumerate(cached):
                if found is None:  # decoded once, then found for the next lines alike
                    found = cached[i] = known.get(details[i]) or self._cells(details[i])
                    if found is None:
                        return False
        cells = cast(list[tuple[str, bytes, bytes]], cached)
        # (outcome, seq, subject, ts) + (country, before, after) + (action,), as _ROW takes them
        said = map(_ROW.__mod__, map(_ROW_ORDER, map(add, map(add, tails, cells), zip(actions))))
        rows: Iterable[bytes] = said
        want, count = self.period.country, len(cells)
        if want is not None:
            mine = list(map(eq, map(itemgetter(0), cells), repeat(want)))
            rows, count = compress(said, mine), sum(mine)
        return self._rows.expect_text(b"".join(rows).decode(), count)

    def _cells(self, details: bytes) -> tuple[str, bytes, bytes] | None:
        """`_detail_cells` of a details text (the CSV runs as bytes), kept for its next lines;
        None when it is not a JSON object."""
        try:
            obj = _decode(details.decode())
        except ValueError:
            return None
        if type(obj) is not dict:
            return None
        if len(self._details) > 4096:
            self._details.clear()
        country, before, after = _detail_cells(obj)
        cells = self._details[details] = (country, before.encode(), after.encode())
        return cells

    def _line(self, line: bytes) -> bool:
        """Check one line; False when the chain broke (reported)."""
        period = self.period
        name = PackFile.AUDIT_LOG
        self._lineno += 1
        lineno = self._lineno
        leaf = hashlib.sha256(b"\x00" + line).digest()
        if self._expected is None:
            # Line 1 is the entry just before the period: its own link is outside the pack.
            if _seq_of(line) != period.prior_seq:
                self.fail(name, "line 1", f"should be entry {period.prior_seq}")
                return False
        else:
            at = line.rfind(_PREV)
            if at < 0 or line[at + 9 : at + 73] != self._expected.encode():
                self._link_failure(line, self._prev_line, lineno)
                return False
            if self.entries == 0:
                if _seq_of(line) != period.first_seq:
                    self.fail(name, f"line {lineno}", f"should be entry {period.first_seq}")
                    return False
                self.first_leaf = leaf
            self.entries += 1
            self.last_leaf = leaf
            wanted = self._rows is not None and line.startswith(self._prefixes)
            if wanted and not self._action(line, lineno):
                return False
        self._expected = leaf.hex()
        self._prev_line = line
        return True

    def _action(self, line: bytes, lineno: int | None) -> bool:
        assert self._rows is not None
        try:
            row = action_row(parse_entry_line(line), self.period.country)
        except ValueError:
            where = f"line {lineno}" if lineno is not None else None
            self.fail(PackFile.AUDIT_LOG, where, "holds a line that is not a JSON audit entry")
            return False
        if row is not None:
            self._rows.expect(row)
        return True

    def _ends_well(self) -> bool:
        period = self.period
        name = PackFile.AUDIT_LOG
        want = period.entries + (0 if period.prior_seq is None else 1)
        if self._lineno != want:
            self.fail(name, None, f"holds {self._lineno} lines, the manifest's period needs {want}")
            return False
        if self.entries and _seq_of(self._prev_line or b"") != period.last_seq:
            self.fail(name, f"line {self._lineno}", f"should be entry {period.last_seq}")
            return False
        return True

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
    """Compares retention-actions.csv with the rows the audit entries give, in step.

    Runs of rows are compared as text (`expect_text`) while they match; from the first run
    that does not, the file is read as CSV records and compared row by row (`expect`), which
    names the line at fault.
    """

    def __init__(self, fh: IO[str], fail: Fail) -> None:
        self._fh = fh
        self._reader: Iterator[list[str]] | None = None
        self._line_num = 1  # physical lines read before the reader's (the header's)
        self._fail_to = fail
        self._failed = False
        self.rows = 0
        header = next(csv.reader([fh.readline()]), None)
        if header != list(ACTIONS_HEADER):
            self._fail("line 1", f"header should be {','.join(ACTIONS_HEADER)}")

    def _fail(self, where: str | None, message: str) -> None:
        self._failed = True
        self._fail_to(PackFile.ACTIONS, where, message)

    def _records(self) -> Iterator[list[str]]:
        if self._reader is None:
            self._reader = self._csv = csv.reader(self._fh)
        return self._reader

    def _where(self) -> str:
        return f"line {self._line_num + self._csv.line_num}"

    def expect_text(self, text: str, rows: int) -> bool:
        """Consume `text` (the CSV lines of `rows` rows) if the file holds it next; False
        (nothing consumed) otherwise, or once the file is read record by record."""
        if self._failed:
            return True
        if self._reader is not None:
            return False
        fh = self._fh
        start = fh.tell()
        if fh.read(len(text)) != text:
            fh.seek(start)
            return False
        self.rows += rows
        self._line_num += text.count("\n")
        return True

    def expect(self, row: list[str]) -> None:
        if self._failed:
            return
        record = next(self._records(), None)
        if record is None:
            self._fail(
                None, f"ends early: audit entry {row[0]} ({row[COLUMN['action']]}) has no line"
            )
            return
        if record != row:
            self._fail(
                self._where(),
                f"does not match audit entry {row[0]}: expected {','.join(row)!r}, "
                f"found {','.join(record)!r}",
            )
            return
        self.rows += 1

    def finish(self, *, complete: bool) -> int:
        """Report lines no entry gives; only meaningful when every entry was read."""
        if complete and not self._failed:
            extra = next(self._records(), None)
            if extra is not None:
                self._fail(self._where(), "no audit entry of the period gives this line")
        return self.rows


class _CountingHash:
    """The manifest's SHA-256 of the whole file, computed beside the line checks.

    Every byte is hashed twice: for the manifest, and within its line for the RFC 9162 leaf
    hashes. hashlib lets go of the GIL while it hashes a large buffer, so each block's file
    hash runs in a thread of its own while the line checks of the same block run here: on a
    machine with a second core the file hash costs no time. One block at most waits, so
    memory stays bounded, and blocks are hashed in the order they were read.
    """

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-hash")
        self._pending: Future[None] | None = None

    def update(self, block: bytes) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._h.update, block)
        self.size += len(block)

    def digest(self, path: str) -> FileDigest:
        self.close()
        return FileDigest(path, self._h.hexdigest(), self.size)

    def close(self) -> None:
        """Wait for the last block and stop the thread (safe to call more than once)."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        self._pool.shutdown()


def _chunks(fh: IO[bytes], hasher: _CountingHash) -> Iterator[bytes]:
    """Runs of whole lines (without the final newline), read in large blocks; every byte read is
    hashed. A final fragment without a newline is yielded too (and fails its checks), so that no
    byte of the file escapes verification."""
    carry = b""
    while block := fh.read(_BLOCK):
        hasher.update(block)
        data = carry + block if carry else block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[:cut]
    if carry:
        yield carry
