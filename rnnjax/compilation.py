"""Counting XLA compilations (tests, benchmarks), and the persistent compilation cache the CLI uses."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
CACHE_HIT = "/jax/compilation_cache/cache_hits"


def compilations(run: Callable[[], Any]) -> tuple[Any, int]:
    """``(run(), the number of programs XLA compiled for it)``; programs read from the
    persistent compilation cache do not count (JAX reports them as backend compilations too)."""
    result, count, _ = compile_record(run)
    return result, count


def compile_record(run: Callable[[], Any]) -> tuple[Any, int, float]:
    """``(run(), programs compiled, seconds in XLA's backend compilation)``: the count
    net of persistent-cache hits, the seconds including the (short) cache loads."""
    seconds, hits = [], []

    def on_duration(name, duration, *_, **__):
        if name == BACKEND_COMPILE:
            seconds.append(duration)

    def on_event(name, *_, **__):
        if name == CACHE_HIT:
            hits.append(name)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        return run(), len(seconds) - len(hits), float(sum(seconds))
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)


def cache_directory() -> Path:
    """Where rnnjax keeps JAX's persistent compilation cache: ``$RNNJAX_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/rnnjax/jax`` (``~/.cache/rnnjax/jax``)."""
    if os.environ.get("RNNJAX_CACHE_DIR"):
        return Path(os.environ["RNNJAX_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnjax" / "jax"


def use_persistent_cache() -> str:
    """Turns on JAX's persistent compilation cache for every program, however small, so a
    second run compiles nothing the first compiled; a cache the user chose
    (``JAX_COMPILATION_CACHE_DIR`` / ``jax_compilation_cache_dir``) is kept. Returns the
    directory. Call before the first compilation."""
    directory = jax.config.jax_compilation_cache_dir or str(cache_directory())
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _replace_unreadable_entries(Path(directory))
    return directory


def _replace_unreadable_entries(directory: Path) -> None:
    """Makes an entry that fails to load (e.g. cut short by a full disk) be removed, so the
    program JAX then compiles is written in its place; JAX itself warns, compiles and
    keeps the bad entry, so every later run would compile the program again."""
    from jax._src import compilation_cache

    read = compilation_cache.get_executable_and_time
    if getattr(read, "drops_unreadable", False):
        return

    def read_or_drop(cache_key, *args, **kwargs):
        try:
            return read(cache_key, *args, **kwargs)
        except Exception:
            for entry in directory.glob(f"{cache_key}*"):
                entry.unlink(missing_ok=True)
            raise

    read_or_drop.drops_unreadable = True
    compilation_cache.get_executable_and_time = read_or_drop
