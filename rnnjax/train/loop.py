"""Training a population of members on a Task: optimiser, the jitted step, the loop, the results.

``train_population`` is four steps: ``set_up`` (members' initial states, or a
restored checkpoint, sharded over the devices), ``population_program`` (one jitted
program running many vmapped steps per call), ``run_loop`` (the calls, logging, checkpoints)
and ``results``.
"""

from __future__ import annotations

import dataclasses
import functools
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
from jax.sharding import NamedSharding
from tensorboardX import SummaryWriter
from tqdm.auto import tqdm

from rnnjax.devices import population_sharding
from rnnjax.eval.generalisation import chunk_size
from rnnjax.memory.reinforce import sampled_batch_loss
from rnnjax.tasks import Task
from rnnjax.train import interrupt
from rnnjax.train.build import Bucket, Parts, build
from rnnjax.train.checkpoint import PopulationCheckpointer
from rnnjax.train.config import TrainConfig
from rnnjax.train.stopping import Stopping, initial_stopping, stopping_check, training

MEMBER_FIELDS = ("seed", "learning_rate", "clip_norm")
"""Config fields that may differ between members of one population program."""


def program_key(cfg: TrainConfig) -> TrainConfig:
    """Configs with equal keys train as one vmapped program (same shapes, same code)."""
    return cfg.replace(seed=0, learning_rate=1.0, clip_norm=float(cfg.optim.clip_norm > 0))


def bucket_schedule(buckets: tuple[Bucket, ...], steps: int, seed: int = 0, first: int = 0) -> np.ndarray:
    """``int[steps - first]``: the bucket of each step from ``first``, drawn with weight
    proportional to its number of n values, so n is uniform over the whole range.

    The schedule is shared by every member of a population (one program per
    bucket), so it does not depend on the member's seed. Step i's draw is the i-th
    number of ``default_rng(seed)``, so any range of steps is drawn without the ones
    before it.
    """
    sizes = np.array([b.n_hi - b.n_lo + 1 for b in buckets], float)
    rng = np.random.default_rng(seed)
    rng.bit_generator.advance(first)
    cdf = np.cumsum(sizes / sizes.sum())
    return cdf.searchsorted(rng.random(steps - first) * cdf[-1], side="right")


def padded_lengths(buckets: tuple[Bucket, ...]) -> list[int]:
    """The buckets' distinct ``max_len``, in order: one branch of the train program each."""
    return list(dict.fromkeys(b.max_len for b in buckets))


