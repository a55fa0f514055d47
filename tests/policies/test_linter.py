"""The linter: schema names, chain shape and located messages."""

from __future__ import annotations

from policies import default_policy_dir, lint, parse, policy_files


def _messages(*texts: str) -> list[str]:
    files = [parse(t, f"f{i}.policy") for i, t in enumerate(texts)]
    return [f"{d.file}:{d.line}:{d.column}: {d.message}" for d in lint(files)]


BASE = 'policy EU\n  countries AT\n  default keep cite "x"\n'


class TestLinter:
    def test_shipped_packs_are_clean(self):
        """The shipped country packs lint without findings."""
        files = [parse(p.read_text(), str(p)) for p in policy_files([default_policy_dir()])]
        assert lint(files) == ()

    def test_unknown_names(self):
        """Unknown statuses, anchors, purposes and countries are each reported where written."""
        text = (
            "policy NL\n  countries NL, XZ\n"
            "  rule r\n    when status in (rejectd) or consent(newsletter) given\n"
            '    keep 1 day after decidedat\n    then delete\n    cite "x"\n'
            '  default keep cite "x"\n'
        )
        assert _messages(text) == [
            "f0.policy:2:17: unknown country code XZ (not ISO 3166-1 alpha-2)",
            "f0.policy:4:21: unknown status rejectd"
            " (known: in_process, rejected, withdrawn, hired)",
            "f0.policy:4:33: unknown consent purpose newsletter "
            "(known: background_check, reference_check, talent_pool)",
            "f0.policy:5:22: unknown anchor decidedat "
            "(known: applied_at, decided_at, last_activity_at, consent(PURPOSE).FIELD)",
        ]

    def test_chain_problems(self):
        """Duplicate rules, missing cite, missing default and a shadowed rule are all reported."""
        text = (
            "policy NL\n  countries NL\n"
            "  rule a\n    when status in (rejected, withdrawn)\n    keep\n"
            '  rule b\n    when status in (rejected)\n    keep\n    cite "x"\n'
            '  rule a\n    when status in (hired)\n    keep\n    cite "x"\n'
        )
        assert _messages(text) == [
            'f0.policy:3:3: rule a has no cite "..." (its legal source)',
            "f0.policy:10:3: duplicate rule a (first defined on line 3)",
            "f0.policy:1:1: policy NL: its chain has no default rule",
            "f0.policy:6:3: policy NL: rule b can never match (rule a catches all its records)",
        ]

    def test_consent_shadowing_uses_states(self):
        """A rule covered by an earlier consent-state test is found unreachable."""
        text = (
            "policy NL\n  countries NL\n"
            '  rule a\n    when not consent(talent_pool) withdrawn\n    keep\n    cite "x"\n'
            '  rule b\n    when consent(talent_pool) expired\n    keep\n    cite "x"\n'
            '  default keep cite "x"\n'
        )
        assert _messages(text) == [
            "f0.policy:7:3: policy NL: rule b can never match (rule a catches all its records)"
        ]

    def test_countries_and_cycles(self):
        """A country claimed twice and an extends cycle are reported."""
        one = 'policy A extends B\n  countries NL\n  default keep cite "x"\n'
        two = 'policy B extends A\n  countries NL\n  default keep cite "x"\n'
        assert _messages(one, two) == [
            "f0.policy:1:18: extends cycle: A -> B -> A",
            "f1.policy:2:13: country NL is already claimed by policy A",
            "f1.policy:1:18: extends cycle: B -> A -> B",
        ]

    def test_rendering(self):
        """A diagnostic renders as file:line:col, the source line and a caret."""
        files = [parse(BASE.replace("AT", "QQ"), "eu.policy")]
        assert lint(files)[0].render() == (
            "eu.policy:2:13: unknown country code QQ (not ISO 3166-1 alpha-2)\n"
            "  countries QQ\n"
            "            ^"
        )
