"""The one check of a candidate's contact fields, for every path that writes one.

`candidate update` and the ATS import (CSV and JSON lines) store the same columns, so they refuse
the same values: text is NFC-normalized and its runs of spaces collapsed; control characters
(a NUL in a name, a line break or tab inside a field), spreadsheet formulas (a value starting with `=`, `@`, `-`, or `+` except a
phone number) and values over the column's length are refused; an e-mail address must have one
`@`, a local part and a dotted domain, and no whitespace; a phone number holds 6 to 15 digits.
A leading apostrophe before a formula character (a spreadsheet's escape for literal text) is
removed first. Messages name the field and the rule, never the value: it is personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from retention.errors import BadInput

__all__ = ["CONTACT_FIELDS", "FieldRejected", "check_contact", "clean_text"]

CONTACT_FIELDS: Mapping[str, int] = {
    "first_name": 200,
    "last_name": 200,
    "email": 320,
    "phone": 64,
    "city": 200,
}

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[0-9 ()./-]{6,40}")


class FieldRejected(BadInput):
    """A field value that may not be stored; the message names the field, never the value."""


def clean_text(field: str, value: object, *, label: str | None = None) -> str | None:
    """Normalized text of `value`, None when empty; refuse controls and formulas."""
    if value is None:
        return None
    label = label or field
    text = unicodedata.normalize("NFC", str(value)).strip()
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise FieldRejected(f"{label} holds control characters")
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]
    if not text:
        return None
    if text[0] in "=@-" or (text[0] == "+" and field != "phone"):
        raise FieldRejected(f"{label} looks like a spreadsheet formula")
    return " ".join(text.split())


def check_contact(field: str, value: object, *, label: str | None = None) -> str | None:
    """The value to store in contact field `field` (None clears it), or FieldRejected."""
    label = label or field
    if field not in CONTACT_FIELDS:
        raise FieldRejected(f"'{field}' is not a contact field ({', '.join(CONTACT_FIELDS)})")
    text = clean_text(field, value, label=label)
    if text is None:
        return None
    if len(text) > CONTACT_FIELDS[field]:
        raise FieldRejected(f"{label} is longer than {CONTACT_FIELDS[field]} characters")
    if field == "email":
        if not _EMAIL.fullmatch(text):
            raise FieldRejected(f"{label} is not a valid address")
        local, domain = text.rsplit("@", 1)
        return f"{local}@{domain.lower()}"
    if field == "phone" and not (
        _PHONE.fullmatch(text) and 6 <= sum(c.isdigit() for c in text) <= 15
    ):
        raise FieldRejected(f"{label} is not a valid phone number")
    return text