class Schedule:
    """The rows of a run's steps, computed a range at a time (``rows``), so a run of any
    length needs memory for one call's steps only.

    A row is ``(padded length index, n_lo, n_hi)``: the padded length's index among the
    buckets' distinct ``max_len``, and the range the step's batch samples n from.
    ``order="random"``: a bucket per step (``bucket_schedule``), n uniform in it.
    ``order="epochs"``: each epoch visits every training n once, in an order shuffled
    per epoch; the step's batch holds examples of that one n. ``order="curriculum"``:
    n uniform in ``[n_min, m]``, m growing linearly from n_min to n_max over the first
    half of the steps. Shared by every member.
    """

    def __init__(self, buckets: tuple[Bucket, ...], steps: int, order: str = "random", seed: int = 0):
        if order not in ("random", "epochs", "curriculum"):
            raise ValueError(f"order must be 'random', 'epochs' or 'curriculum', got {order!r}")
        lengths = padded_lengths(buckets)
        self.buckets, self.steps, self.order, self.seed = buckets, steps, order, seed
        self.table = np.array([[lengths.index(b.max_len), b.n_lo, b.n_hi] for b in buckets], np.int32)
        self.ns = np.arange(buckets[0].n_lo, buckets[-1].n_hi + 1)
        self._epochs: tuple[int, np.random.Generator, np.ndarray] | None = None

    def branch(self, n: np.ndarray) -> np.ndarray:
        return self.table[np.searchsorted([b.n_hi for b in self.buckets], n), 0]

    def rows(self, first: int = 0, last: int | None = None) -> np.ndarray:
        """``int32[last - first, 3]``: the rows of steps ``first .. last - 1``."""
        last = self.steps if last is None else last
        steps = np.arange(first, last)
        if self.order == "random":
            return self.table[bucket_schedule(self.buckets, last, self.seed, first)]
        if self.order == "epochs":
            n = np.concatenate([self._epoch(e) for e in range(first // self.ns.size, -(-last // self.ns.size))])
            n = n[first % self.ns.size :][: last - first]
            return np.stack([self.branch(n), n, n], axis=1).astype(np.int32)
        n_min, n_max = int(self.ns[0]), int(self.ns[-1])
        top = np.round(n_min + (n_max - n_min) * np.minimum(1.0, steps / max(1, self.steps // 2))).astype(int)
        return np.stack([self.branch(top), np.full(steps.size, n_min), top], axis=1).astype(np.int32)

    def _epoch(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s order of n: the epoch-th permutation drawn from
        ``default_rng(seed)`` (drawn forward from the last one asked for)."""
        if self._epochs is None or self._epochs[0] > epoch:
            rng = np.random.default_rng(self.seed)
            self._epochs = (0, rng, rng.permutation(self.ns))
        done, rng, order = self._epochs
        for done in range(done + 1, epoch + 1):
            order = rng.permutation(self.ns)
        self._epochs = (epoch, rng, order)
        return order


def step_schedule(buckets: tuple[Bucket, ...], steps: int, order: str = "random", seed: int = 0) -> np.ndarray:
    """``int32[steps, 3]``: every row of ``Schedule(buckets, steps, order, seed)``."""
    return Schedule(buckets, steps, order, seed).rows()


def make_optimizer(cfg: TrainConfig, learning_rate=None, clip_norm=None) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam, SGD or RMSProp. Clip norm and learning rate live in
    the optimiser state (``inject_hyperparams``), so members of a population can
    differ in them inside one program, and they can be logged. ``learning_rate`` and
    ``clip_norm`` (e.g. traced) replace the config's values."""
    o = cfg.optim
    lr = o.learning_rate if learning_rate is None else learning_rate
    opt = optax.inject_hyperparams({"adam": optax.adam, "sgd": optax.sgd, "rmsprop": optax.rmsprop}[o.name])(
        learning_rate=lr)
    if o.clip_norm == 0:
        return opt
    clip = o.clip_norm if clip_norm is None else clip_norm
    return optax.chain(optax.inject_hyperparams(optax.clip_by_global_norm)(max_norm=clip), opt)


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
    stop: Stopping
    """the stopping rule's state (``rnnjax.train.stopping``); a stopped member is frozen too"""


def member_keys(seed) -> tuple[jax.Array, jax.Array]:
    """``(init_key, data_key)`` of a member, from its seed."""
    init_key, data_key = jax.random.split(jax.random.key(seed))
    return init_key, data_key


def init_state(model, cfg: TrainConfig, seed=None, learning_rate=None, clip_norm=None) -> TrainState:
    """A member's initial state; ``seed``, ``learning_rate``, ``clip_norm`` (e.g.
    traced) replace the config's values."""
    params = model.init(member_keys(cfg.run.seed if seed is None else seed)[0])
    minus_one = -jnp.ones((), jnp.int32)
    opt_state = make_optimizer(cfg, learning_rate, clip_norm).init(params)
    return TrainState(params, opt_state, jnp.zeros((), jnp.int32), minus_one, initial_stopping())


def init_population(parts: Parts, cfgs: list[TrainConfig]) -> dict:
    """``{"state": TrainState, "data_keys": uint32[P, 2]}`` of members ``cfgs`` (one
    program: they differ only in ``MEMBER_FIELDS``) as host arrays, from one compiled
    program called per member (a vmapped one compiles slower), built once per program."""

    def make():
        @jax.jit
        def one(seed, learning_rate, clip_norm):
            state = init_state(parts.model, parts.config, seed, learning_rate, clip_norm)
            return {"state": state, "data_keys": jax.random.key_data(member_keys(seed)[1])}

        return one

    one = parts.program("init", make)
    return stack_members([jax.device_get(one(np.uint32(c.run.seed), np.float32(c.optim.learning_rate),
                                             np.float32(c.optim.clip_norm))) for c in cfgs])


def stack_members(trees: list) -> Any:
    """Member pytrees -> one pytree (host arrays) with a leading member axis."""
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *trees)


def batch_loss(task: Task, model, batch_size: int, max_len: int):
    """``(params, key, n_lo, n_hi) -> (loss, metrics)`` of ``task.loss`` on a batch of
    ``batch_size`` examples sampled from ``key`` with n in ``[n_lo, n_hi]``. A model with
    a training mode (``train_apply(params, tokens, key)``, e.g. dropout) gets per-example
    keys from ``fold_in(key, 1)``; a model whose cell samples (``model.samples``, hard
    memory heads) is trained on the REINFORCE surrogate (``rnnjax.memory.reinforce``)."""

    def loss_fn(params, key, n_lo, n_hi):
        keys = jax.random.split(key, batch_size)
        batch = jax.vmap(task.sample, (0, None, None, None))(keys, n_lo, n_hi, max_len)
        if getattr(model, "samples", False):
            return sampled_batch_loss(task, model, params, batch, jax.random.split(jax.random.fold_in(key, 1),
                                                                                   batch_size))
        if hasattr(model, "train_apply"):
            noise = jax.random.split(jax.random.fold_in(key, 1), batch_size)
            logits = jax.vmap(model.train_apply, (None, 0, 0))(params, batch["inputs"], noise)
        else:
            logits = jax.vmap(model.apply, (None, 0))(params, batch["inputs"])
        return task.loss(logits, batch)

    return loss_fn


def make_train_step(loss_fn, optimizer: optax.GradientTransformation):
    """``(state, key, n_lo, n_hi) -> (state, metrics)`` for one member.

    ``loss_fn(params, key, n_lo, n_hi) -> (loss, metrics)`` samples its own batch.
    A member whose loss, gradients or new parameters are not finite keeps its
    old state and records the step in ``diverged_at``; a diverged or stopped member
    keeps its state.
    """

    def train_step(state: TrainState, key, n_lo, n_hi):
        (loss, task_metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, key, n_lo, n_hi)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(loss) & tree_all_finite(grads) & tree_all_finite(params)
        alive = training(state)
        keep_new = finite & alive
        new = TrainState(params, opt_state, state.step + 1, state.diverged_at, state.stop)
        old = state._replace(step=state.step + 1, diverged_at=jnp.where(alive, state.step, state.diverged_at))
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep_new, a, b), new, old)
        metrics = {"loss": loss, **task_metrics, "grad_norm": optax.tree.norm(grads),
                   "learning_rate": learning_rate(state.opt_state)}
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
    steps_per_second: float | None
    """of the whole population program this member trained in"""
    stopped_at: int | None = None
    """steps trained when the stopping rule stopped it; None if it never stopped"""
    process: int = 0
    """the process whose device trained this member"""
    layout: dict = dataclasses.field(default_factory=dict)
    """how it was trained (``members`` mode, population size, devices, processes, backend):
    recorded, never part of its identity"""


def member_owners(sharding: NamedSharding, size: int) -> np.ndarray:
    """``int[size]``: the process whose device holds each member."""
    owners = np.zeros(size, int)
    for device, index in sharding.devices_indices_map((size,)).items():
        owners[index[0]] = device.process_index
    return owners


def _to_global(host_tree, sharding: NamedSharding):
    """Host arrays (the same on every process) -> arrays sharded by ``sharding``."""
    return jax.tree_util.tree_map(lambda x: jax.make_array_from_callback(x.shape, sharding, lambda i: x[i]), host_tree)


def member_bytes(parts: Parts) -> int:
    """Device memory one member needs in its largest train step, from XLA's own
    accounting of the compiled program (arguments + outputs + temporaries)."""
    cfg = parts.config
    loss_fn = batch_loss(parts.task, parts.model, cfg.run.batch_size, parts.buckets[-1].max_len)
    step = make_train_step(loss_fn, make_optimizer(cfg))
    state = jax.eval_shape(lambda: init_state(parts.model, cfg))
    stats = jax.jit(step).lower(state, jax.random.key(0), 1, 1).compile().memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


@functools.cache  # asked for each program by the population cap and by the lanes
def member_bytes_bound(parts: Parts) -> int:
    """A generous bound on ``member_bytes`` from traced shapes alone (no compilation):
    four times the backward pass's residuals (the batch among them) and eight copies
    of the parameters (gradients, optimiser moments, updates)."""
    cfg = parts.config
    loss_fn = batch_loss(parts.task, parts.model, cfg.run.batch_size, parts.buckets[-1].max_len)
    params = jax.eval_shape(parts.model.init, jax.random.key(0))
    residuals = jax.eval_shape(lambda p: jax.vjp(lambda q: loss_fn(q, jax.random.key(0), 1, 1)[0], p)[1], params)
    size = lambda tree: sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(tree))  # noqa: E731
    return 4 * size(residuals) + 8 * size(params)


@dataclasses.dataclass
class Population:
    """A program's members on their devices, from step ``first``."""

    cfgs: list[TrainConfig]
    sharding: NamedSharding
    owners: np.ndarray
    state: TrainState
    key_data: jax.Array
    first: int
    histories: list[list[dict]]

    @property
    def mine(self) -> list[int]:
        """The members this process computes and logs."""
        return [m for m in range(len(self.cfgs)) if self.owners[m] == jax.process_index()]


def set_up(parts: Parts, cfgs: list[TrainConfig], devices=None, checkpointer: PopulationCheckpointer | None = None,
           resume: bool = False) -> Population:
    """Initial member states (padded with copies of the last member to a multiple of
    the device count), or the newest readable checkpoint when ``resume``. A population
    smaller than the device count uses one device per member (in one process, or on the
    ``devices`` given)."""
    if devices is not None or jax.process_count() == 1:
        devices = list(devices or jax.devices())[: len(cfgs)]
    sharding = population_sharding(devices)
    size = sharding.mesh.size * math.ceil(len(cfgs) / sharding.mesh.size)
    members = list(cfgs) + [cfgs[-1]] * (size - len(cfgs))
    host_tree = init_population(parts, members)
    restored = checkpointer.restore_latest(host_tree, sharding) if checkpointer is not None and resume else None
    if restored is None:
        first, tree, histories = 0, _to_global(host_tree, sharding), [[] for _ in cfgs]
    else:
        first, tree, histories = restored
        print(f"{checkpointer.directory}: resuming from the checkpoint at step {first}", file=sys.stderr)
    return Population(list(cfgs), sharding, member_owners(sharding, size), tree["state"], tree["data_keys"], first,
                      histories)


STEPS_PER_CALL = {"cpu": 16, "gpu": 16}
"""Training steps per dispatched program, by backend (measured with ``benchmarks/throughput.py``
on 2 CPU cores and an H200, figures in BUILD_NOTES.md: K = 16 is the best for populations, and for
one member within the run-to-run spread of K = 64); other backends: ``DEFAULT_STEPS_PER_CALL``."""
DEFAULT_STEPS_PER_CALL = 16


def default_steps_per_call() -> int:
    return STEPS_PER_CALL.get(jax.default_backend(), DEFAULT_STEPS_PER_CALL)


def population_program(parts: Parts, steps_per_call: int):
    """The jitted training program of a population: ``(state, data_keys, first, count,
    schedule) -> (state, metrics, ran)`` runs steps ``first .. first + count - 1``
    (``count <= steps_per_call``) in one call, or ``ran < count`` of them when every
    member has stopped or diverged; ``schedule: int32[steps_per_call, 3]``
    holds the rows of ``step_schedule`` for them. Member m's batch at step i comes from
    ``fold_in(data_keys[m], i)``. ``metrics``: each ``[steps_per_call, members]``, rows
    from ``count`` on unset. After every ``stop_every``-th step the stopping rule, if
    any, checks the members (``rnnjax.train.stopping``).

    The steps run in a ``while_loop`` (trip count traced, so every chunk length is the
    same program) over a ``lax.switch`` between one step per padded length (buckets of
    the same padded length share a branch; their n range is traced).
    """
    if steps_per_call < 1:
        raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
    cfg, optimizer = parts.config, make_optimizer(parts.config)
    check = stopping_check(parts)

    def branch(max_len: int):
        step = make_train_step(batch_loss(parts.task, parts.model, cfg.run.batch_size, max_len), optimizer)

        def run(state, keys, n_lo, n_hi):
            if keys.shape[0] == 1:  # on CPU a member axis of size 1 makes some backward passes 4x slower
                one = step(jax.tree.map(lambda x: x[0], state), keys[0], n_lo, n_hi)
                return jax.tree.map(lambda x: x[None], one)
            return jax.vmap(step, (0, 0, None, None))(state, keys, n_lo, n_hi)

        return run

    branches = [branch(max_len) for max_len in padded_lengths(parts.buckets)]

    def program(state, data_keys, first, count, schedule):
        def body(carry):
            j, state, metrics = carry
            length, n_lo, n_hi = schedule[j]
            keys = jax.vmap(jax.random.fold_in, (0, None))(data_keys, first + j)
            state, new = jax.lax.switch(length, branches, state, keys, n_lo, n_hi)
            if check is not None:
                steps = first + j + 1
                state = jax.lax.cond(steps % cfg.run.stop_every == 0, check, lambda s, _: s, state, steps)
                new["check_score"] = state.stop.score
            return j + 1, state, jax.tree.map(lambda rows, x: rows.at[j].set(x), metrics, new)

        def more(carry):
            j, state, _ = carry
            return (j < count) & (jnp.any(training(state)) if check is not None else True)

        shapes = jax.eval_shape(branches[0], state, data_keys, 1, 1)[1]
        if check is not None:
            shapes["check_score"] = jax.ShapeDtypeStruct(state.stop.score.shape, state.stop.score.dtype)
        rows = jax.tree.map(lambda s: jnp.zeros((steps_per_call, *s.shape), s.dtype), shapes)
        ran, state, rows = jax.lax.while_loop(more, body, (jnp.zeros((), jnp.int32), state, rows))
        return state, rows, ran

    return jax.jit(program, donate_argnums=0)


def run_loop(parts: Parts, population: Population, program, steps_per_call: int, writers: dict[int, SummaryWriter],
             checkpointer: PopulationCheckpointer | None, progress: bool,
             position: int = 0) -> tuple[TrainState, int, float]:
    """Trains from ``population.first`` to the last step in calls of ``program`` of at
    most ``steps_per_call`` steps, cut at checkpoint steps; logs every ``log_every``
    steps and checkpoints every ``checkpointer.every``. Ends early once every member
    has stopped or diverged (the last step trained is logged and checkpointed).
    When a stop is requested (``rnnjax.train.interrupt``) it saves a checkpoint after
    the current call and raises ``Interrupted``. ``position``: the progress bar's line.
    Returns the final state, the steps it ran and the seconds they took."""
    cfg, buckets = parts.config, parts.buckets
    schedule = Schedule(buckets, cfg.run.steps, cfg.run.order)
    stops = cfg.run.stop_when != "never"
    state, key_data = population.state, population.key_data
    data_keys = jax.random.wrap_key_data(key_data)
    count, total, every = len(population.cfgs), cfg.run.steps, cfg.run.log_every
    start = time.perf_counter()
    who = f"seed {population.cfgs[0].run.seed}" if count == 1 else f"x{count}"
    label = f"{cfg.task.name}/{cfg.model.label} {who}"
    ended = stops and not gather(training(state))[:count].any()  # e.g. resumed after every member stopped
    with tqdm(total=total - population.first, desc=label, disable=not progress, position=position,
              leave=position == 0) as bar:
        first = population.first
        while first < total and not ended:
            last = min(first + steps_per_call, total)
            if checkpointer is not None:
                last = min(last, checkpointer.every * (first // checkpointer.every + 1))
            chunk = np.zeros((steps_per_call, 3), np.int32)
            chunk[: last - first] = schedule.rows(first, last)
            state, metrics, ran = program(state, data_keys, first, last - first, chunk)
            if stops:  # otherwise every step ran; no wait for the device
                last, ended = first + int(ran), not gather(training(state))[:count].any()
            ended = ended or last == total
            logged = [i for i in range(first, last) if i % every == 0 or (ended and i == last - 1)]
            if logged:
                metrics, diverged_at = gather((metrics, state.diverged_at))
                for i in logged:
                    _log({k: v[i - first] for k, v in metrics.items()}, i, population.histories, writers)
                alive = diverged_at[:count] < 0
                losses = [h[-1]["loss"] for h, a in zip(population.histories, alive) if a]
                bar.set_postfix(loss=f"{np.median(losses) if losses else np.nan:.4f}", alive=f"{alive.sum()}/{count}")
            bar.update(last - first)
            stopping = interrupt.requested() and not ended
            if checkpointer is not None and (last % checkpointer.every == 0 or ended or stopping):
                checkpointer.save(last, {"state": state, "data_keys": key_data}, population.histories)
            first = last
            if stopping:
                raise interrupt.Interrupted(f"{label} stopped at step {last} of {total}")
    return state, first - population.first, time.perf_counter() - start


def results(population: Population, state: TrainState, trained: int, elapsed: float, mode: str) -> list[TrainResult]:
    params, diverged, stopped = gather((state.params, state.diverged_at, state.stop.stopped_at))
    rate = trained / elapsed if trained > 0 and elapsed > 0 else None  # None: resumed at its last step
    layout = {"members": mode, "population": len(population.cfgs), "devices": population.sharding.mesh.size,
              "processes": jax.process_count(), "backend": jax.default_backend()}
    return [TrainResult(jax.tree_util.tree_map(lambda x: x[m], params), population.histories[m],
                        int(diverged[m]) if diverged[m] >= 0 else None, rate,
                        stopped_at=int(stopped[m]) if stopped[m] >= 0 else None, process=int(population.owners[m]),
                        layout=layout | {"process": int(population.owners[m])})
            for m in range(len(population.cfgs))]


def check_evaluation(parts: Parts, members: int) -> None:
    """Refuses, before training, an evaluation whose longest example cannot fit in memory."""
    chunk_size(parts.eval_model, members, parts.task.evaluation.longest)


MEMBER_MODES = {"cpu": "map"}
"""How a program's members train, by backend (others: ``"vmap"``). ``"map"``: each member
is a population of one, the same compiled program whatever trains beside it, so its
numbers are a function of its config alone; on XLA:CPU batching members buys little
(``benchmarks/population_cost.py``). ``"vmap"``: the members are one batched program,
the throughput of accelerators, equal across layouts to float tolerance only."""


def member_mode(mode: str | None = None) -> str:
    """``mode`` checked, or the backend's default (``MEMBER_MODES``)."""
    mode = mode or MEMBER_MODES.get(jax.default_backend(), "vmap")
    if mode not in ("map", "vmap"):
        raise ValueError(f"members must be 'map' or 'vmap', got {mode!r}")
    return mode


def train_population(
    cfgs: list[TrainConfig],
    run_dirs: list[str | Path] | None = None,
    *,
    parts: Parts | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 500,
    keep: int = 3,
    resume: bool = False,
    devices=None,
    progress: bool = True,
    steps_per_call: int | None = None,
    members: str | None = None,
    position: int = 0,
) -> list[TrainResult]:
    """Trains several members of one program.

    Members may differ only in ``MEMBER_FIELDS`` (seed, learning rate, clip norm).
    ``members="map"`` (the CPU default, ``member_mode``) trains each as a population of
    one, one after another, so member i's params, metrics and results are bitwise those
    of ``train_population([cfgs[i]])`` on any devices. ``"vmap"`` trains them as one
    batched program whose population axis is sharded over ``devices`` (default: all
    devices of all processes); member i then equals its solo run to float tolerance.
    With several processes every process calls this with the same arguments; each
    computes the members on its devices and logs them.

    Args:
      run_dirs: one TensorBoard directory per member.
      parts: ``build(cfgs[0])`` when the caller has it already.
      checkpoint_dir: where to save the population every ``checkpoint_every``
        steps (latest ``keep`` kept, asynchronously); None saves nothing. Mapped
        members save under ``checkpoint_dir/member<i>``.
      resume: continue from the newest readable checkpoint in ``checkpoint_dir``.
      steps_per_call: training steps per dispatched program (None: the backend's
        default, ``default_steps_per_call``); results do not depend on it.
      position: the progress bar's line (lanes training at once).
    """
    if not cfgs:
        raise ValueError("train_population needs at least one config")
    if len({program_key(c) for c in cfgs}) > 1:
        raise ValueError(f"members may differ only in {MEMBER_FIELDS}; these configs need separate programs")
    parts, mode = parts or build(cfgs[0]), member_mode(members)
    if mode == "map" and len(cfgs) > 1:
        return [result for i, cfg in enumerate(cfgs) for result in train_population(
            [cfg], run_dirs and [run_dirs[i]], parts=parts, members=mode, resume=resume, devices=devices,
            checkpoint_dir=checkpoint_dir and Path(checkpoint_dir) / f"member{i}", checkpoint_every=checkpoint_every,
            keep=keep, progress=progress, steps_per_call=steps_per_call, position=position)]
    check_evaluation(parts, len(cfgs))
    checkpointer = None if checkpoint_dir is None else PopulationCheckpointer(checkpoint_dir, checkpoint_every, keep)
    population = set_up(parts, cfgs, devices, checkpointer, resume)
    writers = {m: SummaryWriter(str(run_dirs[m]), purge_step=population.first or None)
               for m in population.mine} if run_dirs else {}
    try:
        k = default_steps_per_call() if steps_per_call is None else steps_per_call
        program = parts.program(("train", k), lambda: population_program(parts, k))
        state, trained, elapsed = run_loop(parts, population, program, k, writers, checkpointer, progress, position)
    finally:
        if checkpointer is not None:
            checkpointer.wait()
            checkpointer.close()
        for w in writers.values():
            w.close()
    return results(population, state, trained, elapsed, mode)


def gather(tree):
    """Population-sharded arrays -> host numpy arrays of every member, on every process."""
    if all(x.is_fully_addressable for x in jax.tree_util.tree_leaves(tree)):
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _log(metrics: dict, step: int, histories: list[list[dict]], writers: dict[int, SummaryWriter]) -> None:
    for m, history in enumerate(histories):
        record = {k: float(v[m]) for k, v in metrics.items()}
        history.append(record | {"step": step})
        if m in writers:
            for k, v in record.items():
                if np.isfinite(v):
                    writers[m].add_scalar(f"train/{k}", v, step)


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, progress: bool = True) -> TrainResult:
    """Trains one model (a population of one); logs to TensorBoard under ``run_dir``."""
    return train_population([cfg], None if run_dir is None else [run_dir], progress=progress)[0]
