"""Where a row sits in its table's storage, as a number to sort a work list by.

Work taken in storage order touches contiguous table pages: a batch of 5,000 subjects taken in
order of their random UUIDs touched nearly 5,000 different pages, each written again to the WAL
at commit, while the same batch in storage order writes a few hundred. On SQLite the number is
the rowid (the row's key in the table's B-tree); on PostgreSQL it is the row's rank by `ctid`
(block, offset) in the statement that reads it. Either is a hint for locality only: a row that
moves afterwards (an UPDATE on PostgreSQL writes a new version elsewhere) is still found by its
key, just not by a neighbouring page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["StoragePosition"]


class StoragePosition(ColumnElement[int]):
    """SQL: a number that grows with the row's place in `table`'s storage, distinct per row.

    Use it in a SELECT whose FROM holds `table` (not an alias of it).
    """

    inherit_cache = False
    type = BigInteger()

    def __init__(self, table: Table) -> None:
        self.table = table


@compiles(StoragePosition)
def _position_pg(element: StoragePosition, compiler: SQLCompiler, **kw: Any) -> str:
    # ctid itself is no number; its rank is, and ranks are distinct within the statement.
    table = compiler.preparer.format_table(element.table)
    return f"row_number() OVER (ORDER BY {table}.ctid)"


@compiles(StoragePosition, "sqlite")
def _position_sqlite(element: StoragePosition, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.preparer.format_table(element.table)}.rowid"
