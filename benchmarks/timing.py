"""What every benchmark script measures the same way.

Scripts run as ``python benchmarks/<name>.py``, so this module is imported as
``timing`` from the scripts' own directory.
"""

from __future__ import annotations

import time

import jax


def best_time(fn, *args, min_seconds: float = 1.0, max_reps: int | None = None, min_reps: int = 2) -> float:
    """Seconds of the fastest of repeated ``fn(*args)`` calls (outputs blocked on),
    after one warm-up call (compilation); repeats until ``min_seconds`` in total or
    ``max_reps`` calls, and at least ``min_reps``."""
    jax.block_until_ready(fn(*args))
    times: list[float] = []
    while len(times) < min_reps or (sum(times) < min_seconds and (max_reps is None or len(times) < max_reps)):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def compiled_bytes(compiled) -> int:
    """Arguments + outputs + temporaries XLA reports for a compiled function."""
    stats = compiled.memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)
