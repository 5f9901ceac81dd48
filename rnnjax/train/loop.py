"""Training a SequenceModel on a Language: optimiser, length buckets, jitted step, loop."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tensorboardX import SummaryWriter
from tqdm.auto import tqdm

from rnnjax.models import SequenceModel
from rnnjax.tasks import Language, next_symbol_accuracy, prediction_example
from rnnjax.train.config import TrainConfig, build_model


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    step: jax.Array


@dataclasses.dataclass(frozen=True)
class Bucket:
    """Training strings with parameter n in ``[n_lo, n_hi]``, padded to ``max_len`` tokens."""

    n_lo: int
    n_hi: int
    max_len: int


def length_buckets(language: Language, n_min: int, n_max: int, num_buckets: int, multiple: int = 8) -> list[Bucket]:
    """Splits ``[n_min, n_max]`` into at most ``num_buckets`` contiguous ranges of n.

    Each bucket pads to its longest string rounded up to ``multiple``, so a run
    compiles one train step per bucket instead of one per length.
    """
    edges = np.unique(np.linspace(n_min, n_max + 1, num_buckets + 1).round().astype(int))
    buckets = []
    for lo, hi in zip(edges[:-1], edges[1:] - 1):
        max_len = multiple * math.ceil(language.max_length(int(hi)) / multiple)
        buckets.append(Bucket(int(lo), int(hi), max_len))
    return buckets


def bucket_schedule(buckets: list[Bucket], steps: int, seed: int) -> np.ndarray:
    """``int[steps]``: the bucket of each step, drawn with weight proportional to its
    number of n values, so n is uniform over the whole range."""
    sizes = np.array([b.n_hi - b.n_lo + 1 for b in buckets], float)
    return np.random.default_rng(seed).choice(len(buckets), size=steps, p=sizes / sizes.sum())


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam or SGD with the learning rate kept in the
    state (``inject_hyperparams``) so it can be logged and varied per member."""
    base = {"adam": optax.adam, "sgd": optax.sgd}[cfg.optimizer]
    opt = optax.inject_hyperparams(base)(learning_rate=cfg.learning_rate)
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt) if cfg.clip_norm > 0 else opt


def learning_rate(opt_state) -> jax.Array:
    """The current learning rate stored by ``inject_hyperparams`` in ``opt_state``."""
    states = opt_state if isinstance(opt_state, tuple) else (opt_state,)
    for s in states:
        if hasattr(s, "hyperparams"):
            return s.hyperparams["learning_rate"]
    raise ValueError("optimizer state has no injected learning rate")


def init_state(model: SequenceModel, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    params = model.init(key)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def make_train_step(
    model: SequenceModel,
    language: Language,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    max_len: int,
    threshold: float,
):
    """``(state, key, n_lo, n_hi) -> (state, metrics)`` for batches padded to ``max_len``.

    The batch is sampled inside the program from ``key``; the loss is the mean
    next-token cross-entropy over the real (unpadded) positions.
    """

    def sample(key, n_lo, n_hi):
        keys = jax.random.split(key, batch_size)
        tokens, lengths = jax.vmap(language.sample, (0, None, None, None))(keys, n_lo, n_hi, max_len)
        inputs, targets, mask = jax.vmap(prediction_example, (0, 0, None))(tokens, lengths, language.eos)
        return inputs, targets, mask, jax.vmap(language.next_symbol_sets)(tokens)

    def loss_fn(params, inputs, targets, mask, sets):
        log_probs = jax.nn.log_softmax(jax.vmap(model.apply, (None, 0))(params, inputs))
        nll = -jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        loss = jnp.sum(nll * mask) / jnp.sum(mask)
        accuracy = jax.vmap(next_symbol_accuracy, (0, 0, 0, None))(log_probs, sets, mask, threshold)
        return loss, jnp.mean(accuracy)

    def train_step(state: TrainState, key, n_lo, n_hi):
        batch = sample(key, n_lo, n_hi)
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, *batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": loss,
            "accuracy": accuracy,
            "grad_norm": optax.global_norm(grads),
            "learning_rate": learning_rate(state.opt_state),
        }
        return TrainState(params, opt_state, state.step + 1), metrics

    return jax.jit(train_step, donate_argnums=0)


@dataclasses.dataclass
class TrainResult:
    state: TrainState
    history: list[dict[str, float]]
    """logged metrics, one dict per logged step"""
    diverged_at: int | None
    """first logged step whose loss or parameters were not finite (training stopped there)"""
    steps_per_second: float


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, progress: bool = True) -> TrainResult:
    """Trains one model; logs scalars to TensorBoard under ``run_dir`` when given.

    A non-finite loss or parameter stops the run and is reported in the result
    (``diverged_at``) instead of raising.
    """
    language, model = build_model(cfg)
    optimizer = make_optimizer(cfg)
    init_key, data_key = jax.random.split(jax.random.key(cfg.seed))
    state = init_state(model, optimizer, init_key)
    buckets = length_buckets(language, cfg.n_min, cfg.n_max, cfg.num_buckets)
    steps = [make_train_step(model, language, optimizer, cfg.batch_size, b.max_len, cfg.threshold) for b in buckets]
    schedule = bucket_schedule(buckets, cfg.steps, cfg.seed)

    writer = SummaryWriter(str(run_dir)) if run_dir is not None else None
    history, diverged_at = [], None
    bar = tqdm(range(cfg.steps), desc=f"{cfg.task}/{cfg.cell}/seed{cfg.seed}", disable=not progress, leave=False)
    start = time.perf_counter()
    for i in bar:
        b = buckets[schedule[i]]
        state, metrics = steps[schedule[i]](state, jax.random.fold_in(data_key, i), b.n_lo, b.n_hi)
        if i % cfg.log_every == 0 or i == cfg.steps - 1:
            record = {k: float(v) for k, v in metrics.items()} | {"step": i}
            history.append(record)
            if writer is not None:
                for k, v in metrics.items():
                    writer.add_scalar(f"train/{k}", float(v), i)
            bar.set_postfix(loss=f"{record['loss']:.4f}", acc=f"{record['accuracy']:.3f}")
            if not all_finite(record["loss"], state.params):
                diverged_at = i
                break
    elapsed = time.perf_counter() - start
    if writer is not None:
        writer.close()
    return TrainResult(state, history, diverged_at, (i + 1) / elapsed)


def all_finite(*trees) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(trees))
