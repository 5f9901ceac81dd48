"""Sequence model: token encoding -> cell (layers) -> linear readout."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, Params, scan, trace


@dataclasses.dataclass(frozen=True)
class SequenceModel:
    """Maps ``tokens: int[T]`` to ``logits: [T, num_outputs]`` for one sequence.

    Attributes:
      cell: the recurrent part (any Cell, stacked or memory-augmented).
      vocab_size: number of input token ids.
      num_outputs: size of the readout.
      embedding_dim: learned embedding width; ``None`` feeds one-hot vectors.
    """

    cell: Cell
    vocab_size: int
    num_outputs: int
    embedding_dim: int | None = None

    def __post_init__(self):
        if self.embedding_dim is not None and self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1 or None (one-hot), got {self.embedding_dim}")

    def init(self, key: jax.Array) -> Params:
        k_embed, k_cell, k_out = jax.random.split(key, 3)
        params = {}
        input_dim = self.vocab_size
        if self.embedding_dim is not None:
            params["embed"] = jax.random.normal(k_embed, (self.vocab_size, self.embedding_dim))
            input_dim = self.embedding_dim
        params["cell"] = self.cell.init(k_cell, input_dim)
        w = jax.nn.initializers.lecun_normal()(k_out, (self.cell.output_dim, self.num_outputs))
        params["readout"] = {"w": w, "b": jnp.zeros((self.num_outputs,))}
        return params

    def encode(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> cell inputs ``[T, D]``."""
        if self.embedding_dim is None:
            return jax.nn.one_hot(tokens, self.vocab_size)
        return params["embed"][tokens]

    def apply(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> ``logits: [T, num_outputs]``."""
        _, ys = scan(self.cell, params["cell"], self.encode(params, tokens))
        return ys @ params["readout"]["w"] + params["readout"]["b"]

    def log_probs(self, params: Params, tokens: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(self.apply(params, tokens))

    def states(self, params: Params, tokens: jax.Array):
        """The cell state after each token: state pytree with leading ``[T]``."""
        return trace(self.cell, params["cell"], self.encode(params, tokens))
