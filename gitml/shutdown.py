"""Clean shutdown of gitml's HTTP servers (`models serve`, `ui`) on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def on_signals(server: Any) -> Iterator[None]:
    """While inside, SIGTERM/SIGINT make ``server.serve_forever`` return.

    ``shutdown`` must be called from another thread than the serving one, so the handler
    starts one; the previous handlers are put back on leaving.
    """
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
