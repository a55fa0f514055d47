"""A record's version: a digest of all its columns, for changes made against what was read.

`candidate_version` changes whenever any column does (a sweep blanking fields, a block, an
update in the same microsecond as another), so a change made "if the record is still version V"
is refused once anything moved. It is a truncated SHA-256 over the whole row, including
random ids and microsecond instants, so it tells nothing usable about the personal data in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from retention.store import Candidate

__all__ = ["candidate_version"]


def candidate_version(fields: Mapping[str, Any]) -> str:
    """The version of a candidate row given as its columns (`candidate_dict`)."""
    data = {name: fields[name] for name in Candidate.model_fields}
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
