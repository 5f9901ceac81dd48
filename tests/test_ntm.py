"""The NTM memory against a loop-over-slots reference of Graves et al. 2014 (eqs. 2-9), the
Cell protocol for NTM-augmented cells, hard addressing and its REINFORCE estimator
(unbiased: checked against the exact gradient of the expected loss by enumeration)."""

import functools
import math
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import rnnjax
from rnnjax import cells, memory
from rnnjax.memory.ntm import circular_shift, content_weights, cosine_similarity, sharpen, write
from rnnjax.memory.reinforce import example_costs, reinforce_loss, sampled_batch_loss
from rnnjax.models import Bound, EncoderDecoder, SequenceModel
from rnnjax.tasks.base import masked_classification
from rnnjax.train import TrainConfig, build
from rnnjax.train.loop import train

STEPS = 6


# ---- the reference: the paper's equations, slot by slot, in float64 numpy ----

def _softplus(x):
    return math.log1p(math.exp(x))


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _softmax(xs):
    e = [math.exp(x - max(xs)) for x in xs]
    return [v / sum(e) for v in e]


def _ref_address(mem, previous, head, width):
    """Eqs. 5-9 for one head: ``mem`` a list of N rows, ``previous`` N weights."""
    n = len(mem)
    key, beta, gate = head[:width], _softplus(head[width]), _sigmoid(head[width + 1])
    shift, gamma = _softmax(list(head[width + 2 : width + 5])), 1.0 + _softplus(head[width + 5])
    similarity = []
    for i in range(n):
        dot = sum(key[c] * mem[i][c] for c in range(width))
        similarity.append(dot / (math.sqrt(sum(k * k for k in key)) * math.sqrt(sum(m * m for m in mem[i]))))
    content = _softmax([beta * k for k in similarity])
    gated = [gate * content[i] + (1 - gate) * previous[i] for i in range(n)]
    shift_mod_n = [0.0] * n  # the shift distribution over offsets mod N (for N <= 2, -1 and +1 coincide)
    for offset, p in zip((-1, 0, 1), shift):
        shift_mod_n[offset % n] += p
    shifted = [sum(gated[j] * shift_mod_n[(i - j) % n] for j in range(n)) for i in range(n)]
    powered = [w**gamma for w in shifted]
    return [p / sum(powered) for p in powered]


def _reference(actions, slots, width, read_heads, write_heads, choose=None, start=None):
    """Reads ``[T, R * W]`` (and the log-probability of the picks) of an NTM driven by
    ``actions`` (write heads address the old memory and write, then read heads address
    the new memory) from ``start`` (memory, read weights, write weights; default: every
    cell 1e-6, every head on slot 0). ``choose(t, kind, head, weights) -> slot`` makes it hard."""
    per_head = width + 6
    mem = [[1e-6] * width for _ in range(slots)]
    read_w = [[1.0] + [0.0] * (slots - 1) for _ in range(read_heads)]
    write_w = [[1.0] + [0.0] * (slots - 1) for _ in range(write_heads)]
    if start is not None:
        mem, read_w, write_w = (np.asarray(x, np.float64).tolist() for x in start)
    reads, log_prob = [], 0.0

    def hard(t, kind, h, w):
        nonlocal log_prob
        if choose is None:
            return w
        slot = choose(t, kind, h, w)
        log_prob += math.log(w[slot])
        return [1.0 if i == slot else 0.0 for i in range(slots)]

    for t, a in enumerate(np.asarray(actions, np.float64)):
        heads = [a[read_heads * per_head + h * (per_head + 2 * width) :][: per_head + 2 * width]
                 for h in range(write_heads)]
        write_w = [hard(t, "write", h, _ref_address(mem, write_w[h], heads[h][:per_head], width))
                   for h in range(write_heads)]
        new = []
        for i in range(slots):
            row = []
            for c in range(width):
                kept, added = mem[i][c], 0.0
                for h in range(write_heads):
                    kept *= 1 - write_w[h][i] * _sigmoid(heads[h][per_head + c])
                    added += write_w[h][i] * math.tanh(heads[h][per_head + width + c])
                row.append(kept + added)
            new.append(row)
        mem = new
        read_w = [hard(t, "read", h, _ref_address(mem, read_w[h], a[h * per_head : (h + 1) * per_head], width))
                  for h in range(read_heads)]
        reads.append([sum(read_w[h][i] * mem[i][c] for i in range(slots))
                      for h in range(read_heads) for c in range(width)])
    return np.array(reads), log_prob


