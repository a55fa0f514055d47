"""Work that outlives its request: a sweep run, an evidence export, in threads of the server.

A route that answers 202 hands its work to `Background.start`, which runs it in a daemon thread
under a copy of the request's context, so the audit entries the work records carry the channel
and request id of the request that started it. When the server stops, `stop` is set (a sweep
ends after its current batch) and the threads are waited for. Routers that start work declare
`lifespan=background_lifespan`; the first of them to start makes the app's `Background`.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request

__all__ = ["Background", "BackgroundDep", "background_lifespan"]

STOP_WAIT_S = 60.0  # how long shutdown waits for each piece of work to end


class Background:
    """The threads of one app, and the stop asked of them at shutdown."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, work: Callable[[], object], *, name: str) -> threading.Thread:
        context = contextvars.copy_context()  # the request's audit channel and request id
        thread = threading.Thread(target=context.run, args=(work,), name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def shutdown(self) -> None:
        self.stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(STOP_WAIT_S)


@contextlib.asynccontextmanager
async def background_lifespan(app: FastAPI) -> AsyncIterator[None]:
    if isinstance(getattr(app.state, "background", None), Background):
        yield  # another router's lifespan made it and will stop it
        return
    app.state.background = Background()
    try:
        yield
    finally:
        app.state.background.shutdown()


def _background(request: Request) -> Background:
    background = getattr(request.app.state, "background", None)
    if not isinstance(background, Background):
        raise RuntimeError("the app's lifespan did not run: serve it with a lifespan-aware server")
    return background


BackgroundDep = Annotated[Background, Depends(_background)]
