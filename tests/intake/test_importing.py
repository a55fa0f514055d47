"""Importing ATS exports: messy input accepted, bad rows rejected safely, all-or-nothing."""

from __future__ import annotations

import csv
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from structlog.testing import capture_logs

from retention.errors import BadInput
from retention.intake import import_candidates
from retention.store import Candidate, Consent, transaction

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HEADER = (
    "external_ref,country,status,first_name,last_name,email,phone,city,"
    "applied_at,decided_at,last_activity_at,talent_pool_consent_given_at,"
    "talent_pool_consent_expires_at"
)
cand = Candidate.__table__
cons = Consent.__table__


def _write(tmp_path: Path, text: str, name: str = "export.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def _candidates(engine: Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.external_ref: r._asdict() for r in conn.execute(select(cand))}


def _count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class TestFileChecks:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (
                b"%PDF-1.7\x00\x01\x02binary",
                "is a binary file, not CSV or JSONL: export the candidates as CSV",
            ),
            (b"", "is empty: nothing to import"),
            (b"\n\n  \n", "is empty: nothing to import"),
            (
                b"external_ref,country\xff\xfe,status\n",
                "is not UTF-8 text: save the export as UTF-8 CSV or JSONL",
            ),
            (
                b"name,mail\nAna,ana@example.ro\n",
                "is not a candidates CSV: its header lacks external_ref, country, status "
                "(see 'gdpr import candidates --help' for the columns)",
            ),
            (
                b"{not json\n",
                "is neither CSV nor JSON lines: export the candidates as CSV or JSONL",
            ),
        ],
        ids=["binary", "empty", "blank", "latin1", "no-header", "broken-jsonl"],
    )
    def test_unusable_file_is_bad_input(
        self, engine: Engine, tmp_path: Path, content: bytes, message: str
    ) -> None:
        """A file that is not a UTF-8 candidates CSV/JSONL is refused in one line, nothing written."""
        path = tmp_path / "export.csv"
        path.write_bytes(content)
        with pytest.raises(BadInput) as info:
            import_candidates(engine, path, now=NOW)
        assert info.value.message == f"{path} {message}"
        assert _count(engine, cand) == 0
        assert not (tmp_path / "export.csv.rejects.csv").exists()

    def test_missing_file_is_bad_input(self, engine: Engine, tmp_path: Path) -> None:
        """A file that does not exist is named with the operating system's reason."""
        path = tmp_path / "nope.csv"
        with pytest.raises(BadInput) as info:
            import_candidates(engine, path, now=NOW)
        assert info.value.message == f"cannot read {path} (No such file or directory)"

    def test_invalid_utf8_late_in_file_changes_nothing(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A decoding error after many valid rows rolls back the rows already written."""
        good = "".join(f"r{i},DE,in_process\n" for i in range(6000))
        path = tmp_path / "export.csv"
        path.write_bytes(f"external_ref,country,status\n{good}".encode() + b"bad,\xff\xfe,x\n")
        with pytest.raises(BadInput, match="is not UTF-8 text throughout"):
            import_candidates(engine, path, now=NOW)
        assert _count(engine, cand) == 0


class TestMessyInput:
    def test_bom_semicolons_local_names_and_dotted_dates(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A BOM, ';' separators, local country names, DD.MM.YYYY and status spellings import."""
        path = _write(
            tmp_path,
            "External Ref;Country;Status;First Name;Last Name;Email;Phone;City;Applied At;Decided At\n"
            "A1;România;Not selected;Ștefan;Țărănescu;S.T@Example.RO;+40 721 000 111;Iași;"
            "01.02.2024;15.03.2024\n"
            "A2;Deutschland;in-process;Jürgen;Weiß;;;Köln;2026-11-01;\n"
            "A3;المملكة العربية السعودية;Hired;زيد;المهنا;;;;2025-01-05T09:30:00+03:00;2025-02-01\n"
            "A4;uk;WITHDRAWN;Ann;Lee;;;;2024-05-05 10:00:00;2024-06-01T12:00:00Z\n",
            bom=True,
        )
        report = import_candidates(engine, path, now=NOW)
        assert (report.inserted, report.rejected) == (4, 0)
        rows = _candidates(engine)
        assert rows["A1"]["country"] == "RO" and rows["A1"]["status"] == "rejected"
        assert rows["A1"]["first_name"] == "Ștefan"
        assert rows["A1"]["email"] == "S.T@example.ro"
        assert rows["A1"]["applied_at"] == datetime(2024, 2, 1, tzinfo=UTC)
        assert rows["A2"]["country"] == "DE" and rows["A2"]["status"] == "in_process"
        assert rows["A3"]["country"] == "SA" and rows["A3"]["status"] == "hired"
        assert rows["A3"]["applied_at"] == datetime(2025, 1, 5, 6, 30, tzinfo=UTC)
        assert rows["A4"]["country"] == "GB"
        assert rows["A4"]["decided_at"] == datetime(2024, 6, 1, 12, tzinfo=UTC)
        assert rows["A4"]["last_activity_at"] == datetime(2024, 6, 1, 12, tzinfo=UTC)

    def test_blank_lines_and_identical_duplicates(self, engine: Engine, tmp_path: Path) -> None:
        """Blank lines are skipped and an identical repeated row is imported once."""
        path = _write(
            tmp_path,
            "external_ref,country,status\n\nB1,NL,in_process\n  \nB1,NL,in_process\nB2,FR,open\n\n",
        )
        report = import_candidates(engine, path, now=NOW)
        assert (report.rows, report.inserted, report.duplicates, report.rejected) == (3, 2, 1, 0)

    def test_jsonl_export(self, engine: Engine, tmp_path: Path) -> None:
        """JSON lines import like CSV rows; a broken line is rejected with its line number."""
        lines = [
            json.dumps(
                {
                    "external_ref": "J1",
                    "country": "IT",
                    "status": "rejected",
                    "decided_at": "2025-01-01",
                    "first_name": "Niccolò",
                }
            ),
            "",
            "{broken",
            json.dumps(["not", "an", "object"]),
        ]
        path = _write(tmp_path, "\n".join(lines) + "\n", name="export.jsonl")
        report = import_candidates(engine, path, now=NOW)
        assert (report.format, report.inserted, report.rejected) == ("jsonl", 1, 2)
        reasons = [(r["line"], r["reason"]) for r in _rejects(Path(report.rejects_file))]
        assert reasons == [("3", "line is not valid JSON"), ("4", "line is not a JSON object")]

    def test_jsonl_wrong_types_and_controls_are_rejected(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """Objects, arrays, booleans and control characters are refused, not stored as text;
        a number (an unquoted reference) is text."""
        base = {"country": "IT", "status": "in_process"}
        lines = [
            json.dumps({**base, "external_ref": "T1", "first_name": {"x": 1}}),
            json.dumps({**base, "external_ref": "T2", "country": ["NL"]}),
            json.dumps({**base, "external_ref": "T3", "last_name": "Ro\u0000ssi"}),
            json.dumps({**base, "external_ref": "T4", "city": True}),
            json.dumps({**base, "external_ref": 12345}),
        ]
        path = _write(tmp_path, "\n".join(lines) + "\n", name="export.jsonl")
        report = import_candidates(engine, path, now=NOW)
        reasons = [(r["line"], r["reason"]) for r in _rejects(Path(report.rejects_file))]
        assert reasons == [
            ("1", "first_name is a JSON object, not text"),
            ("2", "country is a JSON array, not text"),
            ("3", "last_name holds control characters"),
            ("4", "city is a JSON boolean, not text"),
        ]
        assert sorted(_candidates(engine)) == ["12345"]

    def test_a_field_over_the_csv_limit_names_the_limit(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A 10 MB unquoted field is reported as too large, not as unbalanced quotes."""
        path = _write(tmp_path, "external_ref,country,status,city\nR1,DE,in_process," + "x" * 10**7)
        with pytest.raises(BadInput) as info:
            import_candidates(engine, path, now=NOW)
        assert info.value.message == (
            f"{path} line 2: a field exceeds 131072 bytes; nothing was imported"
        )
        assert _count(engine, cand) == 0

    def test_phone_plus_is_kept_and_formulas_are_refused(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """'+' starts a phone number legitimately; '=', '@', '-' and '+' elsewhere are refused."""
        path = _write(
            tmp_path,
            "external_ref,country,status,first_name,phone,city\n"
            "F1,PL,in_process,Ola,+48 500 100 200,Kraków\n"
            "F2,PL,in_process,Ola,'+48 500 100 201,Kraków\n"
            'F3,PL,in_process,"=HYPERLINK(""http://x"")",,\n'
            "F4,PL,in_process,Ola,,@SUM(A1)\n"
            "F5,PL,in_process,-2+3,,\n"
            "F6,PL,in_process,+cmd,,\n"
            "F7,PL,in_process,Ola,=1+1,\n",
        )
        report = import_candidates(engine, path, now=NOW)
        assert report.inserted == 2
        assert _candidates(engine)["F2"]["phone"] == "+48 500 100 201"
        reasons = [(r["line"], r["reason"]) for r in _rejects(Path(report.rejects_file))]
        assert reasons == [
            ("4", "first_name looks like a spreadsheet formula"),
            ("5", "city looks like a spreadsheet formula"),
            ("6", "first_name looks like a spreadsheet formula"),
            ("7", "first_name looks like a spreadsheet formula"),
            ("8", "phone looks like a spreadsheet formula"),
        ]


class TestRejects:
    def test_rejects_file_lines_and_reasons(self, engine: Engine, tmp_path: Path) -> None:
        """Each invalid row is in the rejects file with its line number and a value-free reason."""
        path = _write(
            tmp_path,
            f"{HEADER}\n"
            "R1,DE,rejected,Anna,Schmidt,anna.schmidt@,,,2024-01-01,2024-02-01,,,\n"
            "R2,Atlantis,rejected,Anna,Schmidt,,,,2024-01-01,2024-02-01,,,\n"
            "R3,DE,maybe,Anna,Schmidt,,,,,,,,\n"
            "R4,DE,rejected,Anna,Schmidt,,,,2024-01-01,,,,\n"
            "R5,DE,in_process,Anna,Schmidt,,12,,,,,,\n"
            "R6,DE,in_process,Anna,Schmidt,,,,31/12/2024,,,,\n"
            "R7,DE,in_process,Anna,Schmidt,,,,2030-01-01,,,,\n"
            "R8,DE,rejected,Anna,Schmidt,,,,2024-03-01,2024-02-01,,,\n"
            ",DE,in_process,Anna,Schmidt,,,,,,,,\n"
            "R9,DE,in_process,Anna,Schmidt,,,,,,,,2027-01-01\n"
            "R10,DE,in_process,Anna,Schmidt,,,,,,,,,extra\n"
            "R1,DE,in_process,Anna,Schmidt,,,,,,,,\n"
            "OK,DE,in_process,Anna,Schmidt,,,,,,,,\n",
        )
        report = import_candidates(engine, path, now=NOW)
        assert report.rejects_file == str(tmp_path / "export.csv.rejects.csv")
        rejected = _rejects(Path(report.rejects_file))
        assert [(r["line"], r["reason"]) for r in rejected] == [
            ("2", "email is not a valid address"),
            ("3", "country is not a supported country code or name"),
            ("4", "status is not one of in_process, rejected, withdrawn, hired"),
            ("5", "decided_at is required when status is rejected"),
            ("6", "phone is not a valid phone number"),
            ("7", "applied_at is not a date (use YYYY-MM-DD, DD.MM.YYYY or an ISO 8601 instant)"),
            ("8", "applied_at is in the future"),
            ("9", "decided_at is before applied_at"),
            ("10", "external_ref is missing"),
            ("11", "talent_pool_consent_expires_at needs talent_pool_consent_given_at"),
            ("12", "row has 14 fields, the header has 13"),
        ]
        # R1 was rejected, so its later, different row is the first valid one and imports.
        assert sorted(_candidates(engine)) == ["OK", "R1"]
        assert rejected[0]["email"] == "anna.schmidt@"
        mode = Path(report.rejects_file).stat().st_mode
        assert not mode & (stat.S_IRWXG | stat.S_IRWXO)

    def test_conflicting_repeat_is_rejected(self, engine: Engine, tmp_path: Path) -> None:
        """A second row for one external_ref with other values is rejected, naming the first line."""
        path = _write(
            tmp_path,
            "external_ref,country,status,city\nD1,NL,in_process,Delft\nD1,NL,in_process,Breda\n",
        )
        rejects = tmp_path / "out" / "rej.csv"
        rejects.parent.mkdir()
        report = import_candidates(engine, path, rejects_path=rejects, now=NOW)
        assert [(r["line"], r["reason"]) for r in _rejects(rejects)] == [
            ("3", "external_ref repeats line 2 with different values")
        ]
        assert report.rejects_file == str(rejects)

    def test_rejects_onto_the_input_is_refused(self, engine: Engine, tmp_path: Path) -> None:
        """--rejects naming the input (as given, via a symlink or a hard link) is refused, and
        the input is left as it was."""
        text = f"{HEADER}\nR1,DE,rejected,Anna,Schmidt,anna.schmidt@,,,2024-01-01,2024-02-01,,,\n"
        path = _write(tmp_path, text)
        (tmp_path / "link.csv").symlink_to(path)
        os.link(path, tmp_path / "hard.csv")
        for rejects in (
            path,
            tmp_path / "link.csv",
            tmp_path / "hard.csv",
            tmp_path / "." / path.name,
        ):
            with pytest.raises(BadInput) as info:
                import_candidates(engine, path, rejects_path=rejects, now=NOW)
            assert info.value.message == (
                f"{rejects} is the file being imported: pass another --rejects"
            )
        assert path.read_text() == text
        assert _count(engine, cand) == 0

    def test_an_existing_rejects_file_is_not_replaced(self, engine: Engine, tmp_path: Path) -> None:
        """An existing --rejects file, or the default one, is refused before anything is done."""
        path = _write(tmp_path, f"{HEADER}\nOK,DE,in_process,Anna,Schmidt,,,,,,,,\n")
        kept = tmp_path / "kept.csv"
        kept.write_text("keep")
        default = tmp_path / "export.csv.rejects.csv"
        default.write_text("keep")
        for rejects, given in ((kept, kept), (default, None)):
            with pytest.raises(BadInput) as info:
                import_candidates(engine, path, rejects_path=given, now=NOW)
            assert info.value.message == (
                f"{rejects} already exists: remove it or pass another --rejects"
            )
            assert rejects.read_text() == "keep"
        assert _count(engine, cand) == 0

    def test_no_personal_data_in_reasons_or_logs(self, engine: Engine, tmp_path: Path) -> None:
        """Neither the reasons nor the logs contain any value from the rows."""
        values = ["Zoltan-Unique", "Personalson", "zoltan@@mail", "+40 (bad) phone", "Secretville"]
        path = _write(
            tmp_path,
            f"{HEADER}\n"
            f"P1,RO,in_process,{values[0]},{values[1]},{values[2]},,,,,,,\n"
            f"P2,RO,in_process,{values[0]},{values[1]},,{values[3]},{values[4]},,,,,\n"
            f"P3,RO,in_process,{values[0]},{values[1]},,,{values[4]},,,,,\n",
        )
        with capture_logs() as logs:
            report = import_candidates(engine, path, now=NOW)
        text = json.dumps(logs, default=str) + "".join(
            r["reason"] for r in _rejects(Path(report.rejects_file))
        )
        assert report.rejected == 2
        assert not [v for v in values if v in text]


class TestUpsert:
    def test_reimport_updates_by_external_ref(self, engine: Engine, tmp_path: Path) -> None:
        """A second import of the same external_ref updates the row and keeps its id."""
        first = _write(tmp_path, "external_ref,country,status,city\nU1,ES,in_process,Madrid\n")
        import_candidates(engine, first, now=NOW)
        before = _candidates(engine)["U1"]
        second = _write(
            tmp_path,
            "external_ref,country,status,city,decided_at\nU1,ES,hired,Sevilla,2026-10-01\n",
            name="second.csv",
        )
        report = import_candidates(engine, second, now=NOW)
        after = _candidates(engine)["U1"]
        assert (report.inserted, report.updated) == (0, 1)
        assert after["id"] == before["id"]
        assert (after["status"], after["city"]) == ("hired", "Sevilla")

    def test_reimporting_the_same_file_updates_nothing(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """The same rows again are neither inserted nor updated, and keep their updated_at."""
        path = _write(
            tmp_path,
            f"{HEADER}\n"
            "S1,DE,rejected,Anna,Schmidt,anna@example.de,+49 30 1234567,Berlin,"
            "2024-01-01,2024-02-01,,2024-01-05,2026-01-05\n"
            "S2,NL,in_process,Jan,Jansen,,,,2026-10-01,,,,\n",
        )
        import_candidates(engine, path, now=NOW)
        before = _candidates(engine)
        report = import_candidates(engine, path, now=NOW + timedelta(hours=1))
        assert (report.inserted, report.updated, report.consents_added) == (0, 0, 0)
        assert _candidates(engine) == before

    def test_consent_columns_add_then_update_consent(self, engine: Engine, tmp_path: Path) -> None:
        """Consent columns add a talent-pool consent; the same given_at updates its expiry."""
        cols = "external_ref,country,status,talent_pool_consent_given_at,talent_pool_consent_expires_at"
        import_candidates(
            engine, _write(tmp_path, f"{cols}\nC1,FR,in_process,2025-01-01,2027-01-01\n"), now=NOW
        )
        report = import_candidates(
            engine,
            _write(tmp_path, f"{cols}\nC1,FR,in_process,01.01.2025,2026-06-01\n", "b.csv"),
            now=NOW,
        )
        assert (report.consents_added, report.consents_updated) == (0, 1)
        report = import_candidates(
            engine,
            _write(tmp_path, f"{cols}\nC1,FR,in_process,2026-01-01,2028-01-01\n", "c.csv"),
            now=NOW,
        )
        assert report.consents_added == 1
        with engine.connect() as conn:
            rows = conn.execute(
                select(cons.c.purpose, cons.c.given_at, cons.c.expires_at).order_by(cons.c.given_at)
            ).all()
        assert rows == [
            ("talent_pool", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
            ("talent_pool", datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)),
        ]

    def test_anonymized_candidate_is_not_reimported(self, engine: Engine, tmp_path: Path) -> None:
        """A row for an anonymized candidate is rejected: erased data does not come back."""
        import_candidates(
            engine, _write(tmp_path, "external_ref,country,status\nX1,IE,in_process\n"), now=NOW
        )
        with transaction(engine) as conn:
            conn.execute(update(cand).values(anonymized_at=NOW, first_name=None))
        report = import_candidates(
            engine,
            _write(
                tmp_path,
                "external_ref,country,status,first_name\nX1,IE,in_process,Aoife\n",
                "b.csv",
            ),
            now=NOW,
        )
        cid = _candidates(engine)["X1"]["id"]
        assert [r["reason"] for r in _rejects(Path(report.rejects_file))] == [
            f"candidate {cid} is anonymized: it is not re-imported"
        ]
        assert _candidates(engine)["X1"]["first_name"] is None


class TestAtomicity:
    def test_interrupt_midway_leaves_database_unchanged(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """Ctrl-C after a batch was written rolls the whole import back and writes no rejects."""
        import_candidates(
            engine, _write(tmp_path, "external_ref,country,status\nK0,DE,in_process\n"), now=NOW
        )
        before = _candidates(engine)
        rows = "".join(f"K{i},DE,in_process\n" for i in range(1, 12_000))
        path = _write(
            tmp_path, f"external_ref,country,status\nK0,DE,hired\n{rows}bad,XX,x\n", "big.csv"
        )

        def interrupt(done: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            import_candidates(engine, path, now=NOW, on_batch=interrupt)
        assert _candidates(engine) == before
        assert not (tmp_path / "big.csv.rejects.csv").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
