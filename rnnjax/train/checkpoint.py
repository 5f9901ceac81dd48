"""Population checkpoints with orbax: every N steps, the latest K kept, written asynchronously.

A checkpoint holds the whole population state (params, optimiser state, step,
diverged flags), the members' data keys, and the metrics logged so far. The
data position is the step itself: batches and length buckets are functions of
the step, so resuming from step s replays exactly what an uninterrupted run
does from s.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

_SAVING = threading.Lock()
_MANAGERS: weakref.WeakSet = weakref.WeakSet()
"""Every open checkpointer: orbax's asynchronous saves of two managers (programs
trained at once in threads) must not overlap, or their commits collide."""


@contextlib.contextmanager
def exclusive_orbax() -> Iterator[None]:
    """Holds orbax for one thread: no population checkpoint is being written, and no
    other thread starts an orbax save or restore until the block ends. Programs trained
    at once in threads each save finished runs; two overlapping orbax saves can collide
    (a ``FileExistsError`` on a temporary folder, or commit futures that never finish)."""
    with _SAVING:
        for manager in list(_MANAGERS):
            manager.wait_until_finished()
        yield


@jax.jit
def _copy(tree):
    """A copy of ``tree`` in new buffers, as one program (not one eager copy per leaf shape)."""
    return jax.tree_util.tree_map(jnp.copy, tree)


class PopulationCheckpointer:
    """Saves and restores ``{"state": ..., "data_keys": uint32[...]}`` plus JSON metrics."""

    def __init__(self, directory: str | Path, every: int, keep: int = 3):
        if every < 1 or keep < 1:
            raise ValueError(f"checkpoint every and keep must be >= 1, got every={every}, keep={keep}")
        self.every = every
        self.directory = Path(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=True, create=True)
        self.manager = ocp.CheckpointManager(Path(directory).absolute(), options=options)
        _MANAGERS.add(self.manager)

    def save(self, step: int, tree: Any, histories: list[list[dict]]) -> None:
        """Saves after ``step`` steps. ``tree`` (jax arrays, possibly sharded over
        hosts) is copied first, so the caller may donate its buffers to the next
        train step while the write goes on."""
        snapshot = _copy(tree)
        logged = [list(h) for h in histories]  # the caller keeps appending while the write goes on
        args = ocp.args.Composite(state=ocp.args.StandardSave(snapshot), histories=ocp.args.JsonSave(logged))
        with exclusive_orbax():  # the write goes on in the background, after the block
            self.manager.save(step, args=args)

    def restore_latest(self, like: Any, sharding) -> tuple[int, Any, list[list[dict]]] | None:
        """The newest readable checkpoint as ``(step, tree, histories)``, or None if there is none.

        ``like``: a tree of the same structure (arrays or shape/dtype structs),
        restored with ``sharding``. A checkpoint that fails to restore (corrupted
        or partly written) is skipped with a warning and the one before it is used.
        """
        abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), like)
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                with exclusive_orbax():
                    restored = self.manager.restore(step, args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(abstract), histories=ocp.args.JsonRestore()))
            except Exception as e:  # orbax raises many types for unreadable data
                warnings.warn(
                    f"checkpoint at step {step} is unreadable ({type(e).__name__}: {e}); trying the previous one"
                )
                continue
            return step, restored["state"], restored["histories"]
        return None

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        with _SAVING:
            _MANAGERS.discard(self.manager)
        self.manager.close()
