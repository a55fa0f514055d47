"""Rate limits and the aggregation of failed authentications, per worker process.

Limits count requests in fixed one-minute windows: per source (the client's network) before
authentication, per principal after it; over the limit is 429 with `Retry-After` (the seconds
to the next window). Failed authentications are audited without letting an anonymous client
flood the append-only log: the first failure from a source in a minute is one entry at once,
the rest of that minute one more entry with their count, written when the minute is over (at
the source's next failure, by the app's flusher every few seconds, or at shutdown). A source
failing more than `auth_failures_per_minute` times is refused with 429 before its token is
even looked up.

A source is the client's address cut to its network (IPv4 /24, IPv6 /48): enough to spot and
block an attacker, and not an address of a person in the audit log.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from retention.api.problems import ApiProblem, ProblemKind

__all__ = ["AuthFailures", "FailureWindow", "RateLimiter", "source_of"]

WINDOW_S = 60

Monotonic = Callable[[], float]


def source_of(host: str | None) -> str:
    """The network a client address belongs to (IPv4 /24, IPv6 /48), or 'unknown'."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "unknown"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class RateLimiter:
    """Requests per key per one-minute window; `limit` 0 allows everything."""

    def __init__(self, limit: int, what: str, clock: Monotonic = time.time) -> None:
        self.limit = limit
        self.what = what
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: Counter[str] = Counter()

    def hit(self, key: str) -> None:
        """Count one request of `key`; 429 when it is over the limit of this window."""
        if not self.limit:
            return
        now = self._clock()
        window = int(now // WINDOW_S)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, Counter()
            self._counts[key] += 1
            over = self._counts[key] > self.limit
        if over:
            retry = max(1, math.ceil((window + 1) * WINDOW_S - now))
            raise ApiProblem(
                ProblemKind.TOO_MANY_REQUESTS,
                f"rate limit of {self.limit} requests a minute per {self.what} reached: "
                f"retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )


@dataclass
class FailureWindow:
    """Failures of one source in one minute beyond its first (already recorded)."""

    source: str
    start: datetime
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    principals: set[str] = field(default_factory=set)


Recorder = Callable[[FailureWindow, bool], None]
"""Writes one audit entry for a window: (window, first) where `first` is the minute's first."""


class AuthFailures:
    """Counts failed authentications per source and minute; decides what to record when."""

    def __init__(self, limit: int, record: Recorder, clock: Monotonic = time.time) -> None:
        self.limit = limit
        self._record = record
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, FailureWindow]] = {}
        self._done: list[FailureWindow] = []

    def check(self, source: str) -> None:
        """Before a token is looked up: 429 if `source` failed too often this minute."""
        if not self.limit:
            return
        now = self._clock()
        window = int(now // WINDOW_S)
        with self._lock:
            held = self._open.get(source)
            failed = 1 + held[1].count if held is not None and held[0] == window else 0
        if failed >= self.limit:
            retry = max(1, math.ceil((window + 1) * WINDOW_S - now))
            raise ApiProblem(
                ProblemKind.TOO_MANY_REQUESTS,
                f"too many failed authentications from this network: retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )

    def failed(self, source: str, reason: str, principal: str | None) -> None:
        """One failure; records the minute's first now (the rest at the next `flush`)."""
        now = self._clock()
        window = int(now // WINDOW_S)
        first: FailureWindow | None = None
        with self._lock:
            held = self._open.get(source)
            if held is not None and held[0] == window:
                current = held[1]
                current.count += 1
                current.reasons[reason] += 1
                if principal:
                    current.principals.add(principal)
            else:
                if held is not None and held[1].count:
                    self._done.append(held[1])  # recorded by the next flush
                start = datetime.fromtimestamp(window * WINDOW_S, UTC)
                self._open[source] = (window, FailureWindow(source, start))
                first = FailureWindow(source, start, 1, Counter({reason: 1}))
                if principal:
                    first.principals.add(principal)
        if first is not None:
            self._record(first, True)

    def flush(self, *, everything: bool = False) -> None:
        """Record the windows that are over (all of them when `everything`, at shutdown)."""
        window = int(self._clock() // WINDOW_S)
        with self._lock:
            done, self._done = self._done, []
            for source, (w, current) in list(self._open.items()):
                if everything or w != window:
                    del self._open[source]
                    if current.count:
                        done.append(current)
        for current in done:
            self._record(current, False)
