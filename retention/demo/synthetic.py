"""Synthetic candidates: realistic rows generated deterministically, in storage form.

The demo and the benchmarks need candidates spread over the supported countries, with
applications, talent-pool consents (given, expired, withdrawn, renewed twice) and a few CV files,
dated over the four years before a reference instant so that a share is past any retention
period. Everything comes from `random.Random` seeded by (seed, chunk number), UUIDs included, so
one seed and one instant give the same rows on every run, backend and number of processes.

Speed: personal values are drawn from per-country pools built once (`retention.demo.fake_pools`), only
`random()` is called in the loop, and rows are produced directly in the database's storage form
(naive UTC text with six fractional digits, UUIDs as 32 hex digits) so the bulk path writes them
without per-value conversion. Only a fraction of candidates gets a CV (`document_fraction`,
default 2%): a million candidates write twenty thousand small files, not a million.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import random
import uuid
from bisect import bisect
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from retention.clock import as_utc, utc_now
from retention.demo.fake_pools import COUNTRIES, LocalePool, build_pools
from retention.errors import BadInput
from retention.store import Application, Candidate, Consent, Document

__all__ = [
    "APPLICATION_COLUMNS",
    "CANDIDATE_COLUMNS",
    "CHUNK",
    "CONSENT_COLUMNS",
    "DEFAULT_DOCUMENT_FRACTION",
    "DOCUMENT_COLUMNS",
    "TABLES",
    "Row",
    "SeedBatch",
    "external_ref_prefix",
    "generate_batches",
    "generate_chunk",
]

DEFAULT_DOCUMENT_FRACTION = 0.02
CHUNK = 10_000  # candidates per generated batch; part of what a seed means
HISTORY_DAYS = 4 * 365 + 1
TALENT_POOL = "talent_pool"
CONSENT_MONTHS = 24  # talent-pool consent asked for two years, as CNIL recommends

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "id",
    "external_ref",
    "country",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "applied_at",
    "decided_at",
    "last_activity_at",
    "created_at",
    "updated_at",
)
APPLICATION_COLUMNS: tuple[str, ...] = (
    "candidate_id",
    "position",
    "status",
    "applied_at",
    "decided_at",
)
CONSENT_COLUMNS: tuple[str, ...] = (
    "candidate_id",
    "purpose",
    "notice_version",
    "channel",
    "given_at",
    "expires_at",
    "withdrawn_at",
)
DOCUMENT_COLUMNS: tuple[str, ...] = (
    "id",
    "candidate_id",
    "kind",
    "media_type",
    "sha256",
    "size",
    "created_at",
)
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Candidate.__tablename__, CANDIDATE_COLUMNS),
    (Application.__tablename__, APPLICATION_COLUMNS),
    (Consent.__tablename__, CONSENT_COLUMNS),
    (Document.__tablename__, DOCUMENT_COLUMNS),
)

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
_STATUSES_RECENT = (("in_process", 55), ("rejected", 28), ("withdrawn", 9), ("hired", 8))
_STATUSES_OLD = (("in_process", 3), ("rejected", 67), ("withdrawn", 14), ("hired", 16))
_CHANNELS = ("web_form", "email", "ats", "career_fair")


@dataclass(frozen=True)
class SeedBatch:
    """Rows of a slice of candidates, in storage form, with the CV files to write."""

    candidates: list[Row] = field(default_factory=list)
    applications: list[Row] = field(default_factory=list)
    consents: list[Row] = field(default_factory=list)
    documents: list[Row] = field(default_factory=list)
    # (file name = the document's UUID, content)
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[str, tuple[str, ...], list[Row]]]:
        for (table, columns), rows in zip(
            TABLES, (self.candidates, self.applications, self.consents, self.documents), strict=True
        ):
            yield table, columns, rows


def external_ref_prefix(seed: int) -> str:
    """External references of seeded candidates: `demo-<seed>-<n>`, so seeds do not collide."""
    return f"demo-{seed}-"


def _stamper(first_us: int, last_us: int) -> Callable[[int], str]:
    """A fast formatter of microseconds since the epoch in [first_us, last_us] to storage text.

    The exact text TZDateTime stores on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff', naive UTC), which
    PostgreSQL parses into `timestamp`. Table look-ups for the day and the second of the day make it
    three times faster than formatting a datetime, which matters at a million rows.
    """
    first_day = first_us // _US_PER_DAY
    days = [
        (_EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")
        for d in range(first_day, last_us // _US_PER_DAY + 1)
    ]
    seconds = _seconds_of_day()

    def stamp(us: int) -> str:
        day, rest = divmod(us, _US_PER_DAY)
        second, micro = divmod(rest, 1_000_000)
        return f"{days[day - first_day]} {seconds[second]}.{micro:06d}"

    return stamp


@lru_cache(maxsize=1)
def _seconds_of_day() -> tuple[str, ...]:
    return tuple(
        f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
    )


def _uuid_hex(rng: random.Random) -> str:
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return f"{value:032x}"


def _cv(first: str, last: str, email: str, phone: str, city: str, position: str) -> bytes:
    return (
        f"Curriculum vitae\n\n{first} {last}\n{city}\n{email} | {phone}\n\n"
        f"Application: {position}\n"
    ).encode()


def generate_batches(
    count: int,
    *,
    seed: int = 0,
    now: datetime | None = None,
    document_fraction: float = DEFAULT_DOCUMENT_FRACTION,
    workers: int = 0,
) -> Iterator[SeedBatch]:
    """Yield the rows of `count` candidates, CHUNK candidates per batch, in order.

    Each chunk has its own generator seeded by (seed, chunk number), so the rows depend only on
    (seed, now, count) and not on how many processes produced them. With `workers` > 0 the chunks
    are generated in that many child processes while the caller writes the previous ones: on a
    multi-core machine generation then overlaps with the database's own work.
    """
    if count < 0:
        raise BadInput("the number of candidates cannot be negative")
    if not 0.0 <= document_fraction <= 1.0:
        raise BadInput("the document fraction must be between 0 and 1")
    now = as_utc(now or utc_now())
    now_us = (now.replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1)
    jobs = [
        (seed, now_us, start, min(CHUNK, count - start), document_fraction)
        for start in range(0, count, CHUNK)
    ]
    if workers <= 0 or len(jobs) < 2:
        for job in jobs:
            yield generate_chunk(*job)
        return
    # spawn, not fork: the parent holds database connections that must not cross processes.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[SeedBatch]] = deque()
        queued = iter(jobs)
        try:
            for job in itertools.islice(queued, 2 * workers):
                pending.append(pool.submit(generate_chunk, *job))
            while pending:
                batch = pending.popleft().result()
                for job in itertools.islice(queued, 1):
                    pending.append(pool.submit(generate_chunk, *job))
                yield batch
        finally:
            for future in pending:
                future.cancel()


def generate_chunk(
    seed: int, now_us: int, start: int, n: int, document_fraction: float
) -> SeedBatch:
    """The rows of candidates number start .. start+n-1 (a chunk begins at a multiple of CHUNK)."""
    earliest = now_us - (HISTORY_DAYS + 400) * _US_PER_DAY
    gen = _Generator(
        rng=random.Random(f"{seed}:{start // CHUNK}"),
        pools=build_pools(seed),
        prefix=external_ref_prefix(seed),
        now_us=now_us,
        stamp=_stamper(earliest, now_us + (CONSENT_MONTHS * 31 + 30) * _US_PER_DAY),
        document_fraction=document_fraction,
    )
    return gen.batch(start, n)


def _cumulative(weights: Sequence[tuple[str, int]]) -> tuple[tuple[str, float], ...]:
    total = sum(w for _, w in weights)
    return tuple(
        zip((c for c, _ in weights), accumulate(w / total for _, w in weights), strict=True)
    )


_RECENT = _cumulative(_STATUSES_RECENT)
_OLD = _cumulative(_STATUSES_OLD)


def _status(u: float, table: tuple[tuple[str, float], ...]) -> str:
    for status, bound in table:
        if u < bound:
            return status
    return table[-1][0]


@dataclass
class _Generator:
    """The one sequence of draws behind a seed; every value comes from `rng.random()`.

    Only `random()` (and `getrandbits` for UUIDs) is used in the loop: it is several times faster
    than `choice`/`randrange`, and `int(random() * n)` is as uniform as this demo needs.
    """

    rng: random.Random
    pools: Sequence[LocalePool]
    prefix: str
    now_us: int
    stamp: Callable[[int], str]
    document_fraction: float

    def __post_init__(self) -> None:
        total = sum(p.weight for p in COUNTRIES)
        self.country_cum = [w / total for w in accumulate(p.weight for p in COUNTRIES)]

    def batch(self, start: int, n: int) -> SeedBatch:
        out = SeedBatch()
        for i in range(start, start + n):
            self._candidate(out, i)
        return out

    def _candidate(self, out: SeedBatch, index: int) -> None:
        rand, stamp, now_us, day = self.rng.random, self.stamp, self.now_us, _US_PER_DAY
        pool = self.pools[min(bisect(self.country_cum, rand()), len(self.pools) - 1)]
        cid = _uuid_hex(self.rng)
        first, first_ascii = _draw(pool.first_names, rand)
        last, last_ascii = _draw(pool.last_names, rand)
        if first_ascii and last_ascii:
            local = f"{first_ascii}{'.' if rand() < 0.7 else '_'}{last_ascii}"
        else:
            local = _draw(pool.user_names, rand)
        if rand() < 0.4:
            local = f"{local}{int(rand() * 100)}"
        email = f"{local}@{_draw(pool.domains, rand)}"
        phone, city = _draw(pool.phones, rand), _draw(pool.cities, rand)
        position = _draw(pool.positions, rand)

        applied = now_us - int(rand() * HISTORY_DAYS * day)
        status = _status(rand(), _RECENT if now_us - applied < 120 * day else _OLD)
        decided: int | None = None
        if status == "in_process":
            last_activity = applied + int(rand() * (now_us - applied))
        else:
            decided = min(now_us - 1, applied + int((2 + rand() * 88) * day))
            last_activity = decided
        applied_s = stamp(applied)
        decided_s = None if decided is None else stamp(decided)

        if rand() < 0.25:  # an earlier application to another position, turned down
            earlier = applied - int((30 + rand() * 370) * day)
            out.applications.append(
                (cid, _draw(pool.positions, rand), "rejected", stamp(earlier), stamp(earlier + day))
            )
        out.applications.append((cid, position, status, applied_s, decided_s))

        if rand() < 0.35:
            last_activity = max(
                last_activity, self._consents(out.consents, cid, decided or applied)
            )
        last_s = stamp(min(last_activity, now_us))
        out.candidates.append(
            (
                cid,
                f"{self.prefix}{index}",
                pool.country,
                status,
                first,
                last,
                email,
                phone,
                city,
                applied_s,
                decided_s,
                last_s,
                applied_s,
                last_s,
            )
        )
        if self.document_fraction and rand() < self.document_fraction:
            content = _cv(first, last, email, phone, city, position)
            doc_id = _uuid_hex(self.rng)
            out.documents.append(
                (
                    doc_id,
                    cid,
                    "cv",
                    "text/plain; charset=utf-8",
                    hashlib.sha256(content).hexdigest(),
                    len(content),
                    applied_s,
                )
            )
            out.files.append((str(uuid.UUID(doc_id)), content))

    def _consents(self, out: list[Row], cid: str, anchor: int) -> int:
        """Append one candidate's talent-pool consent rows; return its last consent event."""
        rand, stamp, now_us, day = self.rng.random, self.stamp, self.now_us, _US_PER_DAY
        validity = (CONSENT_MONTHS * 365 // 12) * day
        given = min(now_us - 1, anchor + int(rand() * 7 * day))
        channel = _draw(_CHANNELS, rand)
        kind = rand()
        renew_every = 335 * day
        if kind < 0.15 and given + 2 * renew_every < now_us:  # renewed twice: three rows
            for version in (1, 2, 3):
                at = given + (version - 1) * renew_every
                out.append(
                    (
                        cid,
                        TALENT_POOL,
                        f"tp-v{version}",
                        channel,
                        stamp(at),
                        stamp(at + validity),
                        None,
                    )
                )
            return given + 2 * renew_every
        withdrawn: int | None = None
        if kind > 0.85:  # withdrawn while it was valid
            withdrawn = given + int(rand() * (min(now_us, given + validity) - given))
        out.append(
            (
                cid,
                TALENT_POOL,
                "tp-v1",
                channel,
                stamp(given),
                stamp(given + validity),
                None if withdrawn is None else stamp(withdrawn),
            )
        )
        return given if withdrawn is None else withdrawn


def _draw(seq: Sequence[Any], rand: Callable[[], float]) -> Any:
    return seq[int(rand() * len(seq))]
