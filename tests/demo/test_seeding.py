"""Demo seeding: deterministic, realistic, dated around the reference instant, written atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from retention.demo import CANDIDATE_COLUMNS, generate_batches, seed_candidates, seeding
from retention.demo.synthetic import CHUNK, CONSENT_COLUMNS, SeedBatch
from retention.errors import BadInput
from retention.store import Application, Candidate, Consent, Document

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STORED = "%Y-%m-%d %H:%M:%S.%f"
C = {name: i for i, name in enumerate(CANDIDATE_COLUMNS)}
K = {name: i for i, name in enumerate(CONSENT_COLUMNS)}


def _merged(count: int, seed: int = 0, **kw: object) -> SeedBatch:
    out = SeedBatch()
    for batch in generate_batches(count, seed=seed, now=NOW, **kw):  # type: ignore[arg-type]
        out.candidates.extend(batch.candidates)
        out.applications.extend(batch.applications)
        out.consents.extend(batch.consents)
        out.documents.extend(batch.documents)
        out.files.extend(batch.files)
    return out


def _at(text: str) -> datetime:
    return datetime.strptime(text, STORED).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def sample() -> SeedBatch:
    return _merged(3000, seed=7, document_fraction=0.05)


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


class TestDeterminism:
    def test_same_seed_same_rows(self) -> None:
        """One seed and instant give identical rows, UUIDs included."""
        assert _merged(300, seed=3) == _merged(300, seed=3)

    def test_other_seed_other_rows(self) -> None:
        """Another seed gives other people and other UUIDs."""
        a, b = _merged(50, seed=1), _merged(50, seed=2)
        assert {r[C["id"]] for r in a.candidates}.isdisjoint(r[C["id"]] for r in b.candidates)

    def test_worker_processes_do_not_change_rows(self) -> None:
        """Rows generated in child processes equal those generated in-process."""
        count = CHUNK + 20
        inline = [b.candidates[-1] for b in generate_batches(count, seed=5, now=NOW)]
        spawned = [b.candidates[-1] for b in generate_batches(count, seed=5, now=NOW, workers=1)]
        assert inline == spawned

    def test_ids_are_uuid4(self, sample: SeedBatch) -> None:
        """Seeded ids are version-4 UUIDs with the RFC 4122 variant."""
        ids = [uuid.UUID(r[C["id"]]) for r in sample.candidates[:200]]
        assert {u.version for u in ids} == {4}
        assert {u.variant for u in ids} == {uuid.RFC_4122}


class TestRealism:
    def test_countries_spread(self, sample: SeedBatch) -> None:
        """Every required country gets candidates."""
        countries = Counter(r[C["country"]] for r in sample.candidates)
        required = {"RO", "NL", "DE", "FR", "IT", "ES", "PL", "IE", "GB", "AE", "SA"}
        assert required <= set(countries)
        assert min(countries[c] for c in required) >= 20

    def test_romanian_names_have_diacritics(self, sample: SeedBatch) -> None:
        """Romanian candidates carry Romanian diacritics (ș, ț, ă, â, î) in their names."""
        names = "".join(
            r[C["first_name"]] + r[C["last_name"]]
            for r in sample.candidates
            if r[C["country"]] == "RO"
        )
        assert set("șțăâîȘȚĂÂÎ") & set(names)

    def test_gulf_names_are_in_arabic_script(self, sample: SeedBatch) -> None:
        """Candidates in AE and SA have names in Arabic script and ASCII e-mail addresses."""
        gulf = [r for r in sample.candidates if r[C["country"]] in ("AE", "SA")]
        assert all(any("\u0600" <= ch <= "\u06ff" for ch in r[C["first_name"]]) for r in gulf)
        assert all(r[C["email"]].isascii() for r in gulf)

    def test_phones_use_the_country_code(self, sample: SeedBatch) -> None:
        """Phone numbers start with the candidate's country calling code."""
        prefix = {"RO": "+40 ", "DE": "+49 ", "GB": "+44 ", "SA": "+966 "}
        for r in sample.candidates:
            if r[C["country"]] in prefix:
                assert r[C["phone"]].startswith(prefix[r[C["country"]]])


class TestDates:
    def test_dates_within_four_years_before_now(self, sample: SeedBatch) -> None:
        """applied_at lies in the four years before the instant; decisions follow applications."""
        for r in sample.candidates:
            applied = _at(r[C["applied_at"]])
            assert NOW - timedelta(days=4 * 365 + 1) <= applied <= NOW
            if r[C["decided_at"]] is not None:
                assert applied <= _at(r[C["decided_at"]]) <= NOW
            assert _at(r[C["last_activity_at"]]) <= NOW

    def test_a_share_is_past_any_retention_period(self, sample: SeedBatch) -> None:
        """Some candidates were decided more than two years ago, some are recent and open."""
        decided = [_at(r[C["decided_at"]]) for r in sample.candidates if r[C["decided_at"]]]
        assert sum(d < NOW - timedelta(days=730) for d in decided) > len(sample.candidates) * 0.2
        recent_open = [
            r
            for r in sample.candidates
            if r[C["status"]] == "in_process"
            and _at(r[C["applied_at"]]) > NOW - timedelta(days=120)
        ]
        assert recent_open

    def test_consents_given_expired_withdrawn_and_renewed(self, sample: SeedBatch) -> None:
        """Talent-pool consents include active, expired, withdrawn and twice-renewed ones."""
        rows = sample.consents
        assert any(r[K["withdrawn_at"]] for r in rows)
        assert any(r[K["withdrawn_at"]] is None and _at(r[K["expires_at"]]) < NOW for r in rows)
        assert any(r[K["withdrawn_at"]] is None and _at(r[K["expires_at"]]) > NOW for r in rows)
        per_candidate = defaultdict(list)
        for r in rows:
            per_candidate[r[K["candidate_id"]]].append(r[K["notice_version"]])
        assert any(v == ["tp-v1", "tp-v2", "tp-v3"] for v in per_candidate.values())


