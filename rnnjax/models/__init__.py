"""Sequence models: token encoding -> recurrence -> linear readout, and their registry.

``SequenceModel`` runs one Cell over the tokens; ``EncoderDecoder`` runs an
encoder Cell and a decoder Cell that attends over the encoder's states. Both
map ``tokens: int[T]`` to ``logits: [T, num_outputs]`` and decode greedily.
``MODELS`` maps names to builders ``(make_cell, task, embedding_dim, **options) -> model``
(the task gives the vocabulary, the readout size, its separator and pad tokens,
and whether it is causal).

A ``SequenceModel`` whose cell samples (hard-addressing memories, ``Cell.seed``) also has
``train_apply(params, tokens, key) -> (logits, log_prob)`` and a learned baseline
``params["baseline"]`` for score-function training (``rnnjax.memory.reinforce``); its
``apply`` takes the mode of every choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, Params, scan, trace
from rnnjax.memory.attention import Fusion, Score, attentive
from rnnjax.memory.reinforce import BASELINE
from rnnjax.models.transformer import Positional, TransformerEncoder
from rnnjax.registry import Registry

__all__ = ["EMBEDDING_DIMS", "MODELS", "Bound", "EncoderDecoder", "SequenceModel", "attention_model", "sequence_model",
           "source_length", "transformer_model"]


class Bound(NamedTuple):
    """A model with one member's params: the ``tasks.Predictor`` a task scores."""

    model: Any
    params: Params

    def logits(self, inputs: jax.Array) -> jax.Array:
        return self.model.apply(self.params, inputs)

    def greedy(self, inputs: jax.Array, forced: jax.Array) -> jax.Array:
        return self.model.greedy(self.params, inputs, forced)

    def states(self, inputs: jax.Array):
        return self.model.states(self.params, inputs)


def source_length(tokens: jax.Array, separator: int) -> jax.Array:
    """The number of tokens before the first ``separator`` (all of them if there is none)."""
    is_separator = tokens == separator
    return jnp.where(is_separator.any(), jnp.argmax(is_separator), tokens.shape[0])


