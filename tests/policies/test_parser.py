"""The parser: the syntax tree it builds and the exact errors a DPO sees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import PolicySyntaxError, default_policy_dir, parse
from policies.nodes import And, ConsentIs, Extremum, Not, StatusIn

SAMPLE = """policy NL extends EU "Netherlands"
  countries NL
  rule closed-application
    when status in (rejected, withdrawn) and not consent(talent_pool) given
    keep until earliest of (consent(talent_pool).expires_at, 4 weeks after decided_at)
    then block
    then delete after 1 year
    cite "AP"
  default
    keep forever
    cite "x"
"""


def _error(text: str) -> str:
    with pytest.raises(PolicySyntaxError) as caught:
        parse(text, "t.policy")
    return str(caught.value)


class TestTree:
    def test_nodes_keep_positions(self):
        """Every node carries the line and column it was written at."""
        policy = parse(SAMPLE).policies[0]
        rule = policy.rules[0]
        assert (policy.name, policy.extends, policy.countries) == ("NL", "EU", ("NL",))
        assert (rule.pos.line, rule.pos.column) == (3, 3)
        assert isinstance(rule.condition, And)
        assert isinstance(rule.condition.operands[0], StatusIn)
        assert isinstance(rule.condition.operands[1], Not)
        assert isinstance(rule.condition.operands[1].operand, ConsentIs)
        assert isinstance(rule.span, Extremum) and rule.span.pos.line == 5
        assert [s.action for s in rule.stages] == ["block", "delete"]
        assert rule.stages[1].after.text() == "1 year"

    def test_default_and_forever(self):
        """`default` is a catch-all rule; bare `keep forever` has no stages."""
        rule = parse(SAMPLE).policies[0].rules[1]
        assert rule.is_default and rule.condition is None and rule.span is None
        assert rule.stages == ()

    def test_comments_are_collected(self):
        """Comments are kept with their positions for the formatter."""
        parsed = parse("# head\npolicy X  # tail\n")
        assert [(c.text, c.pos.line) for c in parsed.comments] == [("# head", 1), ("# tail", 2)]

    @pytest.mark.parametrize(
        "path", sorted(default_policy_dir().glob("*.policy")), ids=lambda p: p.name
    )
    def test_shipped_packs_parse(self, path):
        """Every shipped country pack parses."""
        assert parse(path.read_text(), str(path)).policies


class TestErrors:
    def test_unquoted_cite(self):
        """An unquoted citation says a quoted string was expected and how to write one."""
        assert _error("policy NL\n  default keep cite GDPR\n") == (
            "t.policy:2:21: expected a quoted string (\"...\"), found 'GDPR': "
            'a citation is a quoted string, e.g. cite "GDPR Art. 17"\n'
            "  default keep cite GDPR\n"
            "                    ^"
        )

    def test_status_equals(self):
        """`status = x` is explained as `status in (...)`."""
        assert _error("policy NL\n rule r when status = x\n").splitlines()[0] == (
            "t.policy:2:21: expected \"in\", found '=': "
            "a status test is written status in (rejected, withdrawn)"
        )

    def test_missing_action(self):
        """A retention without a stage asks for one."""
        assert _error(
            'policy NL\n default keep 6 months after decided_at\n cite "x"\n'
        ).splitlines()[0] == (
            "t.policy:3:2: expected \"then\", found 'cite': "
            "a retention needs an action: add a stage such as then delete"
        )

    def test_missing_after(self):
        """A duration without `after` names the missing keyword."""
        assert _error("policy NL default keep 6 months decided_at").splitlines()[0] == (
            "t.policy:1:33: expected \"after\", found 'decided_at'"
        )

    def test_end_of_file(self):
        """An unfinished file points just past its last character."""
        assert _error("policy NL rule r when (status in (a)").splitlines()[0] == (
            't.policy:1:37: expected ")", "and" or "or", found end of file'
        )

    def test_lower_case_country(self):
        """A lower-case country code is explained."""
        assert _error("policy NL countries nl").splitlines()[0] == (
            "t.policy:1:21: expected a country code (e.g. NL), found 'nl': "
            "country codes are upper-case ISO 3166-1 alpha-2 codes, e.g. NL"
        )

    def test_bad_character(self):
        """A stray character is shown with the expected tokens, never a lark terminal id."""
        message = _error('policy NL default keep; cite "x"')
        assert message.splitlines()[0].startswith("t.policy:1:23: expected ")
        assert "__ANON" not in message and "found ';'" in message


_WORDS = [
    *SAMPLE.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split(),
    "=",
    ";",
    '"',
    "#",
    "\n",
    "0",
    "99999999",
    "Ü",
    "..",
    "",
]


class TestRobustness:
    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(_WORDS), max_size=40))
    def test_random_token_soup(self, words):
        """Any sequence of policy words either parses or raises a located PolicySyntaxError."""
        _parses_or_located(" ".join(words))

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, len(SAMPLE)), st.integers(0, 8), st.text(max_size=6))
    def test_mutated_sample(self, at, cut, insert):
        """A valid policy with a span cut out and text inserted never raises anything else."""
        _parses_or_located(SAMPLE[:at] + insert + SAMPLE[at + cut :])


def _parses_or_located(text: str) -> None:
    try:
        parse(text, "fuzz.policy")
    except PolicySyntaxError as err:
        assert err.line >= 1 and err.column >= 1
        assert str(err).startswith(f"fuzz.policy:{err.line}:{err.column}: expected ")
        assert "__ANON" not in str(err)
