"""The Cell protocol for every cell: scan = loop, chunking, hoisting, vmap, gradients, flax."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import rnnjax
from rnnjax import cells

INPUT_DIM, HIDDEN, T = 3, 5, 7

FACTORIES = {
    "elman-tanh": lambda hoist: cells.elman(HIDDEN, "tanh", hoist=hoist),
    "elman-relu": lambda hoist: cells.elman(HIDDEN, "relu", hoist=hoist),
    "elman-saturated": lambda hoist: cells.elman(HIDDEN, "saturated", hoist=hoist),
    "lstm": lambda hoist: cells.lstm(HIDDEN, hoist=hoist),
    "gru-before": lambda hoist: cells.gru(HIDDEN, reset="before", hoist=hoist),
    "gru-after": lambda hoist: cells.gru(HIDDEN, reset="after", hoist=hoist),
    "stack-lstm-gru-elman": lambda hoist: cells.stack(
        cells.lstm(4, hoist=hoist), cells.gru(HIDDEN, hoist=hoist), cells.elman(3, hoist=hoist)
    ),
}


@pytest.fixture(params=list(FACTORIES))
def name(request):
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


def test_hoisted_projection_gives_same_outputs(name):
    _, params, xs = _setup(name)
    _, hoisted = rnnjax.scan(FACTORIES[name](True), params, xs)
    _, in_step = rnnjax.scan(FACTORIES[name](False), params, xs)
    chex.assert_trees_all_close(hoisted, in_step, atol=1e-5)


def test_vmap_over_batch_equals_per_example(name):
    cell, params, _ = _setup(name)
    batch = jax.random.normal(jax.random.key(1), (4, T, INPUT_DIM))
    run = lambda x: rnnjax.scan(cell, params, x)[1]
    batched = jax.jit(jax.vmap(run))(batch)
    chex.assert_trees_all_close(batched, jnp.stack([run(x) for x in batch]), atol=1e-6)


def test_gradients_match_finite_differences(name):
    with jax.enable_x64(True):
        cell, params, xs = _setup(name)
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        if name == "elman-saturated":  # keep pre-activations away from the kinks at 0 and 1
            params = jax.tree_util.tree_map(lambda p: 0.1 * p, params)
            params["b"] = params["b"] + 0.5

        def loss(params, xs):
            return jnp.sum(jnp.sin(rnnjax.scan(cell, params, xs)[1]))

        check_grads(loss, (params, xs.astype(jnp.float64)), order=2, modes=["rev"], atol=1e-4, rtol=1e-4)


def test_bad_arguments_fail_with_the_value():
    with pytest.raises(ValueError, match="hidden must be a positive integer, got 0"):
        cells.lstm(0)
    with pytest.raises(ValueError, match="activation must be one of .* got 'sigmoid'"):
        cells.elman(4, "sigmoid")
    with pytest.raises(ValueError, match="reset must be one of"):
        cells.gru(4, reset="middle")
    with pytest.raises(ValueError, match="at least one cell"):
        cells.stack()


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
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
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
