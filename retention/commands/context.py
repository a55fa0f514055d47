"""What the root options decide (data dir, token file), resolved lazily, and authentication."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import click

from retention.access import (
    PrincipalView,
    authenticate,
)
from retention.config import Config, load_config
from retention.errors import BadInput
from retention.install import (
    Installation,
    open_installation,
    secret_is_private,
)


@dataclass
class AppContext:
    """What the top-level options decide, resolved lazily so `--help` never touches disk."""

    data_dir: Path | None
    token_file: Path | None = None
    _config: Config | None = field(default=None, repr=False)
    _installation: Installation | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.data_dir)
        return self._config

    def installation(self) -> Installation:
        if self._installation is None:
            self._installation = open_installation(self.config)
        return self._installation

    def authenticate(self) -> PrincipalView:
        """The principal behind --token-file or GDPR_TOKEN; every authenticated command calls this.

        Failures are audited by `retention.access.principals.authenticate` before they are raised.
        """
        installation = self.installation()
        return authenticate(installation.engine, self._read_token())

    def _read_token(self) -> str | None:
        if self.token_file is None:
            return os.environ.get("GDPR_TOKEN")
        path = self.token_file
        try:
            if not secret_is_private(path):
                raise BadInput(
                    f"token file {path} is readable by group or others: run 'chmod 600 {path}'"
                )
            return path.read_text(encoding="ascii", errors="replace").strip()
        except OSError as exc:
            raise BadInput(f"cannot read token file {path} ({exc.strerror})") from None


pass_app = click.make_pass_decorator(AppContext)
