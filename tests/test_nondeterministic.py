"""The nondeterministic stack against an explicit sum over every PDA configuration."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import cells, memory
from rnnjax.memory.nondeterministic import _split_actions
from rnnjax.memory.semiring import LOG, REAL, logsumexp

Q, S = 2, 2


def _reference(actions_seq, normalised, read_states, width=0):
    """Sums the weights of all runs, grouped by configuration (state, stack of
    (symbol, push step)); reads the distribution of (state,) top symbol and the
    expected vector of the top cell (vectors pushed with each step; ⊥ holds zeros)."""
    n_actions = 2 * Q * S * Q * S + Q * S * Q
    configs = {(0, ((0, -1),)): 1.0}
    vectors = {-1: jnp.zeros(width)}
    reads = []
    for t, actions in enumerate(actions_seq):
        push, rep, pop = (jnp.exp(w) for w in _split_actions(actions, Q, S, normalised))
        vectors[t] = jax.nn.sigmoid(actions[n_actions:])
        new = {}

        def add(config, w):
            new[config] = new.get(config, 0.0) + w

        for (q, stack), w in configs.items():
            x, pushed_at = stack[-1]
            for r in range(Q):
                for y in range(S):
                    add((r, stack + ((y, t),)), w * push[q, x, r, y])
                    add((r, stack[:-1] + ((y, pushed_at),)), w * rep[q, x, r, y])
                if len(stack) >= 2:
                    add((r, stack[:-1]), w * pop[q, x, r])
        configs = new
        table, top_vector = jnp.zeros((Q, S)), jnp.zeros(width)
        for (q, stack), w in configs.items():
            table = table.at[q, stack[-1][0]].add(w)
            top_vector = top_vector + w * vectors[stack[-1][1]]
        total = table.sum()
        read = (table if read_states else table.sum(0)).reshape(-1) / total
        reads.append(jnp.concatenate([read, top_vector / total]))
    return jnp.stack(reads)


def _run(mem, actions_seq, capacity):
    def step(state, a):
        state = mem.update(state, a)
        return state, mem.read(state)

    return jax.lax.scan(step, mem.init(capacity, actions_seq.dtype), actions_seq)[1]


VARIANTS = {
    "rns-log": dict(),
    "ns-log": dict(normalised=True, read_states=False),
    "rns-real": dict(semiring=REAL),
    "vrns-log": dict(vector_width=2),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("n", [1, 3, pytest.param(6, marks=pytest.mark.slow)])
def test_equals_the_sum_over_all_runs_forward_and_gradient(variant, n):
    kw = VARIANTS[variant]
    with jax.enable_x64(True):
        mem = memory.nondeterministic_stack(Q, S, **kw)
        actions = jax.random.normal(jax.random.key(n), (n, mem.action_dim), jnp.float64)
        args = (kw.get("normalised", False), kw.get("read_states", True), kw.get("vector_width", 0))
        ours, ref = _run(mem, actions, n), _reference(actions, *args)
        np.testing.assert_allclose(ours, ref, atol=1e-10)
        weights = jnp.cos(jnp.arange(ours.size)).reshape(ours.shape)
        grad = jax.grad(lambda a: jnp.sum(_run(mem, a, n) * weights))(actions)
        grad_ref = jax.grad(lambda a: jnp.sum(_reference(a, *args) * weights))(actions)
        np.testing.assert_allclose(grad, grad_ref, atol=1e-8)


def test_log_and_real_semirings_agree_on_longer_inputs():
    with jax.enable_x64(True):
        log, real = memory.nondeterministic_stack(2, 3), memory.nondeterministic_stack(2, 3, semiring=REAL)
        actions = 0.5 * jax.random.normal(jax.random.key(0), (12, log.action_dim), jnp.float64)
        np.testing.assert_allclose(_run(log, actions, 12), _run(real, actions, 12), rtol=1e-9)


@pytest.mark.parametrize("normalised", [False, True])
def test_extreme_logits_give_finite_reads_and_gradients(normalised):
    mem = memory.nondeterministic_stack(2, 3, normalised=normalised)
    actions = jax.random.uniform(jax.random.key(1), (16, mem.action_dim), minval=-10, maxval=10)
    reads = _run(mem, actions, 16)
    grad = jax.grad(lambda a: jnp.sum(_run(mem, a, 16) * jnp.arange(reads.size).reshape(reads.shape)))(actions)
    assert jnp.all(jnp.isfinite(reads)) and jnp.all(jnp.isfinite(grad))
    np.testing.assert_allclose(reads.sum(-1), 1.0, rtol=1e-5)


def test_safe_logsumexp_of_an_all_minus_infinity_row_has_zero_gradient():
    x = jnp.array([[-jnp.inf, -jnp.inf], [0.0, 1.0]])
    assert logsumexp(x, 1)[0] == -jnp.inf
    grad = jax.grad(lambda x: jnp.sum(jnp.where(jnp.isfinite(logsumexp(x, 1)), logsumexp(x, 1), 0.0)))(x)
    assert jnp.all(jnp.isfinite(grad)) and jnp.all(grad[0] == 0)


def test_a_window_at_least_the_length_equals_the_full_stack_and_a_short_one_differs():
    n = 10
    full = memory.nondeterministic_stack(2, 3)
    actions = jax.random.normal(jax.random.key(2), (n, full.action_dim))
    whole = _run(full, actions, n)
    np.testing.assert_allclose(_run(memory.nondeterministic_stack(2, 3, window=n + 1), actions, n), whole, atol=1e-6)
    short = _run(memory.nondeterministic_stack(2, 3, window=3), actions, n)
    assert jnp.all(jnp.isfinite(short)) and not np.allclose(short, whole, atol=1e-3)


def test_windowed_stack_runs_in_chunks_like_one_sequence():
    cell = memory.augment(cells.lstm(4), memory.nondeterministic_stack(2, 2, window=4), capacity=64)
    params = cell.init(jax.random.key(0), 3)
    xs = jax.random.normal(jax.random.key(1), (30, 3))
    state, first = rnnjax.scan(cell, params, xs[:13])
    _, second = rnnjax.scan(cell, params, xs[13:], state)
    chex.assert_trees_all_close(jnp.concatenate([first, second]), rnnjax.scan(cell, params, xs)[1], atol=1e-5)


def test_bad_arguments_fail_with_the_value():
    with pytest.raises(ValueError, match="states must be a positive integer, got 0"):
        memory.nondeterministic_stack(0, 3)
    with pytest.raises(ValueError, match="window must be a positive integer or None, got 0"):
        memory.nondeterministic_stack(2, 3, window=0)


def test_the_log_semiring_is_the_default():
    assert "log" in memory.nondeterministic_stack().name and LOG.zero == -jnp.inf


def _grown_and_fixed(remat_block, monkeypatch):
    """An augmented VRNS cell run from the initial state (buffer growing in blocks of
    4: 2 blocks here) and from the given initial state (full buffer), float64."""
    monkeypatch.setattr(memory.controller, "GROW_BLOCK", 4)
    cell = memory.augment(cells.lstm(5), memory.nondeterministic_stack(2, 3, vector_width=2), capacity=9,
                          remat_block=remat_block)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), cell.init(jax.random.key(0), 3))
    xs = jax.random.normal(jax.random.key(1), (7, 3), jnp.float64)
    grown = jax.jit(lambda p: rnnjax.scan(cell, p, xs))
    fixed = jax.jit(lambda p: rnnjax.scan(cell, p, xs, cell.initial_state(p)))
    return params, grown, fixed


@pytest.mark.parametrize("remat_block", [None, 4])
def test_the_growing_buffer_path_equals_the_fixed_buffer_scan(remat_block, monkeypatch):
    """Same outputs and final state (grown to the capacity at the end); gradients of
    the growing path are checked against finite differences in test_cells.py."""
    with jax.enable_x64(True):
        params, grown, fixed = _grown_and_fixed(remat_block, monkeypatch)
        chex.assert_trees_all_close(grown(params), fixed(params), atol=1e-12)
        assert jax.tree_util.tree_leaves(grown(params)[0])[2].shape[0] == 11


@pytest.mark.slow
@pytest.mark.parametrize("remat_block", [None, 4])
def test_the_growing_buffer_path_has_the_gradients_of_the_fixed_buffer_scan(remat_block, monkeypatch):
    with jax.enable_x64(True):
        params, grown, fixed = _grown_and_fixed(remat_block, monkeypatch)
        loss = lambda run: jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(run(p)[1]))))(params)  # noqa: E731
        chex.assert_trees_all_close(loss(grown), loss(fixed), atol=1e-10)


def test_grow_keeps_the_contents_and_refuses_to_shrink():
    mem = memory.nondeterministic_stack(2, 3)
    actions = jax.random.normal(jax.random.key(3), (6, mem.action_dim))
    run = jax.jit(lambda state, actions: jax.lax.scan(lambda s, a: (mem.update(s, a), None), state, actions)[0])
    small, large = run(mem.init(5), actions[:5]), run(mem.init(9), actions[:5])
    chex.assert_trees_all_close(mem.grow(small, 9), large)
    np.testing.assert_allclose(mem.read(run(mem.grow(small, 9), actions[5:])), mem.read(run(large, actions[5:])),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="cannot shrink a stack of capacity 9 to 5"):
        mem.grow(large, 5)
    assert memory.nondeterministic_stack(2, 3, window=4).grow is None


def test_the_pytorch_baseline_of_the_benchmark_computes_the_same_reads(monkeypatch):
    torch = pytest.importorskip("torch")
    import importlib.util
    import pathlib

    benchmarks = pathlib.Path(__file__).parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))
    path = benchmarks / "nondeterministic_stack.py"
    spec = importlib.util.spec_from_file_location("nondeterministic_stack_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    mem = memory.nondeterministic_stack(bench.Q, bench.S)
    actions = jax.random.normal(jax.random.key(4), (2, 9, mem.action_dim))
    init, update = bench.torch_rns_stack(2)
    state, reads = init(), []
    for t in range(9):
        state, read = update(state, torch.from_numpy(np.array(actions[:, t])))
        reads.append(read.numpy())
    ours = jax.vmap(lambda a: _run(mem, a, 9))(actions)
    np.testing.assert_allclose(np.stack(reads, 1), ours, atol=1e-5)


def test_updates_past_the_capacity_poison_the_reads():
    mem = memory.nondeterministic_stack(2, 3)
    reads = _run(mem, jax.random.normal(jax.random.key(5), (5, mem.action_dim)), 3)
    assert np.isfinite(reads[:3]).all() and np.isnan(reads[3:]).all()