@functools.partial(jax.jit, static_argnums=0)
def _run(mem, actions, key=None, start=None):
    """Reads ``[T, read_dim]`` and every state from ``mem.init`` (or from ``start``:
    memory, read and write weights); seeded with ``key`` when given."""
    def step(state, a):
        state = mem.update(state, a)
        return state, (mem.read(state), state)

    state = mem.init(actions.shape[0], actions.dtype)
    if start is not None:
        state = state._replace(memory=start[0], read_weights=start[1], write_weights=start[2])
    if key is not None:
        state = mem.seed(state, key)
    final, (reads, states) = jax.lax.scan(step, state, actions)
    return reads, states, final


CONFIGS = {"5x3-1r1w": (5, 3, 1, 1), "4x2-2r2w": (4, 2, 2, 2), "2x3-1r2w": (2, 3, 1, 2), "1x2-1r1w": (1, 2, 1, 1)}


def _actions(mem, seed, steps=STEPS, scale=1.5):
    return scale * jax.random.normal(jax.random.key(seed), (steps, mem.action_dim))


@pytest.mark.parametrize("config", list(CONFIGS))
def test_soft_ntm_equals_loop_over_slots_reference(config):
    slots, width, r, w = CONFIGS[config]
    mem = memory.ntm(slots, width, read_heads=r, write_heads=w)
    assert mem.action_dim == r * (width + 6) + w * (3 * width + 6) and mem.read_dim == r * width
    actions = _actions(mem, 0)
    expected, _ = _reference(actions, slots, width, r, w)
    np.testing.assert_allclose(_run(mem, actions)[0], expected, atol=2e-5, rtol=1e-4)
    # from a random state too: the initial one is mirror-symmetric about slot 0, so reads
    # from it cannot tell the direction of a shift
    k_mem, k_read, k_write = jax.random.split(jax.random.key(1), 3)
    start = (jax.random.normal(k_mem, (slots, width)), jax.nn.softmax(jax.random.normal(k_read, (r, slots))),
             jax.nn.softmax(jax.random.normal(k_write, (w, slots))))
    actions = _actions(mem, 1)
    expected, _ = _reference(actions, slots, width, r, w, start=start)
    np.testing.assert_allclose(_run(mem, actions, start=start)[0], expected, atol=2e-5, rtol=1e-4)


