"""Files written for the rows of a transaction enter the document store only after it commits.

A document written straight into `documents/` while its rows are still uncommitted outlives a
rollback, a Ctrl-C in the middle of a batch or a `kill -9`: personal data on disk that no row
points at and no sweep will ever remove. So such files go to a staging folder
`documents/.staging-<uuid>/`, held under an exclusive `flock` by the writing process; after the
commit they are renamed into place (one file system, so each rename is atomic) and the folder is
removed; on any failure the folder is removed. A process that died leaves its folder unlocked:
`recover_staged`, run at the start of the next seed and sweep, moves in the files whose document
row exists (the commit happened, the renames did not) and deletes the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from retention.store.engine import table_of
from retention.store.id_sets import among
from retention.store.subject_tables import Document

__all__ = ["StagedFiles", "recover_staged", "staged_files"]

_PREFIX = ".staging-"
_LOCK = ".lock"
_documents = table_of(Document)


class StagedFiles:
    """A staging folder of one unit of work; `write` there, `publish` after the commit."""

    def __init__(self, documents_dir: Path) -> None:
        self.documents_dir = documents_dir
        self.folder = documents_dir / f"{_PREFIX}{uuid.uuid4().hex}"
        self.names: list[str] = []
        documents_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.mkdir(mode=0o700)
        self._lock = os.open(self.folder / _LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def write(self, name: str, content: bytes) -> None:
        """Stage one document file (mode 0600, never over an existing one)."""
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.names.append(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)

    def publish(self) -> None:
        """Move every staged file into the document store (call after the commit)."""
        for name in self.names:
            os.replace(self.folder / name, self.documents_dir / name)
        self.names.clear()
        self._close()

    def discard(self) -> None:
        """Remove the staged files (the rows were rolled back)."""
        self._close()

    def _close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock)


@contextlib.contextmanager
def staged_files(documents_dir: Path) -> Iterator[StagedFiles]:
    """Stage files for a transaction opened inside this block; publish them when it exits.

    Open the transaction inside: `with staged_files(d) as staged, transaction(engine) as conn:`
    commits before the files move, and any failure (Ctrl-C included) removes them.
    """
    staged = StagedFiles(documents_dir)
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise
    staged.publish()


def recover_staged(engine: Engine, documents_dir: Path) -> int:
    """Finish the staging folders of processes that died; returns how many files were deleted."""
    if not documents_dir.is_dir():
        return 0
    deleted = 0
    for folder in documents_dir.glob(f"{_PREFIX}*"):
        try:
            lock = os.open(folder / _LOCK, os.O_RDONLY)
        except FileNotFoundError:
            lock = None  # died before locking, or finishing: nothing holds it
        try:
            if lock is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process is still writing
            deleted += _finish(engine, folder, documents_dir)
        finally:
            if lock is not None:
                os.close(lock)
    return deleted


def _finish(engine: Engine, folder: Path, documents_dir: Path) -> int:
    names = [p.name for p in folder.iterdir() if p.name != _LOCK]
    ids = {}
    for name in names:
        with contextlib.suppress(ValueError):
            ids[uuid.UUID(name)] = name
    committed: set[uuid.UUID] = set()
    if ids:
        with engine.connect() as conn:
            q = select(_documents.c.id).where(among(conn, _documents.c.id, list(ids)))
            committed = set(conn.execute(q).scalars())
    deleted = 0
    for document_id, name in ids.items():
        if document_id in committed:
            os.replace(folder / name, documents_dir / name)
    for path in folder.iterdir():
        if path.name != _LOCK:
            path.unlink(missing_ok=True)
            deleted += 1
    shutil.rmtree(folder, ignore_errors=True)
    return deleted
