"""Stopping rules: a member stops training when a criterion holds, frozen in program.

Every ``stop_every`` steps the population program scores each member's params with
a check (``stop_when`` of the run config):

    fit:  the task's ``fit`` (e.g. every training word accepted and its near misses
          rejected), or, for tasks without one, the training ``accuracy`` metric on a
          held-out batch; the member stops at score 1.
    loss: minus the task loss on that held-out batch; the member stops once the loss
          is at most ``stop_loss``.

With ``stop_patience`` p > 0 a member also stops after p checks in a row without a
better score (patience). A stopped member keeps its params from then on, like a
diverged one (``TrainState``), and ``stopped_at`` records the steps it trained.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.models import Bound

HELD_OUT = 256
"""Examples in the held-out batch of the checks of tasks without a ``fit``."""
HELD_OUT_SEED = 2**31 - 1
"""Its key; training batches use the members' data keys, so it is never trained on."""


class Stopping(NamedTuple):
    """A member's stopping state (scalars; stacked ``[P]`` in a population)."""

    stopped_at: jax.Array
    """-1 while training; else the number of steps trained when it stopped"""
    score: jax.Array
    """the last check's score (nan before the first)"""
    best: jax.Array
    """the best score so far (-inf before the first check)"""
    waited: jax.Array
    """checks since the best score"""


def initial_stopping() -> Stopping:
    return Stopping(-jnp.ones((), jnp.int32), jnp.full((), jnp.nan), jnp.full((), -jnp.inf), jnp.zeros((), jnp.int32))


def held_out_batch(task, max_len: int) -> dict[str, np.ndarray]:
    """``HELD_OUT`` examples with n uniform over the task's training range (host arrays)."""
    keys = jax.random.split(jax.random.key(HELD_OUT_SEED), HELD_OUT)
    n_lo, n_hi = task.sizes
    return jax.device_get(jax.jit(jax.vmap(lambda k: task.sample(k, n_lo, n_hi, max_len)))(keys))


def check_score(parts, rule: str):
    """``params -> (score: float[], target: float[])`` of one member for ``rule``
    (``"fit"`` or ``"loss"``): the member has met the rule when ``score >= target``."""
    task, model, cfg = parts.task, parts.eval_model, parts.config
    if rule == "fit" and task.fit is not None:
        return lambda params: (task.fit(Bound(model, params)), jnp.ones(()))
    if rule == "fit" and "accuracy" not in task.train_metrics:
        raise ValueError(f"stop_when=fit: task {task.name!r} has no fit check and no training accuracy; "
                         "use stop_when=loss")
    batch = held_out_batch(task, parts.buckets[-1].max_len)

    def score(params):
        logits = jax.vmap(model.apply, (None, 0))(params, jnp.asarray(batch["inputs"]))
        loss, metrics = task.loss(logits, jax.tree.map(jnp.asarray, batch))
        if rule == "fit":
            return metrics["accuracy"], jnp.ones(())
        return -loss, -jnp.asarray(cfg.run.stop_loss, loss.dtype)

    return score


def stopping_check(parts):
    """``(state: TrainState of a population, steps: int[]) -> state`` that scores every
    member still training and stops those that met the rule (or ran out of patience)
    after ``steps`` steps; None when the config has no stopping rule."""
    run = parts.config.run
    if run.stop_when == "never":
        return None
    score_fn = jax.vmap(check_score(parts, run.stop_when))

    def check(state, steps):
        score, target = score_fn(state.params)
        stop = state.stop
        improved = score > stop.best
        waited = jnp.where(improved, 0, stop.waited + 1)
        met = (score >= target) | ((waited >= run.stop_patience) if run.stop_patience else False)
        live = training(state)
        new = Stopping(jnp.where(live & met, steps, stop.stopped_at), score, jnp.maximum(score, stop.best), waited)
        new = jax.tree.map(lambda a, b: jnp.where(live, a, b), new, stop)
        return state._replace(stop=new)

    return check


def training(state: Any) -> jax.Array:
    """``bool[P]``: members neither stopped nor diverged."""
    return (state.stop.stopped_at < 0) & (state.diverged_at < 0)
