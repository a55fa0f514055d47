"""Running `gdpr` in-process through `cli.main` (the real error mapping), for CLI tests."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

import cli


def gdpr(env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
    """Run `gdpr ARGS` through `cli.main` (where errors become messages); return code, out, err."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            cli.main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
    return code, out.getvalue().decode(), err.getvalue().decode()


def init_as_dpo(env: dict[str, str | None], data: Path) -> None:
    """`gdpr init` in `data`, then act as its bootstrap DPO (GDPR_TOKEN in `env`)."""
    code, out, err = gdpr(env, "--data-dir", str(data), "init")
    assert code == 0, err
    env["GDPR_TOKEN"] = re.search(r"^  dpo: (\S+)$", out, re.M).group(1)
