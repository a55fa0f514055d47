"""The streaming check of a pack's audit-log.jsonl and retention-actions.csv, in one pass.

This is the part of verification whose cost grows with the period (a million entries is a few
hundred megabytes), so it reads the log once, in blocks of a megabyte, hashing every byte for
the manifest while it splits lines: memory stays constant. Per line it does only what integrity
needs: the RFC 9162 leaf hash, and the comparison of the line's `prev` with the previous line's
hash. Canonical JSON sorts keys, so the top-level `prev` is the last `,"prev":"` of a line and is
followed by `"reason"`; a block's links are found by one `rfind` per line (run in C by `map`)
and compared with the block's hashes in one comparison, and only a block that does not fit is checked line by line (which
names the line at fault). Only retention actions (`{"action":"candidate.delete"` and so on) are
compared with retention-actions.csv, in step; what comes before a line's `prev` repeats within a
sweep run, so it is parsed once per distinct text and the rows are filled from templates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from binascii import hexlify
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain, compress, repeat
from operator import add, eq, getitem, itemgetter
from pathlib import Path
from typing import IO, cast

from audit_log import GENESIS_PREV, leaf_hash, leaf_hashes
from retention.evidence.pack import (
    ACTIONS_HEADER,
    COLUMN,
    FileDigest,
    PackFile,
    PackPeriod,
    action_prefixes,
    action_row,
    parse_entry_line,
)

__all__ = ["LogCheck"]

# A block's lines are walked five times (split, links, leaf hashes, actions, rows): at 1 MiB they
# are still in the CPU's cache for the next walk. 4 MiB blocks verified 200,000 demo entries in
# 0.62 s against 0.48 s (fresh processes, medians of 7); 512 KiB gained nothing more.
_BLOCK = 1 << 20
_PREV = b',"prev":"'
_cut = cast(Callable[[bytes, slice], bytes], getitem)  # line[span], called in C by map

_HEAD_KEYS = ["action", "actor", "details", "outcome"]
_STR = rb'[^"\\\x00-\x1f]*'  # a JSON string's plain run: no quote, escape or control character
_TAIL = re.compile(
    rb'\n","reason":"' + _STR + rb'(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})' + _STR
    + rb')*","seq":(0|[1-9][0-9]*),"subject":(?:"([0-9a-f-]{36})"|null),"ts":"([0-9:.TZ-]{27})"\}(?=\n)'
)  # fmt: skip
"""What follows a line's top-level `prev` hash, the tails joined between newlines: the cells
that need no CSV quoting (no group can take in a quote, and the reason is read escape by escape,
JSON's escapes only, so that a reason the line by line check refuses is refused here too). A
subject is a UUID and a date is `format_ts`'s, so their widths are fixed (a quarter faster than
open runs); any other form is left to the line by line check. Anchored on the newlines, not on
`^`/`$` (MULTILINE): the regex then searches for its literal start instead of trying every
position, which took half of the actions' check."""
_TAIL_ORDER = itemgetter(0, 2, 1)  # (seq, subject, ts) as a template takes them: seq, ts, subject
_decode = json.JSONDecoder().decode


