"""The four recurrent baselines of Delétang et al., "Neural Networks and the Chomsky Hierarchy" (ICLR 2023),
built as their public Haiku code builds them.

Re-implemented in plain JAX from the equations of ``google-deepmind/neural_networks_chomsky_hierarchy``
(``models/rnn.py``, ``models/stack_rnn.py``, ``models/tape_rnn.py``, ``training/constants.py``) and of the Haiku
modules they use (``hk.VanillaRNN``, ``hk.LSTM``, ``hk.Linear``, ``hk.nets.MLP``, dm-haiku 0.0.17), for ONE
sequence ``tokens: int[T]`` (batch with ``jax.vmap``). The Transformer baseline is
``rnnjax.models.transformer``.

Shapes: T positions, D the input width, H = ``hidden``, m = ``cell_size`` (a stack or tape cell), M = the
stack depth or tape length, O = ``num_outputs``.

Input. One-hot vectors of D = ``vocab_size - 1`` when the task's PAD token is its last id (the public
models read ``input_size + 1`` dims: the symbols and the blank; PAD, which only fills a batch of mixed
lengths after every scored position, becomes the zero vector), else ``vocab_size``; or a learned embedding
of ``embedding_dim`` (not in the public code; for other tasks).

Linear layers (``hk.Linear``): ``Lin(v) = v W + b`` with W: [fan_in, fan_out] drawn from a normal truncated
at +-2 and scaled by ``1 / sqrt(fan_in)`` without rescaling (sd ``0.8796 / sqrt(fan_in)``), b = 0.

Cores, per step t, from zero states (``output_t`` is what the readout sees):

- ``rnn`` (``hk.VanillaRNN``, ReLU and two biases):
      h_t = relu(Lin_in(x_t) + Lin_h(h_{t-1}))                     W_in: [D, H], W_h: [H, H]
      output_t = h_t
- ``lstm`` (``hk.LSTM``, one linear layer over [x, h], gate order i, g, f, o, forget bias 1 added):
      [i, g, f, o] = Lin([x_t, h_{t-1}])                            W: [D + H, 4H]
      c_t = sigmoid(f + 1) c_{t-1} + sigmoid(i) tanh(g);  h_t = sigmoid(o) tanh(c_t)
      output_t = h_t
- ``stack_rnn`` (``StackRNNCore`` with the vanilla RNN inside; Joulin & Mikolov 2015): the input is
  concatenated with the top of the stack before the update, S_{t-1}[0]; S: [M, m], row 0 the top:
      h_t = relu(Lin_in([x_t, S_{t-1}[0]]) + Lin_h(h_{t-1}))       W_in: [D + m, H]
      v_t = Lin_push(h_t)                                           [m], no squashing
      (push, pop, noop) = softmax(Lin_act(h_t))                     [3]
      S_t[0] = push v_t + pop S_{t-1}[1] + noop S_{t-1}[0]
      S_t[i] = push S_{t-1}[i-1] + pop S_{t-1}[i+1] + noop S_{t-1}[i],   S_{t-1}[M] = 0 (pops bring zeros)
      output_t = h_t                                                (the readout does not see the stack)
- ``tape_rnn`` (``TapeInputLengthJumpCore`` with the vanilla RNN inside): a circular tape A: [M, m] whose
  row 0 is under the head; L = the input length (tokens before the task's separator):
      h_t = relu(Lin_in([x_t, A_{t-1}[0]]) + Lin_h(h_{t-1}))       W_in: [D + m, H]
      w_t = MLP(h_t), MLP = Lin(64) -> relu -> Lin(64) -> relu -> Lin(m)
      p = softmax(Lin_act(h_t))                                     [5]
      B = A_{t-1} with row 0 replaced by w_t                        (write, then move)
      A_t = sum_a p_a roll(B, s_a),  (s_a) = (0, -1, +1, -L, +L),   roll(B, s)[k] = B[(k - s) mod M]
      output_t = h_t

Readout (``make_rnn``): ``logits_t = Lin_out(relu(output_t))``, W_out: [H, O], at every position.

Parameters: ``{"core": ..., "readout": {"w", "b"}}`` (plus ``"embed": [vocab_size, E]`` with an embedding),
where ``core`` is ``{"input", "hidden"}`` (rnn), ``{"gates"}`` (lstm), ``{"input", "hidden", "push",
"actions"}`` (stack_rnn), ``{"input", "hidden", "write": [3 layers], "actions"}`` (tape_rnn), each layer
``{"w": [fan_in, fan_out], "b": [fan_out]}``.

Memory size M. The public defaults are 30 cells (stack and tape; ``training/example.py`` uses a tape of 40);
the paper does not give the size behind its Table 2, and a stack of 30 drops pushes past 30 while a tape of
40 wraps, so neither could score 100% at the test lengths 41..500 as the paper reports (reverse_string,
duplicate_string). Here ``memory_size`` 0 (the default) sizes the memory by the sequence's padded width W
(the training bucket's, the evaluation chunk's): a stack of W cells, which no sequence can fill (the same as an
unbounded stack, whatever the padding), and a circular tape of W cells, which a head moving at most one cell
a step never wraps within the sequence (a jump by L can: then what it finds depends on W, so the tape RNN's
numbers depend on the padded widths, which the config fixes: ``num_buckets``, ``eval_programs``). A tape of
the run's longest sequence in every step costs 10x more at the reduced run's shapes (duplicate_string, 1500
cells). Any other value is the public fixed size.

Differences from the public code: random draws (Haiku's key streams are not reproduced, only the
distributions); the input width of a task with PAD (above); the jumps' L is each example's own input length
(the public code passes one length per batch, all its examples having that length).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, Params
from rnnjax.models import _TokenModel

Core = Literal["rnn", "lstm", "stack_rnn", "tape_rnn"]
CORES: tuple[str, ...] = ("rnn", "lstm", "stack_rnn", "tape_rnn")
TAPE_MLP = (64, 64)
"""The hidden layers of the tape RNN's write MLP (the public ``mlp_layers_size``)."""
TAPE_SHIFTS = 5
"""stay, one cell either way, the input length either way"""
REMAT_BLOCK = 16
"""The memory cores scan in ``jax.checkpoint``-ed blocks of this many steps: the backward pass then holds one
memory per block instead of one per step (``Cell.remat_block``)."""


