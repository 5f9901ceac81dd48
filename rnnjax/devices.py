"""How rnnjax uses a CPU: one JAX device per core, so populations shard over the cores.

XLA:CPU runs one program's small recurrent steps on about one core; split into
one device per core, a population's members (and their evaluation) run on all
of them (figures in BUILD_NOTES.md, ``benchmarks/throughput.py``).
"""

from __future__ import annotations

import os

import jax


def cpu_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def use_cpu_cores(count: int | None = None) -> int | None:
    """Gives the CPU backend ``count`` devices (default: one per core); returns the
    count set, or None where it is left as it is: a device count the user chose
    (``--xla_force_host_platform_device_count``, ``JAX_NUM_CPU_DEVICES``), or a
    backend already running. Call before the first JAX operation."""
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "") or (
        count is None and "JAX_NUM_CPU_DEVICES" in os.environ
    ):
        return None
    count = count or cpu_cores()
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backend is up (an earlier JAX operation in this process)
        return None
    return count
