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
@pytest.mark.parametrize("seed", [0, 1, 2])
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
