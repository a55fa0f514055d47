"""Reading candidate exports: format detection, decoding, CSV dialects and JSON lines.

A file is checked before anything is written: binary content, a non-UTF-8 encoding, an empty file
or a CSV without the required header are bad input (one line, nothing changed). Then rows come
out as (line number, mapping of normalized column names to raw text) or a per-row rejection, with
physical line numbers (a quoted field spanning lines counts its lines; blank lines are skipped but
counted) so the rejects file points at the line a person sees in an editor.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from retention.errors import BadInput
from retention.intake.rows import COLUMNS, REQUIRED_COLUMNS, RowRejected, normalize_column

__all__ = ["RawRow", "detect_format", "open_text", "read_rows"]

_SNIFF_BYTES = 64 * 1024

RawRow = Mapping[str, str | None]


def detect_format(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory: give a CSV or JSONL file") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path} ({exc.strerror})") from None
    if b"\x00" in head:
        raise BadInput(f"{path} is a binary file, not CSV or JSONL: export the candidates as CSV")
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text: save the export as UTF-8 CSV or JSONL") from None
    stripped = text.lstrip()
    if not stripped:
        raise BadInput(f"{path} is empty: nothing to import")
    if path.suffix.lower() in (".jsonl", ".ndjson") or stripped.startswith("{"):
        return "jsonl"
    return "csv"


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[io.TextIOBase]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield fh
    except UnicodeDecodeError:
        raise BadInput(
            f"{path} is not UTF-8 text throughout: save the export as UTF-8; nothing was imported"
        ) from None


def read_rows(
    text: io.TextIOBase, fmt: str, path: Path
) -> tuple[Iterator[tuple[int, RawRow | RowRejected]], list[str]]:
    if fmt == "jsonl":
        return _jsonl_rows(text, path), []
    return _csv_rows(text, path)


def _csv_rows(
    text: io.TextIOBase, path: Path
) -> tuple[Iterator[tuple[int, RawRow | RowRejected]], list[str]]:
    header_line = ""
    skipped = 0
    while not header_line.strip():
        header_line = text.readline()
        skipped += 1
        if not header_line:
            raise BadInput(f"{path} is empty: nothing to import")
    delimiter = max(",;\t", key=header_line.count)
    header = [
        normalize_column(name) for name in next(csv.reader([header_line], delimiter=delimiter))
    ]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadInput(
            f"{path} is not a candidates CSV: its header lacks {', '.join(missing)} "
            "(see 'gdpr import candidates --help' for the columns)"
        )
    ignored = [name for name in header if name not in COLUMNS]
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, RawRow | RowRejected]]:
        previous_end = skipped
        try:
            for fields in reader:
                line = previous_end + 1
                previous_end = skipped + reader.line_num
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) > len(header):
                    yield (
                        line,
                        RowRejected(f"row has {len(fields)} fields, the header has {len(header)}"),
                    )
                    continue
                yield line, dict(zip(header, fields, strict=False))
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise BadInput(
                    f"{path} line {previous_end + 1}: a field exceeds "
                    f"{csv.field_size_limit()} bytes; nothing was imported"
                ) from None
            raise BadInput(
                f"{path} line {previous_end + 1}: malformed CSV (unbalanced quotes?); "
                "nothing was imported"
            ) from None

    return rows(), ignored


def _jsonl_rows(text: io.TextIOBase, path: Path) -> Iterator[tuple[int, RawRow | RowRejected]]:
    first = True
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if first:
                raise BadInput(
                    f"{path} is neither CSV nor JSON lines: export the candidates as CSV or JSONL"
                ) from None
            yield number, RowRejected("line is not valid JSON")
            continue
        first = False
        if not isinstance(obj, dict):
            yield number, RowRejected("line is not a JSON object")
            continue
        row = {normalize_column(str(k)): v for k, v in obj.items()}
        wrong = next((k for k, v in row.items() if k in COLUMNS and not _is_scalar(v)), None)
        if wrong is not None:
            yield number, RowRejected(f"{wrong} is a JSON {_json_type(row[wrong])}, not text")
            continue
        yield number, {k: (None if v is None else str(v)) for k, v in row.items()}


def _is_scalar(value: object) -> bool:
    # Text, or a number an ATS wrote unquoted (a reference, a phone); true/false, objects and
    # arrays are no field's value, and str() of them would store "{'x': 1}" or "['NL']".
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "object" if isinstance(value, dict) else "array"
