"""Operational logs: structlog, JSON lines for services and `--log-json`, readable on a terminal.

Operational logs are for operators, not evidence (that is the audit log), and they must never
carry personal data: callers log subject UUIDs, counts and run ids only. As a last line of defence
a processor drops values under keys that name personal fields.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger"]

_PERSONAL_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "city", "notes", "address"}
)


def _drop_personal(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    for key in _PERSONAL_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def configure_logging(*, json: bool, level: int = logging.INFO) -> None:
    """Send logs to stderr: JSON lines when `json` (or stderr is not a terminal), else console."""
    renderer: Any
    if json or not sys.stderr.isatty():
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