def linear(key: jax.Array, fan_in: int, fan_out: int) -> Params:
    """``hk.Linear``'s initial parameters: ``w: [fan_in, fan_out]``, a standard normal truncated at +-2 times
    ``1 / sqrt(fan_in)`` (sd ``0.8796 / sqrt(fan_in)``); ``b: [fan_out]`` zeros."""
    w = jax.random.truncated_normal(key, -2.0, 2.0, (fan_in, fan_out), jnp.float32) / math.sqrt(fan_in)
    return {"w": w, "b": jnp.zeros((fan_out,), jnp.float32)}


def apply_linear(layer: Params, v: jax.Array) -> jax.Array:
    return v @ layer["w"] + layer["b"]


def _vanilla(params: Params, x: jax.Array, h: jax.Array) -> jax.Array:
    """``hk.VanillaRNN``: ``relu(Lin_in(x) + Lin_h(h))``."""
    return jax.nn.relu(apply_linear(params["input"], x) + apply_linear(params["hidden"], h))


def _vanilla_params(key: jax.Array, input_dim: int, hidden: int) -> Params:
    k_in, k_h = jax.random.split(key)
    return {"input": linear(k_in, input_dim, hidden), "hidden": linear(k_h, hidden, hidden)}


def _identity(params, xs):
    return xs


def rnn_core(hidden: int) -> Cell:
    """The public RNN: ``hk.VanillaRNN(hidden)``; state ``h: [H]``, output ``h``."""

    def init(key, input_dim):
        return _vanilla_params(key, input_dim, hidden)

    def step(params, h, x):
        h = _vanilla(params, x, h)
        return h, h

    return Cell(f"nnch-rnn({hidden})", hidden, init, lambda params: jnp.zeros((hidden,)), _identity, step)


def lstm_core(hidden: int) -> Cell:
    """The public LSTM: ``hk.LSTM(hidden)``; state ``(h, c)``, each ``[H]``; output ``h``."""

    def init(key, input_dim):
        return {"gates": linear(key, input_dim + hidden, 4 * hidden)}

    def step(params, state, x):
        h, c = state
        i, g, f, o = jnp.split(apply_linear(params["gates"], jnp.concatenate([x, h])), 4)
        c = jax.nn.sigmoid(f + 1.0) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((hidden,))
    return Cell(f"nnch-lstm({hidden})", hidden, init, lambda params: (zeros, zeros), _identity, step)


