"""Every command's one-line help reads as a whole sentence in its group's listing."""

from __future__ import annotations

from collections.abc import Iterator

import click

from cli import cli


def _commands(group: click.Group, prefix: str = "gdpr") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def test_short_help_is_not_cut_at_an_abbreviation() -> None:
    """Click ends the short help at the first word ending in '.', so "Art. 17" cut it."""
    cut = [
        name
        for name, command in _commands(cli)
        if command.get_short_help_str(limit=1000).endswith(("Art.", "e.g.", "i.e.", "("))
    ]
    assert cut == []


def test_every_option_has_help() -> None:
    """Each option of each command says what it does."""
    bare = [
        f"{name} {param.opts[0]}"
        for name, command in _commands(cli)
        for param in command.params
        if isinstance(param, click.Option) and not param.help and not param.hidden
    ]
    assert bare == []
