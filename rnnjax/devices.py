"""How rnnjax uses devices: a population's members sharded along one axis, and one
JAX device per CPU core.

XLA:CPU runs one program's small recurrent steps on about one core; split into
one device per core, a population's members (and their evaluation) run on all
of them (figures in BUILD_NOTES.md, ``benchmarks/throughput.py``).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


def population_sharding(devices=None) -> NamedSharding:
    """Shards a leading population axis over ``devices`` (default: every device of
    every process, so a multi-host population is one global array)."""
    devices = np.array(devices if devices is not None else jax.devices())
    return NamedSharding(Mesh(devices, ("population",), axis_types=(AxisType.Auto,)), P("population"))


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


DETERMINISTIC_GPU = "--xla_gpu_deterministic_ops=true"


def use_deterministic_ops() -> None:
    """Makes XLA:GPU reduce in a fixed order (``--xla_gpu_deterministic_ops``), so a run
    repeats bit for bit on one GPU, at a cost measured in ``benchmarks/determinism.py``;
    XLA:CPU runs repeat without it. Call before the first JAX operation."""
    flags = os.environ.get("XLA_FLAGS", "")
    if DETERMINISTIC_GPU not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_GPU}".strip()


def accelerator_plugins() -> list[str]:
    """The JAX accelerator plugins installed (GPU or TPU), found without starting a backend
    (``jax.distributed`` must be joined before one starts)."""
    from importlib.metadata import entry_points

    return sorted(e.name for e in entry_points(group="jax_plugins"))
