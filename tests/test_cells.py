"""The Cell protocol for every cell: scan = loop, chunking, hoisting, vmap, gradients, flax."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import rnnjax
from rnnjax import cells, memory

INPUT_DIM, HIDDEN, T = 3, 5, 7

def _qrnn(width, pooling):
    # the alternative path of a QRNN is its other recurrence (associative vs sequential scan)
    def make(alt):
        return cells.qrnn(HIDDEN, width=width, pooling=pooling, recurrence="associative" if alt else "sequential")

    return make


# name -> (alt -> cell); `alt` switches to the cell's alternative implementation
# (input projection hoisted into `project`, or the QRNN's other recurrence).
# encoder states [S, k] and their mask, for the attentive decoders
ENCODED = (jax.random.normal(jax.random.key(7), (6, 4)), jnp.array([1, 1, 0, 1, 1, 0], bool))

FACTORIES = {
    "elman-tanh": lambda hoist: cells.elman(HIDDEN, "tanh", hoist=hoist),
    "elman-relu": lambda hoist: cells.elman(HIDDEN, "relu", hoist=hoist),
    "elman-saturated": lambda hoist: cells.elman(HIDDEN, "saturated", hoist=hoist),
    "lstm": lambda hoist: cells.lstm(HIDDEN, hoist=hoist),
    "gru-before": lambda hoist: cells.gru(HIDDEN, reset="before", hoist=hoist),
    "gru-after": lambda hoist: cells.gru(HIDDEN, reset="after", hoist=hoist),
    "doubling-lstm": lambda hoist: cells.doubling_lstm(HIDDEN, hoist=hoist),
    "qrnn-f-k1": _qrnn(1, "f"),
    "qrnn-fo-k2": _qrnn(2, "fo"),
    "qrnn-ifo-k3": _qrnn(3, "ifo"),
    "lstm+stack": lambda hoist: memory.augment(cells.lstm(HIDDEN, hoist=hoist), memory.stack(2), capacity=16),
    "gru+queue": lambda hoist: memory.augment(cells.gru(HIDDEN, hoist=hoist), memory.queue(2), capacity=16),
    "lstm+deque": lambda hoist: memory.augment(cells.lstm(HIDDEN, hoist=hoist), memory.deque(2), capacity=16),
    "elman+superposition": lambda hoist: memory.augment(
        cells.elman(HIDDEN, hoist=hoist), memory.superposition_stack(2, stacks=2), capacity=16
    ),
    "lstm+tape": lambda hoist: memory.augment(cells.lstm(HIDDEN, hoist=hoist), memory.tape(2), capacity=16),
    "lstm+rns-stack": lambda hoist: memory.augment(
        cells.lstm(HIDDEN, hoist=hoist), memory.nondeterministic_stack(2, 2), capacity=16, remat_block=4
    ),
    "lstm+attention-additive-early": lambda hoist: memory.attentive(
        cells.lstm(HIDDEN, hoist=hoist), *ENCODED, "additive", "early"
    ),
    "stack-lstm-gru-elman": lambda hoist: cells.layers(
        cells.lstm(4, hoist=hoist), cells.gru(HIDDEN, hoist=hoist), cells.elman(3, hoist=hoist)
    ),
}


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.slow) if n == "lstm+rns-stack" else n for n in FACTORIES])
def name(request):
    """Every cell; the nondeterministic stack's (the slowest, tested on its own in
    test_nondeterministic.py) only under ``-m slow``."""
    return request.param


def _setup(name, hoist=None, seed=0):
    cell = FACTORIES[name](hoist)
    k_params, k_xs = jax.random.split(jax.random.key(seed))
    params = cell.init(k_params, INPUT_DIM)
    xs = jax.random.normal(k_xs, (T, INPUT_DIM))
    return cell, params, xs


def test_scan_equals_step_loop(name):
    cell, params, xs = _setup(name)
    final, ys = rnnjax.scan(cell, params, xs)
    state, us, loop_ys = cell.initial_state(params), cell.project(params, xs), []
    for t in range(T):
        state, y = cell.step(params, state, us[t])
        loop_ys.append(y)
    chex.assert_shape(ys, (T, cell.output_dim))
    chex.assert_trees_all_close(ys, jnp.stack(loop_ys), atol=1e-6)
    chex.assert_trees_all_close(final, state, atol=1e-6)


def test_chunked_scan_equals_whole(name):
    cell, params, xs = _setup(name)
    whole_final, whole = rnnjax.scan(cell, params, xs)
    state, first = rnnjax.scan(cell, params, xs[:3])
    final, second = rnnjax.scan(cell, params, xs[3:], state)
    chex.assert_trees_all_close(jnp.concatenate([first, second]), whole, atol=1e-6)
    chex.assert_trees_all_close(final, whole_final, atol=1e-6)


def test_trace_last_state_is_final_state(name):
    cell, params, xs = _setup(name)
    final, _ = rnnjax.scan(cell, params, xs)
    states = rnnjax.trace(cell, params, xs)
    chex.assert_trees_all_close(jax.tree_util.tree_map(lambda s: s[-1], states), final, atol=1e-6)


def test_alternative_path_gives_same_outputs(name):
    _, params, xs = _setup(name)
    _, hoisted = rnnjax.scan(FACTORIES[name](True), params, xs)
    _, in_step = rnnjax.scan(FACTORIES[name](False), params, xs)
    chex.assert_trees_all_close(hoisted, in_step, atol=1e-5)


def test_vmap_over_batch_equals_per_example(name):
    cell, params, _ = _setup(name)
    batch = jax.random.normal(jax.random.key(1), (4, T, INPUT_DIM))
    def run(x):
        return rnnjax.scan(cell, params, x)[1]
    batched = jax.jit(jax.vmap(run))(batch)
    chex.assert_trees_all_close(batched, jnp.stack([run(x) for x in batch]), atol=1e-6)


def _check_cell_gradients(name, order):
    with jax.enable_x64(True):
        cell, params, xs = _setup(name)
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        if name == "elman-saturated":  # keep pre-activations away from the kinks at 0 and 1
            params = jax.tree_util.tree_map(lambda p: 0.1 * p, params)
            params["b"] = params["b"] + 0.5

        def loss(params, xs):
            return jnp.sum(jnp.sin(rnnjax.scan(cell, params, xs)[1]))

        check_grads(loss, (params, xs.astype(jnp.float64)), order=order, modes=["rev"], atol=1e-4, rtol=1e-4)


def test_gradients_match_finite_differences(name):
    _check_cell_gradients(name, order=1)


@pytest.mark.slow
def test_second_order_gradients_match_finite_differences(name):
    if name == "lstm+rns-stack":
        pytest.xfail("reverse-over-reverse through the nondeterministic stack raises 'axis 3 is out of bounds' "
                     "(since its growing buffer, commit 52544bc; BUILD_NOTES 'Known limits')")
    _check_cell_gradients(name, order=2)


def test_bad_arguments_fail_with_the_value():
    with pytest.raises(ValueError, match="hidden must be a positive integer, got 0"):
        cells.lstm(0)
    with pytest.raises(ValueError, match="activation must be one of .* got 'sigmoid'"):
        cells.elman(4, "sigmoid")
    with pytest.raises(ValueError, match="reset must be one of"):
        cells.gru(4, reset="middle")
    with pytest.raises(ValueError, match=r"layers\(\) needs at least one cell"):
        cells.layers()


def _flax_run(flax_cell, xs, carry):
    outputs = []
    for x in xs:
        carry, y = flax_cell(carry, x)
        outputs.append(y)
    return jnp.stack(outputs)


def test_lstm_equals_flax_lstm_cell():
    cell, params, xs = _setup("lstm")
    flax_cell = nnx.LSTMCell(INPUT_DIM, HIDDEN, rngs=nnx.Rngs(0))
    wx, wh, b = (np.split(np.asarray(params[k]), 4, axis=-1) for k in ("wx", "wh", "b"))
    for gate, (x_kernel, h_kernel, bias) in zip(("i", "f", "g", "o"), zip(wx, wh, b)):
        getattr(flax_cell, "if_" if gate == "f" else f"i{gate}").kernel[...] = jnp.asarray(x_kernel)
        getattr(flax_cell, f"h{gate}").kernel[...] = jnp.asarray(h_kernel)
        getattr(flax_cell, f"h{gate}").bias[...] = jnp.asarray(bias)
    zeros = jnp.zeros((HIDDEN,))
    expected = _flax_run(flax_cell, xs, (zeros, zeros))
    chex.assert_trees_all_close(rnnjax.scan(cell, params, xs)[1], expected, atol=1e-5)


def test_gru_reset_after_equals_flax_gru_cell():
    cell, params, xs = _setup("gru-after")
    flax_cell = nnx.GRUCell(INPUT_DIM, HIDDEN, rngs=nnx.Rngs(0))
    flax_cell.dense_i.kernel[...] = params["wx"]
    flax_cell.dense_i.bias[...] = params["b"]
    flax_cell.dense_h.kernel[...] = params["wh"]
    expected = _flax_run(flax_cell, xs, jnp.zeros((HIDDEN,)))
    chex.assert_trees_all_close(rnnjax.scan(cell, params, xs)[1], expected, atol=1e-5)


def test_gru_reset_before_is_cho_et_al():
    cell, params, xs = _setup("gru-before")
    wx, wh, b = (np.asarray(params[k], np.float64) for k in ("wx", "wh", "b"))
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))
    h, expected = np.zeros(HIDDEN), []
    for x in np.asarray(xs, np.float64):
        r = sigmoid(x @ wx[:, :HIDDEN] + h @ wh[:, :HIDDEN] + b[:HIDDEN])
        z = sigmoid(x @ wx[:, HIDDEN : 2 * HIDDEN] + h @ wh[:, HIDDEN : 2 * HIDDEN] + b[HIDDEN : 2 * HIDDEN])
        n = np.tanh(x @ wx[:, 2 * HIDDEN :] + (r * h) @ wh[:, 2 * HIDDEN :] + b[2 * HIDDEN :])
        h = z * h + (1 - z) * n
        expected.append(h)
    chex.assert_trees_all_close(rnnjax.scan(cell, params, xs)[1], np.stack(expected).astype(np.float32), atol=1e-5)


def test_saturated_elman_is_clip_and_lstm_forget_bias_is_set():
    cell, params, xs = _setup("elman-saturated")
    h = np.clip(np.asarray(xs[0] @ params["wx"] + params["b"]), 0, 1)
    chex.assert_trees_all_close(rnnjax.scan(cell, params, xs)[1][0], h, atol=1e-6)
    lstm_params = cells.lstm(HIDDEN, forget_bias=2.5).init(jax.random.key(0), INPUT_DIM)
    np.testing.assert_array_equal(lstm_params["b"][HIDDEN : 2 * HIDDEN], 2.5)
    np.testing.assert_array_equal(lstm_params["b"][:HIDDEN], 0.0)


@pytest.mark.parametrize("width", [1, 2, 4])
@pytest.mark.parametrize("recurrence", ["associative", "sequential"])
def test_qrnn_chunks_of_any_size_equal_the_whole_sequence(width, recurrence):
    cell = cells.qrnn(HIDDEN, width=width, pooling="ifo", recurrence=recurrence)
    params = cell.init(jax.random.key(0), INPUT_DIM)
    xs = jax.random.normal(jax.random.key(1), (13, INPUT_DIM))
    whole_final, whole = rnnjax.scan(cell, params, xs)
    for cuts in [(1, 2, 3), (5,), (2, 9, 10)]:  # chunks shorter and longer than width - 1
        state, pieces = None, []
        for a, b in zip((0, *cuts), (*cuts, 13)):
            state, ys = rnnjax.scan(cell, params, xs[a:b], state)
            pieces.append(ys)
        chex.assert_trees_all_close(jnp.concatenate(pieces), whole, atol=1e-6)
        chex.assert_trees_all_close(state, whole_final, atol=1e-6)


def test_qrnn_f_pooling_is_the_published_recurrence():
    cell = cells.qrnn(HIDDEN, width=2, pooling="f")
    params = cell.init(jax.random.key(0), INPUT_DIM)
    xs = np.asarray(jax.random.normal(jax.random.key(1), (T, INPUT_DIM)), np.float64)
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    c, expected = np.zeros(HIDDEN), []
    for t in range(T):
        pre = b + xs[t] @ w[0] + (xs[t - 1] @ w[1] if t > 0 else 0)
        z, f = np.tanh(pre[:HIDDEN]), 1 / (1 + np.exp(-pre[HIDDEN:]))
        c = f * c + (1 - f) * z
        expected.append(c)
    ys = rnnjax.scan(cell, params, jnp.asarray(xs, jnp.float32))[1]
    chex.assert_trees_all_close(ys, np.stack(expected), atol=1e-5)
    with pytest.raises(ValueError, match="pooling must be one of"):
        cells.qrnn(4, pooling="o")
    with pytest.raises(ValueError, match="width must be a positive integer, got 0"):
        cells.qrnn(4, width=0)


def test_doubling_lstm_forget_gate_reaches_two():
    cell = cells.doubling_lstm(2)
    params = jax.tree_util.tree_map(jnp.zeros_like, cell.init(jax.random.key(0), 1))
    params["b"] = jnp.array([-30.0, -30, 30, 30, 30, 30, 0, 0, 0, 0])  # i = 0, f = 1 + 1, g = 0
    state = (jnp.array([1.5, -0.25]), jnp.zeros(2))
    for t in range(1, 6):
        state, _ = cell.step(params, state, jnp.zeros(1))
        np.testing.assert_allclose(state[0], np.array([1.5, -0.25]) * 2**t, rtol=1e-5)


def _distinct_states(cell, params, length, strings=40):
    xs = jax.nn.one_hot(jax.random.randint(jax.random.key(7), (strings, length), 0, 2), 2)
    states = jax.vmap(lambda x: rnnjax.trace(cell, params, x))(xs)
    values = np.asarray(states[0] if isinstance(states, tuple) else states).reshape(-1, HIDDEN)
    return len(np.unique(np.round(values, 3), axis=0)), float(np.abs(values).max())


def test_saturated_gru_and_elman_are_finite_state_and_saturated_lstm_counts():
    for cell in (cells.gru(HIDDEN), cells.elman(HIDDEN)):
        params = cells.saturate(cell, cell.init(jax.random.key(0), 2), 1000.0)
        (short, short_max), (long, long_max) = (_distinct_states(cell, params, n) for n in (100, 400))
        assert long <= 1.25 * short and long <= 3**HIDDEN and long_max <= 1.0, (cell.name, short, long)
    cell = cells.lstm(HIDDEN)
    params = cells.saturate(cell, cell.init(jax.random.key(0), 2), 1000.0)
    (short, short_max), (long, long_max) = (_distinct_states(cell, params, n) for n in (100, 400))
    assert long >= 3 * short and long_max >= 3 * short_max and long_max > 50, (short, short_max, long, long_max)
    with pytest.raises(ValueError, match="saturation factor must be > 0"):
        cells.saturate(cell, params, 0.0)
