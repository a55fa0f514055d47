"""The compiled policy set: every policy resolved through `extends`, one per country, hashed.

A PolicySet is built once from checked files and never changes; its content hash (sha256 over the
canonical text of every file) is what the sweep records next to each decision, so an auditor can
tell exactly which rules acted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import Diagnostic, PolicyLintError, PolicySyntaxError
from .files import read_utf8
from .formatter import format_file
from .inheritance import resolve_renewals, resolve_rules
from .linter import lint, rule_purposes
from .nodes import PolicyFile, PolicyNode, Renewal, Rule
from .parser import parse


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy with its inherited rules resolved, in the order they are tried."""

    name: str
    title: str | None
    countries: tuple[str, ...]
    rules: tuple[Rule, ...]
    chain: tuple[str, ...]  # this policy, then the ones it extends
    file: str
    renewals: tuple[Renewal, ...] = ()  # consent renewal schedules, own then inherited

    def renewal_for(self, purpose: str) -> Renewal | None:
        """The renewal schedule of `purpose` in this policy, or None."""
        return next((r for r in self.renewals if r.purpose == purpose), None)


def _chain(node: PolicyNode, by_name: Mapping[str, PolicyNode]) -> tuple[str, ...]:
    names = [node.name]
    while node.extends is not None and node.extends in by_name and node.extends not in names:
        node = by_name[node.extends]
        names.append(node.name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Immutable, checked policies; `by_country` maps an ISO code to the policy that decides it."""

    files: tuple[PolicyFile, ...]
    policies: Mapping[str, Policy]
    by_country: Mapping[str, Policy]
    content_hash: str
    _compiled: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def policy_for(self, country: str | None) -> Policy | None:
        """The policy covering `country`, or None when no policy claims it."""
        return self.by_country.get(country) if country is not None else None


def content_hash(files: Iterable[PolicyFile]) -> str:
    """sha256 over the canonical texts, ordered by file name so the order of loading is moot."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: Path(f.path).name):
        canonical = format_file(f).encode("utf-8")
        digest.update(Path(f.path).name.encode("utf-8") + b"\0")
        digest.update(len(canonical).to_bytes(8, "big") + canonical)
    return digest.hexdigest()


def build_policy_set(files: Iterable[PolicyFile]) -> PolicySet:
    """Lint parsed files and resolve them; raises PolicyLintError listing every problem."""
    files = tuple(files)
    problems = lint(files)
    if problems:
        raise PolicyLintError(problems)
    nodes = {p.name: (p, f.path) for f in files for p in f.policies}
    by_name = {name: node for name, (node, _) in nodes.items()}
    policies: dict[str, Policy] = {}
    by_country: dict[str, Policy] = {}
    for name, (node, path) in nodes.items():
        policy = Policy(
            name=name,
            title=node.title,
            countries=node.countries,
            rules=resolve_rules(node, by_name),
            chain=_chain(node, by_name),
            file=path,
            renewals=resolve_renewals(node, by_name),
        )
        policies[name] = policy
        for country in node.countries:
            by_country[country] = policy
    return PolicySet(
        files=files,
        policies=MappingProxyType(policies),
        by_country=MappingProxyType(by_country),
        content_hash=content_hash(files),
    )


def policy_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their *.policy files (sorted); keep files as given."""
    found: list[Path] = []
    for p in map(Path, paths):
        found.extend(sorted(p.glob("*.policy")) if p.is_dir() else [p])
    return found


def load_policy_set(paths: Iterable[str | Path]) -> PolicySet:
    """Read, parse, lint and compile policy files or directories of them."""
    files = [parse(read_utf8(p), str(p)) for p in policy_files(paths)]
    return build_policy_set(files)


def default_policy_dir() -> Path:
    """The shipped country packs."""
    return Path(__file__).parent / "countries"


def load_default_policy_set() -> PolicySet:
    """The policy set shipped with the engine (policies/countries)."""
    return load_policy_set([default_policy_dir()])


def purposes_used(policy_set: PolicySet) -> frozenset[str]:
    """Consent purposes any rule reads: the caller joins the latest consent of each."""
    return frozenset(
        p for policy in policy_set.policies.values() for p in rule_purposes(policy.rules)
    )


def check_paths(paths: Iterable[str | Path]) -> tuple[Diagnostic, ...]:
    """Every syntax and lint finding in these files or directories (`gdpr policy check`)."""
    found: list[Diagnostic] = []
    parsed: list[PolicyFile] = []
    for path in policy_files(paths):
        try:
            parsed.append(parse(read_utf8(path), str(path)))
        except PolicySyntaxError as err:
            found.append(err.diagnostic)
    return (*found, *lint(parsed))
