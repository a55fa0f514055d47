"""Records coming in: reading ATS export files (CSV, JSON lines), checking each row, and upserting
the valid ones by external reference in one audited transaction.
"""

from __future__ import annotations

from retention.intake.importing import ImportReport, import_candidates
from retention.intake.rows import COLUMNS

__all__ = ["COLUMNS", "ImportReport", "import_candidates"]
