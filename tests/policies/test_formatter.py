"""The formatter: canonical layout, idempotent, comments kept."""

from __future__ import annotations

import pytest

from policies import default_policy_dir, format_text

MESSY = """# heading comment
policy NL extends EU "Netherlands" countries NL   # trailing
# before the rule
rule r when (status in (rejected) or status in (withdrawn)) and not (consent(talent_pool) given)
keep until latest of (decided_at, 1 day after applied_at) then block then delete after 1 month
cite "x"
default keep
# last words
"""

CANONICAL = """# heading comment
policy NL extends EU "Netherlands"
  countries NL  # trailing

  # before the rule
  rule r
    when (status in (rejected) or status in (withdrawn)) and not consent(talent_pool) given
    keep until latest of (decided_at, 1 day after applied_at)
    then block
    then delete after 1 month
    cite "x"

  default
    keep forever
# last words
"""


class TestFormatter:
    def test_canonical_layout(self):
        """A messy file gets the one canonical layout with every comment kept."""
        assert format_text(MESSY) == CANONICAL

    def test_idempotent(self):
        """Formatting canonical text changes nothing."""
        assert format_text(CANONICAL) == CANONICAL

    @pytest.mark.parametrize(
        "path", sorted(default_policy_dir().glob("*.policy")), ids=lambda p: p.name
    )
    def test_shipped_packs_are_canonical(self, path):
        """Every shipped pack is already in canonical form (so fmt --check passes)."""
        text = path.read_text()
        assert format_text(text) == text
        assert format_text(format_text(text)) == format_text(text)
