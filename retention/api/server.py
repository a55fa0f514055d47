"""Running the API: `serve(config, host, port, workers)` starts uvicorn on the app factory.

uvicorn imports `retention.api.server:app_from_environment` in each worker process (with
`--workers N` it spawns them), so every worker reads the configuration from the environment
the parent set and makes its own engine in the app's lifespan: no engine crosses a process
boundary. SQLite gets exactly one worker. SIGTERM (or Ctrl-C) stops accepting connections,
lets requests in flight finish, runs the lifespan's shutdown (the engine is disposed), and
exits 0. uvicorn's own access log is off: the app writes one structlog JSON line per request
without the URL's values (`retention.api.middleware`), and uvicorn's messages become JSON too.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI

from retention.api.app import create_app
from retention.config import Config, check_api_workers, load_config
from retention.install import open_installation
from retention.logs import configure_logging, get_logger

__all__ = ["FACTORY", "app_from_environment", "serve", "uvicorn_log_config"]

FACTORY = "retention.api.server:app_from_environment"
GRACEFUL_SHUTDOWN_S = 10
KEEP_ALIVE_S = 5

log = get_logger("retention.api")


def app_from_environment() -> FastAPI:
    """The app of the installation named by GDPR_DATA_DIR / GDPR_DATABASE_URL / GDPR_CONFIG."""
    configure_logging(json=True)
    return create_app(load_config())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's loggers rendered as JSON lines on stderr, like the engine's own."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    factory: str = FACTORY,
) -> None:
    """Serve the API until SIGTERM; options override `[api]` of gdpr.toml.

    The installation is opened once here first, so that a missing installation, an old schema
    or an unreachable database is one clear line before any worker starts.
    """
    settings = config.api
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    workers = settings.workers if workers is None else workers
    check_api_workers(workers, config.database_url, "--workers")
    open_installation(config).engine.dispose()
    # What each worker's factory reads (spawned workers inherit the environment).
    os.environ["GDPR_DATA_DIR"] = str(config.data_dir)
    os.environ["GDPR_DATABASE_URL"] = config.database_url
    log.info("api.serving", host=host, port=port, workers=workers)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handlers it found; these make that second delivery a clean exit (status 0).
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _run(factory, host, port, workers)
    except _Stopped:
        log.info("api.stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    """The server stopped on a signal, after finishing the requests in flight."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def _run(factory: str, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=uvicorn_log_config(),
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
