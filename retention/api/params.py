"""Request parameters shared by routers: the stated reason of an access, as a header.

A reason is a case reference ("DSR-2026-0142"), required by some operations (erasure, a DPO's
read of a blocked subject). It travels in the `GDPR-Reason` header rather than the URL, because
proxies log URLs; the engine refuses one that looks like personal data, as on the CLI.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

__all__ = ["REASON_HEADER", "ReasonHeader"]

REASON_HEADER = "GDPR-Reason"

ReasonHeader = Annotated[
    str | None,
    Header(
        alias=REASON_HEADER,
        max_length=1000,
        description="Why (a case reference, never personal data); the CLI's --reason.",
    ),
]
