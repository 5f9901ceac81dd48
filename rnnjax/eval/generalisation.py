"""Evaluation: a task's evaluation sets run through a population of trained members.

Every task is evaluated the same way: each ``EvalSet`` is cut into chunks of
examples sorted by length (one compiled program per chunk width), each chunk is
scored by ``task.evaluation.score`` for every member at once (members vmapped and
sharded over the devices), and each member's scores go to ``task.evaluation.summarise``.
Chunk sizes depend on the model and the example width only, and each (model, width)
is compiled once per process, so a member's scores never depend on the memory free,
the members beside it or the programs evaluated before.
"""

from __future__ import annotations

import math
import os
from functools import partial

import jax
import numpy as np
from tqdm.auto import tqdm

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


EVAL_CHUNK_BYTES = 2**30
"""Memory one member's chunk of evaluation examples may take."""


def chunk_size(model, members: int, width: int, largest: int = 256, fraction: float = 0.5) -> int:
    """Examples per chunk of ``width`` inputs: at most ``largest``, within
    ``EVAL_CHUNK_BYTES`` per member. A ValueError, before any work, when one example does
    not fit or ``members`` chunks take more than ``fraction`` of a device's memory."""
    per = example_bytes(model, width)
    chunk = min(largest, EVAL_CHUNK_BYTES // per)
    need = members * max(chunk, 1) * per
    if chunk < 1 or need > fraction * device_memory():
        raise ValueError(f"evaluating inputs of length {width} needs about {need / 2**30:.1f} GiB for {members} "
                         f"member(s) ({per / 2**20:.0f} MiB per example), more than {fraction:.0%} of the "
                         f"device's {device_memory() / 2**30:.1f} GiB; lower --eval-n-max (or use a windowed stack)")
    return chunk


def spread(members, devices=None):
    """Members (params with a leading member axis) on ``devices`` (default: this
    process's), at most one device per member, padded with copies of the last to a
    multiple of the devices used."""
    count = num_members(members)
    devices = list(devices or jax.local_devices())[:count]
    if len(devices) < 2:
        return jax.device_put(members, devices[0])
    size = len(devices) * math.ceil(count / len(devices))
    padded = jax.tree_util.tree_map(lambda x: np.concatenate([x, np.repeat(x[-1:], size - count, 0)]),
                                    jax.device_get(members))
    return jax.device_put(padded, population_sharding(devices))


def evaluate(task: Task, model, members, *, chunk: int = 256, devices=None, progress: bool = True) -> list[dict]:
    """The task's evaluation metrics for each member (``members``: params with a
    leading member axis), in member order; members run spread over ``devices``
    (default: this process's). A set that takes more than a few seconds shows a
    progress bar over its chunks (``progress``)."""
    count = num_members(members)
    members = spread(members, devices)
    scores = {s.name: score_set(task, model, members, s, chunk, progress) for s in task.evaluation.sets()}
    return [task.evaluation.summarise({name: {k: v[m] for k, v in by_metric.items()} for name, by_metric in
                                       scores.items()}) for m in range(count)]


def score_set(task: Task, model, members, eval_set: EvalSet, chunk: int = 256,
              progress: bool = False) -> dict[str, np.ndarray]:
    """``{metric: [P', N]}``: ``task.evaluation.score`` of every member on every example
    (P' >= P: members padded for the devices). Every chunk is padded to one size with
    copies of its first row."""
    if eval_set.width > task.evaluation.longest:
        raise ValueError(f"{task.name}: evaluation set {eval_set.name!r} is {eval_set.width} long, "
                         f"more than the task's declared longest {task.evaluation.longest}")
    count, size = num_members(members), len(eval_set.lengths)
    chunk = min(chunk, size, chunk_size(model, count, eval_set.width))
    cut = eval_set.expand is None  # generated examples are cut inside the program
    out: dict[str, np.ndarray] = {}
    for rows, width in tqdm(chunks(eval_set, chunk), desc=f"evaluating {task.name} {eval_set.name}", unit="chunk",
                            delay=3, leave=False, disable=not progress):
        full = np.concatenate([rows, np.full(chunk - len(rows), rows[0])])
        examples = {k: v[full][:, :width] if cut and v.ndim >= 2 else v[full] for k, v in eval_set.examples.items()}
        scores = _score_chunk(members, examples, score=task.evaluation.score, model=model, expand=eval_set.expand,
                              width=width)
        for k, v in scores.items():
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


@partial(jax.jit, static_argnames=("score", "model", "expand", "width"))
def _score_chunk(members, examples, *, score, model, expand, width: int):
    """Scores of every member on a chunk of examples cut to ``width`` positions."""
    if expand is not None:
        examples = jax.vmap(expand)(examples)
    examples = {k: v[:, :width] if v.ndim >= 2 else v for k, v in examples.items()}

    def one_member(params):
        return jax.vmap(lambda example: score(model.bind(params), example))(examples)

    return jax.vmap(one_member)(members)


def release_evaluation_programs() -> None:
    """Drops the compiled evaluation programs of every model evaluated so far."""
    _score_chunk.clear_cache()
