"""After an erasure commits on SQLite, rewrite the database file and empty its WAL.

`secure_delete=ON` zeroes the cell of a deleted row, but not the copies SQLite's B-tree leaves
behind on its own: when a page splits (bulk load) or siblings are rebalanced (a sweep deleting
and shrinking rows), the page is rebuilt from its cells and the gap between the cell pointers and
the cell content keeps the old bytes of the cells that moved away. Those rows are later erased
from their new page; their old copy stays readable in the free space of a live page. The WAL
adds more: every frame is a whole page image from before the change, kept until the WAL is
reset. So an erasure (a sweep that anonymized or deleted, `candidate erase`, a review decision)
ends with `VACUUM`, which rebuilds every page from the live rows only, and a truncating
checkpoint, which folds the WAL into the file and cuts it to zero bytes. PostgreSQL keeps dead
tuples until its own VACUUM; nothing is done there.
"""

from __future__ import annotations

from sqlalchemy import Engine

from retention.logs import get_logger
from retention.store.engine import is_sqlite

__all__ = ["scrub_erased"]

log = get_logger(__name__)


def scrub_erased(engine: Engine) -> bool:
    """Leave no copy of erased rows in the SQLite file or WAL; False when a reader kept the WAL.

    Call it after the erasing transaction committed, outside any transaction. It takes the
    write lock for as long as VACUUM runs (about 20 s per GB).
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return True
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        # The driver connection is in autocommit (engine.py): VACUUM cannot run in a transaction.
        driver.execute("VACUUM")
        busy = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    if busy:
        # Another connection reads an older snapshot; the next erasure or checkpoint retries.
        log.warning("store.wal_not_truncated")
        return False
    return True