class TestSeedCandidates:
    def test_rows_and_documents_are_written(self, engine: Engine, tmp_path: Path) -> None:
        """Counts match the report and every document file has its recorded sha256 and size."""
        docs = tmp_path / "documents"
        report = seed_candidates(engine, docs, 400, seed=1, now=NOW, document_fraction=0.1)
        assert report.candidates == _count(engine, Candidate) == 400
        assert report.applications == _count(engine, Application)
        assert report.consents == _count(engine, Consent) > 0
        assert report.documents == _count(engine, Document) > 10
        with engine.connect() as conn:
            documents = conn.execute(select(Document.__table__)).all()
        for doc in documents:
            content = (docs / str(doc.id)).read_bytes()
            assert hashlib.sha256(content).hexdigest() == doc.sha256
            assert len(content) == doc.size
        assert sorted(p.name for p in docs.iterdir()) == sorted(str(d.id) for d in documents)

    def test_values_read_back_through_the_models(self, engine: Engine, tmp_path: Path) -> None:
        """Rows written in storage form read back as UUIDs and aware UTC datetimes."""
        seed_candidates(engine, tmp_path, 20, seed=2, now=NOW)
        expected = _merged(20, seed=2).candidates[0]
        with engine.connect() as conn:
            row = conn.execute(
                select(Candidate.__table__).where(
                    Candidate.__table__.c.external_ref == expected[C["external_ref"]]
                )
            ).one()
        assert row.id == uuid.UUID(expected[C["id"]])
        assert row.applied_at == _at(expected[C["applied_at"]])
        assert row.applied_at.tzinfo == UTC

    def test_a_seed_already_present_is_refused(self, engine: Engine, tmp_path: Path) -> None:
        """Seeding the same seed twice is bad input and adds nothing."""
        seed_candidates(engine, tmp_path, 10, seed=4, now=NOW)
        with pytest.raises(BadInput) as info:
            seed_candidates(engine, tmp_path, 10, seed=4, now=NOW)
        assert info.value.message == (
            "demo candidates of seed 4 are already in the database: pass another --seed"
        )
        assert _count(engine, Candidate) == 10

    def test_interrupted_seed_leaves_nothing(self, engine: Engine, tmp_path: Path) -> None:
        """An interrupt after rows were inserted rolls them back and removes their files."""
        docs = tmp_path / "documents"

        def interrupt(_n: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            seed_candidates(
                engine, docs, 200, seed=1, now=NOW, document_fraction=0.5, progress=interrupt
            )
        assert _count(engine, Candidate) == 0
        assert _count(engine, Document) == 0
        assert list(docs.iterdir()) == []

    def test_interrupt_while_writing_files_leaves_none(
        self, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ctrl-C in the middle of a batch's files leaves no file of that batch behind."""
        docs = tmp_path / "documents"
        real = seeding.generate_batches

        class Interrupting(list):  # type: ignore[type-arg]
            def __iter__(self):  # type: ignore[no-untyped-def]
                items = list.__iter__(self)
                yield next(items)
                yield next(items)
                raise KeyboardInterrupt

        def batches(*args: object, **kw: object):  # type: ignore[no-untyped-def]
            for batch in real(*args, **kw):  # type: ignore[arg-type]
                yield dataclasses.replace(batch, files=Interrupting(batch.files))

        monkeypatch.setattr(seeding, "generate_batches", batches)
        with pytest.raises(KeyboardInterrupt):
            seed_candidates(engine, docs, 200, seed=1, now=NOW, document_fraction=0.5)
        assert _count(engine, Candidate) == 0
        assert list(docs.iterdir()) == []

    def test_killed_seed_leaves_files_only_until_the_next_start(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A seed killed before its commit leaves no file in the store; its staged files are
        removed when the next seed starts."""
        docs = tmp_path / "documents"
        script = (
            "import os, signal, sys\n"
            "from pathlib import Path\n"
            "from retention.demo import seed_candidates\n"
            "from retention.store import connect\n"
            "def die(_n):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "seed_candidates(connect(sys.argv[1]), Path(sys.argv[2]), 200, seed=1,"
            " document_fraction=0.5, progress=die)\n"
        )
        url = engine.url.render_as_string(hide_password=False)
        done = subprocess.run([sys.executable, "-c", script, url, str(docs)], check=False)
        assert done.returncode == -signal.SIGKILL
        assert _count(engine, Candidate) == 0
        assert [p.name for p in docs.iterdir() if not p.name.startswith(".staging-")] == []
        seed_candidates(engine, docs, 5, seed=2, now=NOW, document_fraction=0.0)
        assert list(docs.iterdir()) == []

    def test_bad_fraction_is_refused(self, engine: Engine, tmp_path: Path) -> None:
        """A document fraction outside [0, 1] is bad input."""
        with pytest.raises(BadInput, match="between 0 and 1"):
            seed_candidates(engine, tmp_path, 10, now=NOW, document_fraction=1.5)
