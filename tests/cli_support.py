"""The one way CLI tests run `gdpr`: in-process through `cli.main`, in an environment they spell out.

`gdpr(env, *args)` runs the console script's entry point (so the real error mapping and exit codes)
under click's `CliRunner` isolation and returns exit code, stdout and stderr apart. Every `GDPR_*`
variable of the surrounding environment is removed first: a run sees only the data dir, database
URL and token the test gave (in `env`, or `token=`), so a developer's own `GDPR_TOKEN` never leaks
into a test. `Gdpr` binds the runner to one data directory. `gdpr_process` is the same command in a
process of its own, for the few tests that need one (signals).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from click.testing import CliRunner

import cli
from retention.config import Config, load_config
from retention.install import Installation

# The console script, as a separate Python process.
COMMAND = (sys.executable, "-c", "import cli; cli.main()")


class Run(NamedTuple):
    """What a user sees of one `gdpr` run."""

    code: int
    out: str
    err: str


def environment(env: Mapping[str, str | None], token: str | None = None) -> dict[str, str | None]:
    """The variables a run overrides: every inherited `GDPR_*` unset, then `env`, then the token."""
    clean: dict[str, str | None] = {name: None for name in os.environ if name.startswith("GDPR_")}
    clean.update({"GDPR_DATA_DIR": None, "GDPR_DATABASE_URL": None, "GDPR_TOKEN": None})
    clean.update(env)
    if token is not None:
        clean["GDPR_TOKEN"] = token
    return clean


def gdpr(
    env: Mapping[str, str | None], *args: str, token: str | None = None, stdin: str | None = None
) -> Run:
    """Run `gdpr ARGS` through `cli.main` (where errors become messages); return code, out, err.

    `stdin` is what the command reads from standard input (a prompt's answer, a piped code)."""
    with CliRunner().isolation(input=stdin, env=environment(env, token)) as (out, err, _):
        try:
            cli.main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
    return Run(code, out.getvalue().decode(), err.getvalue().decode())


@dataclass(frozen=True)
class Gdpr:
    """`gdpr --data-dir DATA_DIR ...` with a fixed environment; the token is given per call."""

    data_dir: Path
    env: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, installation: Installation) -> Gdpr:
        """The CLI on an existing installation (its data dir and database)."""
        cfg = installation.config
        return cls(cfg.data_dir, {"GDPR_DATABASE_URL": cfg.database_url})

    def config(self) -> Config:
        """The configuration the CLI reads in this environment."""
        return load_config(self.data_dir, env={k: v for k, v in self.env.items() if v is not None})

    def __call__(self, *args: str, token: str | None = None, stdin: str | None = None) -> Run:
        return gdpr(self.env, "--data-dir", str(self.data_dir), *args, token=token, stdin=stdin)

    def process(self, *args: str, token: str | None = None) -> subprocess.Popen[str]:
        """The same command as a process of its own (see `gdpr_process`)."""
        return gdpr_process(self.env, "--data-dir", str(self.data_dir), *args, token=token)


def gdpr_process(
    env: Mapping[str, str | None], *args: str, token: str | None = None
) -> subprocess.Popen[str]:
    """`gdpr ARGS` as a process of its own, in the same clean environment; pipes for out and err."""
    full = {name: value for name, value in os.environ.items() if not name.startswith("GDPR_")}
    full |= {k: v for k, v in environment(env, token).items() if v is not None}
    return subprocess.Popen(
        [*COMMAND, *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def init_tokens(env: Mapping[str, str | None], data: Path) -> dict[str, str]:
    """`gdpr init` in `data`; the bootstrap tokens by principal name (admin, dpo)."""
    code, out, err = gdpr(env, "--data-dir", str(data), "init")
    assert code == 0, err
    return dict(re.findall(r"^  (\S+): (gdpr_\S+)$", out, re.M))


def init_as_dpo(env: dict[str, str | None], data: Path) -> None:
    """`gdpr init` in `data`, then act as its bootstrap DPO (GDPR_TOKEN in `env`)."""
    env["GDPR_TOKEN"] = init_tokens(env, data)["dpo"]
