"""The public code's recurrent baselines (rnnjax.models.nnch) against the equations of
google-deepmind/neural_networks_chomsky_hierarchy and dm-haiku: a forward pass written in NumPy from those
equations on the same parameters, and the initial parameters' statistics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.models import MODELS, nnch
from rnnjax.tasks import TASKS
from rnnjax.train import build
from rnnjax.train.config import TrainConfig

TRUNCATED_SD = 0.87962566  # sd of a standard normal truncated to [-2, 2]


def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def lin(layer, v):
    return v @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)


def reference_logits(core: str, params, onehot: np.ndarray, input_length: int, depth: int) -> np.ndarray:
    """The public models' forward pass for one sequence ``onehot: [T, D]``, in float64 NumPy, written from
    ``models/rnn.py`` (relu, then the readout), ``hk.VanillaRNN`` (two linear layers, relu), ``hk.LSTM`` (one
    layer over [x, h], gates i, g, f, o, forget + 1), ``models/stack_rnn.py`` (``_update_stack``: the new top,
    then the rest) and ``models/tape_rnn.py`` (``_update_memory``: write row 0, then the action-weighted sum of
    the permutation matrices ``roll(eye, s, axis=0)`` applied as ``einsum('mM,Mc->mc')``)."""
    p = params["core"]
    steps, _ = onehot.shape
    hidden = np.asarray(p["hidden"]["w"] if "hidden" in p else p["gates"]["w"]).shape[-1]
    hidden = hidden // 4 if core == "lstm" else hidden
    h, c = np.zeros(hidden), np.zeros(hidden)
    cell = np.asarray(p["push"]["w"]).shape[1] if core == "stack_rnn" else 8
    memory = np.zeros((depth, cell))
    outputs = []
    for t in range(steps):
        x = onehot[t]
        if core == "rnn":
            h = relu(lin(p["input"], x) + lin(p["hidden"], h))
        elif core == "lstm":
            i, g, f, o = np.split(lin(p["gates"], np.concatenate([x, h])), 4)
            c = sigmoid(f + 1) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        elif core == "stack_rnn":
            h = relu(lin(p["input"], np.concatenate([x, memory[0]])) + lin(p["hidden"], h))
            push_value = lin(p["push"], h)
            push, pop, noop = softmax(lin(p["actions"], h))
            top = push * push_value + pop * memory[1] + noop * memory[0]
            below = np.concatenate([memory[2:], np.zeros((1, cell))])
            rest = push * memory[:-1] + pop * below + noop * memory[1:]
            memory = np.concatenate([top[None], rest])
        else:
            h = relu(lin(p["input"], np.concatenate([x, memory[0]])) + lin(p["hidden"], h))
            value = relu(lin(p["write"][1], relu(lin(p["write"][0], h))))
            value = lin(p["write"][2], value)
            actions = softmax(lin(p["actions"], h))
            written = np.concatenate([value[None], memory[1:]])
            eye = np.eye(depth)
            operations = [eye, np.roll(eye, -1, axis=0), np.roll(eye, 1, axis=0), np.roll(eye, -input_length, axis=0),
                          np.roll(eye, input_length, axis=0)]
            memory = sum(a * np.einsum("mM,Mc->mc", op, written) for a, op in zip(actions, operations))
        outputs.append(h)
    return lin(params["readout"], relu(np.stack(outputs)))


def model_for(core: str, task: str = "duplicate_string", hidden: int = 16, **options):
    cfg = TrainConfig.of(task=task, n_max=6, eval_n_max=9, model=f"nnch_{core}", cell="elman", hidden=hidden,
                         embedding_dim=0, **options)
    return build(cfg)


@pytest.mark.parametrize("core", nnch.CORES)
def test_each_core_equals_the_public_equations_written_in_numpy(core):
    parts = model_for(core)
    model, task = parts.model, parts.task
    key = jax.random.key(3)
    params = model.init(key)
    # trained-looking parameters: every weight and bias away from its initial value
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(4), len(leaves))
    params = jax.tree_util.tree_unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])
    for n in (1, 4, 6):
        example = task.sample(jax.random.key(n), n, n, task.max_length(6))
        tokens = example["inputs"]
        ours = np.asarray(model.apply(params, tokens))
        public_width = task.definition.input_size + 1  # the symbols and the blank; PAD is not a public token
        onehot = np.eye(public_width)[np.minimum(np.asarray(tokens), public_width - 1)]
        onehot[np.asarray(tokens) == task.pad] = 0.0
        depth = tokens.shape[0]  # memory_size 0: the sequence's width
        expected = reference_logits(core, params, onehot, n, depth)
        np.testing.assert_allclose(ours, expected, rtol=2e-4, atol=2e-4)


def test_the_stack_of_the_public_default_size_drops_what_is_pushed_past_its_bottom():
    parts = model_for("stack_rnn", nnch_memory_size=3)
    params = parts.model.init(jax.random.key(0))
    tokens = parts.task.sample(jax.random.key(1), 6, 6, parts.task.max_length(6))["inputs"]
    onehot = np.eye(parts.task.definition.input_size + 1)[np.asarray(tokens)]
    np.testing.assert_allclose(parts.model.apply(params, tokens), reference_logits("stack_rnn", params, onehot, 6, 3),
                               rtol=2e-4, atol=2e-4)
    stack = nnch.push_pop(jnp.arange(6.0).reshape(3, 2), jnp.array([1.0, 0.0, 0.0]), jnp.array([9.0, 9.0]))
    np.testing.assert_array_equal(stack, [[9, 9], [0, 1], [2, 3]])  # the old bottom (4, 5) is gone
    popped = nnch.push_pop(jnp.arange(6.0).reshape(3, 2), jnp.array([0.0, 1.0, 0.0]), jnp.zeros(2))
    np.testing.assert_array_equal(popped, [[2, 3], [4, 5], [0, 0]])


def test_the_tape_jumps_by_each_examples_input_length_around_a_circle():
    tape = jnp.arange(10.0)[:, None]
    left = nnch.tape_move(tape, jnp.array([0.0, 0, 0, 1, 0]), jnp.int32(3))
    np.testing.assert_array_equal(left[:, 0], np.roll(np.arange(10.0), -3))  # row 0 now holds what was 3 away
    right = nnch.tape_move(tape, jnp.array([0.0, 0, 0, 0, 1]), jnp.int32(13))  # 13 = 3 around a tape of 10
    np.testing.assert_array_equal(right[:, 0], np.roll(np.arange(10.0), 3))
    parts = model_for("tape_rnn")
    params = parts.model.init(jax.random.key(0))
    for n in (2, 5):
        tokens = parts.task.sample(jax.random.key(n), n, n, parts.task.max_length(6))["inputs"]
        cell, cell_params = parts.model.recurrence(params, tokens)
        assert int(parts.model.start(cell, cell_params, tokens)[2]) == n


@pytest.mark.parametrize("core", nnch.CORES)
def test_padding_changes_nothing_before_it(core):
    """(A tape of the sequence's width grows with the padding; here it has a fixed length.)"""
    parts = model_for(core, **({"nnch_memory_size": 32} if core == "tape_rnn" else {}))
    params = parts.model.init(jax.random.key(0))
    example = parts.task.sample(jax.random.key(2), 4, 4, parts.task.max_length(4))
    padded = jnp.concatenate([example["inputs"], jnp.full((7,), parts.task.pad, jnp.int32)])
    np.testing.assert_allclose(parts.model.apply(params, padded)[: example["inputs"].shape[0]],
                               parts.model.apply(params, example["inputs"]), rtol=1e-5, atol=1e-6)


def weights_and_fan_in(params, core: str, input_dim: int, hidden: int, cell: int = 8):
    """Every weight matrix with the fan-in Haiku scales it by."""
    p = params["core"]
    if core == "lstm":
        layers = [(p["gates"], input_dim + hidden)]
    else:
        extra = 0 if core == "rnn" else cell
        layers = [(p["input"], input_dim + extra), (p["hidden"], hidden)]
    if core == "stack_rnn":
        layers += [(p["push"], hidden), (p["actions"], hidden)]
    if core == "tape_rnn":
        layers += [(p["write"][0], hidden), (p["write"][1], 64), (p["write"][2], 64), (p["actions"], hidden)]
    return layers + [(params["readout"], hidden)]


@pytest.mark.parametrize("core", nnch.CORES)
def test_initial_parameters_have_haikus_statistics(core):
    parts = model_for(core, task="even_pairs", hidden=64)
    params = parts.model.init(jax.random.key(0))
    assert parts.model.input_dim == 3  # even_pairs: 0, 1 and the blank, as the public one-hot
    for layer, fan_in in weights_and_fan_in(params, core, 3, 64):
        w, b = np.asarray(layer["w"]), np.asarray(layer["b"])
        assert w.shape[0] == fan_in and not b.any()
        scale = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= 2 * scale * (1 + 1e-6)  # truncated at two standard deviations of the normal
        assert abs(w.std() / (TRUNCATED_SD * scale) - 1) < 4 / np.sqrt(w.size) + 0.01, (fan_in, w.std())
        assert abs(w.mean()) < 4 * TRUNCATED_SD * scale / np.sqrt(w.size)


@pytest.mark.parametrize("hidden, sd", [(64, 0.107), (256, 0.055)])
def test_the_lstm_input_weights_start_as_small_as_haikus(hidden, sd):
    """The issue's measured cause: Haiku's one layer over [x, h] gives the one-hot rows of the LSTM an sd of
    0.8796 / sqrt(D + H), not rnnjax's 1 / sqrt(D)."""
    params = model_for("lstm", task="even_pairs", hidden=hidden).model.init(jax.random.key(1))
    rows = np.asarray(params["core"]["gates"]["w"])[:3]
    assert rows.std() == pytest.approx(sd, rel=0.06)


def test_the_builders_refuse_a_configured_memory_and_size_memories_by_the_sequence():
    with pytest.raises(ValueError, match="set --memory none"):
        build(TrainConfig.of(task="parity_check", n_max=4, eval_n_max=6, model="nnch_rnn", memory="tape"))
    task = TASKS["reverse_string"](1, 40, 500)
    model = MODELS["nnch_tape_rnn"](lambda: nnch.rnn_core(8), task, None)
    assert model.cell(10).name == "nnch-tape-rnn(8, 10x8)" and model.cell(1000).name == "nnch-tape-rnn(8, 1000x8)"
    assert MODELS["nnch_tape_rnn"](lambda: nnch.rnn_core(8), task, None, nnch_memory_size=30).cell(10).name \
        == "nnch-tape-rnn(8, 30x8)"
    with pytest.raises(ValueError, match="at least 2 cells"):
        model_for("stack_rnn", nnch_memory_size=1).model.apply(None, jnp.zeros(3, jnp.int32))


@pytest.mark.parametrize("core", ["lstm", "tape_rnn"])
def test_models_with_their_defaults_train_on_any_task(core):
    cfg = TrainConfig.of(task="anbn", model=f"nnch_{core}", n_max=4, eval_n_max=6, steps=2, batch_size=2)
    parts = build(cfg)
    params = parts.model.init(jax.random.key(0))
    tokens = parts.task.sample(jax.random.key(0), 3, 3, parts.task.max_length(4))["inputs"]
    grads = jax.grad(lambda p: parts.model.log_probs(p, tokens).sum())(params)
    assert all(np.isfinite(g).all() for g in jax.tree_util.tree_leaves(grads))
    assert parts.model.greedy(params, tokens, jnp.ones_like(tokens, bool)).shape == tokens.shape
