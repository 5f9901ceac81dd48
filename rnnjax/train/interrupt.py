"""Stopping cleanly on Ctrl-C: the first SIGINT or SIGTERM asks every lane to stop at
its next call boundary (``run_loop`` saves a checkpoint there and raises
``Interrupted``); the second exits at once.

    with stop_on_signals():
        run_experiment(...)        # raises Interrupted once every lane has stopped
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

_REQUESTED = threading.Event()


class Interrupted(Exception):
    """Training stopped on request at a call boundary, after saving a checkpoint."""


def requested() -> bool:
    """Whether a stop was asked for (lanes poll this between calls)."""
    return _REQUESTED.is_set()


def request() -> None:
    """Asks every lane to stop at its next call boundary (what the first signal does)."""
    _REQUESTED.set()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM calls ``request``; the second ends the
    process at once (exit status 128 + the signal), without a traceback. Outside the
    main thread the block installs nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if _REQUESTED.is_set():
            print(f"\nrnnjax: {signal.Signals(signum).name} again: stopped at once", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        request()
        print(f"\nrnnjax: {signal.Signals(signum).name}: stopping every lane after its current call "
              "(a checkpoint is saved); send it again to stop at once", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _REQUESTED.clear()
