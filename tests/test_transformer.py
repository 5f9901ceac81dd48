"""The Transformer encoder baseline: a NumPy reference of the formulas, PAD invariance, causality,
permutation equivariance, dropout, gradients, a tiny training run and greedy decoding."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from rnnjax.models.transformer import TransformerEncoder, alibi_slopes, keep_mask, keep_probability

ENCODINGS = ("none", "sin_cos", "relative", "rotary", "alibi")
PAD = 5
VOCAB = 6  # tokens 0..4 and PAD


def tiny(positional="sin_cos", causal=False, **kwargs):
    options = dict(vocab_size=VOCAB, num_outputs=3, pad=PAD, embedding_dim=16, layers=2, heads=4, dropout=0.1,
                   positional=positional, causal=causal)
    return TransformerEncoder(**(options | kwargs))


@jax.jit
def perturbed(params, key, scale=0.1):
    """Params with every leaf moved off its initial value (biases, LN offsets and scales included)."""
    flat, unravel = ravel_pytree(params)
    return unravel(flat + scale * jax.random.normal(key, flat.shape))


# -- a plain NumPy reference, written from the formulas in the module docstring -------------------------------------

def np_sinusoid(p, n, max_time):
    w = max_time ** (-np.arange(0, n, 2) / n)
    return np.concatenate([np.sin(p * w), np.cos(p * w)])


def np_rotate(x, position, max_time):
    out = np.empty_like(x)
    d = x.shape[0]
    for m in range(d // 2):
        angle = position * max_time ** (-2 * m / d)
        c, s = math.cos(angle), math.sin(angle)
        out[2 * m] = c * x[2 * m] - s * x[2 * m + 1]
        out[2 * m + 1] = s * x[2 * m] + c * x[2 * m + 1]
    return out


def np_layer_norm(x, p):
    return p["scale"] * (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + p["offset"]


def np_forward(model, params, tokens):
    P = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), params)
    tokens = np.asarray(tokens)
    T, E, H = len(tokens), model.embedding_dim, model.heads
    d, mt = E // H, model.max_time
    valid = tokens != model.pad
    n = max(t + 1 for t in range(T) if valid[t])
    h = math.sqrt(E) * P["embed"][tokens]
    if model.positional == "sin_cos":
        h = h + np.stack([np_sinusoid(t + 1 if model.causal else n - t, E, mt) for t in range(T)])
    slopes = [2.0 ** (-8 * (i + 1) / H) for i in range(H)]  # H a power of two here
    for layer in range(model.layers):
        p = jax.tree_util.tree_map(lambda a: a[layer], P["blocks"])
        att = p["attention"]
        q, k, v = (h @ att[name] for name in "qkv")
        heads_out = np.zeros((T, E))
        for hh in range(H):
            sl = slice(hh * d, (hh + 1) * d)
            out = np.zeros((T, d))
            for i in range(T):
                allowed = [j for j in range(T) if valid[j] and (j <= i or not model.causal)]
                logits = []
                for j in allowed:
                    if model.positional == "relative":
                        r = np_sinusoid(i - j + int(model.causal), E, mt) @ att["relative"]
                        s = ((q[i, sl] + att["content_bias"][hh]) @ k[j, sl]
                             + (q[i, sl] + att["relative_bias"][hh]) @ r[sl]) / math.sqrt(d)
                    elif model.positional == "rotary":
                        s = np_rotate(q[i, sl], i, mt) @ np_rotate(k[j, sl], j, mt) / math.sqrt(d)
                    else:
                        s = q[i, sl] @ k[j, sl] / math.sqrt(d)
                        if model.positional == "alibi":
                            s += slopes[hh] * (-abs(i - j) + (0.5 if j < i else 0.0))
                    logits.append(s)
                w = np.exp(np.array(logits) - max(logits))
                out[i] = (w / w.sum()) @ v[allowed, sl]
            heads_out[:, sl] = out
        a = np_layer_norm(h + heads_out @ att["o"], p["norm_attention"])
        f = np.maximum(a @ p["ff"]["w1"] + p["ff"]["b1"], 0) @ p["ff"]["w2"] + p["ff"]["b2"]
        h = np_layer_norm(f + a, p["norm_ff"])
    return h @ P["readout"]["w"] + P["readout"]["b"]


def test_alibi_slopes_as_the_official_code():
    np.testing.assert_allclose(alibi_slopes(8), [2.0 ** -i for i in range(1, 9)])
    np.testing.assert_allclose(alibi_slopes(4), [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8])
    np.testing.assert_allclose(alibi_slopes(6), [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3])


# -- the formulas, padding, causality -------------------------------------------------------------------------------

REAL = jnp.array([2, 0, 4, 1, 3])
FULL = jnp.array([3, 0, 4, 1, 1, 2, 0, 2, 4, 4, 1])
T_CUT = 4  # FULL's outputs up to here, with the tokens after it changed
FUTURES = ([4, 4, 4, 4, 4, 4], [0, 1, PAD, PAD, PAD, PAD], [PAD] * 6)


def padded(tokens, pads):
    return jnp.concatenate([tokens, jnp.full((pads,), PAD, tokens.dtype)])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("positional", ENCODINGS)
def test_formulas_padding_and_causality(positional, causal):
    """Two layers against the NumPy reference (float64), on a padded and an unpadded example; outputs at the real
    positions independent of the padding; sensitive to a real token; causal (or not) as configured."""
    model = tiny(positional, causal, max_time=100)  # a small max_time: the encodings vary a lot between positions
    params = perturbed(model.init(jax.random.key(0)), jax.random.key(1), scale=0.3)
    apply = jax.jit(jax.vmap(model.apply, (None, 0)))
    n = REAL.shape[0]
    futures = [FULL.at[T_CUT + 1:].set(jnp.array(f)) for f in FUTURES]
    batch = [padded(REAL, 6), padded(REAL.at[n - 1].set(0), 6), jnp.full((n + 6,), PAD), FULL, *futures]
    out = np.asarray(apply(params, jnp.stack(batch)))
    short = np.asarray(apply(params, padded(REAL, 1)[None]))[0]

    for tokens, got in ((batch[0], out[0]), (FULL, out[3])):
        np.testing.assert_allclose(got[:n], np_forward(model, params, tokens)[:n], rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(out[0, :n], short[:n], rtol=1e-5, atol=1e-5)  # 1 or 6 PADs appended
    assert np.abs(out[1, :n] - out[0, :n]).max() > 1e-3  # a real token changed
    assert np.all(np.isfinite(out[2]))  # all PAD
    for other in out[4:]:
        change = np.abs(other[:T_CUT + 1] - out[3, :T_CUT + 1]).max()
        assert change < 1e-5 if causal else change > 1e-3


def test_permutation_equivariance_without_positions():
    model = tiny("none")
    params = perturbed(model.init(jax.random.key(6)), jax.random.key(7))
    tokens = padded(jnp.array([2, 0, 4, 1, 3, 3]), 2)
    permutation = np.array([4, 0, 5, 2, 1, 3, 6, 7])  # real positions shuffled, PADs stay at the end
    out, permuted = np.asarray(jax.jit(jax.vmap(model.apply, (None, 0)))(params, jnp.stack([tokens,
                                                                                              tokens[permutation]])))
    np.testing.assert_allclose(permuted[:6], out[permutation][:6], rtol=1e-5, atol=1e-5)
    assert np.abs(out[0] - out[1]).max() > 1e-3  # not a constant model


# -- dropout --------------------------------------------------------------------------------------------------------

def test_dropout_only_in_training():
    model, no_dropout = tiny("sin_cos", dropout=0.3), tiny("sin_cos", dropout=0.0)
    params = model.init(jax.random.key(8))
    tokens = padded(REAL, 2)
    apply, train, train_zero = jax.jit(model.apply), jax.jit(model.train_apply), jax.jit(no_dropout.train_apply)
    evaluated = np.asarray(apply(params, tokens))
    np.testing.assert_array_equal(evaluated, apply(params, tokens))
    a, b = (np.asarray(train(params, tokens, jax.random.key(i))) for i in (1, 2))
    np.testing.assert_array_equal(a, train(params, tokens, jax.random.key(1)))
    assert np.abs(a - b).max() > 1e-3 and np.abs(a - evaluated).max() > 1e-3
    np.testing.assert_allclose(train_zero(params, tokens, jax.random.key(1)), evaluated, rtol=1e-6, atol=1e-6)


def test_keep_mask_keeps_units_independently_with_its_keep_probability():
    for rate in (0.1, 0.5):
        keep = np.asarray(keep_mask(jax.random.key(3), rate, 200_001))
        p = keep_probability(rate)
        assert abs(p - (1 - rate)) < 2**-16
        assert abs(keep.mean() - p) < 5 * np.sqrt(p * (1 - p) / keep.size)  # five standard errors
        both = np.mean(keep[:-1:2] & keep[1::2])  # the two halves of one 32-bit draw
        assert abs(both - p * p) < 5 * np.sqrt(p * p * (1 - p * p) / (keep.size // 2))
    np.testing.assert_array_equal(keep_mask(jax.random.key(3), 0.1, 7), keep_mask(jax.random.key(3), 0.1, 7))


# -- gradients and learning -----------------------------------------------------------------------------------------

def test_gradients_finite_and_nonzero():
    """Every leaf (the relative encoding's model has them all) gets a finite, nonzero gradient through train_apply."""
    model = tiny("relative")
    params = model.init(jax.random.key(9))
    tokens = jnp.array([[2, 0, 4, 1, PAD, PAD], [3, 3, 1, 0, 2, 4]])
    weights = jax.random.normal(jax.random.key(10), (2, 6, 3))

    def loss(params):
        logits = jax.vmap(model.train_apply, (None, 0, 0))(params, tokens, jax.random.split(jax.random.key(11), 2))
        return jnp.sum(weights * logits)

    grads = jax.jit(jax.grad(loss))(params)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.all(np.isfinite(np.asarray(g))), path
        assert np.abs(np.asarray(g)).max() > 0, path


def test_learns_majority():
    """Output, at every position, the majority symbol of a 0/1 string of odd length 3..9 (right-padded), training
    with dropout through train_apply (the loss falls from about 0.8 to about 0.03)."""
    model = TransformerEncoder(vocab_size=3, num_outputs=2, pad=2, embedding_dim=16, layers=2, heads=4,
                               dropout=0.1, positional="sin_cos")
    width, batch = 9, 64

    def sample(key):
        k_len, k_bits = jax.random.split(key)
        length = 2 * jax.random.randint(k_len, (), 1, 5) + 1
        bits = jax.random.bernoulli(k_bits, 0.5, (width,)).astype(jnp.int32)
        real = jnp.arange(width) < length
        majority = (2 * jnp.sum(bits * real) > length).astype(jnp.int32)
        return jnp.where(real, bits, 2), jnp.full((width,), majority), real

    optimizer = optax.adam(3e-3)

    @jax.jit
    def step(params, opt_state, key):
        k_data, k_drop = jax.random.split(key)
        tokens, targets, mask = jax.vmap(sample)(jax.random.split(k_data, batch))

        def loss_fn(params):
            logits = jax.vmap(model.train_apply, (None, 0, 0))(params, tokens, jax.random.split(k_drop, batch))
            nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
            return jnp.sum(nll * mask) / jnp.sum(mask)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = model.init(jax.random.key(12))
    opt_state = optimizer.init(params)
    losses = []
    for key in jax.random.split(jax.random.key(13), 100):
        params, opt_state, loss = step(params, opt_state, key)
        losses.append(float(loss))
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert np.isfinite(last) and last < 0.5 * first, (first, last)


# -- greedy decoding ------------------------------------------------------------------------------------------------

def test_greedy_decoding():
    model = tiny("sin_cos", causal=True, num_outputs=VOCAB)
    params = model.init(jax.random.key(15))
    # larger embeddings and readout than at init, so that the argmax follows the inputs
    params |= {"embed": 30 * params["embed"], "readout": {**params["readout"], "w": 10 * params["readout"]["w"]}}
    tokens = jnp.array([2, 0, 4, 1, 3, 1, 0])
    greedy, apply = jax.jit(model.greedy), jax.jit(model.apply)
    forced = jnp.ones(tokens.shape, bool)
    np.testing.assert_array_equal(greedy(params, tokens, forced), jnp.argmax(apply(params, tokens), -1))

    forced = jnp.array([1, 1, 0, 0, 1, 0, 0], bool)
    inputs, want = np.array(tokens), []
    for t in range(tokens.shape[0]):  # the protocol step by step (causal: later inputs do not matter)
        inputs[t] = tokens[t] if forced[t] else (want[-1] if want else 0)
        want.append(int(jnp.argmax(apply(params, jnp.asarray(inputs))[t])))
    assert not np.array_equal(want, np.argmax(apply(params, tokens), -1)[:7])  # feeding back matters here
    np.testing.assert_array_equal(greedy(params, tokens, forced), want)


def test_bidirectional_cannot_decode():
    model = tiny("sin_cos", causal=False)
    with pytest.raises(ValueError, match="bidirectional"):
        model.greedy(model.init(jax.random.key(0)), jnp.zeros((3,), jnp.int32), jnp.ones((3,), bool))


# -- interface and validation ---------------------------------------------------------------------------------------

def test_interface():
    model = tiny("relative")
    assert hash(model) == hash(tiny("relative")) and model == tiny("relative")
    assert model.num_outputs == 3 and model.vocab_size == VOCAB
    params = jax.eval_shape(model.init, jax.random.key(0))
    tokens = jax.ShapeDtypeStruct((7,), jnp.int32)
    bound = model.bind(params)
    assert jax.eval_shape(lambda p, x: model.bind(p).logits(x), params, tokens).shape == (7, 3)
    assert jax.eval_shape(lambda p, x: model.bind(p).states(x), params, tokens).shape == (7, 16)
    assert type(bound).__name__ == "Bound" and bound.model is model
    batch = jax.ShapeDtypeStruct((2, 7), jnp.int32)
    assert jax.eval_shape(jax.vmap(model.apply, (None, 0)), params, batch).shape == (2, 7, 3)
    defaults = TransformerEncoder(4, 2)
    assert (defaults.pad, defaults.embedding_dim, defaults.layers, defaults.heads, defaults.widening, defaults.dropout,
            defaults.positional, defaults.causal, defaults.max_time) == (-1, 64, 5, 8, 4, 0.1, "sin_cos", False, 10_000)
    widths = jax.tree_util.tree_map(lambda x: x.shape, jax.eval_shape(defaults.init, jax.random.key(0)))
    assert widths["blocks"]["ff"]["w1"] == (5, 64, 256) and widths["embed"] == (4, 64)
    assert widths["blocks"]["attention"] == {name: (5, 64, 64) for name in "qkvo"}


@pytest.mark.parametrize("options, message", [
    ({"embedding_dim": 18, "heads": 4}, "divisible"),
    ({"embedding_dim": 12, "heads": 4, "positional": "rotary"}, "even per-head"),
    ({"embedding_dim": 9, "heads": 3, "positional": "sin_cos"}, "even embedding_dim"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.1}, "dropout"),
    ({"positional": "learned"}, "none, sin_cos, relative, rotary, alibi"),
    ({"layers": 0}, "layers"),
    ({"pad": VOCAB}, "pad"),
])
def test_validation(options, message):
    with pytest.raises(ValueError, match=message):
        tiny(**options)
