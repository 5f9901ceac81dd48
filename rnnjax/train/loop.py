"""Training a SequenceModel on a Language: optimiser, length buckets, jitted step, loop."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tensorboardX import SummaryWriter
from tqdm.auto import tqdm

from rnnjax.models import SequenceModel
from rnnjax.tasks import Language, TaggingTask, Transduction, next_symbol_accuracy, prediction_example, target_mask
from rnnjax.train.checkpoint import PopulationCheckpointer
from rnnjax.train.config import TrainConfig, build_model


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


def bucket_schedule(buckets: list[Bucket], steps: int, seed: int = 0) -> np.ndarray:
    """``int[steps]``: the bucket of each step, drawn with weight proportional to its
    number of n values, so n is uniform over the whole range.

    The schedule is shared by every member of a population (one program per
    bucket), so it does not depend on the member's seed.
    """
    sizes = np.array([b.n_hi - b.n_lo + 1 for b in buckets], float)
    return np.random.default_rng(seed).choice(len(buckets), size=steps, p=sizes / sizes.sum())


# Config fields that may differ between members of one population program.
MEMBER_FIELDS = ("seed", "learning_rate", "clip_norm")


def program_key(cfg: TrainConfig) -> TrainConfig:
    """Configs with equal keys train as one vmapped program (same shapes, same code)."""
    return dataclasses.replace(cfg, seed=0, learning_rate=1.0, clip_norm=float(cfg.clip_norm > 0))


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam or SGD. Clip norm and learning rate live in
    the optimiser state (``inject_hyperparams``), so members of a population can
    differ in them inside one program, and they can be logged."""
    base = {"adam": optax.adam, "sgd": optax.sgd}[cfg.optimizer]
    opt = optax.inject_hyperparams(base)(learning_rate=cfg.learning_rate)
    if cfg.clip_norm == 0:
        return opt
    return optax.chain(optax.inject_hyperparams(optax.clip_by_global_norm)(max_norm=cfg.clip_norm), opt)


def learning_rate(opt_state) -> jax.Array:
    """The current learning rate stored by ``inject_hyperparams`` in ``opt_state``."""
    for s in (opt_state, *opt_state):
        if "learning_rate" in getattr(s, "hyperparams", {}):
            return s.hyperparams["learning_rate"]
    raise ValueError("optimizer state has no injected learning rate")


class TrainState(NamedTuple):
    """One member's state; a population stacks members along a leading axis."""

    params: Any
    opt_state: Any
    step: jax.Array
    diverged_at: jax.Array
    """-1 while finite; else the step whose update made loss or parameters non-finite
    (the state stays frozen at its last finite value from then on)"""


def member_keys(cfg: TrainConfig) -> tuple[jax.Array, jax.Array]:
    """``(init_key, data_key)`` of a member, from its seed."""
    init_key, data_key = jax.random.split(jax.random.key(cfg.seed))
    return init_key, data_key


def init_state(model: SequenceModel, cfg: TrainConfig) -> TrainState:
    params = model.init(member_keys(cfg)[0])
    minus_one = -jnp.ones((), jnp.int32)
    return TrainState(params, make_optimizer(cfg).init(params), jnp.zeros((), jnp.int32), minus_one)


