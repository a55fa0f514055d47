"""Hypothesis strategies and probe instants shared by the policy SQL tests.

Both SQL suites (scratch tables in `test_sql_compiler`, migrated tables in `test_sql_migrated`)
draw records from the same instants and consents, and evaluate at the same boundaries, so that
the SQL and the Python evaluator are compared where they are most likely to part.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from policies import Consent, Decision, PolicySet, Record, evaluate

# Month ends, leap days and year ends, where clamping goes wrong first.
DAYS = [
    datetime(2023, 1, 31),
    datetime(2023, 2, 28),
    datetime(2024, 2, 29),
    datetime(2024, 1, 30),
    datetime(2023, 8, 31),
    datetime(2023, 12, 31),
    datetime(2024, 3, 31),
    datetime(2023, 5, 31),
    datetime(2024, 8, 30),
    datetime(2023, 10, 15),
]
instants = st.builds(
    lambda day, seconds, micro: (day + timedelta(seconds=seconds, microseconds=micro)).replace(
        tzinfo=UTC
    ),
    st.sampled_from(DAYS),
    st.sampled_from([0, 1, 36000, 86399]),
    st.sampled_from([0, 1, 999999, 123456]),
)
maybe_instants = st.one_of(st.none(), instants)
consent_lists = st.lists(
    st.builds(
        Consent,
        st.sampled_from(["talent_pool", "reference_check"]),
        instants,
        maybe_instants,
        maybe_instants,
    ),
    max_size=3,
)


def boundaries(
    policy_set: PolicySet, records: Iterable[Record], fallback: datetime
) -> list[datetime]:
    """Instants at, and 1 µs around, the due dates the Python evaluator computes."""
    found = [fallback]
    for r in records:
        o = evaluate(policy_set, r, fallback)
        if isinstance(o, Decision) and o.due_at is not None:
            found += [
                o.due_at,
                o.due_at - timedelta(microseconds=1),
                o.due_at + timedelta(microseconds=1),
            ]
            if o.next is not None:
                found.append(o.next.due_at)
    return found