def test_addressing_steps_are_the_paper_equations():
    rng = np.random.default_rng(0)
    mem, key = rng.normal(size=(5, 3)), rng.normal(size=3)
    cosine = [mem[i] @ key / (np.linalg.norm(mem[i]) * np.linalg.norm(key)) for i in range(5)]
    np.testing.assert_allclose(cosine_similarity(jnp.asarray(key), jnp.asarray(mem)), cosine, rtol=1e-5)
    content = np.exp(2.0 * np.array(cosine)) / np.exp(2.0 * np.array(cosine)).sum()
    np.testing.assert_allclose(content_weights(jnp.asarray(mem), jnp.asarray(key), 2.0), content,
                               rtol=1e-5)
    one_hot = jnp.array([0.0, 0, 0, 0, 1])
    np.testing.assert_allclose(circular_shift(one_hot, jnp.array([0.0, 0, 1])), [1, 0, 0, 0, 0])  # wraps
    np.testing.assert_allclose(circular_shift(one_hot, jnp.array([1.0, 0, 0])), [0, 0, 0, 1, 0])
    weights = jnp.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(jnp.exp(sharpen(weights, 3.0)), weights**3 / jnp.sum(weights**3),
                               rtol=1e-5)
    w = jnp.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])  # two write heads: erasures multiply, additions sum
    erase, add = jnp.array([[1.0, 0.0], [0.5, 0.5]]), jnp.array([[1.0, 2.0], [3.0, 4.0]])
    before = jnp.ones((3, 2))
    expected = np.array([[0.5 + 0.5, 1 + 1.0], [0.5 * 0.5 + 0.5 + 3, 0.5 + 1 + 4], [1, 1]])
    np.testing.assert_allclose(write(before, w, erase, add), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="ntm slots must be a positive integer, got 0"):
        memory.ntm(0)
    with pytest.raises(ValueError, match="addressing must be 'soft' or 'hard'"):
        memory.ntm(4, addressing="gumbel")


def _picks(states, t, kind, h):
    weights = states.read_weights if kind == "read" else states.write_weights
    return int(np.argmax(np.asarray(weights[t, h])))