def push_pop(stack: jax.Array, actions: jax.Array, value: jax.Array) -> jax.Array:
    """One step of the public stack: ``stack: [M, m]`` (row 0 the top), ``actions: [3]`` the probabilities
    of push, pop and no-op, ``value: [m]`` -> ``[M, m]``. Push moves every row down (the bottom row falls
    off) and writes ``value`` on top; pop moves every row up and brings zeros in at the bottom."""
    pushed = jnp.concatenate([value[None], stack[:-1]])
    popped = jnp.concatenate([stack[1:], jnp.zeros_like(stack[:1])])
    return actions[0] * pushed + actions[1] * popped + actions[2] * stack


def stack_core(hidden: int, cell_size: int, depth: int) -> Cell:
    """The public stack RNN with one stack of ``depth`` cells of ``cell_size``; state ``(stack: [M, m], h: [H])``,
    output ``h``."""
    if depth < 2:
        raise ValueError(f"a stack needs at least 2 cells (the public update reads the second), got {depth}")

    def init(key, input_dim):
        k_core, k_push, k_act = jax.random.split(key, 3)
        return {**_vanilla_params(k_core, input_dim + cell_size, hidden), "push": linear(k_push, hidden, cell_size),
                "actions": linear(k_act, hidden, 3)}

    def initial_state(params):
        return jnp.zeros((depth, cell_size)), jnp.zeros((hidden,))

    def step(params, state, x):
        stack, h = state
        h = _vanilla(params, jnp.concatenate([x, stack[0]]), h)
        actions = jax.nn.softmax(apply_linear(params["actions"], h))
        stack = push_pop(stack, actions, apply_linear(params["push"], h))
        return (stack, h), h

    name = f"nnch-stack-rnn({hidden}, {depth}x{cell_size})"
    return Cell(name, hidden, init, initial_state, _identity, step, remat_block=REMAT_BLOCK)


def tape_move(tape: jax.Array, actions: jax.Array, length: jax.Array) -> jax.Array:
    """The public tape's move: ``tape: [M, m]`` (row 0 under the head, already written), ``actions: [5]`` the
    probabilities of the shifts (0, -1, +1, -L, +L) with ``L = length`` -> ``sum_a actions[a] roll(tape, s_a)``."""
    shifts = (0, -1, 1, -length, length)
    return sum(p * jnp.roll(tape, s, axis=0) for p, s in zip(actions, shifts))


def tape_core(hidden: int, cell_size: int, length: int) -> Cell:
    """The public tape RNN (``TapeInputLengthJumpCore``) on a circular tape of ``length`` cells of ``cell_size``;
    state ``(tape: [M, m], h: [H], L: int32[])``, output ``h``. ``condition`` sets L, the input length."""
    if length < 1:
        raise ValueError(f"a tape needs at least one cell, got {length}")
    widths = (*TAPE_MLP, cell_size)

    def init(key, input_dim):
        k_core, k_act, *k_write = jax.random.split(key, 2 + len(widths))
        write = [linear(k, fan_in, fan_out) for k, fan_in, fan_out in zip(k_write, (hidden, *widths[:-1]), widths)]
        return {**_vanilla_params(k_core, input_dim + cell_size, hidden), "write": write,
                "actions": linear(k_act, hidden, TAPE_SHIFTS)}

    def initial_state(params):
        return jnp.zeros((length, cell_size)), jnp.zeros((hidden,)), jnp.zeros((), jnp.int32)

    def step(params, state, x):
        tape, h, source = state
        h = _vanilla(params, jnp.concatenate([x, tape[0]]), h)
        value = h
        for k, layer in enumerate(params["write"]):
            value = apply_linear(layer, value)
            value = jax.nn.relu(value) if k < len(params["write"]) - 1 else value
        actions = jax.nn.softmax(apply_linear(params["actions"], h))
        tape = tape_move(tape.at[0].set(value), actions, source)
        return (tape, h, source), h

    def condition(params, state, source_length):
        return (*state[:2], jnp.asarray(source_length, jnp.int32))

    name = f"nnch-tape-rnn({hidden}, {length}x{cell_size})"
    return Cell(name, hidden, init, initial_state, _identity, step, remat_block=REMAT_BLOCK, condition=condition)


