"""`gdpr serve`: the HTTP API (retention.api) until SIGTERM."""

from __future__ import annotations

import click

from retention.api import serve as serve_api
from retention.commands.context import AppContext, pass_app
from retention.logs import configure_logging


@click.command()
@click.option("--host", help="Address to listen on (default [api] bind, or 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default [api] bind, or 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (default [api] workers, or 1; above 1 needs PostgreSQL).",
)
@pass_app
def serve(app: AppContext, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API (JSON logs on stderr) until SIGTERM; see README, HTTP API."""
    configure_logging(json=True)
    serve_api(app.config, host=host, port=port, workers=workers)
