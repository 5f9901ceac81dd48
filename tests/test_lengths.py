"""``length=`` / ``lengths=``: a padded sequence run with its length equals the run on the
cut sequence, for every registered cell and memory, through ``rnnjax.scan``, ``rnnjax.trace``
and ``rnnjax.nnx.RNN``, on each cell's own paths (QRNN associative and sequential scans,
memories' checkpointed blocks and the nondeterministic stack's growing blocks)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import rnnjax
from rnnjax import cells, memory
from rnnjax import nnx as rnnx

D, T, N = 3, 7, 4  # input width, padded length, true length
HIDDEN = 3
MEMORY_OPTIONS = {  # small sizes, so that every memory compiles quickly
    "stack": {"memory_width": 2},
    "queue": {"memory_width": 2},
    "deque": {"memory_width": 2},
    "superposition_stack": {"memory_width": 2},
    "tape": {"memory_width": 2},
    "nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2},
    "normalised_nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2, "stack_window": 3},
    "vector_nondeterministic_stack": {"stack_states": 1, "stack_symbols": 2, "memory_width": 2},
    "ntm": {"ntm_slots": 4, "memory_width": 2},
}


def _cells():
    made = {f"cell {name}": cells.CELLS[name](HIDDEN) for name in cells.CELLS}
    made["cell qrnn associative k3"] = cells.qrnn(HIDDEN, width=3, recurrence="associative")
    made["cell qrnn sequential k3"] = cells.qrnn(HIDDEN, width=3, recurrence="sequential")
    made["layers lstm -> qrnn"] = rnnjax.layers(cells.lstm(HIDDEN), cells.qrnn(HIDDEN))
    made["layers qrnn -> qrnn"] = rnnjax.layers(cells.qrnn(HIDDEN), cells.qrnn(HIDDEN, width=1))
    for name in memory.MEMORIES:  # blocks of 3 < T: the checkpointed (or growing) blocks run
        built = memory.MEMORIES[name](**MEMORY_OPTIONS.get(name, {}))
        made[f"memory {name}"] = memory.augment(cells.lstm(HIDDEN), built, capacity=T, remat_block=3)
    made["memory ntm hard"] = memory.augment(cells.gru(HIDDEN), memory.ntm(4, 2, addressing="hard"), T,
                                             remat_block=3)
    return made


CELLS = _cells()


def test_every_registered_cell_and_memory_is_covered():
    names = {n.split()[1] for n in CELLS}
    assert set(cells.CELLS) <= names and set(memory.MEMORIES) <= names


QUICK = {"cell lstm", "cell qrnn associative k3", "cell qrnn sequential k3", "layers qrnn -> qrnn", "memory stack",
         "memory nondeterministic_stack"}
"""The cases of the secondary tests (full length, chunks) in the default run; all of them under ``-m slow``."""


def _case(name):
    cell = CELLS[name]
    k_params, k_xs = jax.random.split(jax.random.key(3))
    return cell, cell.init(k_params, D), jax.random.normal(k_xs, (T, D))


@pytest.fixture(scope="module", params=sorted(CELLS))
def case(request):
    return _case(request.param)


@pytest.fixture(scope="module",
                params=[n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in sorted(CELLS)])
def some_case(request):
    return _case(request.param)


def _close(a, b):
    chex.assert_trees_all_close(a, b, atol=1e-5, rtol=1e-5)


def test_scan_with_length_equals_the_cut_sequence(case):
    cell, params, xs = case
    cut_final, cut_ys = rnnjax.scan(cell, params, xs[:N])
    final, ys = jax.jit(lambda xs, n: rnnjax.scan(cell, params, xs, length=n))(xs, N)
    _close(final, cut_final)
    _close(ys[:N], cut_ys)
    np.testing.assert_array_equal(ys[N:], 0.0)


def test_scan_with_full_length_equals_the_plain_scan(some_case):
    cell, params, xs = some_case
    _close(rnnjax.scan(cell, params, xs, length=T), rnnjax.scan(cell, params, xs))


def test_a_chunk_with_length_continues_like_the_cut_sequence(some_case):
    cell, params, xs = some_case
    state, _ = rnnjax.scan(cell, params, xs[:2])
    final, ys = rnnjax.scan(cell, params, xs[2:], state, length=N - 2)
    cut_final, cut_ys = rnnjax.scan(cell, params, xs[:N])
    _close(final, cut_final)
    _close(ys[: N - 2], cut_ys[2:])


def test_trace_with_length_freezes_the_state(case):
    cell, params, xs = case
    states = rnnjax.trace(cell, params, xs, length=N)
    cut = rnnjax.trace(cell, params, xs[:N])
    _close(jax.tree_util.tree_map(lambda s: s[:N], states), cut)
    last = jax.tree_util.tree_map(lambda s: s[N - 1], cut)
    for t in range(N, T):
        _close(jax.tree_util.tree_map(lambda s: s[t], states), last)


def test_nnx_rnn_with_lengths_equals_each_cut_sequence(case):
    cell, params, xs = case
    rnn = rnnx.RNN(cell, D, rngs=nnx.Rngs(params=0, sample=1))
    params = rnn.params
    batch = jnp.stack([xs, xs[::-1]])
    lengths = jnp.array([N, T - 1])
    final, ys = nnx.jit(lambda m, xs, n: m(xs, lengths=n, deterministic=True, return_state=True))(rnn, batch, lengths)
    for i, n in enumerate(lengths.tolist()):
        cut_final, cut_ys = rnnjax.scan(cell, params, batch[i, :n])
        _close(jax.tree_util.tree_map(lambda s: s[i], final), cut_final)
        _close(ys[i, :n], cut_ys)
        np.testing.assert_array_equal(ys[i, n:], 0.0)


def test_a_sampling_memory_draws_the_same_choices_with_length():
    cell = CELLS["memory ntm hard"]
    params = cell.init(jax.random.key(0), D)
    xs = jax.random.normal(jax.random.key(1), (T, D))
    seeded = cell.seed(params, cell.initial_state(params), jax.random.key(2))
    cut_final, cut_ys = rnnjax.scan(cell, params, xs[:N], seeded)
    final, ys = rnnjax.scan(cell, params, xs, seeded, length=N)
    _close(final, cut_final)
    _close(ys[:N], cut_ys)
    assert float(cell.log_prob(final)) < 0.0  # choices were drawn, and only N steps' worth count
    np.testing.assert_allclose(cell.log_prob(final), cell.log_prob(cut_final), rtol=1e-6)


def test_gradients_through_masked_steps_equal_the_cut_sequence():
    cell = CELLS["memory stack"]
    params = cell.init(jax.random.key(0), D)
    xs = jax.random.normal(jax.random.key(1), (T, D))

    def loss(params, xs, length=None):
        return jnp.sum(jnp.sin(rnnjax.scan(cell, params, xs, length=length)[1]))

    _close(jax.grad(loss)(params, xs, N), jax.grad(loss)(params, xs[:N]))


def test_bad_lengths_fail_with_the_value():
    cell = cells.lstm(HIDDEN)
    params = cell.init(jax.random.key(0), D)
    xs = jnp.zeros((T, D))
    with pytest.raises(ValueError, match=r"length must be in 0..7 \(the sequence's steps\), got 9"):
        rnnjax.scan(cell, params, xs, length=9)
    with pytest.raises(ValueError, match="a scalar.*vmap over xs and length"):
        rnnjax.scan(cell, params, xs, length=jnp.array([3, 4]))
    rnn = rnnx.RNN(cell, D, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"lengths must have the batch shape of xs \(2,\)"):
        rnn(jnp.zeros((2, T, D)), lengths=jnp.array(3))