class _TokenModel:
    """What both models share: embedding/one-hot input, readout, apply, greedy decoding.
    Subclasses define ``recurrence(params, tokens) -> (cell, cell_params)``."""

    vocab_size: int
    num_outputs: int
    embedding_dim: int | None
    separator: int

    def _check(self):
        if self.embedding_dim is not None and self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1 or None (one-hot), got {self.embedding_dim}")

    @property
    def input_dim(self) -> int:
        return self.vocab_size if self.embedding_dim is None else self.embedding_dim

    def _init_io(self, k_embed: jax.Array, k_out: jax.Array, cell_output_dim: int) -> Params:
        params = {}
        if self.embedding_dim is not None:
            params["embed"] = jax.random.normal(k_embed, (self.vocab_size, self.embedding_dim))
        w = jax.nn.initializers.lecun_normal()(k_out, (cell_output_dim, self.num_outputs))
        params["readout"] = {"w": w, "b": jnp.zeros((self.num_outputs,))}
        return params

    def encode(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> cell inputs ``[T, D]``."""
        if self.embedding_dim is None:
            return jax.nn.one_hot(tokens, self.vocab_size)
        return params["embed"][tokens]

    def readout(self, params: Params, ys: jax.Array) -> jax.Array:
        return ys @ params["readout"]["w"] + params["readout"]["b"]

    def start(self, cell: Cell, cell_params: Params, tokens: jax.Array):
        """The state to run ``cell`` from: None (its initial state) unless the cell is
        conditioned on the source length (``Cell.condition``)."""
        if cell.condition is None:
            return None
        return cell.condition(cell_params, cell.initial_state(cell_params), source_length(tokens, self.separator))

    def apply(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> ``logits: [T, num_outputs]``."""
        cell, cell_params = self.recurrence(params, tokens)
        _, ys = scan(cell, cell_params, self.encode(params, tokens), self.start(cell, cell_params, tokens))
        return self.readout(params, ys)

    def bind(self, params: Params) -> Bound:
        return Bound(self, params)

    def log_probs(self, params: Params, tokens: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(self.apply(params, tokens))

    def states(self, params: Params, tokens: jax.Array):
        """The cell state after each token: state pytree with leading ``[T]``."""
        cell, cell_params = self.recurrence(params, tokens)
        return trace(cell, cell_params, self.encode(params, tokens), self.start(cell, cell_params, tokens))

    def greedy(self, params: Params, tokens: jax.Array, forced: jax.Array) -> jax.Array:
        """Greedy decoding: ``-> predictions: int[T]``, the argmax at each position,
        where the input at position t is ``tokens[t]`` if ``forced[t]`` and the
        prediction at t - 1 otherwise (``tokens: int[T]``, ``forced: bool[T]``)."""
        cell, cell_params = self.recurrence(params, tokens)

        def step(carry, inputs):
            state, previous = carry
            token, force = inputs
            x = self.encode(params, jnp.where(force, token, previous)[None])
            state, y = cell.step(cell_params, state, cell.project(cell_params, x)[0])
            prediction = jnp.argmax(self.readout(params, y)).astype(tokens.dtype)
            return (state, prediction), prediction

        state = self.start(cell, cell_params, tokens)
        start = (cell.initial_state(cell_params) if state is None else state, jnp.zeros((), tokens.dtype))
        return jax.lax.scan(step, start, (tokens, forced))[1]


@dataclasses.dataclass(frozen=True)
class SequenceModel(_TokenModel):
    """One cell over the tokens.

    Attributes:
      cell: the recurrent part (any Cell, stacked or memory-augmented).
      vocab_size: number of input token ids.
      num_outputs: size of the readout.
      embedding_dim: learned embedding width; ``None`` feeds one-hot vectors.
      separator: token that ends the source (for cells conditioned on its length).
    """

    cell: Cell
    vocab_size: int
    num_outputs: int
    embedding_dim: int | None = None
    separator: int = -1

    def __post_init__(self):
        self._check()

    @property
    def samples(self) -> bool:
        """Whether the cell makes random choices (``Cell.seed``, e.g. a hard-addressing NTM):
        then ``apply`` takes the mode of each choice, ``train_apply`` draws them, and the
        params hold a learned REINFORCE baseline (``rnnjax.memory.reinforce``)."""
        return self.cell.seed is not None

    def init(self, key: jax.Array) -> Params:
        k_embed, k_cell, k_out = jax.random.split(key, 3)  # the key order of earlier releases: same params
        params = {**self._init_io(k_embed, k_out, self.cell.output_dim), "cell": self.cell.init(k_cell, self.input_dim)}
        if self.samples:  # the cost of a uniform prediction: where a cross-entropy starts
            params[BASELINE] = jnp.log(jnp.asarray(self.num_outputs, jnp.float32))
        return params

    def recurrence(self, params: Params, tokens: jax.Array) -> tuple[Cell, Params]:
        return self.cell, params["cell"]

    @property
    def train_apply(self) -> Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
        """Only for a cell that samples (``samples``; otherwise an AttributeError, so
        ``hasattr(model, "train_apply")`` is False): ``(params, tokens: int[T], key) ->
        (logits: [T, num_outputs], log_prob: [])``, the run with the cell's choices drawn
        from ``key`` and the sum of their log-probabilities."""
        if not self.samples:
            raise AttributeError(f"train_apply: {self.cell.name} draws no samples; use apply")
        return self._sampled_apply

    def _sampled_apply(self, params: Params, tokens: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        cell, cell_params = self.recurrence(params, tokens)
        state = self.start(cell, cell_params, tokens)
        state = cell.seed(cell_params, cell.initial_state(cell_params) if state is None else state, key)
        final, ys = scan(cell, cell_params, self.encode(params, tokens), state)
        return self.readout(params, ys), cell.log_prob(final)


@dataclasses.dataclass(frozen=True)
class EncoderDecoder(_TokenModel):
    """An encoder Cell reads the token stream; a decoder Cell reads it too and attends
    over the encoder's states at the source positions (those before the first
    ``separator``; all positions if there is none).

    Both read the whole stream so that training is one scan each; the encoder is
    causal, so its states at source positions see only the source.

    Attributes:
      encoder, decoder: the two cells.
      separator: token id that ends the source.
      score, fusion: see ``rnnjax.memory.attention``.
    """

    encoder: Cell
    decoder: Cell
    vocab_size: int
    num_outputs: int
    separator: int
    embedding_dim: int | None = None
    score: Score = "dot"
    fusion: Fusion = "late"

    def __post_init__(self):
        self._check()
        if self.encoder.seed is not None or self.decoder.seed is not None:
            raise ValueError("cells that sample (hard-addressing memories) need the sequence model, not attention")
        self._decoder(jnp.zeros((1, self.encoder.output_dim)), jnp.ones((1,), bool))  # checks score and fusion

    def _decoder(self, keys: jax.Array, mask: jax.Array) -> Cell:
        return attentive(self.decoder, keys, mask, self.score, self.fusion)

    def init(self, key: jax.Array) -> Params:
        k_embed, k_enc, k_dec, k_out = jax.random.split(key, 4)
        decoder = self._decoder(jnp.zeros((1, self.encoder.output_dim)), jnp.ones((1,), bool))
        return {
            **self._init_io(k_embed, k_out, decoder.output_dim),
            "encoder": self.encoder.init(k_enc, self.input_dim),
            "cell": decoder.init(k_dec, self.input_dim),
        }

    def recurrence(self, params: Params, tokens: jax.Array) -> tuple[Cell, Params]:
        _, keys = scan(self.encoder, params["encoder"], self.encode(params, tokens))
        mask = jnp.arange(tokens.shape[0]) < jnp.maximum(source_length(tokens, self.separator), 1)
        return self._decoder(keys, mask), params["cell"]


def sequence_model(make_cell: Callable[[], Cell], task, embedding_dim: int | None) -> SequenceModel:
    """One cell (any layers, any memory) over the tokens."""
    return SequenceModel(make_cell(), task.vocab_size, task.num_outputs, embedding_dim, task.separator)


def attention_model(make_cell: Callable[[], Cell], task, embedding_dim: int | None, *, attention_score: Score = "dot",
                    attention_fusion: Fusion = "late") -> EncoderDecoder:
    """An encoder cell and a decoder cell attending over its states at the source positions
    (Bahdanau et al. 2015 additive or Luong et al. 2015 dot scores; early or late fusion)."""
    return EncoderDecoder(make_cell(), make_cell(), task.vocab_size, task.num_outputs, task.separator, embedding_dim,
                          attention_score, attention_fusion)


def transformer_model(make_cell: Callable[[], Cell], task, embedding_dim: int | None, *, blocks: int = 5,
                      heads: int = 8, widening: int = 4, dropout: float = 0.1,
                      positional_encoding: Positional = "sin_cos") -> TransformerEncoder:
    """A Transformer encoder (no cell) of ``embedding_dim`` features, the baseline of Delétang et al.
    2023; causal on causal tasks, bidirectional on tasks read after the whole input."""
    if embedding_dim is None:
        raise ValueError("a transformer needs embedding_dim >= 1 (its width)")
    return TransformerEncoder(task.vocab_size, task.num_outputs, task.pad, embedding_dim, blocks, heads, widening,
                              dropout, positional_encoding, task.causal)


MODELS: Registry = Registry("model")
MODELS.register("sequence", sequence_model)
MODELS.register("attention", attention_model)
MODELS.register("transformer", transformer_model)
EMBEDDING_DIMS = {"transformer": 64}
"""A model's default ``embedding_dim`` where it is not the config's 3 (the Transformer's width is
its embedding: 64, as Delétang et al. 2023)."""

# The public code's recurrent baselines of Delétang et al. 2023 (rnnjax.models.nnch); imported here, after
# _TokenModel, which they extend.
from rnnjax.models import nnch  # noqa: E402

for _core in nnch.CORES:
    MODELS.register(f"nnch_{_core}", nnch.builder(_core))
