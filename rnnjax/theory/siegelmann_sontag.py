"""A stack machine compiled into a saturated-linear RNN (Siegelmann & Sontag 1995).

The network is an Elman cell ``h_{t+1} = sigma(W x_t + U h_t + b)``, sigma = clip(., 0, 1).
A stack of bits ``b_1 (top) .. b_d`` is one number in base 4,

    q = sum_i (2 b_i + 1) / 4^i          (empty: q = 0)
    push z: q' = q / 4 + z / 2 + 1 / 4    top: sigma(4q - 2)    non-empty: sigma(4q)
    pop:    q' = 4q - 2 top - 1           replace the top b by z: q' = q + (z - b) / 2

Each machine step takes 3 network steps: the input symbol, then two padding
steps (zero vectors):

    t + 1  read:    input register <- x_t;  top, non-empty <- q
    t + 2  decide:  one neuron per rule = AND(state, input, top conditions)
    t + 3  write:   new state; each stack's candidates (keep, push0, push1, pop,
                    to0, to1), each gated by its rule neurons; output symbols

A stack's q is the sum of its candidate neurons, so every weight is a small
dyadic rational and a run in exact arithmetic is an exact simulation. A gated
candidate is ``sigma(value - M (1 - gate))`` with M large enough to zero it.
In floating point, a stack of depth d needs 2d significand bits: pushes past
about p/2 for a p-bit significand lose the bottom of the stack.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.cells import Cell, elman, scan
from rnnjax.theory.stack_machine import Stack, StackMachine, Step

SUBSTEPS = 3
CANDIDATES = ("keep", "push0", "push1", "pop", "to0", "to1")
# (value as (weight on q, weight on top, constant), gate constant M)
_CANDIDATE_VALUES = {
    "keep": ((1, 0, 0), 1),
    "push0": ((Fraction(1, 4), 0, Fraction(1, 4)), 1),
    "push1": ((Fraction(1, 4), 0, Fraction(3, 4)), 1),
    "pop": ((4, -2, -1), 4),  # 4 also covers a stale top right after a write
    "to0": ((1, 0, Fraction(-1, 2)), 2),
    "to1": ((1, 0, Fraction(1, 2)), 2),
}


def encode_stack(stack: Stack) -> Fraction:
    """``sum_i (2 b_i + 1) / 4^i`` for ``stack = (b_1 (top), ..., b_d)``."""
    return sum((Fraction(2 * b + 1, 4 ** (i + 1)) for i, b in enumerate(stack)), Fraction(0))


def decode_stack(q, max_depth: int = 64) -> Stack:
    """The bits of a stack value (exact or float), top first, by repeated pops;
    stops at an empty stack (q <= 0) or a value outside the encoding."""
    bits = []
    while q > 0 and len(bits) < max_depth:
        top = 1 if 4 * q - 2 >= 1 else 0
        if not 0 < 4 * q - 2 * top <= 2:  # not (2 b + 1)/4 + rest in [0, 1/4)
            break
        bits.append(top)
        q = 4 * q - 2 * top - 1
    return tuple(bits)


def _rule_candidate(machine: StackMachine, rule, j: int) -> str:
    action = machine.action(rule, j)
    if action.startswith("replace"):
        z, b = action[-1], machine.top(rule, j)
        return "keep" if z == b else f"to{z}"
    return action


@dataclasses.dataclass(frozen=True)
class CompiledMachine:
    """A StackMachine as the weights of a saturated-linear Elman network.

    Attributes:
      machine: the source machine.
      index: neuron name -> position in h (``("state", q)``, ``("input", a)``,
        ``("top", j)``, ``("nonempty", j)``, ``("rule", r)``, ``("out", o)``,
        ``("cand", j, kind)``).
      wx: ``[A, H]``, wh: ``[H, H]``, b: ``[H]``, exact (Fraction object arrays).
    """

    machine: StackMachine
    index: dict
    wx: np.ndarray
    wh: np.ndarray
    b: np.ndarray

    @property
    def hidden(self) -> int:
        return self.b.shape[0]

    def cell(self) -> Cell:
        return elman(self.hidden, "saturated", hoist=False)

    def params(self, dtype=jnp.float32) -> dict:
        """The Elman params in ``dtype`` (every weight is exact in binary floating point)."""
        return {k: jnp.asarray(v.astype(float), dtype) for k, v in (("wx", self.wx), ("wh", self.wh), ("b", self.b))}

    def initial_state(self, stacks: tuple[Stack, ...] | None = None) -> np.ndarray:
        """``h_0`` (Fractions): the start state, and each stack's value in its keep candidate."""
        h = np.array([Fraction(0)] * self.hidden, dtype=object)
        h[self.index[("state", self.machine.start)]] = Fraction(1)
        for j, stack in enumerate(stacks or ((),) * self.machine.stacks):
            h[self.index[("cand", j, "keep")]] = encode_stack(stack)
        return h

    def inputs(self, word: str) -> np.ndarray:
        """``[SUBSTEPS * len(word), A]``: each symbol one-hot, then zero padding."""
        xs = np.zeros((SUBSTEPS * len(word), len(self.machine.alphabet)))
        for i, symbol in enumerate(word):
            xs[SUBSTEPS * i, self.machine.alphabet.index(symbol)] = 1
        return xs

    def run_exact(self, word: str, stacks=None) -> np.ndarray:
        """The network run in rationals: ``[SUBSTEPS * len(word), H]`` object array of h_1, h_2, ..."""
        h, xs, out = self.initial_state(stacks), self.inputs(word), []
        incoming = [[(j, w) for j, w in enumerate(self.wh[:, i]) if w != 0] for i in range(self.hidden)]
        for x in xs:
            pre = [self.b[i] + sum((w * h[j] for j, w in incoming[i]), Fraction(0)) for i in range(self.hidden)]
            pre = np.array(pre, dtype=object) + self.wx[int(np.argmax(x))] * int(x.any())
            h = np.array([min(max(v, Fraction(0)), Fraction(1)) for v in pre], dtype=object)
            out.append(h)
        return np.stack(out)

    def run_float(self, words: list[str], dtype=jnp.float32, stacks: list | None = None) -> np.ndarray:
        """The network run with ``rnnjax.cells.scan`` in ``dtype`` (float64 switches on
        x64 for the call) on equal-length words, from initial stacks ``stacks[i]``
        (default empty): ``[B, SUBSTEPS * len, H]`` as float64."""
        if len({len(w) for w in words}) != 1:
            raise ValueError("run_float needs words of one length; group them by length")
        stacks = stacks or [None] * len(words)
        with jax.enable_x64(jnp.dtype(dtype) == jnp.float64):
            h0 = jnp.asarray(np.stack([self.initial_state(s) for s in stacks]).astype(float), dtype)
            xs = jnp.asarray(np.stack([self.inputs(w) for w in words]), dtype)
            hs = _scan_batch(self.params(dtype), h0, xs)
            return np.asarray(hs).astype(np.float64)

    def decode(self, hs) -> list[Step]:
        """The machine configuration after each symbol, read off a run ``[SUBSTEPS * n, H]``."""
        m, steps = self.machine, []
        for h in hs[SUBSTEPS - 1 :: SUBSTEPS]:
            state = max(m.states, key=lambda q: h[self.index[("state", q)]])
            emitted = [o for o in m.outputs if h[self.index[("out", o)]] > 0.5]
            stacks = tuple(decode_stack(self.stack_value(h, j)) for j in range(m.stacks))
            steps.append(Step(state, stacks, emitted[0] if len(emitted) == 1 else None))
        return steps

    def stack_value(self, h, j: int):
        return sum(h[self.index[("cand", j, kind)]] for kind in CANDIDATES)


