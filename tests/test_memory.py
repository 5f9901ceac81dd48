"""Stratified memories against loop-over-elements references and against real stacks/queues/deques."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from rnnjax import memory

WIDTH, STEPS = 3, 9
BIG = 50.0  # sigmoid(+-BIG) is 0 or 1 to float precision


def _reference_one_ended(actions, pop_from_top):
    """Grefenstette et al. eqs. 1-3 written element by element."""
    values, strengths, reads = [], [], []
    for a in actions:
        d, u, v = jax.nn.sigmoid(a[0]), jax.nn.sigmoid(a[1]), jnp.tanh(a[2:])
        order = range(len(strengths) - 1, -1, -1) if pop_from_top else range(len(strengths))
        remaining, new = u, list(strengths)
        for i in order:
            new[i] = jnp.maximum(0.0, strengths[i] - remaining)
            remaining = jnp.maximum(0.0, remaining - strengths[i])
        strengths, values = new + [d], values + [v]
        order = range(len(strengths) - 1, -1, -1) if pop_from_top else range(len(strengths))
        budget, r = 1.0, jnp.zeros(WIDTH)
        for i in order:
            take = jnp.minimum(strengths[i], jnp.maximum(0.0, budget))
            r, budget = r + take * values[i], budget - strengths[i]
        reads.append(r)
    return jnp.stack(reads)


def _reference_deque(actions):
    """Both pops (top then bottom), both pushes, reads from each end, element by element."""
    items = []  # [strength, value], index 0 = bottom

    def pop_from(u, top):
        order = range(len(items) - 1, -1, -1) if top else range(len(items))
        for i in order:
            s = items[i][0]
            items[i][0] = jnp.maximum(0.0, s - u)
            u = jnp.maximum(0.0, u - s)

    def read_from(top):
        order = range(len(items) - 1, -1, -1) if top else range(len(items))
        budget, r = 1.0, jnp.zeros(WIDTH)
        for i in order:
            r, budget = r + jnp.minimum(items[i][0], jnp.maximum(0.0, budget)) * items[i][1], budget - items[i][0]
        return r

    reads = []
    for a in actions:
        d_top, u_top, d_bottom, u_bottom = (jax.nn.sigmoid(a[k]) for k in range(4))
        pop_from(u_top, True)
        pop_from(u_bottom, False)
        items.append([d_top, jnp.tanh(a[4 : 4 + WIDTH])])
        items.insert(0, [d_bottom, jnp.tanh(a[4 + WIDTH :])])
        reads.append(jnp.concatenate([read_from(True), read_from(False)]))
    return jnp.stack(reads)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _run(mem, actions, capacity=STEPS):
    def step(state, a):
        state = mem.update(state, a)
        return state, mem.read(state)

    return jax.lax.scan(step, mem.init(capacity, actions.dtype), actions)[1]


REFERENCES = {
    "stack": (memory.stack(WIDTH), lambda a: _reference_one_ended(a, True)),
    "queue": (memory.queue(WIDTH), lambda a: _reference_one_ended(a, False)),
    "deque": (memory.deque(WIDTH), _reference_deque),
}


@pytest.mark.parametrize("kind", list(REFERENCES))
@pytest.mark.parametrize("seed", [0, 1])
def test_memory_equals_loop_reference_forward_and_gradient(kind, seed):
    mem, reference = REFERENCES[kind]
    actions = 2.0 * jax.random.normal(jax.random.key(seed), (STEPS, mem.action_dim))
    chex.assert_trees_all_close(_run(mem, actions), reference(actions), atol=1e-5)
    weights = jax.random.normal(jax.random.key(seed + 10), (STEPS, mem.read_dim))
    grad = jax.grad(lambda a: jnp.sum(weights * _run(mem, a)))(actions)
    grad_reference = jax.grad(lambda a: jnp.sum(weights * reference(a)))(actions)
    chex.assert_trees_all_close(grad, grad_reference, atol=1e-5)


@pytest.mark.parametrize("kind", list(REFERENCES))
def test_memory_gradients_match_finite_differences(kind):
    mem, _ = REFERENCES[kind]
    with jax.enable_x64(True):
        actions = jax.random.normal(jax.random.key(3), (5, mem.action_dim), jnp.float64)
        check_grads(lambda a: jnp.sum(jnp.sin(_run(mem, a, 5))), (actions,), order=1, modes=["rev"], atol=1e-4)


def _hard(ops, mem_kind):
    """Raw actions for discrete ops, and the reads a Python list gives."""
    actions, expected, items = [], [], []
    for op, value in ops:
        v = np.tanh(np.full(WIDTH, value))
        if mem_kind == "deque":
            a = np.full(4 + 2 * WIDTH, -BIG)
            a[4:] = 0.0
            if op == "push_top":
                a[0], a[4 : 4 + WIDTH] = BIG, value
                items.append(v)
            elif op == "push_bottom":
                a[2], a[4 + WIDTH :] = BIG, value
                items.insert(0, v)
            elif op == "pop_top":
                a[1] = BIG
                items = items[:-1]
            elif op == "pop_bottom":
                a[3] = BIG
                items = items[1:]
            empty = np.zeros(WIDTH)
            expected.append(np.concatenate([items[-1] if items else empty, items[0] if items else empty]))
        else:
            a = np.array([-BIG, -BIG] + [0.0] * WIDTH)
            if op == "push":
                a[0], a[2:] = BIG, value
                items.append(v)
            elif op == "pop" and items:
                a[1] = BIG
                items = items[:-1] if mem_kind == "stack" else items[1:]
            elif op == "pop":
                a[1] = BIG
            if not items:
                expected.append(np.zeros(WIDTH))
            else:
                expected.append(items[-1] if mem_kind == "stack" else items[0])
        actions.append(a)
    return jnp.asarray(np.stack(actions), jnp.float32), np.stack(expected)


OPS = {"stack": ("push", "pop", "noop"), "queue": ("push", "pop", "noop"),
       "deque": ("push_top", "push_bottom", "pop_top", "pop_bottom", "noop")}


@pytest.mark.parametrize("kind", list(REFERENCES))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_hard_actions_behave_like_the_real_data_structure(kind, data):
    ops = data.draw(
        st.lists(st.tuples(st.sampled_from(OPS[kind]), st.floats(-2, 2).filter(lambda x: abs(x) > 0.1)),
                 min_size=STEPS, max_size=STEPS)
    )
    actions, expected = _hard(ops, kind)
    np.testing.assert_allclose(_run(REFERENCES[kind][0], actions), expected, atol=1e-5)


def test_writing_past_capacity_poisons_instead_of_dropping():
    reads = _run(memory.stack(WIDTH), jnp.ones((4, 2 + WIDTH)), capacity=3)
    assert np.isfinite(reads[:3]).all() and np.isnan(reads[3]).all()
    with pytest.raises(ValueError, match="value width must be a positive integer"):
        memory.queue(0)
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        memory.augment(__import__("rnnjax").cells.lstm(4), memory.stack(2), capacity=0)


def _reference_superposition(actions, depth, empty=-1.0, stacks=2, width=1, read_top=2):
    """Joulin & Mikolov eqs. 4-5 cell by cell, for ``stacks`` stacks."""
    cells = [[jnp.full(width, empty) for _ in range(depth)] for _ in range(stacks)]
    reads = []
    for a in actions:
        a = a.reshape(stacks, 3 + width)
        for k in range(stacks):
            push, pop, noop = jax.nn.softmax(a[k, :3])
            old = cells[k] + [jnp.full(width, empty)]
            new_top = push * jax.nn.sigmoid(a[k, 3:]) + pop * old[1] + noop * old[0]
            cells[k] = [new_top] + [push * old[i - 1] + pop * old[i + 1] + noop * old[i] for i in range(1, depth)]
        reads.append(jnp.concatenate([c for k in range(stacks) for c in cells[k][:read_top]]))
    return jnp.stack(reads)


def test_superposition_stack_equals_reference_forward_and_gradient():
    mem = memory.superposition_stack(1, stacks=2, read_top=2, depth=5)
    actions = 2.0 * jax.random.normal(jax.random.key(4), (STEPS, mem.action_dim))
    def reference(a):
        return _reference_superposition(a, depth=5)
    chex.assert_trees_all_close(_run(mem, actions), reference(actions), atol=1e-5)
    grad = jax.grad(lambda a: jnp.sum(jnp.sin(_run(mem, a))))(actions)
    chex.assert_trees_all_close(grad, jax.grad(lambda a: jnp.sum(jnp.sin(reference(a))))(actions), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(st.sampled_from(("push", "pop", "noop")), min_size=STEPS, max_size=STEPS),
       raw=st.lists(st.floats(-3, 3), min_size=STEPS, max_size=STEPS))
def test_discrete_superposition_stack_is_a_real_stack(ops, raw):
    mem = memory.superposition_stack(1, read_top=2, discrete=True, empty=-1.0)
    actions, expected, items = [], [], []
    for op, value in zip(ops, raw):
        logits = {"push": [1.0, 0, 0], "pop": [0, 1.0, 0], "noop": [0, 0, 1.0]}[op]
        actions.append(logits + [value])
        if op == "push":
            items.append(1 / (1 + np.exp(-value)))
        elif op == "pop" and items:
            items.pop()
        top_two = (items[::-1] + [-1.0, -1.0])[:2]
        expected.append(top_two)
    np.testing.assert_allclose(_run(mem, jnp.asarray(actions, jnp.float32)), np.array(expected), atol=1e-6)


def _reference_tape(actions, capacity):
    """The tape equations cell by cell."""
    size = 2 * capacity + 1
    cells, head, reads = [jnp.zeros(WIDTH) for _ in range(size)], [0.0] * size, []
    head[capacity] = 1.0
    for a in actions:
        g, v = jax.nn.sigmoid(a[0]), jnp.tanh(a[1 : 1 + WIDTH])
        left, stay, right = jax.nn.softmax(a[1 + WIDTH : 4 + WIDTH])
        cells = [cells[i] * (1 - g * head[i]) + g * head[i] * v for i in range(size)]
        def get(i):
            return head[i] if 0 <= i < size else 0.0
        head = [left * get(i + 1) + stay * get(i) + right * get(i - 1) for i in range(size)]
        reads.append(jax.nn.sigmoid(a[4 + WIDTH]) * sum(head[i] * cells[i] for i in range(size)))
    return jnp.stack(reads)


def test_tape_equals_reference_forward_and_gradient():
    mem = memory.tape(WIDTH)
    actions = 2.0 * jax.random.normal(jax.random.key(5), (STEPS, mem.action_dim))
    def reference(a):
        return _reference_tape(a, STEPS)
    chex.assert_trees_all_close(_run(mem, actions), reference(actions), atol=1e-5)
    grad = jax.grad(lambda a: jnp.sum(jnp.sin(_run(mem, a))))(actions)
    chex.assert_trees_all_close(grad, jax.grad(lambda a: jnp.sum(jnp.sin(reference(a))))(actions), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.sampled_from((-1, 0, 1)), st.floats(-2, 2)), min_size=STEPS,
                    max_size=STEPS))
def test_hard_tape_actions_behave_like_a_turing_machine_tape(ops):
    actions, expected, cells, position = [], [], {}, 0
    for write, move, value in ops:
        shift = [-BIG, -BIG, -BIG]
        shift[move + 1] = BIG
        actions.append([BIG if write else -BIG] + [value] * WIDTH + shift + [BIG])
        if write:
            cells[position] = np.tanh(np.full(WIDTH, value))
        position += move
        expected.append(cells.get(position, np.zeros(WIDTH)))
    reads = _run(memory.tape(WIDTH), jnp.asarray(actions, jnp.float32))
    np.testing.assert_allclose(reads, np.stack(expected), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(("left", "stay", "right", "jump_left", "jump_right")), st.floats(-2, 2)),
                    min_size=STEPS, max_size=STEPS), length=st.integers(1, 4))
def test_hard_tape_that_always_writes_jumps_by_the_source_length(ops, length):
    """The tape RNN of Delétang et al.: write under the head every step, then move one cell
    or jump by the source length."""
    mem = memory.tape(WIDTH, write="always", jumps=True)
    moves = {"left": -1, "stay": 0, "right": 1, "jump_left": -length, "jump_right": length}
    actions, expected, cells, position = [], [], {}, 0
    for move, value in ops:
        shift = [-BIG] * 5
        shift[list(moves).index(move)] = BIG
        actions.append([value] * WIDTH + shift + [BIG])
        cells[position] = np.tanh(np.full(WIDTH, value))
        position += moves[move]
        expected.append(cells.get(position, np.zeros(WIDTH)))
    capacity = 4 * STEPS  # no jump leaves the tape

    def step(state, a):
        state = mem.update(state, a)
        return state, mem.read(state)

    start = mem.condition(mem.init(capacity), jnp.asarray(length))
    reads = jax.lax.scan(step, start, jnp.asarray(actions, jnp.float32))[1]
    np.testing.assert_allclose(reads, np.stack(expected), atol=1e-5)
    assert mem.action_dim == WIDTH + 6 and memory.tape(WIDTH).condition is None


def test_stack_rnn_variant_pushes_linear_values_reads_the_top_and_starts_empty():
    """The stack of Delétang et al.: the pushed value is the raw action, empty cells are 0,
    only the top cell is read."""
    mem = memory.superposition_stack(WIDTH, read_top=1, empty=0.0, push="linear")
    ops = ["push", "push", "pop", "noop", "push", "pop", "pop", "pop", "push"]
    raw = [0.5, -1.5, 0.0, 0.0, 2.5, 0.0, 0.0, 0.0, -0.25]
    actions, expected, items = [], [], []
    for op, value in zip(ops, raw):
        logits = {"push": [BIG, 0, 0], "pop": [0, BIG, 0], "noop": [0, 0, BIG]}[op]
        actions.append(logits + [value] * WIDTH)
        if op == "push":
            items.append(value)
        elif op == "pop" and items:
            items.pop()
        expected.append([items[-1] if items else 0.0] * WIDTH)
    np.testing.assert_allclose(_run(mem, jnp.asarray(actions, jnp.float32)), np.array(expected), atol=1e-6)
    with pytest.raises(ValueError, match="push must be 'sigmoid' or 'linear'"):
        memory.superposition_stack(WIDTH, push="tanh")


@pytest.mark.parametrize("start", ["symmetric", "queue"])
def test_deque_start_decides_whether_the_bottom_read_starts_on_the_oldest_top_push(start):
    """With the controller's weights at zero the actions are the initial biases; the
    values pushed on top are one-hot in time, so the bottom read's entries are the
    weights it gives each top push."""
    steps = 12
    mem = memory.deque(steps, start=start)
    bias = jnp.asarray(mem.action_bias[:4])
    top_values = BIG * jnp.eye(steps)  # tanh -> one-hot rows; the bottom pushes value 0
    actions = jnp.concatenate([jnp.broadcast_to(bias, (steps, 4)), top_values, jnp.zeros((steps, steps))], axis=1)
    weights = np.asarray(_run(mem, actions, capacity=steps)[-1, steps:])
    if start == "symmetric":
        assert weights.sum() < 1e-3, "the bottom read sees only the bottom's own pushes"
    else:
        assert weights.sum() > 0.9 and weights[-3:].sum() < 1e-6, \
            "as a queue's, the bottom read sees the oldest rows left, not the newest"
    with pytest.raises(ValueError, match="deque start must be one of"):
        memory.deque(4, start="stack")
