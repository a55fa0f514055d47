"""Evidence packs: tests of one module each, on packs of a seeded installation.

`tests/evidence_support.py` seeds an installation (subjects, consents, holds, a month of audit
entries with signed and witnessed checkpoints) and exports it; the fixtures here give a test module
one such pack (`pristine`, exported once per module) and each test a private copy to edit (`pack`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_log import Signer
from retention.testing import DatabaseFactory
from tests.evidence_support import build_pristine, copy_pack


@pytest.fixture(scope="module")
def pristine(
    db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Signer]:
    """One exported pack for the whole module (tests edit copies of it), and its signer."""
    return build_pristine(db_factory, tmp_path_factory.mktemp("evidence"))


@pytest.fixture
def pack(pristine: tuple[Path, Signer], tmp_path: Path) -> Path:
    """A private copy of the pristine pack."""
    return copy_pack(pristine[0], tmp_path)


@pytest.fixture
def signer(pristine: tuple[Path, Signer]) -> Signer:
    """The key that signed the pristine pack (what an insider could re-sign with)."""
    return pristine[1]