@jax.jit
def _scan_batch(params, h0, xs):
    cell = elman(h0.shape[1], "saturated", hoist=False)
    return jax.vmap(lambda h, x: scan(cell, params, x, h)[1])(h0, xs)


def compile_machine(machine: StackMachine) -> CompiledMachine:
    """The weights of the network described in the module docstring."""
    names = [("state", q) for q in machine.states]
    names += [("input", a) for a in machine.alphabet]
    names += [(kind, j) for kind in ("top", "nonempty") for j in range(machine.stacks)]
    names += [("rule", r) for r in range(len(machine.rules))]
    names += [("out", o) for o in machine.outputs]
    names += [("cand", j, kind) for j in range(machine.stacks) for kind in CANDIDATES]
    index = {name: i for i, name in enumerate(names)}
    size = len(names)
    zero = Fraction(0)
    wx = np.array([[zero] * size for _ in machine.alphabet], dtype=object).reshape(len(machine.alphabet), size)
    wh = np.array([[zero] * size for _ in range(size)], dtype=object)
    b = np.array([zero] * size, dtype=object)

    def from_q(j, target, weight):  # weight * q_j, where q_j is the sum of stack j's candidates
        for kind in CANDIDATES:
            wh[index[("cand", j, kind)], target] += weight

    for a in machine.alphabet:
        wx[machine.alphabet.index(a), index[("input", a)]] = Fraction(1)
    for j in range(machine.stacks):
        from_q(j, index[("top", j)], 4)
        b[index[("top", j)]] = Fraction(-2)
        from_q(j, index[("nonempty", j)], 4)
    for q in machine.states:
        wh[index[("state", q)], index[("state", q)]] = Fraction(1)
    for r, rule in enumerate(machine.rules):
        neuron = index[("rule", r)]
        wh[index[("state", rule.state)], neuron] += 1
        wh[index[("input", rule.symbol)], neuron] += 1
        terms = 2
        for j in range(machine.stacks):
            top, nonempty, condition = index[("top", j)], index[("nonempty", j)], machine.top(rule, j)
            if condition == "any":
                continue
            terms += 1
            if condition == "1":
                wh[top, neuron] += 1
            elif condition == "0":
                wh[nonempty, neuron] += 1
                wh[top, neuron] -= 1
            elif condition == "empty":
                wh[nonempty, neuron] -= 1
                b[neuron] += 1
            else:  # "0|empty"
                wh[top, neuron] -= 1
                b[neuron] += 1
        b[neuron] -= terms - 1
        wh[neuron, index[("state", rule.state)]] -= 1
        wh[neuron, index[("state", rule.next_state)]] += 1
        if rule.emit is not None:
            wh[neuron, index[("out", rule.emit)]] += 1
    for j in range(machine.stacks):
        for kind in CANDIDATES:
            (on_q, on_top, constant), gate = _CANDIDATE_VALUES[kind]
            neuron = index[("cand", j, kind)]
            from_q(j, neuron, Fraction(on_q))
            wh[index[("top", j)], neuron] += on_top
            firing = [r for r, rule in enumerate(machine.rules) if _rule_candidate(machine, rule, j) == kind]
            if kind == "keep":  # on unless a rule that changes stack j fires
                changing = [r for r, rule in enumerate(machine.rules) if _rule_candidate(machine, rule, j) != "keep"]
                for r in changing:
                    wh[index[("rule", r)], neuron] -= gate
                b[neuron] += constant
            else:
                for r in firing:
                    wh[index[("rule", r)], neuron] += gate
                b[neuron] += Fraction(constant) - gate
    return CompiledMachine(machine, index, wx, wh, b)
