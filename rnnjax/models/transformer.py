"""The Transformer encoder baseline of Delétang et al., "Neural Networks and the Chomsky Hierarchy" (ICLR 2023).

A re-implementation in plain JAX (no Haiku) of the encoder in their public code
(``google-deepmind/neural_networks_chomsky_hierarchy``, ``models/transformer.py`` and
``models/positional_encodings.py``), with a linear readout at every position, for ONE
sequence ``tokens: int[T]`` (batch with ``jax.vmap``).

Shapes: T positions, E = ``embedding_dim``, H = ``heads``, d = E / H per head, F = ``widening`` * E,
V = ``vocab_size``, O = ``num_outputs``, L = ``layers``.

Model (``apply``; ``train_apply`` adds the dropouts ``drop``, each rescaling kept units by 1 / P(keep)):

    x_t = sqrt(E) * W_emb[tokens_t]                      W_emb: [V, E] (a one-hot input times a bias-free linear map)
    h^0 = drop(x + P)  with sin_cos (P: [T, E], below);  h^0 = x otherwise (no dropout on it, as in the public code)
    for each layer l = 1..L (post-norm):
        a   = LN(h + drop(MHA(h)))                       [T, E]
        h   = LN(a + drop(relu(a W_1 + b_1) W_2 + b_2))  W_1: [E, F], W_2: [F, E]
    logits = h^L W_out + b_out                            W_out: [E, O], on every position; ``states`` returns h^L

    LN(x) = gamma * (x - mean(x)) / sqrt(var(x) + 1e-5) + beta   over the E features; gamma, beta: [E]

Multi-head attention over keys j of query i, per head (q, k, v: [T, H, d]; no biases):

    q = h W_q, k = h W_k, v = h W_v                       W_q, W_k, W_v: [E, H d]
    s_hij = logit_hij (below); s_hij = -3.4e38 (float32 min, not -inf) where j is masked
    MHA(h)_i = concat_h( sum_j softmax_j(s_hi.)_j v_jh ) W_o    W_o: [H d, E]

    A key j is masked when ``tokens[j] == pad`` (``pad >= 0``) and, with ``causal``, when j > i. A query whose keys
    are all masked (an all-PAD sequence) attends uniformly and stays finite.

Positional encodings (``positional``), with the sinusoid of a (possibly negative) position p in n dimensions

    s_n(p) = [sin(p w_0), ..., sin(p w_{n/2-1}), cos(p w_0), ..., cos(p w_{n/2-1})],  w_m = max_time^(-2m / n):

- ``"none"``:     logit_hij = q_ih . k_jh / sqrt(d).
- ``"sin_cos"``:  P_t = s_E(N - t) added to the embeddings, N = the example's length (its last non-PAD position
                  + 1; T without a PAD token): positions run DOWN from N to 1 over the real tokens, as the public
                  encoder's "causal" table does (there N = T, the padded width); counting them back from the
                  example's own end makes the encodings independent of how far it is padded. With
                  ``causal=True`` the positions run UP, P_t = s_E(t + 1), so that no output sees the length.
                  Logits as "none".
- ``"relative"``: Transformer-XL (Dai et al. 2019): with learned u_h, b_h: [d] per head and W_r: [E, H d],
                  r_h(p) = (s_E(p) W_r)_h,
                      logit_hij = ((q_ih + u_h) . k_jh + (q_ih + b_h) . r_h(i - j + c)) / sqrt(d),
                  c = 0 for the non-causal relative shift, c = 1 with ``causal=True`` (the public causal shift
                  pairs distance i - j with the table row of position i - j + 1).
- ``"rotary"``:   RoPE (Su et al. 2021) on q and k at absolute positions t = 0..T-1: each pair (2m, 2m+1) of a
                  head's d features is rotated by the angle t * max_time^(-2m / d),
                      (x_2m, x_2m+1) -> (x_2m cos - x_2m+1 sin, x_2m+1 cos + x_2m sin);
                  logit_hij = rot_i(q_ih) . rot_j(k_jh) / sqrt(d), which depends on i - j only.
- ``"alibi"``:    ALiBi (Press et al. 2022), the public non-causal variant (also kept with ``causal=True``):
                      logit_hij = q_ih . k_jh / sqrt(d) + m_h * (-|i - j| + 0.5 [j < i]),
                  the bias not scaled by 1 / sqrt(d); slopes m_h as in the official ALiBi code: for H a power of
                  two m_h = 2^(-8 (h + 1) / H), h = 0..H-1; otherwise those of the largest power of two below H
                  followed by every other slope of twice that power.

Initialisation (Haiku's, as in the public code): W_emb truncated normal (at 2 std) times 0.02; every other weight
matrix truncated normal times 1 / sqrt(fan_in); biases and beta 0, gamma 1; u_h, b_h normal times 0.02.

Differences from the public code:
- PAD keys are masked out of attention (the public code never pads); sin_cos positions are counted back from each
  example's own length rather than from the padded width, and run up from 1 with ``causal=True``.
- Readout at every position (their ``return_all_outputs=True``); no sliding attention window, no shared
  encoder/decoder embeddings, d is always E / H.
- Sinusoids are computed in float32 inside the traced function (the public code builds them in float64 NumPy).
  With ``causal=True`` the relative shift reads a 2T-row table whose positions are moved up by one instead of
  their T-row causal table with a zero column: the same logits wherever a key is not masked.
- Dropout masks come from 16 random bits per unit drawn from our own keys (``keep_mask``; kept units are divided by
  the exact keep probability, 0.899994 for rate 0.1), so no run reproduces theirs bit for bit.

Parameters: ``{"embed": [V, E], "blocks": {...}, "readout": {"w": [E, O], "b": [O]}}``, the blocks' arrays stacked
with a leading axis [L] (the blocks run unrolled): ``attention`` {q, k, v: [E, E], o: [E, E]; with "relative" also
content_bias, relative_bias: [H, d], relative: [E, E]}, ``norm_attention`` and ``norm_ff`` {scale, offset: [E]},
``ff`` {w1: [E, F], b1: [F], w2: [F, E], b2: [E]}.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

Params = Any
Positional = Literal["none", "sin_cos", "relative", "rotary", "alibi"]
POSITIONAL: tuple[str, ...] = get_args(Positional)
_MASKED = float(np.finfo(np.float32).min)
_LN_EPS = 1e-5


def sinusoid(positions: jax.Array, dim: int, max_time: float) -> jax.Array:
    """``s_dim(p)``: ``positions: [...]`` -> ``[..., dim]``, sines of all frequencies then cosines (``dim`` even)."""
    inv_freq = max_time ** (-jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)
    phase = jnp.asarray(positions, jnp.float32)[..., None] * inv_freq
    return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)


def alibi_slopes(heads: int) -> list[float]:
    """The per-head slopes of the official ALiBi code (geometric, interleaved for a non-power of two)."""
    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start ** (i + 1) for i in range(n)]

    if math.log2(heads).is_integer():
        return power_of_two(heads)
    closest = 2 ** math.floor(math.log2(heads))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][:heads - closest]


def alibi_bias(heads: int, length: int) -> jax.Array:
    """``[H, T, T]``: ``m_h * (-|i - j| + 0.5 [j < i])`` for query i, key j."""
    i = np.arange(length)[:, None]
    j = np.arange(length)[None, :]
    distance = -np.abs(i - j) + 0.5 * (j < i)
    return jnp.asarray(np.asarray(alibi_slopes(heads))[:, None, None] * distance, jnp.float32)


def rotary(x: jax.Array, positions: jax.Array, max_time: float) -> jax.Array:
    """RoPE: ``x: [T, H, d]`` with each feature pair (2m, 2m+1) rotated by ``positions[t] * max_time^(-2m/d)``."""
    d = x.shape[-1]
    inv_freq = jnp.repeat(max_time ** (-jnp.arange(d // 2, dtype=jnp.float32) / (d // 2)), 2)
    angle = positions.astype(jnp.float32)[:, None, None] * inv_freq
    pairs = x.reshape(*x.shape[:-1], d // 2, 2)
    rotated = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x.shape)  # (x0, x1) -> (-x1, x0)
    return x * jnp.cos(angle) + rotated * jnp.sin(angle)


def layer_norm(params: Params, x: jax.Array) -> jax.Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.var(x, axis=-1, keepdims=True)
    return params["scale"] * (x - mean) * jax.lax.rsqrt(variance + _LN_EPS) + params["offset"]


def _init_params(vocab_size: int, num_outputs: int, e: int, layers: int, heads: int, f: int, relative: bool,
                 key: jax.Array) -> Params:
    """The parameters (see the module docstring), from one truncated-normal and one normal draw (quick to compile).

    Haiku's initialisers: weights truncated normal at 2 std (not rescaled to unit variance) times 1 / sqrt(fan_in),
    the embedding's times 0.02; biases and LN offsets 0, LN scales 1; relative biases normal times 0.02."""
    weights = {"embed": (vocab_size, e), **{name: (layers, e, e) for name in "qkvo"}, "w1": (layers, e, f),
               "w2": (layers, f, e), "readout": (e, num_outputs)}
    if relative:
        weights["relative"] = (layers, e, e)
    k_weights, k_biases = jax.random.split(key)
    sizes = [math.prod(shape) for shape in weights.values()]
    flat = jax.random.truncated_normal(k_weights, -2.0, 2.0, (sum(sizes),), jnp.float32)
    w = {}
    for (name, shape), start, size in zip(weights.items(), np.cumsum([0, *sizes]), sizes):
        scale = 0.02 if name == "embed" else 1.0 / math.sqrt(shape[-2])
        w[name] = scale * flat[start:start + size].reshape(shape)
    attention = {name: w[name] for name in "qkvo"}
    if relative:
        biases = 0.02 * jax.random.normal(k_biases, (2 * layers * e,))  # flat: quicker to compile
        content_bias, relative_bias = biases.reshape(2, layers, heads, e // heads)
        attention |= {"content_bias": content_bias, "relative_bias": relative_bias, "relative": w["relative"]}
    def norm():
        return {"scale": jnp.ones((layers, e)), "offset": jnp.zeros((layers, e))}

    blocks = {"attention": attention, "norm_attention": norm(), "norm_ff": norm(),
              "ff": {"w1": w["w1"], "b1": jnp.zeros((layers, f)), "w2": w["w2"], "b2": jnp.zeros((layers, e))}}
    return {"embed": w["embed"], "blocks": blocks, "readout": {"w": w["readout"], "b": jnp.zeros((num_outputs,))}}


_init_jit = jax.jit(_init_params, static_argnums=tuple(range(7)))


def keep_probability(rate: float) -> float:
    """The exact probability that ``keep_mask`` keeps a unit: ``round((1 - rate) 2^16) / 2^16``."""
    return round((1.0 - rate) * 2**16) / 2**16


def keep_mask(key: jax.Array, rate: float, size: int) -> jax.Array:
    """Dropout's ``keep: bool[size]`` from 16 random bits per unit (two per 32-bit draw: half the random bits of
    ``jax.random.bernoulli``, and 2.4x faster on XLA:CPU), each kept with ``keep_probability(rate)``."""
    words = jax.random.bits(key, ((size + 1) // 2,), jnp.uint32)
    halves = jnp.stack([words & 0xFFFF, words >> 16], -1).reshape(-1)[:size]
    return halves < jnp.uint32(round(keep_probability(rate) * 2**16))


def _dropout(keep: jax.Array | None, keep_probability: float, x: jax.Array) -> jax.Array:
    """``x`` with the units where ``keep`` is false zeroed and the others divided by ``keep_probability``
    (None: ``x``)."""
    if keep is None:
        return x
    return jnp.where(keep, x / keep_probability, jnp.zeros_like(x))


@dataclasses.dataclass(frozen=True)
class TransformerEncoder:
    """A post-norm Transformer encoder with a readout at every position (see the module docstring).

    Attributes:
      vocab_size: number of input token ids.
      num_outputs: size of the readout.
      pad: the PAD token id, masked out of attention as a key; -1: none.
      embedding_dim: E, the model width (divisible by ``heads``; even for sin_cos and relative).
      layers: number of blocks.
      heads: attention heads (per-head size E / heads, even for rotary).
      widening: the feed-forward width is ``widening * embedding_dim``.
      dropout: rate of every dropout in ``train_apply`` (in [0, 1)).
      positional: "none", "sin_cos", "relative", "rotary" or "alibi".
      causal: mask keys after the query (and the causal relative shift): outputs at t see tokens up to t only.
      max_time: the sinusoids' and RoPE's largest wavelength constant.
    """

    vocab_size: int
    num_outputs: int
    pad: int = -1
    embedding_dim: int = 64
    layers: int = 5
    heads: int = 8
    widening: int = 4
    dropout: float = 0.1
    positional: Positional = "sin_cos"
    causal: bool = False
    max_time: int = 10_000

    def __post_init__(self):
        checks = [
            (self.vocab_size >= 1, f"vocab_size must be >= 1, got {self.vocab_size}"),
            (self.num_outputs >= 1, f"num_outputs must be >= 1, got {self.num_outputs}"),
            (self.pad < self.vocab_size, f"pad must be a token id below vocab_size={self.vocab_size} or -1, "
                                         f"got {self.pad}"),
            (self.embedding_dim >= 1, f"embedding_dim must be >= 1, got {self.embedding_dim}"),
            (self.layers >= 1, f"layers must be >= 1, got {self.layers}"),
            (self.heads >= 1, f"heads must be >= 1, got {self.heads}"),
            (self.widening >= 1, f"widening must be >= 1, got {self.widening}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.max_time > 0, f"max_time must be > 0, got {self.max_time}"),
            (self.positional in POSITIONAL, f"unknown positional encoding {self.positional!r}; choose one of "
                                            f"{', '.join(POSITIONAL)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim={self.embedding_dim} must be divisible by heads={self.heads}")
        if self.positional == "rotary" and self.head_dim % 2:
            raise ValueError(f"rotary encodings need an even per-head size, got embedding_dim / heads = "
                             f"{self.embedding_dim} / {self.heads} = {self.head_dim}")
        if self.positional in ("sin_cos", "relative") and self.embedding_dim % 2:
            raise ValueError(f"{self.positional} encodings need an even embedding_dim, got {self.embedding_dim}")

    @property
    def head_dim(self) -> int:
        return self.embedding_dim // self.heads

    # -- parameters -------------------------------------------------------------------------------------------------

    def init(self, key: jax.Array) -> Params:
        """Fresh parameters from ``key`` (compiled once per set of shapes: quick to call eagerly)."""
        return _init_jit(self.vocab_size, self.num_outputs, self.embedding_dim, self.layers, self.heads,
                         self.widening * self.embedding_dim, self.positional == "relative", key)

    # -- the network ------------------------------------------------------------------------------------------------

    def valid(self, tokens: jax.Array) -> jax.Array:
        """``bool[T]``: the non-PAD positions."""
        if self.pad < 0:
            return jnp.ones(tokens.shape, bool)
        return tokens != self.pad

    def mask(self, tokens: jax.Array) -> jax.Array:
        """``bool[T, T]``: query i may attend to key j."""
        t = tokens.shape[0]
        mask = jnp.broadcast_to(self.valid(tokens)[None, :], (t, t))
        if self.causal:
            mask = mask & jnp.tril(jnp.ones((t, t), bool))
        return mask

    def positions(self, tokens: jax.Array) -> jax.Array:
        """``float[T]``: the sin_cos positions, N - t (N: the example's length) or t + 1 with ``causal``."""
        t = jnp.arange(tokens.shape[0])
        if self.causal:
            return (t + 1).astype(jnp.float32)
        length = jnp.max(jnp.where(self.valid(tokens), t + 1, 0))
        return (length - t).astype(jnp.float32)

    def attention(self, params: Params, h: jax.Array, mask: jax.Array) -> jax.Array:
        """Multi-head attention of one layer: ``h: [T, E]``, ``mask: bool[T, T]`` -> ``[T, E]``."""
        t, e = h.shape
        heads, d = self.heads, self.head_dim
        q, k, v = ((h @ params[name]).reshape(t, heads, d) for name in "qkv")
        if self.positional == "relative":
            content = jnp.einsum("ihd,jhd->hij", q + params["content_bias"], k)
            # table row c: position T + c0 - c, c0 = 1 with the causal shift (distance i - j read as i - j + 1)
            table = sinusoid(t + int(self.causal) - jnp.arange(2 * t), e, self.max_time)  # [2T, E]
            r = (table @ params["relative"]).reshape(2 * t, heads, d)
            relative = jnp.einsum("ihd,chd->hic", q + params["relative_bias"], r)  # [H, T, 2T]
            # the relative shift: entry (i, j) <- (i, T - i + j), the row of position i - j (+ c0)
            relative = relative.reshape(heads, 2 * t, t)[:, 1:].reshape(heads, t, 2 * t - 1)[:, :, :t]
            logits = (content + relative) / math.sqrt(d)
        else:
            if self.positional == "rotary":
                q = rotary(q, jnp.arange(t), self.max_time)
                k = rotary(k, jnp.arange(t), self.max_time)
            logits = jnp.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
            if self.positional == "alibi":
                logits = logits + alibi_bias(heads, t)
        logits = jnp.where(mask[None], logits, _MASKED)
        weights = jax.nn.softmax(logits, axis=-1)
        return jnp.einsum("hij,jhd->ihd", weights, v).reshape(t, heads * d) @ params["o"]

    def block(self, params: Params, h: jax.Array, mask: jax.Array, keep: jax.Array | None = None) -> jax.Array:
        """One post-norm layer ``[T, E] -> [T, E]``; ``keep: bool[2, T, E]``, the units the two dropouts keep
        (None: no dropout)."""
        keep_attention, keep_ff = (None, None) if keep is None else keep
        a = _dropout(keep_attention, keep_probability(self.dropout), self.attention(params["attention"], h, mask))
        a = layer_norm(params["norm_attention"], h + a)
        ff = params["ff"]
        f = jax.nn.relu(a @ ff["w1"] + ff["b1"]) @ ff["w2"] + ff["b2"]
        f = _dropout(keep_ff, keep_probability(self.dropout), f)
        return layer_norm(params["norm_ff"], f + a)

    def encode(self, params: Params, tokens: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """``tokens: int[T]`` -> the last layer's activations ``[T, E]``; dropout drawn from ``key`` unless None
        (one ``keep_mask`` draw ``[2 L + 1, T, E]``: the embeddings', then each layer's attention and feed-forward)."""
        t, e = tokens.shape[0], self.embedding_dim
        h = jax.nn.one_hot(tokens, self.vocab_size) @ params["embed"] * math.sqrt(e)
        keep = None
        if key is not None and self.dropout > 0.0:  # drawn flat: compiles several times faster than [2 L + 1, T, E]
            keep = keep_mask(key, self.dropout, (2 * self.layers + 1) * t * e).reshape(2 * self.layers + 1, t, e)
        if self.positional == "sin_cos":
            h = h + sinusoid(self.positions(tokens), e, self.max_time)
            h = _dropout(None if keep is None else keep[0], keep_probability(self.dropout), h)
        mask = self.mask(tokens)
        for layer in range(self.layers):  # unrolled: the train step is 16% faster on XLA:CPU than a lax.scan
            block = jax.tree_util.tree_map(lambda x: x[layer], params["blocks"])
            h = self.block(block, h, mask, None if keep is None else keep[1 + 2 * layer : 3 + 2 * layer])
        return h

    def readout(self, params: Params, h: jax.Array) -> jax.Array:
        return h @ params["readout"]["w"] + params["readout"]["b"]

    # -- the model interface ----------------------------------------------------------------------------------------

    def apply(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> ``logits: [T, num_outputs]`` (evaluation mode: no dropout)."""
        return self.readout(params, self.encode(params, tokens))

    def train_apply(self, params: Params, tokens: jax.Array, key: jax.Array) -> jax.Array:
        """``apply`` in training mode, with dropout masks drawn from ``key`` (give each example its own key)."""
        return self.readout(params, self.encode(params, tokens, key))

    def activation_bytes(self, width: int) -> int:
        """Bytes one example's forward pass holds at ``width`` positions (attention scores dominate)."""
        return 4 * width * (3 * self.heads * width + 4 * self.widening * self.embedding_dim)

    def states(self, params: Params, tokens: jax.Array) -> jax.Array:
        """The last layer's activations ``[T, embedding_dim]``."""
        return self.encode(params, tokens)

    def log_probs(self, params: Params, tokens: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(self.apply(params, tokens))

    def bind(self, params: Params):
        from rnnjax.models import Bound  # here: rnnjax.models imports this module

        return Bound(self, params)

    def greedy(self, params: Params, tokens: jax.Array, forced: jax.Array) -> jax.Array:
        """Greedy decoding (``causal=True`` only): ``-> predictions: int[T]``, the argmax at each position, where the
        input at t is ``tokens[t]`` if ``forced[t]`` and the prediction at t - 1 otherwise. Re-runs ``apply`` on the
        inputs so far at every step (T full passes)."""
        if not self.causal:
            raise ValueError("a bidirectional TransformerEncoder (causal=False) cannot decode left to right; "
                             "build it with causal=True to decode greedily")

        def step(t, carry):
            inputs, predictions = carry
            previous = jnp.where(t > 0, predictions[jnp.maximum(t - 1, 0)], jnp.zeros((), tokens.dtype))
            inputs = inputs.at[t].set(jnp.where(forced[t], tokens[t], previous))
            prediction = jnp.argmax(self.apply(params, inputs)[t]).astype(tokens.dtype)
            return inputs, predictions.at[t].set(prediction)

        return jax.lax.fori_loop(0, tokens.shape[0], step, (tokens, jnp.zeros_like(tokens)))[1]