@pytest.mark.parametrize("config", ["4x2-2r2w"])
def test_hard_ntm_takes_the_mode_unseeded_and_draws_with_the_reference_probabilities_seeded(config):
    slots, width, r, w = CONFIGS[config]
    mem = memory.ntm(slots, width, read_heads=r, write_heads=w, addressing="hard")
    actions = _actions(mem, 5)
    reads, states, final = _run(mem, actions)
    mode, _ = _reference(actions, slots, width, r, w, choose=lambda t, kind, h, wt: int(np.argmax(wt)))
    np.testing.assert_allclose(reads, mode, atol=2e-5, rtol=1e-4)
    assert float(final.log_prob) == 0.0
    for seed in range(3):
        reads, states, final = _run(mem, actions, jax.random.key(seed))
        expected, log_prob = _reference(actions, slots, width, r, w,
                                        choose=lambda t, kind, h, wt: _picks(states, t, kind, h))
        np.testing.assert_allclose(reads, expected, atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(float(final.log_prob), log_prob, rtol=1e-4)
        assert float(final.log_prob) < 0.0  # the draws are not all certain


def _reference_distributions(actions, slots, width, write_slot):
    """The reference's (write head, read head) distributions at step 0 of a 1r1w NTM whose
    write head picks ``write_slot`` (the read head addresses the memory written there)."""
    seen = {}

    def choose(t, kind, h, weights):
        seen[kind] = np.array(weights)
        return write_slot if kind == "write" else 0

    _reference(actions, slots, width, 1, 1, choose=choose)
    return seen["write"], seen["read"]


def test_hard_draws_follow_the_soft_weights():
    slots, width, draws = 4, 2, 20000
    mem = memory.ntm(slots, width, addressing="hard")
    actions = _actions(mem, 8, steps=1, scale=1.0)
    states = jax.vmap(lambda k: _run(mem, actions, k)[1])(jax.random.split(jax.random.key(0), draws))
    write_picks = np.argmax(np.asarray(states.write_weights[:, 0, 0]), axis=-1)
    read_picks = np.argmax(np.asarray(states.read_weights[:, 0, 0]), axis=-1)
    write_probs, _ = _reference_distributions(actions, slots, width, 0)
    assert write_probs.max() - write_probs.min() > 0.1  # far from uniform: a wrong sampler would show
    np.testing.assert_allclose(np.bincount(write_picks, minlength=slots) / draws, write_probs, atol=0.015)
    for slot in range(slots):  # the read head's draws, given where the write head wrote
        given = read_picks[write_picks == slot]
        if len(given) > 2000:
            _, read_probs = _reference_distributions(actions, slots, width, slot)
            np.testing.assert_allclose(np.bincount(given, minlength=slots) / len(given), read_probs, atol=0.04)


# ---- the Cell protocol for NTM-augmented cells (mirrors tests/test_cells.py) ----

INPUT_DIM, HIDDEN, T = 3, 5, 6
FACTORIES = {
    "lstm+ntm-2r2w": lambda hoist: memory.augment(
        cells.lstm(HIDDEN, hoist=hoist), memory.ntm(4, 2, read_heads=2, write_heads=2), capacity=16),
    "gru+ntm-hard-1r2w": lambda hoist: memory.augment(
        cells.gru(HIDDEN, hoist=hoist), memory.ntm(3, 2, write_heads=2, addressing="hard"), capacity=16,
        remat_block=3),
}


def _init(thing, key, *args):
    """``thing.init`` as one compiled program (eagerly, each initialiser compiles its own)."""
    return jax.jit(thing.init, static_argnums=tuple(range(1, 1 + len(args))))(key, *args)


def _setup(name, hoist=False):
    cell = FACTORIES[name](hoist)
    k_params, k_xs = jax.random.split(jax.random.key(0))
    return cell, _init(cell, k_params, INPUT_DIM), jax.random.normal(k_xs, (T, INPUT_DIM))


def _starts(name, cell, params):
    """The initial state, and for a sampling cell also a seeded one (same structure: one compiled program)."""
    initial = cell.initial_state(params)
    return (initial, cell.seed(params, initial, jax.random.key(4))) if "hard" in name else (initial,)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_cell_protocol_scan_loop_chunks_trace_hoisting_vmap(name):
    cell, params, xs = _setup(name)
    hoisted_cell = FACTORIES[name](True)
    run = jax.jit(lambda p, x, s: rnnjax.scan(cell, p, x, s))
    run_hoisted = jax.jit(lambda p, x, s: rnnjax.scan(hoisted_cell, p, x, s)[1])
    step, trace = jax.jit(cell.step), jax.jit(lambda p, x, s: rnnjax.trace(cell, p, x, s))
    batch = jax.random.normal(jax.random.key(1), (3, T, INPUT_DIM))
    run_batch = jax.jit(jax.vmap(lambda x, s: run(params, x, s)[1], (0, None)))
    for start in _starts(name, cell, params):
        final, ys = run(params, xs, start)
        state, us, loop_ys = start, cell.project(params, xs), []
        for t in range(T):
            state, y = step(params, state, us[t])
            loop_ys.append(y)
        chex.assert_shape(ys, (T, cell.output_dim))
        chex.assert_trees_all_close(ys, jnp.stack(loop_ys), atol=1e-6)
        chex.assert_trees_all_close(final, state, atol=1e-6)
        state, first = run(params, xs[: T // 2], start)  # equal halves: one more compiled length, not two
        chunked_final, second = run(params, xs[T // 2 :], state)
        chex.assert_trees_all_close(jnp.concatenate([first, second]), ys, atol=1e-6)
        chex.assert_trees_all_close(chunked_final, final, atol=1e-6)
        chex.assert_trees_all_close(jax.tree_util.tree_map(lambda s: s[-1], trace(params, xs, start)), final, atol=1e-6)
        chex.assert_trees_all_close(run_hoisted(params, xs, start), ys, atol=1e-5)
        chex.assert_trees_all_close(run_batch(batch, start), jnp.stack([run(params, x, start)[1] for x in batch]),
                                    atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FACTORIES))
def test_cell_gradients_match_finite_differences(name):
    with jax.enable_x64(True):
        cell, params, xs = _setup(name)
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)

        @jax.jit
        def loss(params, xs):
            return jnp.sum(jnp.sin(rnnjax.scan(cell, params, xs)[1]))

        check_grads(loss, (params, xs.astype(jnp.float64)), order=1, modes=["rev"], atol=1e-4, rtol=1e-4)


# ---- models, the estimator, the registry ----

def _hard_model(slots=4, width=2, write_heads=1, hidden=HIDDEN, outputs=4):
    mem = memory.ntm(slots, width, write_heads=write_heads, addressing="hard")
    return SequenceModel(memory.augment(cells.lstm(hidden), mem, capacity=16), 4, outputs, 3)


def test_sampling_models_train_with_draws_and_evaluate_with_the_mode():
    """A model over stacked layers ``lstm -> gru+ntm-hard``: seeding and the log-probability
    pass through ``stack`` and ``augment``; ``apply`` takes the mode, ``train_apply`` draws."""
    soft = SequenceModel(FACTORIES["lstm+ntm-2r2w"](None), 4, 4, 3)
    assert not soft.samples and not hasattr(soft, "train_apply") and soft.cell.seed is None
    assert "baseline" not in jax.eval_shape(soft.init, jax.random.key(0))
    hard = FACTORIES["gru+ntm-hard-1r2w"](None)
    assert hard.seed is not None and hard.log_prob is not None
    model = SequenceModel(cells.layers(cells.lstm(4), hard), 4, 4, 3)
    params = _init(model, jax.random.key(0))
    assert model.samples and hasattr(model, "train_apply")
    np.testing.assert_allclose(params["baseline"], math.log(4), rtol=1e-6)
    tokens = jnp.array([0, 1, 2, 3, 2, 1])
    apply, train_apply = jax.jit(model.apply), jax.jit(model.train_apply)
    logits = apply(params, tokens)
    cell, cell_params = model.recurrence(params, tokens)
    step = jax.jit(cell.step)
    state, us, ys = cell.initial_state(cell_params), cell.project(cell_params, model.encode(params, tokens)), []
    for u in us:  # from the unseeded state: the mode
        state, y = step(cell_params, state, u)
        ys.append(y)
    chex.assert_trees_all_close(logits, model.readout(params, jnp.stack(ys)), atol=1e-6)
    drawn = [train_apply(params, tokens, jax.random.key(k)) for k in (1, 1, 2, 3)]
    for sampled_logits, log_prob in drawn:
        chex.assert_shape(sampled_logits, (6, 4))
        chex.assert_shape(log_prob, ())
        assert float(log_prob) < 0
    chex.assert_trees_all_close(drawn[0], drawn[1])  # keyed, so reproducible
    assert len({float(lp) for _, lp in drawn}) == 3
    with pytest.raises(ValueError, match="need the sequence model"):
        EncoderDecoder(cells.lstm(4), hard, 4, 4, 3, 3)
    with pytest.raises(ValueError, match="seed and log_prob come together"):
        memory.Memory("bad", 1, 1, None, None, None, seed=lambda s, k: s)


def test_reinforce_loss_value_and_gradients():
    costs, log_probs, baseline = jnp.array([1.0, 3.0, 2.0]), jnp.array([-0.5, -1.0, -2.0]), jnp.asarray(1.5)
    value = reinforce_loss(costs, log_probs, baseline)
    np.testing.assert_allclose(value, 2.0 + np.mean((1.5 - np.array([1.0, 3.0, 2.0])) ** 2), rtol=1e-6)
    d_costs, d_log_probs, d_baseline = jax.grad(reinforce_loss, argnums=(0, 1, 2))(costs, log_probs, baseline)
    np.testing.assert_allclose(d_costs, np.full(3, 1 / 3), rtol=1e-6)  # pathwise; the regression sees sg(cost)
    np.testing.assert_allclose(d_log_probs, (np.array([1.0, 3.0, 2.0]) - 1.5) / 3, rtol=1e-6)
    np.testing.assert_allclose(d_baseline, 2 * (1.5 - 2.0), rtol=1e-6)
    with pytest.raises(ValueError, match="shape \\[B\\]"):
        reinforce_loss(costs, log_probs[:2], baseline)


def _toy_task():
    return types.SimpleNamespace(loss=masked_classification)


def _toy_batch(tokens, targets):
    return {"inputs": tokens, "targets": targets, "mask": jnp.ones(tokens.shape, jnp.float32)}


def test_reinforce_estimator_is_unbiased_by_exact_enumeration():
    """2 slots, 1 read + 1 write head, 2 steps: 16 sample paths (found by drawing 2048).
    The estimator's expected gradient (sum over paths of p(path) * its gradient) equals the
    exact gradient of the expected loss, sum over paths of jax.grad(p(path) * cost(path)),
    with a nonzero baseline; its score-function part is far larger than the tolerance, so
    the pathwise gradient alone would fail."""
    model = _hard_model(slots=2, width=2, hidden=3, outputs=2)
    params = _init(model, jax.random.key(1))
    params["baseline"] = jnp.asarray(0.8)
    task, batch = _toy_task(), _toy_batch(jnp.array([[0, 1]]), jnp.array([[1, 0]]))
    tokens = batch["inputs"][0]

    def path(key):  # the slots picked along the run drawn from key (the same draws as train_apply)
        cell, cell_params = model.recurrence(params, tokens)
        start = cell.seed(cell_params, cell.initial_state(cell_params), key)
        mem = rnnjax.trace(cell, cell_params, model.encode(params, tokens), start)[1]
        return jnp.concatenate([jnp.argmax(mem.write_weights, -1).ravel(), jnp.argmax(mem.read_weights, -1).ravel()])

    def cost_and_log_prob(p, key):
        logits, log_prob = model.train_apply(p, tokens, key)
        return task.loss(logits[None], batch)[0], log_prob

    def per_key(params, key):
        """The cost and log-probability of the path drawn from ``key``, and the gradients of
        reinforce_loss (the estimator), log p and p * c (whose sum over paths is the exact
        expected cost) in one backward pass."""
        def terms(p):
            c, lp = cost_and_log_prob(p, key)
            return jnp.stack([reinforce_loss(c[None], lp[None], p["baseline"]), lp, jnp.exp(lp) * c]), (c, lp)

        jacobian, (c, lp) = jax.jacrev(terms, has_aux=True)(params)
        return c, lp, jacobian

    keys = jax.random.split(jax.random.key(0), 2048)
    _, first = np.unique(np.asarray(jax.jit(jax.vmap(path))(keys)), axis=0, return_index=True)
    assert len(first) == 16
    costs, log_probs, jacobian = jax.jit(jax.vmap(per_key, (None, 0)))(params, keys[np.sort(first)])
    probs = jnp.exp(log_probs)
    np.testing.assert_allclose(jnp.sum(probs), 1.0, atol=1e-5)  # every path enumerated

    def over_paths(row, weights):
        return jax.tree_util.tree_map(lambda g: jnp.tensordot(weights, g[:, row], axes=1), jacobian)

    estimated = over_paths(0, probs)  # sum_path p grad reinforce_loss: the estimator's expectation
    score_term = over_paths(1, probs * (costs - params["baseline"]))  # its score-function part
    exact = over_paths(2, jnp.ones_like(probs))  # grad sum_path p c: the exact gradient of the expectation
    baseline_grad = estimated.pop("baseline")
    exact.pop("baseline")
    score_term.pop("baseline")
    chex.assert_trees_all_close(estimated, exact, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(baseline_grad, 2 * jnp.sum(probs * (0.8 - costs)), rtol=1e-4)
    gap = max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(score_term))
    assert gap > 100 * 2e-5, gap  # the check has power: the pathwise part alone would be off by far more


@pytest.mark.slow
def test_sampled_batch_loss_on_a_registered_task():
    from rnnjax.tasks import TASKS

    task = TASKS["copy"](1, 3, 3, symbols=3)
    model = SequenceModel(memory.augment(cells.lstm(4), memory.ntm(3, 2, addressing="hard"), capacity=32),
                          task.vocab_size, task.num_outputs, 3, task.separator)
    params = _init(model, jax.random.key(0))

    @jax.jit
    def run(params):
        batch = jax.vmap(task.sample, (0, None, None, None))(jax.random.split(jax.random.key(1), 4), 1, 3, 8)
        keys = jax.random.split(jax.random.key(2), 4)
        (value, metrics), grads = jax.value_and_grad(
            lambda p: sampled_batch_loss(task, model, p, batch, keys), has_aux=True)(params)

        def by_hand(p):  # each example's loss alone, then the estimator
            logits, log_probs = jax.vmap(model.train_apply, (None, 0, 0))(p, batch["inputs"], keys)
            costs = jnp.stack([task.loss(logits[b : b + 1], jax.tree_util.tree_map(lambda x: x[b : b + 1], batch))[0]
                               for b in range(4)])
            return reinforce_loss(costs, log_probs, p["baseline"]), (costs, logits, log_probs)

        by_hand_grads, (costs, logits, log_probs) = jax.grad(by_hand, has_aux=True)(params)
        return (value, metrics, grads, by_hand_grads, costs, example_costs(task, logits, batch), log_probs,
                task.loss(logits, batch)[1])

    value, metrics, grads, by_hand_grads, costs, per_example, log_probs, task_metrics = run(params)
    chex.assert_trees_all_close(grads, by_hand_grads, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(per_example, costs, rtol=1e-5)
    np.testing.assert_allclose(value, costs.mean() + np.mean((params["baseline"] - costs) ** 2), rtol=1e-5)
    assert set(task_metrics) | {"baseline", "log_prob"} == set(metrics)
    np.testing.assert_allclose(metrics["log_prob"], np.mean(log_probs), rtol=1e-5)
    assert all(np.isfinite(g).all() for g in jax.tree_util.tree_leaves(grads))
    assert float(jnp.abs(grads["cell"]["actions"]["w"]).sum()) > 0


def test_registered_with_its_flags():
    from rnnjax.train.build import build_cell
    from rnnjax.train.config import TrainConfig, flags

    table = flags()
    assert {"ntm_slots", "ntm_read_heads", "ntm_write_heads", "ntm_addressing"} <= set(table)
    assert "ntm" in [e.name for e in table["memory_width"].entries]
    mem = memory.MEMORIES["ntm"](ntm_slots=6, memory_width=3, ntm_read_heads=2, ntm_addressing="hard")
    assert mem.read_dim == 6 and mem.seed is not None and mem.init(1).memory.shape == (6, 3)
    cfg = TrainConfig.of(task="copy", memory="ntm", ntm_slots=5, ntm_addressing="hard")
    assert build_cell(cfg, 16).seed is not None
    assert build_cell(cfg.replace(ntm_addressing="soft"), 16).seed is None


@pytest.mark.slow
def test_the_trainer_trains_hard_heads_on_the_reinforce_surrogate():
    cfg = TrainConfig.of(task="ntm_copy", n_max=3, eval_n_max=4, memory="ntm", ntm_slots=4, memory_width=2,
                         ntm_addressing="hard", hidden=4, embedding_dim=0, steps=20, batch_size=4, log_every=5,
                         num_buckets=1, learning_rate=0.05)
    result = train(cfg, progress=False)
    first, last = result.history[0], result.history[-1]
    assert result.diverged_at is None and {"baseline", "log_prob"} <= set(last)
    assert last["log_prob"] < 0, "the draws of a hard head have log-probabilities"
    assert last["baseline"] != first["baseline"], "the baseline is trained"
    parts = build(cfg)
    params = jax.tree.map(jnp.asarray, result.params)
    tokens = jnp.asarray(parts.task.sample(jax.random.key(1), 3, 3, 8)["inputs"])
    a, b = (Bound(parts.eval_model, params).logits(tokens) for _ in range(2))
    np.testing.assert_array_equal(a, b)  # evaluation takes the mode: deterministic
