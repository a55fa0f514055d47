"""The one progress bar: drawn only on a terminal and never under --json."""

from __future__ import annotations

import io

import pytest

from retention.commands.output import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgressBar:
    def test_nothing_when_not_a_terminal_or_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Piped stderr, --json, or no work: no bar, the work gets no callback."""
        monkeypatch.setattr("sys.stderr", io.StringIO())
        with progress_bar(10, False, "Working") as bar:
            assert bar is None
        monkeypatch.setattr("sys.stderr", _Terminal())
        with progress_bar(10, True, "Working") as bar:
            assert bar is None
        with progress_bar(0, False, "Working") as bar:
            assert bar is None

    def test_counts_items_or_follows_a_growing_total(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On a terminal: `bar(n)` adds n items; `bar.at(done, total)` sets both (the sweep)."""
        err = _Terminal()
        monkeypatch.setattr("sys.stderr", err)
        with progress_bar(None, False, "Sweeping") as bar:
            assert bar is not None
            bar.at(5, 20)
            bar.at(20, 20)
        assert "Sweeping" in err.getvalue() and "100%" in err.getvalue()
        with progress_bar(4, False, "Seeding") as bar:
            assert bar is not None
            bar(2)
            bar(2)
        assert "Seeding" in err.getvalue()
