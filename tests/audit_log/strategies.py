"""Hypothesis strategies for the JSON values an event's details may hold.

Shared by the tests that pin an encoder to rfc8785's bytes (the canonical JSON module and the
batched append's sealing loop): both must hold for the same values. Integers stay within what
every JSON reader holds exactly (I-JSON), text never holds lone surrogates (not encodable).
"""

from __future__ import annotations

from hypothesis import strategies as st

SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
SCALAR = st.none() | st.booleans() | SAFE_INT | TEXT
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=12,
)