def stack_members(trees: list) -> Any:
    """Member pytrees -> one pytree with a leading member axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def prediction_loss(model: SequenceModel, language: Language, batch_size: int, max_len: int, threshold: float):
    """``(params, key, n_lo, n_hi) -> (loss, accuracy)`` of next-symbol prediction on a
    batch of members sampled from ``key``, padded to ``max_len``: mean cross-entropy
    over the real positions, and the next-symbol-set accuracy."""

    def loss_fn(params, key, n_lo, n_hi):
        keys = jax.random.split(key, batch_size)
        tokens, lengths = jax.vmap(language.sample, (0, None, None, None))(keys, n_lo, n_hi, max_len)
        inputs, targets, mask = jax.vmap(prediction_example, (0, 0, None))(tokens, lengths, language.eos)
        sets = jax.vmap(language.next_symbol_sets)(tokens)
        log_probs = jax.nn.log_softmax(jax.vmap(model.apply, (None, 0))(params, inputs))
        nll = -jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        loss = jnp.sum(nll * mask) / jnp.sum(mask)
        accuracy = jax.vmap(next_symbol_accuracy, (0, 0, 0, None))(log_probs, sets, mask, threshold)
        return loss, jnp.mean(accuracy)

    return loss_fn


def tagging_loss(model: SequenceModel, task: TaggingTask, batch_size: int, length: int):
    """``(params, key, n_lo, n_hi) -> (loss, accuracy)`` of per-position tagging on a
    batch of ``length``-symbol strings (``n_lo, n_hi`` unused): mean cross-entropy
    and per-token accuracy."""

    def loss_fn(params, key, n_lo, n_hi):
        tokens = jax.vmap(task.sample, (0, None))(jax.random.split(key, batch_size), length)
        labels = jax.vmap(task.labels)(tokens)
        logits = jax.vmap(model.apply, (None, 0))(params, tokens)
        loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
        return loss, jnp.mean(jnp.argmax(logits, axis=-1) == labels)

    return loss_fn


def transduction_loss(model: SequenceModel, task: Transduction, batch_size: int, max_len: int):
    """``(params, key, n_lo, n_hi) -> (loss, accuracy)`` of teacher-forced transduction
    on a batch with source lengths in ``[n_lo, n_hi]``: mean cross-entropy over the
    target symbols and final EOS, and the per-symbol accuracy there."""

    def loss_fn(params, key, n_lo, n_hi):
        keys = jax.random.split(key, batch_size)
        tokens, n = jax.vmap(task.sample, (0, None, None, None))(keys, n_lo, n_hi, max_len)
        logits = jax.vmap(model.apply, (None, 0))(params, tokens[:, :-1])
        mask = jax.vmap(target_mask, (0, None))(n, max_len - 1)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:])
        correct = jnp.argmax(logits, axis=-1) == tokens[:, 1:]
        return jnp.sum(nll * mask) / jnp.sum(mask), jnp.sum(correct * mask) / jnp.sum(mask)

    return loss_fn


def make_loss(cfg: TrainConfig, model: SequenceModel, task, bucket: Bucket):
    if cfg.objective == "tagging":
        return tagging_loss(model, task, cfg.batch_size, bucket.max_len)
    if cfg.objective == "transduction":
        return transduction_loss(model, task, cfg.batch_size, bucket.max_len)
    return prediction_loss(model, task, cfg.batch_size, bucket.max_len, cfg.threshold)


def train_buckets(cfg: TrainConfig, task) -> list[Bucket]:
    if cfg.objective == "tagging":
        return [Bucket(1, cfg.train_length // 2, cfg.train_length)]
    return length_buckets(task, cfg.n_min, cfg.n_max, cfg.num_buckets)


def make_train_step(loss_fn, optimizer: optax.GradientTransformation):
    """``(state, key, n_lo, n_hi) -> (state, metrics)`` for one member.

    ``loss_fn(params, key, n_lo, n_hi) -> (loss, accuracy)`` samples its own batch.
    A member whose loss, gradients or new parameters are not finite keeps its
    old state and records the step in ``diverged_at``.
    """

    def train_step(state: TrainState, key, n_lo, n_hi):
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, key, n_lo, n_hi)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(loss) & tree_all_finite(grads) & tree_all_finite(params)
        alive = state.diverged_at < 0
        keep_new = finite & alive
        new = TrainState(params, opt_state, state.step + 1, state.diverged_at)
        old = state._replace(step=state.step + 1, diverged_at=jnp.where(alive, state.step, state.diverged_at))
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep_new, a, b), new, old)
        metrics = {
            "loss": loss,
            "accuracy": accuracy,
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": learning_rate(state.opt_state),
        }
        return state, metrics

    return train_step


def tree_all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


@dataclasses.dataclass
class TrainResult:
    """One member's outcome."""

    params: Any
    history: list[dict[str, float]]
    """logged metrics, one dict per logged step"""
    diverged_at: int | None
    """step whose update was not finite; parameters are the last finite ones"""
    steps_per_second: float
    """of the whole population program this member trained in"""
    process: int = 0
    """the process whose device trained this member"""


def population_sharding(devices=None) -> NamedSharding:
    """Shards a leading population axis over ``devices`` (default: every device of
    every process, so a multi-host population is one global array)."""
    devices = np.array(devices if devices is not None else jax.devices())
    return NamedSharding(Mesh(devices, ("population",), axis_types=(AxisType.Auto,)), P("population"))


def member_owners(sharding: NamedSharding, size: int) -> np.ndarray:
    """``int[size]``: the process whose device holds each member."""
    owners = np.zeros(size, int)
    for device, index in sharding.devices_indices_map((size,)).items():
        owners[index[0]] = device.process_index
    return owners


def _to_global(host_tree, sharding: NamedSharding):
    """Host arrays (the same on every process) -> arrays sharded by ``sharding``."""
    return jax.tree_util.tree_map(lambda x: jax.make_array_from_callback(x.shape, sharding, lambda i: x[i]), host_tree)


