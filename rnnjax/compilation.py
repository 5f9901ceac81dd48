"""Counting XLA compilations, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


def compilations(run: Callable[[], Any]) -> tuple[Any, int]:
    """``(run(), the number of backend compilations it caused)``; programs served from a
    compilation cache do not count."""
    events = []

    def listen(name, *_, **__):
        if name == BACKEND_COMPILE:
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        return run(), len(events)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
