"""Rendering results: JSON for programs, text for people, progress bars on a terminal."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from retention.demo import Progress
from retention.results import json_data


def emit(as_json: bool, data: Any, text: Callable[[], str] | str) -> None:
    """Print `data` as JSON (see `retention.results`), or the human text (a string or a function
    producing one)."""
    if as_json:
        click.echo(json.dumps(json_data(data), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(text() if callable(text) else text)


@contextlib.contextmanager
def progress_bar(total: int, as_json: bool, label: str) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on stderr when it is a terminal, else nothing."""
    if as_json or total <= 0 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def when_text(at: Any) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")
