"""The flax.nnx modules against the functional path: params, outputs, steps, training, gradients, split/merge."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rnnjax import cells, memory
from rnnjax import nnx as rnnx

INPUT_DIM, T = 3, 7
KEY = jax.random.key(0)

FACTORIES = {
    "lstm": lambda: cells.lstm(5),
    "gru": lambda: cells.gru(5),
    "stack-lstm-gru": lambda: cells.layers(cells.lstm(4), cells.gru(5)),
    "qrnn": lambda: cells.qrnn(5),
    "lstm+stack": lambda: memory.augment(cells.lstm(6), memory.stack(3), capacity=16),
}
BATCH_SHAPES = [(), (2, 3)]


@pytest.fixture(scope="module", params=list(FACTORIES))
def made(request):
    """``(cell, RNN module, Cell module)``, both modules built from ``nnx.Rngs(params=KEY)``."""
    cell = FACTORIES[request.param]()
    rnn = rnnx.RNN(cell, INPUT_DIM, rngs=nnx.Rngs(params=KEY))
    return cell, rnn, rnnx.Cell(cell, INPUT_DIM, rngs=nnx.Rngs(params=KEY))


run = nnx.jit(lambda rnn, xs, state=None: rnn(xs, state, return_state=True))
step = nnx.jit(lambda cell, state, x: cell(state, x))
functional_scan = jax.jit(cells.scan, static_argnums=0)


def _xs(batch_shape):
    return jax.random.normal(jax.random.key(1), (*batch_shape, T, INPUT_DIM))


def _sequences(tree, batch_shape):
    """Per-sequence slices of a tree with leading ``batch_shape`` dims, in row-major order."""
    flat = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[len(batch_shape) :]), tree)
    return [jax.tree_util.tree_map(lambda a: a[i], flat) for i in range(int(np.prod(batch_shape)))]


def test_params_are_cell_init_of_one_key_from_the_params_stream(made):
    cell, rnn, step_module = made
    expected = cell.init(nnx.Rngs(params=KEY).params(), INPUT_DIM)
    chex.assert_trees_all_equal(rnn.params, expected)
    chex.assert_trees_all_equal(step_module.params, expected)
    assert len(jax.tree_util.tree_leaves(nnx.state(rnn, nnx.Param))) == len(jax.tree_util.tree_leaves(expected))


@pytest.mark.parametrize("batch_shape", BATCH_SHAPES)
def test_rnn_equals_functional_scan(made, batch_shape):
    cell, rnn, _ = made
    xs = _xs(batch_shape)
    final_state, ys = run(rnn, xs)
    assert ys.shape == (*batch_shape, T, cell.output_dim)
    expected = [functional_scan(cell, rnn.params, x) for x in _sequences(xs, batch_shape)]
    got = zip(_sequences(final_state, batch_shape), _sequences(ys, batch_shape))
    for (expected_state, expected_ys), (state, y) in zip(expected, got):
        chex.assert_trees_all_close(y, expected_ys, atol=1e-6)
        chex.assert_trees_all_close(state, expected_state, atol=1e-6)


@pytest.mark.parametrize("batch_shape", BATCH_SHAPES)
def test_step_module_over_a_sequence_equals_rnn(made, batch_shape):
    _, rnn, step_module = made
    xs = _xs(batch_shape)
    state, ys = step_module.initial_state(batch_shape), []
    for t in range(T):
        state, y = step(step_module, state, xs[..., t, :])
        ys.append(y)
    expected_state, expected_ys = run(rnn, xs)
    chex.assert_trees_all_close(jnp.stack(ys, axis=-2), expected_ys, atol=1e-6)
    chex.assert_trees_all_close(state, expected_state, atol=1e-6)


def test_rnn_continues_from_a_returned_state(made):
    _, rnn, _ = made
    xs = _xs((2, 3))
    state, head = run(rnn, xs[..., :3, :])
    _, tail = run(rnn, xs[..., 3:, :], state)
    chex.assert_trees_all_close(jnp.concatenate([head, tail], axis=-2), run(rnn, xs)[1], atol=1e-6)


def test_nnx_grad_equals_functional_grad(made):
    cell, rnn, _ = made
    xs = _xs((2,))
    weights = jnp.linspace(-1.0, 1.0, cell.output_dim)

    def functional_loss(params):
        ys = jax.vmap(lambda x: cells.scan(cell, params, x)[1])(xs)
        return jnp.mean(jnp.sin(3.0 * ys) @ weights)

    def module_loss(module):
        return jnp.mean(jnp.sin(3.0 * module(xs)) @ weights)

    grads, expected = nnx.jit(lambda m: (nnx.grad(module_loss)(m), jax.grad(functional_loss)(m.params)))(rnn)
    chex.assert_trees_all_close(nnx.merge(nnx.graphdef(rnn), grads).params, expected, atol=1e-6)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(expected))


def test_split_merge_and_update_round_trip(made):
    cell, rnn, step_module = made
    xs = _xs((2, 3))
    ys = run(rnn, xs)[1]
    np.testing.assert_allclose(rnn(xs), ys, atol=1e-6)
    graphdef, state = nnx.split(rnn)
    merged = nnx.merge(graphdef, state)
    np.testing.assert_array_equal(run(merged, xs)[1], ys)
    chex.assert_trees_all_equal(merged.params, rnn.params)
    other = rnnx.RNN(cell, INPUT_DIM, rngs=nnx.Rngs(params=jax.random.key(9)))
    assert not np.allclose(run(other, xs)[1], ys)
    nnx.update(other, nnx.state(rnn, nnx.Param))
    np.testing.assert_array_equal(run(other, xs)[1], ys)
    x, initial = xs[..., 0, :], step_module.initial_state((2, 3))
    chex.assert_trees_all_equal(step(nnx.merge(*nnx.split(step_module)), initial, x), step(step_module, initial, x))


class Tagger(nnx.Module):
    """Embedding, an rnnjax RNN, a linear readout: tokens ``[B, T]`` -> logits ``[B, T, vocab]``."""

    def __init__(self, cell, vocab: int, width: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab, width, rngs=rngs)
        self.rnn = rnnx.RNN(cell, width, rngs=rngs)
        self.readout = nnx.Linear(cell.output_dim, vocab, rngs=rngs)

    def __call__(self, tokens):
        return self.readout(self.rnn(self.embed(tokens)))


def test_nnx_jit_and_optimizer_learn_the_previous_token():
    """Without the recurrence the best loss is log(4) ~ 1.39; the optimiser must move the cell's params."""
    vocab = 4
    model = Tagger(cells.lstm(16), vocab, 8, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    tokens = jax.random.randint(jax.random.key(2), (32, 12), 0, vocab)
    initial_rnn_params = model.rnn.params

    def loss_fn(m):
        logits = m(tokens)[:, 1:]
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, :-1]).mean()

    @nnx.jit
    def train_step(m, opt):
        loss, grads = nnx.value_and_grad(loss_fn)(m)
        opt.update(m, grads)
        return loss

    losses = [float(train_step(model, optimizer)) for _ in range(50)]
    assert losses[0] > 1.0
    assert losses[-1] < 0.3 * losses[0], losses
    trained = jax.tree_util.tree_leaves(model.rnn.params)
    assert not any(np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(initial_rnn_params), trained))