@dataclasses.dataclass(frozen=True)
class PublicRecurrent(_TokenModel):
    """One of the public code's recurrent models (see the module docstring) over the tokens.

    Attributes:
      core: "rnn", "lstm", "stack_rnn" or "tape_rnn".
      hidden: H.
      vocab_size: number of input token ids.
      num_outputs: O.
      embedding_dim: learned embedding width; None: one-hot (the public input).
      separator: the token that ends the input (the tape jumps by the number of tokens before it).
      pad: the PAD token (read as the zero vector when it is the last id and the input is one-hot); -1: none.
      cell_size: m.
      memory_size: M, the stack depth or tape length; 0: the sequence's padded width.
    """

    core: Core
    hidden: int
    vocab_size: int
    num_outputs: int
    embedding_dim: int | None = None
    separator: int = -1
    pad: int = -1
    cell_size: int = 8
    memory_size: int = 0

    def __post_init__(self):
        self._check()
        if self.core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {self.core!r}")
        for name in ("hidden", "vocab_size", "num_outputs", "cell_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.memory_size < 0:
            raise ValueError(f"memory_size must be >= 0 (0: sized by the sequence), got {self.memory_size}")

    @property
    def input_dim(self) -> int:
        if self.embedding_dim is not None:
            return self.embedding_dim
        return self.vocab_size - 1 if self.pad == self.vocab_size - 1 else self.vocab_size

    def encode(self, params: Params, tokens: jax.Array) -> jax.Array:
        """``tokens: int[T]`` -> ``[T, D]`` (one-hot: PAD, the last id, is the zero vector)."""
        if self.embedding_dim is None:
            return jax.nn.one_hot(tokens, self.input_dim)
        return params["embed"][tokens]

    def cell(self, width: int) -> Cell:
        """The core for a sequence of ``width`` positions (the memory's size follows it when ``memory_size`` is 0)."""
        if self.core == "rnn":
            return rnn_core(self.hidden)
        if self.core == "lstm":
            return lstm_core(self.hidden)
        if self.core == "stack_rnn":
            return stack_core(self.hidden, self.cell_size, self.memory_size or max(width, 2))
        return tape_core(self.hidden, self.cell_size, self.memory_size or width)

    def init(self, key: jax.Array) -> Params:
        k_embed, k_core, k_out = jax.random.split(key, 3)
        params = {"core": self.cell(2).init(k_core, self.input_dim), "readout": linear(k_out, self.hidden,
                                                                                        self.num_outputs)}
        if self.embedding_dim is not None:
            params["embed"] = jax.random.normal(k_embed, (self.vocab_size, self.embedding_dim))
        return params

    def recurrence(self, params: Params, tokens: jax.Array) -> tuple[Cell, Params]:
        return self.cell(tokens.shape[0]), params["core"]

    def readout(self, params: Params, ys: jax.Array) -> jax.Array:
        """``logits = Lin_out(relu(output))``: ``ys: [..., H]`` -> ``[..., O]``."""
        return apply_linear(params["readout"], jax.nn.relu(ys))


def builder(core: Core) -> Callable:
    """The ``MODELS`` builder of ``core``: its width is the configured ``hidden`` (read from the configured cell,
    which must carry no memory; the cell itself is not used)."""

    def build(make_cell: Callable[[], Cell], task, embedding_dim: int | None, **memory) -> PublicRecurrent:
        cell = make_cell()
        if "+" in cell.name:
            raise ValueError(f"nnch_{core} builds its own core and reads only --hidden; set --memory none "
                             f"(got the cell {cell.name})")
        return PublicRecurrent(core, cell.output_dim, task.vocab_size, task.num_outputs, embedding_dim,
                               task.separator, task.pad, **memory)

    if core in ("rnn", "lstm"):
        def plain(make_cell: Callable[[], Cell], task, embedding_dim: int | None) -> PublicRecurrent:
            return build(make_cell, task, embedding_dim)

        plain.__doc__ = f"The public code's {core} (Delétang et al. 2023; rnnjax.models.nnch): width --hidden."
        return plain

    def with_memory(make_cell: Callable[[], Cell], task, embedding_dim: int | None, *, nnch_cell_size: int = 8,
                    nnch_memory_size: int = 0) -> PublicRecurrent:  # 0: the sequence's padded width
        return build(make_cell, task, embedding_dim, cell_size=nnch_cell_size, memory_size=nnch_memory_size)

    with_memory.__doc__ = (f"The public code's {core} (Delétang et al. 2023; rnnjax.models.nnch): width --hidden, "
                           "cells of nnch_cell_size, nnch_memory_size cells "
                           "(0: the sequence's width; the public default 30).")
    return with_memory
