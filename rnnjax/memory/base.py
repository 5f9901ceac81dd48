"""The Memory protocol: a differentiable data structure as pure functions.

    state = memory.init(capacity, dtype)     # capacity: the most steps it will see
    state = memory.update(state, actions)     # actions: [memory.action_dim], raw controller outputs
    r = memory.read(state)                    # r: [memory.read_dim]
    state = memory.grow(state, capacity)      # optional: same contents, larger capacity
    state = memory.condition(state, length)   # optional: the sequence's source length
    state = memory.seed(state, key)           # optional, memories that sample: draw from key from now on
    lp = memory.log_prob(state)               # with seed: sum of the log-probabilities of the draws

``update`` applies the nonlinearities (sigmoid strengths, tanh values) itself,
so a controller only emits ``action_dim`` numbers. Unbatched; batch with vmap.

A memory that makes discrete random choices (hard attention) keeps its PRNG key
and the running sum of the log-probabilities of what it drew in its state: the
protocol stays pure, the state from ``init`` takes the mode of each choice
(deterministic evaluation), and ``seed`` switches a state to sampling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from rnnjax.builders import Built, Call

__all__ = ["Memory"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Memory(Built):
    """A differentiable data structure as pure functions (``rnnjax.memory.base``).

    Memories made by a builder (``rnnjax.memory.stack(8)``) are values, like cells:
    equal and hashable when built with the same arguments, picklable.

    Attributes:
      name: short description.
      read_dim: size of the read vector.
      action_dim: number of raw controller outputs ``update`` consumes.
      init: ``(capacity, dtype) -> state``.
      update: ``(state, actions: [action_dim]) -> state``.
      read: ``state -> r: [read_dim]``.
      action_bias: initial bias of the controller's action layer ``[action_dim]``
        (e.g. pop bias -1), or None for zeros.
      grow: optional ``(state, capacity) -> state``, the same contents in a state for a
        larger capacity; lets a run from the initial state start with a small buffer
        and grow it block by block (``augment``), when the memory's cost per step
        grows with its capacity.
      condition: optional ``(state, source_length) -> state`` for memories whose actions
        depend on the length of the input (``Cell.condition``).
      seed: optional ``(state, key) -> state`` for memories that sample: the state draws
        its choices from ``key`` from now on (without it: the mode of each choice) and its
        log-probability sum restarts at 0 (``Cell.seed``).
      log_prob: ``state -> []``, the sum of the log-probabilities of the choices drawn since
        ``seed``; given exactly when ``seed`` is.
      built_by: the builder call that made the memory (set by ``@rnnjax.builders.builder``).
    """

    name: str
    read_dim: int
    action_dim: int
    init: Callable[[int, Any], Any]
    update: Callable[[Any, jax.Array], Any]
    read: Callable[[Any], jax.Array]
    action_bias: tuple[float, ...] | None = None
    grow: Callable[[Any, int], Any] | None = None
    condition: Callable[[Any, jax.Array], Any] | None = None
    seed: Callable[[Any, jax.Array], Any] | None = None
    log_prob: Callable[[Any], jax.Array] | None = None
    built_by: Call | None = None

    def __post_init__(self):
        if (self.seed is None) != (self.log_prob is None):
            raise ValueError(f"memory {self.name!r}: seed and log_prob come together (a sampling memory has both)")
