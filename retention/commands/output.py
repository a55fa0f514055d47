"""Rendering results: JSON for programs, text for people, progress bars on a terminal."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from retention.results import json_data


def emit(as_json: bool, data: Any, text: Callable[[], str] | str) -> None:
    """Print `data` as JSON (see `retention.results`), or the human text (a string or a function
    producing one)."""
    if as_json:
        click.echo(json.dumps(json_data(data), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(text() if callable(text) else text)


class ProgressBar:
    """A bar on stderr. Call it with a number of items done since the last call (`Progress` of
    the demo's seeding), or `at(done, total)` for work that learns its total as it goes (the
    sweep, audit verification)."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def __call__(self, items: int) -> None:
        self._bar.update(items)

    def at(self, done: int, total: int) -> None:
        self._bar.length = max(total, 1)
        self._bar.update(done - self._bar.pos)


@contextlib.contextmanager
def progress_bar(total: int | None, as_json: bool, label: str) -> Iterator[ProgressBar | None]:
    """The one progress bar: drawn on stderr when it is a terminal and not under --json, else
    None. `total` None means the work tells it later (`ProgressBar.at`)."""
    if as_json or (total is not None and total <= 0) or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=max(total or 1, 1), label=label, file=sys.stderr) as bar:
        yield ProgressBar(bar)


def when_text(at: Any) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")
