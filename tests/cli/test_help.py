"""Every command's one-line help reads as a whole sentence in its group's listing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from cli import cli
from retention.commands import GROUPS


def _commands(group: click.Group, prefix: str = "gdpr") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root's groups load as they are listed
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def test_a_command_loads_only_its_own_group() -> None:
    """`gdpr sweep` does not import the HTTP API, the scheduler or the demo (a command's start
    paid for every group's imports), and every group the root lists loads under its name."""
    probe = (
        "import sys, cli; cli.cli.get_command(None, 'sweep'); "
        "print(' '.join(m for m in ('fastapi', 'apscheduler', 'retention.api', "
        "'retention.demo', 'retention.scheduler') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, cwd=root, check=True)  # fmt: skip
    assert done.stdout.split() == []
    names = [name.removeprefix("gdpr ") for name, _ in _commands(cli) if name.count(" ") == 1]
    assert names == sorted(GROUPS)


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