def member_bytes(cfg: TrainConfig) -> int:
    """Device memory one member needs in its largest train step, from XLA's own
    accounting of the compiled program (arguments + outputs + temporaries)."""
    task, model = build_model(cfg, training=True)
    step = make_train_step(make_loss(cfg, model, task, train_buckets(cfg, task)[-1]), make_optimizer(cfg))
    state = jax.eval_shape(lambda: init_state(model, cfg))
    stats = jax.jit(step).lower(state, jax.random.key(0), 1, 1).compile().memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def train_population(
    cfgs: list[TrainConfig],
    run_dirs: list[str | Path] | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 500,
    keep: int = 3,
    resume: bool = False,
    devices=None,
    progress: bool = True,
) -> list[TrainResult]:
    """Trains several members as one vmapped program per length bucket.

    Members may differ only in ``MEMBER_FIELDS`` (seed, learning rate, clip norm).
    The population axis is sharded over ``devices`` (default: all devices of all
    processes; padded with copies of the last member to a multiple of their
    number). With several processes every process calls this with the same
    arguments; each computes the members on its devices and logs them. Member i
    computes what ``train_population([cfgs[i]])`` computes, to float tolerance.

    Args:
      run_dirs: one TensorBoard directory per member.
      checkpoint_dir: where to save the population every ``checkpoint_every``
        steps (latest ``keep`` kept, asynchronously); None saves nothing.
      resume: continue from the newest readable checkpoint in ``checkpoint_dir``.
    """
    if not cfgs:
        raise ValueError("train_population needs at least one config")
    if len({program_key(c) for c in cfgs}) > 1:
        raise ValueError(f"members may differ only in {MEMBER_FIELDS}; these configs need separate programs")
    cfg = cfgs[0]
    task, model = build_model(cfg, training=True)
    optimizer = make_optimizer(cfg)
    sharding = population_sharding(devices)
    size = sharding.mesh.size * math.ceil(len(cfgs) / sharding.mesh.size)
    members = list(cfgs) + [cfgs[-1]] * (size - len(cfgs))
    owners = member_owners(sharding, size)
    host_tree = jax.device_get(
        {
            "state": stack_members([init_state(model, c) for c in members]),
            "data_keys": jnp.stack([jax.random.key_data(member_keys(c)[1]) for c in members]),
        }
    )
    histories: list[list[dict]] = [[] for _ in cfgs]
    restored = None
    if checkpoint_dir is not None:
        checkpointer = PopulationCheckpointer(checkpoint_dir, checkpoint_every, keep)
        restored = checkpointer.restore_latest(host_tree, sharding) if resume else None
    if restored is not None:
        first, tree, histories = restored
        print(f"{checkpoint_dir}: resuming from step {first}", file=sys.stderr)
    else:
        first, tree = 0, _to_global(host_tree, sharding)
    state, key_data = tree["state"], tree["data_keys"]
    data_keys = jax.random.wrap_key_data(key_data)

    buckets = train_buckets(cfg, task)
    schedule = bucket_schedule(buckets, cfg.steps)

    def population_step(step_fn):
        def run(state, data_keys, i, n_lo, n_hi):
            keys = jax.vmap(jax.random.fold_in, (0, None))(data_keys, i)
            return jax.vmap(step_fn, (0, 0, None, None))(state, keys, n_lo, n_hi)

        return jax.jit(run, donate_argnums=0)

    steps = [population_step(make_train_step(make_loss(cfg, model, task, b), optimizer)) for b in buckets]
    mine = [m for m in range(len(cfgs)) if owners[m] == jax.process_index()]
    writers = {m: SummaryWriter(str(run_dirs[m]), purge_step=first or None) for m in mine} if run_dirs else {}
    start = time.perf_counter()
    with tqdm(range(first, cfg.steps), desc=f"{cfg.task}/{cfg.cell} x{len(cfgs)}", disable=not progress) as bar:
        for i in bar:
            b = buckets[schedule[i]]
            state, metrics = steps[schedule[i]](state, data_keys, i, b.n_lo, b.n_hi)
            if i % cfg.log_every == 0 or i == cfg.steps - 1:
                metrics, diverged_at = gather((metrics, state.diverged_at))
                _log(metrics, i, histories, writers)
                alive = diverged_at[: len(cfgs)] < 0
                losses = [h[-1]["loss"] for h, a in zip(histories, alive) if a]
                bar.set_postfix(loss=f"{np.median(losses) if losses else np.nan:.4f}", alive=f"{alive.sum()}/{len(cfgs)}")
            if checkpoint_dir is not None and ((i + 1) % checkpointer.every == 0 or i + 1 == cfg.steps):
                checkpointer.save(i + 1, {"state": state, "data_keys": key_data}, histories)
    elapsed = time.perf_counter() - start
    if checkpoint_dir is not None:
        checkpointer.wait()
        checkpointer.close()
    for w in writers.values():
        w.close()
    params, diverged = gather((state.params, state.diverged_at))
    return [
        TrainResult(
            jax.tree_util.tree_map(lambda x: x[m], params),
            histories[m],
            int(diverged[m]) if diverged[m] >= 0 else None,
            (cfg.steps - first) / elapsed if elapsed > 0 else float("nan"),
            int(owners[m]),
        )
        for m in range(len(cfgs))
    ]


def gather(tree):
    """Population-sharded arrays -> host numpy arrays of every member, on every process."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _log(metrics: dict, step: int, histories: list[list[dict]], writers: dict[int, SummaryWriter]) -> None:
    for m, history in enumerate(histories):
        record = {k: float(v[m]) for k, v in metrics.items()}
        history.append(record | {"step": step})
        if m in writers:
            for k, v in record.items():
                writers[m].add_scalar(f"train/{k}", v, step)


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, progress: bool = True) -> TrainResult:
    """Trains one model (a population of one); logs to TensorBoard under ``run_dir``."""
    return train_population([cfg], None if run_dir is None else [run_dir], progress=progress)[0]
