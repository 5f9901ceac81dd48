"""Evaluation: a task's evaluation sets run through a population of trained members.

Every task is evaluated the same way: each ``EvalSet`` is cut into chunks of
examples sorted by length (one compiled program per chunk width), each chunk is
scored by ``task.evaluation.score`` for every member at once (members vmapped and
sharded over the devices),
and each member's scores go to ``task.evaluation.summarise``.
"""

from __future__ import annotations

import math
import os
from functools import partial

import jax
import numpy as np

from rnnjax.devices import population_sharding
from rnnjax.tasks import EvalSet, Task


def num_members(members) -> int:
    """The size of the leading member axis of a stacked params pytree."""
    return jax.tree_util.tree_leaves(members)[0].shape[0]


def device_memory() -> float:
    """Bytes of memory on one local device (CPU devices share the host's available memory)."""
    devices = jax.local_devices()
    stats = devices[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") / len(devices)


def example_bytes(model, width: int) -> int:
    """Bytes one member needs per evaluation example of ``width`` inputs: the model's own
    estimate (``activation_bytes``) where it has one, else the recurrent state (memories
    at their capacity) a few times over, and the outputs."""
    if hasattr(model, "activation_bytes"):
        return model.activation_bytes(width)

    def states(key):
        return model.states(model.init(key), jax.numpy.zeros((1,), jax.numpy.int32))

    state = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(jax.eval_shape(states, jax.random.key(0))))
    return 3 * state + 4 * width * (model.num_outputs + 8)


def chunk_size(model, members: int, width: int, largest: int = 256, fraction: float = 0.25) -> int:
    """Examples per chunk so that ``members`` members fit in ``fraction`` of a device's
    memory (at most ``largest``); a ValueError if one example does not fit."""
    need = members * example_bytes(model, width)
    fits = int(fraction * device_memory() // need)
    if fits < 1:
        raise ValueError(f"evaluating one example of {width} inputs for {members} members needs about "
                         f"{need / 2**30:.1f} GiB, more than {fraction:.0%} of the device's "
                         f"{device_memory() / 2**30:.1f} GiB; lower eval_n_max (or use a windowed stack)")
    return min(largest, fits)


def spread(members, devices=None):
    """Members (params with a leading member axis) sharded over ``devices`` (default:
    this process's), at most one device per member, padded with copies of the last to
    a multiple of the devices used."""
    count = num_members(members)
    devices = list(devices or jax.local_devices())[:count]
    if len(devices) < 2:
        return members
    size = len(devices) * math.ceil(count / len(devices))
    padded = jax.tree_util.tree_map(lambda x: np.concatenate([x, np.repeat(x[-1:], size - count, 0)]),
                                    jax.device_get(members))
    return jax.device_put(padded, population_sharding(devices))


def evaluate(task: Task, model, members, *, chunk: int = 256, devices=None) -> list[dict]:
    """The task's evaluation metrics for each member (``members``: params with a
    leading member axis), in member order; members run spread over ``devices``
    (default: this process's)."""
    count = num_members(members)
    members = spread(members, devices)
    scores = {s.name: score_set(task, model, members, s, chunk) for s in task.evaluation.sets()}
    return [task.evaluation.summarise({name: {k: v[m] for k, v in by_metric.items()} for name, by_metric in
                                       scores.items()}) for m in range(count)]


def score_set(task: Task, model, members, eval_set: EvalSet, chunk: int = 256) -> dict[str, np.ndarray]:
    """``{metric: [P, N]}``: ``task.evaluation.score`` of every member on every example."""
    if eval_set.width > task.evaluation.longest:
        raise ValueError(f"{task.name}: evaluation set {eval_set.name!r} is {eval_set.width} long, "
                         f"more than the task's declared longest {task.evaluation.longest}")
    count, size = num_members(members), len(eval_set.lengths)
    chunk = min(chunk, size, chunk_size(model, count, eval_set.width))
    program = jax.jit(partial(_score_chunk, task.evaluation.score, model, eval_set.expand), static_argnames="width")
    out: dict[str, np.ndarray] = {}
    for rows, width in chunks(eval_set, chunk):
        full = np.concatenate([rows, np.full(chunk - len(rows), rows[0])])
        cut = eval_set.expand is None  # generated examples are cut inside the program
        examples = {k: v[full][:, :width] if cut and v.ndim >= 2 else v[full] for k, v in eval_set.examples.items()}
        for k, v in program(members, examples, width=width).items():
            v = np.asarray(v)
            out.setdefault(k, np.empty((count, size), v.dtype))[:, rows] = v[:, : len(rows)]
    return out


def chunks(eval_set: EvalSet, chunk: int) -> list[tuple[np.ndarray, int]]:
    """``(rows, width)`` of each chunk: ``chunk`` examples in order of length, cut to the
    longest rounded up to ``eval_set.pad_multiple``. Each distinct width is one compiled
    program."""
    order = np.argsort(eval_set.lengths, kind="stable")
    out = []
    for start in range(0, len(order), chunk):
        rows, width = order[start : start + chunk], eval_set.width
        if eval_set.pad_multiple is not None:
            longest = int(eval_set.lengths[rows].max())
            width = min(width, eval_set.pad_multiple * math.ceil(longest / eval_set.pad_multiple))
        out.append((rows, width))
    return out


def _score_chunk(score, model, expand, members, examples, width: int):
    """Scores of every member on a chunk of examples cut to ``width`` positions."""
    if expand is not None:
        examples = jax.vmap(expand)(examples)
    examples = {k: v[:, :width] if v.ndim >= 2 else v for k, v in examples.items()}

    def one_member(params):
        return jax.vmap(lambda example: score(model.bind(params), example))(examples)

    return jax.vmap(one_member)(members)
