"""The renewal schedules in force, per purpose and country, from the policy set.

Countries whose schedules for a purpose read the same are grouped, so a campaign selects each
step of each distinct schedule with one statement, whatever the number of countries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from policies import PolicySet, Renewal

__all__ = ["ScheduleGroup", "schedule_for", "schedule_groups"]


def _key(r: Renewal) -> tuple[str, ...]:
    return (r.lasts.text(), r.ask.text(), *(x.text() for x in r.reminders))


@dataclass(frozen=True)
class ScheduleGroup:
    purpose: str
    renewal: Renewal  # one representative: every country of the group reads the same
    countries: tuple[str, ...]


def schedule_groups(policy_set: PolicySet) -> Iterator[ScheduleGroup]:
    """Each distinct (purpose, schedule) with the countries it governs."""
    groups: dict[tuple[str, tuple[str, ...]], tuple[Renewal, list[str]]] = {}
    for country, policy in sorted(policy_set.by_country.items()):
        for r in policy.renewals:
            entry = groups.setdefault((r.purpose, _key(r)), (r, []))
            entry[1].append(country)
    for (purpose, _), (renewal, countries) in groups.items():
        yield ScheduleGroup(purpose, renewal, tuple(countries))


def schedule_for(policy_set: PolicySet, country: str, purpose: str) -> Renewal | None:
    policy = policy_set.policy_for(country)
    return None if policy is None else policy.renewal_for(purpose)
