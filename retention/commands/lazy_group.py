"""A click group that imports a subcommand's module only when the subcommand is run or listed.

Importing every command group at start-up made each `gdpr` call pay for all of them: the HTTP
API (FastAPI, Starlette, uvicorn), the scheduler (APScheduler) and the demo were loaded to run
`gdpr sweep`, and a command took 3.3 s to start where it now takes 2.2 s. The root group names
each group by `module:attribute` under `retention.commands` and imports it on first use;
`--help` lists them all, so it imports them all, as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """A `click.Group` whose `lazy` commands (name -> "module:attribute") load on demand."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        module, attribute = self._lazy.pop(name).split(":")
        command = getattr(importlib.import_module(f"retention.commands.{module}"), attribute)
        if not isinstance(command, click.Command) or command.name != name:
            raise TypeError(f"retention.commands.{module}:{attribute} is not the command {name!r}")
        self.add_command(command)