def _template(head: bytes) -> tuple[str, bytes] | None:
    """The country cell and the CSV line template of the action entries that start with `head` (a
    line up to its top-level `,"prev":"`), or None when the head is of a form only the line by
    line check reads.

    The head with a closing brace is a JSON object of the entry's first four members (keys sort,
    so action, actor, details and outcome come before prev): parsed as JSON, it is the same as in
    the whole line, because the rest of the line is members of fixed keys (`_TAIL`). The template
    is the row `action_row` gives, as the exporter's CSV writer writes it, with `%s` where the
    seq, date and subject go (cells that never need quoting).
    """
    try:
        obj = _decode((head + b"}").decode())
    except ValueError:
        return None
    if type(obj) is not dict or list(obj) != _HEAD_KEYS:
        return None
    row = action_row({**obj, "seq": "", "ts": "", "subject": ""}, None)
    if row is None or type(obj["outcome"]) is not str or type(obj["details"]) is not dict:
        return None
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row[3:])
    return row[3], b"%s,%s,%s," + buf.getvalue().replace("%", "%%").encode()


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
        self._templates: dict[bytes, tuple[str, bytes]] = {}
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

    def _chunk(self, lines: list[bytes]) -> bool:
        """Check a run of whole lines; False when the chain broke (reported).

        Fast path: each line's `prev` is found after its last `,"prev":"` (strings in canonical
        JSON hold no raw quote, so that is the top-level one) and must start with the hex of
        the hash of the line before; the per-line work runs in C (`map`). A chunk that does
        not fit it (a line without a link, or a broken link) is checked line by line, which
        finds and names the problem. The fast path is sound because it only accepts when every
        line's link is the hash of the line before, and the last entry is tied to the signed
        checkpoint.
        """
        start = 0
        if self._expected is None:
            if not self._line(lines[0]):
                return False
            start = 1
        rest = lines[start:] if start else lines
        at = list(map(bytes.rfind, rest, repeat(_PREV)))
        if rest and -1 not in at:
            hashes = leaf_hashes(rest)
            assert self._expected is not None
            wants = chain((self._expected.encode(),), map(hexlify, hashes[:-1]))
            linked = all(map(bytes.startswith, rest, wants, map(add, at, repeat(9))))
            if linked and self._accept(rest, hashes, at):
                return True
        return all(self._line(line) for line in rest)

    def _accept(self, lines: list[bytes], hashes: list[bytes], at: list[int]) -> bool:
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
            mine = list(map(bytes.startswith, lines, repeat(self._prefixes)))
            if True in mine:
                actions = list(compress(lines, mine))
                if not self._actions_fast(actions, list(compress(at, mine))):
                    for line in actions:
                        self._action(line, None)
        return True

    def _actions_fast(self, lines: list[bytes], at: list[int]) -> bool:
        """Compare the CSV lines of these accepted retention-action lines with the next lines
        of the actions file as one string; False (nothing consumed) when some line is of a form
        only `_action` reads or the text differs, so that the caller compares row by row and
        names the line at fault.

        `at` is where each line's top-level `,"prev":"` starts. What comes before it (the
        action, actor, details and outcome) repeats within a run, so it is parsed and written
        as a CSV template once per distinct text (`_template`); one regex pass over the tails
        after the prev hashes, joined by newlines, reads the seq, subject and date that fill
        it. Each line is the one the exporter's CSV writer writes for `action_row` of the same
        bytes.
        """
        assert self._rows is not None
        heads = list(map(_cut, lines, map(slice, at)))
        tails = _TAIL.findall(
            b"\n".join(
                (b"", *map(_cut, lines, map(slice, map(add, at, repeat(73)), repeat(None))), b"")
            )
        )
        if len(tails) != len(lines):
            return False
        known = self._templates
        found = list(map(known.get, heads))
        if None in found:
            if len(known) > 4096:
                known.clear()
            for i, template in enumerate(found):
                if template is None:  # parsed once, then found for the next lines alike
                    template = known.get(heads[i]) or _template(heads[i])
                    if template is None:
                        return False
                    found[i] = known[heads[i]] = template
        templates = cast(list[tuple[str, bytes]], found)
        rows: Iterable[bytes] = map(
            bytes.__mod__, map(itemgetter(1), templates), map(_TAIL_ORDER, tails)
        )
        want, count = self.period.country, len(templates)
        if want is not None:
            mine = list(map(eq, map(itemgetter(0), templates), repeat(want)))
            rows, count = compress(rows, mine), sum(mine)
        return self._rows.expect_text(b"".join(rows).decode(), count)

    def _line(self, line: bytes) -> bool:
        """Check one line; False when the chain broke (reported)."""
        period = self.period
        name = PackFile.AUDIT_LOG
        self._lineno += 1
        lineno = self._lineno
        leaf = leaf_hash(line)
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


def _chunks(fh: IO[bytes], hasher: _CountingHash) -> Iterator[list[bytes]]:
    """Runs of whole lines (without their newlines), read in large blocks; every byte read is
    hashed. Each block is split as it is, and only the line it cuts in two is joined with the
    next block's first, rather than copying every block behind the piece left over. A final
    fragment without a newline is yielded too (and fails its checks), so that no byte of the
    file escapes verification."""
    carry = b""
    while block := fh.read(_BLOCK):
        hasher.update(block)
        lines = block.split(b"\n")
        if carry:
            lines[0] = carry + lines[0]
        carry = lines.pop()  # after the block's last newline (b"" when it ends with one)
        if lines:
            yield lines
    if carry:
        yield [carry]
