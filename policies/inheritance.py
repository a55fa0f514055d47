"""How a policy inherits: its own rules, then those of the policy it extends.

A rule named like an inherited one replaces it in place; other own rules come first. The model
(building a policy set) and the linter (checking each chain ends in a default and no rule is
shadowed) both need this one definition, so it stands apart from both.
"""

from __future__ import annotations

from collections.abc import Mapping

from .nodes import PolicyNode, Renewal, Rule

__all__ = ["resolve_renewals", "resolve_rules"]


def resolve_rules(node: PolicyNode, by_name: Mapping[str, PolicyNode]) -> tuple[Rule, ...]:
    """Own rules first; an own rule named like an inherited one replaces it in place."""
    if node.extends is None or node.extends not in by_name:
        return node.rules
    inherited = resolve_rules(by_name[node.extends], by_name)
    own = {r.name: r for r in node.rules}
    inherited_names = {r.name for r in inherited}
    fresh = tuple(r for r in node.rules if r.name not in inherited_names)
    return fresh + tuple(own.get(r.name, r) for r in inherited)


def resolve_renewals(node: PolicyNode, by_name: Mapping[str, PolicyNode]) -> tuple[Renewal, ...]:
    """Own renewal schedules, then inherited ones for purposes this policy does not schedule."""
    if node.extends is None or node.extends not in by_name or node.extends == node.name:
        return node.renewals
    own = {r.purpose for r in node.renewals}
    inherited = resolve_renewals(by_name[node.extends], by_name)
    return node.renewals + tuple(r for r in inherited if r.purpose not in own)
