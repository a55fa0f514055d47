"""Detection of values that look like personal data, so a caller cannot leak them into the log.

The audit log refers to data subjects by UUID only. A free-text detail or reason holding an e-mail
address or a phone number is almost always a mistake, and once written to an append-only log it can
never be erased; so such values are refused before anything is hashed. The check is deliberately
simple and errs on the side of refusing; it never reports the value it found.
"""

from __future__ import annotations

import re
from enum import StrEnum

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# International form (+ country code) or a national number starting with 0, 9 to 15 digits, with the
# usual separators; digits glued to letters (hashes, ids) do not count.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9](?:[ ./()-]{0,2}\d){6,14}(?!\w)"
    r"|(?<![\w+])\(?0\d(?:[ ./()-]{0,2}\d){7,13}(?!\w)"
)
# UUIDs and ISO-8601 instants are legitimate in details and may contain long digit runs.
_BENIGN = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


# Cheap pre-filter: nine digits within a short stretch of phone-like characters.
_PHONE_HINT = re.compile(r"\d(?:[ ./()-]{0,2}\d){8}")


class PersonalDataKind(StrEnum):
    """What a refused value looked like."""

    EMAIL = "an e-mail address"
    PHONE = "a phone number"


# Values already found clean. A sweep appends thousands of entries whose details repeat the same
# few strings (rule, cite, policy hash, run id); remembering them skips the regexes. Only clean
# values are kept, so no refused (personal) value stays in memory, and the set is bounded.
_CLEAN: set[str] = set()
_CLEAN_MAX = 4096
_CLEAN_MAX_LEN = 512


def looks_personal(text: str) -> PersonalDataKind | None:
    """Return what `text` looks like if it seems to hold an e-mail address or phone number."""
    if text in _CLEAN:
        return None
    kind = _classify(text)
    if kind is None and len(text) <= _CLEAN_MAX_LEN:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN.add(text)
    return kind


def _classify(text: str) -> PersonalDataKind | None:
    if "@" in text and _EMAIL.search(text):
        return PersonalDataKind.EMAIL
    if _PHONE_HINT.search(text) and _PHONE.search(_BENIGN.sub(" ", text)):
        return PersonalDataKind.PHONE
    return None
